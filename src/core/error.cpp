#include "core/error.h"

#include <cstring>

namespace connscope {

// `op: detail (strerror)`, parts that are empty left out (declared in core/error_text.h).
std::string error_line(const std::string& op, const std::string& detail, int code) {
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

std::string Error::message() const { return error_line(op, detail, code); }

}  // namespace connscope
