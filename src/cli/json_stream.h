#pragma once
// A JSON writer that writes as it renders: the text goes to a file descriptor in pieces of
// 64 KiB, so a large document (inspect --all at 200,000 sockets) is never held whole, as a tree
// or as a string. The rendering is core/json_writer.h's (keys in sorted order give the bytes of
// nlohmann's compact dump()). The first write error stops all writing and is returned by
// finish(); nothing is written after it. One thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/error.h"
#include "core/json_writer.h"

namespace connscope::cli {

class JsonStream {
 public:
  // `what` names the output in errors ("standard output").
  JsonStream(int fd, std::string what);
  JsonStream(const JsonStream&) = delete;
  JsonStream& operator=(const JsonStream&) = delete;

  void begin_object() { then(&JsonWriter::begin_object); }
  void end_object() { then(&JsonWriter::end_object); }
  void begin_array() { then(&JsonWriter::begin_array); }
  void end_array() { then(&JsonWriter::end_array); }
  void key(std::string_view k) { writer_.key(k); }

  template <class T>
  void value(const T& v) {
    writer_.value(v);
    if (buf_.size() >= kPiece) flush();
  }
  void null() { then(&JsonWriter::null); }

  // Shorthands for one member: key(k), then value(v).
  template <class T>
  void member(std::string_view k, const T& v) {
    key(k);
    value(v);
  }

  // Writes what is left, plus `tail` ("\n"); the first write error, if any.
  Result<void> finish(std::string_view tail = {});

 private:
  static constexpr std::size_t kPiece = 64 * 1024;
  void then(void (JsonWriter::*step)()) {
    (writer_.*step)();
    if (buf_.size() >= kPiece) flush();
  }
  void flush();

  int fd_;
  std::string what_;
  std::string buf_;
  JsonWriter writer_{buf_};
  std::optional<Error> error_;
};

// Writes all of `text` to `fd` (retrying short writes and EINTR); `what` names it in the error.
Result<void> write_all(int fd, std::string_view text, std::string_view what);

}  // namespace connscope::cli
