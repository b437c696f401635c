#pragma once
// Errors whose detail is a catalog message: made here, said in the reader's language by
// Error::message(lang). The English stays in Error::detail for logs and message().

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/args.h>

#include "core/error.h"
#include "core/text.h"

namespace connscope {

using TextArgs = std::vector<std::pair<std::string, std::string>>;

// `op: detail (strerror)` with the parts that are empty left out.
std::string error_line(const std::string& op, const std::string& detail, int code);

// A template with named string arguments ({name}) from any range of (name, value) pairs;
// nullopt when it quotes a name `args` lacks.
template <class Args>
std::optional<std::string> format_args(std::string_view tmpl, const Args& args) {
  fmt::dynamic_format_arg_store<fmt::format_context> store;
  for (const auto& [name, value] : args) store.push_back(fmt::arg(name.c_str(), value));  // names are copied
  try {
    return fmt::vformat(tmpl, store);
  } catch (const fmt::format_error&) {
    return std::nullopt;
  }
}

// A catalog message with named string arguments in `lang` (format_args; the catalog test keeps
// the templates right).
inline std::optional<std::string> tr_args(Lang lang, Msg id, const TextArgs& args) {
  return format_args(text_template(lang, id), args);
}

// An error whose detail is message `id` with `args`.
Error error_text(std::string op, Msg id, TextArgs args = {}, int code = 0);

inline std::unexpected<Error> fail_text(std::string op, Msg id, TextArgs args = {}, int code = 0) {
  return std::unexpected<Error>(error_text(std::move(op), id, std::move(args), code));
}

}  // namespace connscope
