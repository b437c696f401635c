#pragma once
// Errors as values: the operation that failed, the errno (0 when none applies) and a detail
// naming the input. Every layer below src/cli returns these instead of throwing or printing.

#include <expected>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace connscope {

enum class Msg;   // core/text.h: the catalog's message ids
enum class Lang;  // core/text.h

struct Error {
  std::string op;      // what was attempted, e.g. "bind 127.0.0.1:80" or "--timeout"
  int code = 0;        // errno, or 0 for a logical error (bad input)
  std::string detail;  // what is wrong, for a person: "not a port (1-65535)"
  // The detail as a catalog message and its named arguments, when it was made from one
  // (core/error_text.h): message(lang) says it in the reader's language; `detail` is its English.
  std::optional<Msg> detail_id{};
  std::vector<std::pair<std::string, std::string>> detail_args{};

  // One line: `op: detail (strerror)`; parts that are empty are left out.
  [[nodiscard]] std::string message() const;
  // The same line with the detail in `lang` (core/error_text.cpp; English when it has no id).
  [[nodiscard]] std::string message(Lang lang) const;
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(std::string op, std::string detail, int code = 0) {
  return std::unexpected<Error>(Error{std::move(op), code, std::move(detail)});
}

// For a failed system call: detail defaults to strerror(code).
inline std::unexpected<Error> fail_errno(std::string op, int code, std::string detail = {}) {
  return std::unexpected<Error>(Error{std::move(op), code, std::move(detail)});
}

}  // namespace connscope
