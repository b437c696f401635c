#include "cli/json_stream.h"

#include <unistd.h>

#include <cerrno>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace connscope::cli {

namespace {

constexpr std::size_t kPiece = 64 * 1024;

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

Result<void> write_all(int fd, std::string_view text, std::string_view what) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("write " + std::string(what), errno);
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

JsonStream::JsonStream(int fd, std::string what) : fd_(fd), what_(std::move(what)) {
  buf_.reserve(kPiece + 4096);
}

void JsonStream::put(std::string_view s) {
  buf_.append(s);
  if (buf_.size() >= kPiece) flush();
}

void JsonStream::flush() {
  if (!error_ && !buf_.empty()) {
    if (auto r = write_all(fd_, buf_, what_); !r) error_ = r.error();
  }
  buf_.clear();
}

void JsonStream::separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) buf_ += ',';
    first_.back() = false;
  }
}

void JsonStream::begin_object() {
  separate();
  buf_ += '{';
  first_.push_back(true);
}

void JsonStream::end_object() {
  first_.pop_back();
  put("}");
}

void JsonStream::begin_array() {
  separate();
  buf_ += '[';
  first_.push_back(true);
}

void JsonStream::end_array() {
  first_.pop_back();
  put("]");
}

void JsonStream::key(std::string_view k) {
  separate();
  quoted(k);
  buf_ += ':';
  after_key_ = true;
}

void JsonStream::value(std::string_view s) {
  separate();
  quoted(s);
  if (buf_.size() >= kPiece) flush();
}

void JsonStream::quoted(std::string_view s) {
  if (plain_ascii(s)) {
    buf_ += '"';
    buf_.append(s);
    buf_ += '"';
  } else {
    // Invalid UTF-8 (a process may name itself anything) becomes U+FFFD instead of an exception
    // in the middle of the output.
    buf_ += nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
}

void JsonStream::value(std::uint64_t n) {
  separate();
  fmt::format_to(std::back_inserter(buf_), "{}", n);
  if (buf_.size() >= kPiece) flush();
}

void JsonStream::value(std::int64_t n) {
  separate();
  fmt::format_to(std::back_inserter(buf_), "{}", n);
  if (buf_.size() >= kPiece) flush();
}

void JsonStream::value(double d) {
  separate();
  put(nlohmann::json(d).dump());
}

void JsonStream::value(bool b) {
  separate();
  put(b ? "true" : "false");
}

void JsonStream::null() {
  separate();
  put("null");
}

void JsonStream::value(const nlohmann::json& leaf) {
  separate();
  put(leaf.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

Result<void> JsonStream::finish(std::string_view tail) {
  buf_.append(tail);
  flush();
  if (error_) return std::unexpected(*error_);
  return {};
}

}  // namespace connscope::cli
