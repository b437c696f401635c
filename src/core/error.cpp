#include "core/error.h"

#include <cstring>

namespace connscope {

std::string Error::message() const {
  std::string out = op;
  auto append = [&out](const std::string& part) {
    if (part.empty()) return;
    if (!out.empty()) out += ": ";
    out += part;
  };
  append(detail);
  if (code != 0) {
    std::string sys = std::strerror(code);
    if (detail.empty()) {
      append(sys);
    } else {
      out += " (" + sys + ")";
    }
  }
  return out;
}

}  // namespace connscope
