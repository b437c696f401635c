#pragma once
// Errors whose detail is a catalog message: made here, said in the reader's language by
// Error::message(lang). The English stays in Error::detail for logs and message().

#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/text.h"

namespace connscope {

using TextArgs = std::vector<std::pair<std::string, std::string>>;

// `op: detail (strerror)` with the parts that are empty left out.
std::string error_line(const std::string& op, const std::string& detail, int code);

// A catalog message with named string arguments ({name} in its template) in `lang`; nullopt
// when the template quotes a name `args` lacks (the catalog test keeps the templates right).
std::optional<std::string> tr_args(Lang lang, Msg id, const TextArgs& args);

// An error whose detail is message `id` with `args`.
Error error_text(std::string op, Msg id, TextArgs args = {}, int code = 0);

inline std::unexpected<Error> fail_text(std::string op, Msg id, TextArgs args = {}, int code = 0) {
  return std::unexpected<Error>(error_text(std::move(op), id, std::move(args), code));
}

}  // namespace connscope
