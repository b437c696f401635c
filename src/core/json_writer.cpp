#include "core/json_writer.h"

#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace connscope {

namespace {

// Text nlohmann would write as is: printable ASCII without quote or backslash (addresses, state
// names, most commands). Everything else goes through nlohmann's escaping.
bool plain_ascii(std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

}  // namespace

void JsonWriter::separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
}

void JsonWriter::begin_object() {
  separate();
  out_ += '{';
  first_.push_back(true);
}

void JsonWriter::end_object() {
  first_.pop_back();
  out_ += '}';
}

void JsonWriter::begin_array() {
  separate();
  out_ += '[';
  first_.push_back(true);
}

void JsonWriter::end_array() {
  first_.pop_back();
  out_ += ']';
}

void JsonWriter::key(std::string_view k) {
  separate();
  quoted(k);
  out_ += ':';
  after_key_ = true;
}

void JsonWriter::value(std::string_view s) {
  separate();
  quoted(s);
}

void JsonWriter::quoted(std::string_view s) {
  if (plain_ascii(s)) {
    out_ += '"';
    out_.append(s);
    out_ += '"';
  } else {
    // Invalid UTF-8 (a process may name itself anything) becomes U+FFFD instead of an exception
    // in the middle of the output.
    out_ += nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
}

void JsonWriter::value(std::uint64_t n) {
  separate();
  fmt::format_to(std::back_inserter(out_), "{}", n);
}

void JsonWriter::value(std::int64_t n) {
  separate();
  fmt::format_to(std::back_inserter(out_), "{}", n);
}

void JsonWriter::value(double d) {
  separate();
  out_ += nlohmann::json(d).dump();
}

void JsonWriter::value(bool b) {
  separate();
  out_ += b ? "true" : "false";
}

void JsonWriter::null() {
  separate();
  out_ += "null";
}

void JsonWriter::value(const nlohmann::json& leaf) {
  separate();
  out_ += leaf.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace connscope
