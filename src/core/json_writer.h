#pragma once
// Compact JSON written as it is rendered, appended to a string: no tree, no allocation per value
// (a watch --json stream writes 100,000 events a second this way). The caller gives object keys
// in sorted order, as nlohmann::json (a std::map) would: the bytes are then those of nlohmann's
// compact dump(). Leaves that need care (doubles, strings to escape, invalid UTF-8) are
// formatted by nlohmann itself. Pure; one thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace connscope {

class JsonWriter {
 public:
  // Appends to `out`, which must outlive the writer.
  explicit JsonWriter(std::string& out) : out_(out) {}

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
  void value(std::uint16_t n) { value(std::uint64_t{n}); }
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
  void null_member(std::string_view k) {
    key(k);
    null();
  }

 private:
  void separate();
  void quoted(std::string_view s);

  std::string& out_;
  std::vector<bool> first_;  // per open container: nothing written in it yet
  bool after_key_ = false;
};

}  // namespace connscope
