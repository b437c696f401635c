#include "cli/json_stream.h"

#include <unistd.h>

#include <cerrno>

namespace connscope::cli {

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

void JsonStream::flush() {
  if (!error_ && !buf_.empty()) {
    if (auto r = write_all(fd_, buf_, what_); !r) error_ = r.error();
  }
  buf_.clear();
}

Result<void> JsonStream::finish(std::string_view tail) {
  buf_.append(tail);
  flush();
  if (error_) return std::unexpected(*error_);
  return {};
}

}  // namespace connscope::cli
