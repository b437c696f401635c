#include "agent/token.h"

#include "core/error_text.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <filesystem>
#include <fmt/format.h>

#include "sys/unique_fd.h"

namespace connscope::agent {

Result<void> make_data_dir(const std::string& data_dir) {
  std::error_code fec;
  std::filesystem::create_directories(data_dir, fec);
  if (fec) return fail_text(fmt::format("--data-dir \"{}\"", data_dir), Msg::err_create, {}, fec.value());
  // Best effort: a directory the user pointed at and does not own keeps its mode.
  ::chmod(data_dir.c_str(), 0700);
  return {};
}

Result<sys::UniqueFd> lock_data_dir(const std::string& data_dir) {
  const std::string path = data_dir + "/lock";
  sys::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return fail_text(fmt::format("\"{}\"", path), Msg::err_open, {}, errno);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return fail_text(fmt::format("--data-dir \"{}\"", data_dir), Msg::err_data_dir_busy);
    }
    return fail_text(fmt::format("\"{}\"", path), Msg::err_lock, {}, errno);
  }
  return fd;
}

Result<TokenFile> load_or_create_token(const std::string& data_dir) {
  TokenFile t;
  t.path = data_dir + "/token";
  if (auto made = make_data_dir(data_dir); !made) return std::unexpected(made.error());

  sys::UniqueFd fd(::open(t.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd) {
    std::array<char, 256> buf{};
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size() - 1);
    if (n < 0) return fail_text(fmt::format("\"{}\"", t.path), Msg::err_read, {}, errno);
    std::string s(buf.data(), static_cast<std::size_t>(n));
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    if (s.size() < 16) return fail_text(fmt::format("\"{}\"", t.path), Msg::err_no_token);
    t.token = std::move(s);
    return t;
  }
  if (errno != ENOENT) return fail_text(fmt::format("\"{}\"", t.path), Msg::err_open, {}, errno);

  std::array<unsigned char, 32> raw{};
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) return fail_text("RAND_bytes", Msg::err_no_randomness);
  for (unsigned char b : raw) t.token += fmt::format("{:02x}", b);
  // O_EXCL: two agents starting at once must not both write (the second reads the first's).
  sys::UniqueFd out(::open(t.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out) return fail_text(fmt::format("\"{}\"", t.path), Msg::err_create, {}, errno);
  const std::string line = t.token + "\n";
  if (::write(out.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()) || ::fsync(out.get()) != 0) {
    const int e = errno;
    ::unlink(t.path.c_str());
    return fail_text(fmt::format("\"{}\"", t.path), Msg::err_write, {}, e);

  }
  t.created = true;
  return t;
}

}  // namespace connscope::agent
