#pragma once
// A JSON writer that writes as it renders: the text goes to a file descriptor in pieces of
// 64 KiB, so a large document (inspect --all at 200,000 sockets) is never held whole, as a tree
// or as a string. The caller gives object keys in sorted order, as nlohmann::json (a std::map)
// would: the bytes are then those of nlohmann's compact dump(). Leaves that need care (doubles,
// strings to escape) are formatted by nlohmann itself. The first write error stops all writing
// and is returned by finish(); nothing is written after it. One thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/error.h"

namespace connscope::cli {

class JsonStream {
 public:
  // `what` names the output in errors ("standard output").
  JsonStream(int fd, std::string what);

  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  void key(std::string_view k);

  void value(std::string_view s);
  void value(const char* s) { value(std::string_view(s)); }
  void value(const std::string& s) { value(std::string_view(s)); }
  void value(std::uint64_t n);
  void value(std::int64_t n);
  void value(std::uint32_t n) { value(std::uint64_t{n}); }
  void value(int n) { value(std::int64_t{n}); }
  void value(double d);
  void value(bool b);
  void null();
  // A small subtree built elsewhere (findings), dumped in place.
  void value(const nlohmann::json& leaf);

  // Shorthands for one member: key(k), then value(v).
  template <class T>
  void member(std::string_view k, const T& v) {
    key(k);
    value(v);
  }

  // Writes what is left, plus `tail` ("\n"); the first write error, if any.
  Result<void> finish(std::string_view tail = {});

 private:
  void separate();
  void quoted(std::string_view s);
  void put(std::string_view s);
  void flush();

  int fd_;
  std::string what_;
  std::string buf_;
  std::vector<bool> first_;  // per open container: nothing written in it yet
  bool after_key_ = false;
  std::optional<Error> error_;
};

// Writes all of `text` to `fd` (retrying short writes and EINTR); `what` names it in the error.
Result<void> write_all(int fd, std::string_view text, std::string_view what);

}  // namespace connscope::cli
