#include "agent/token.h"

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
  if (fec) return fail_errno(fmt::format("--data-dir \"{}\"", data_dir), fec.value());
  // Best effort: a directory the user pointed at and does not own keeps its mode.
  ::chmod(data_dir.c_str(), 0700);
  return {};
}

Result<sys::UniqueFd> lock_data_dir(const std::string& data_dir) {
  const std::string path = data_dir + "/lock";
  sys::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return fail_errno(fmt::format("open \"{}\"", path), errno);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return fail(fmt::format("--data-dir \"{}\"", data_dir), "another connscope agent is using it (choose another --data-dir)");
    }
    return fail_errno(fmt::format("flock \"{}\"", path), errno);
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
    if (n < 0) return fail_errno(fmt::format("read \"{}\"", t.path), errno);
    std::string s(buf.data(), static_cast<std::size_t>(n));
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    if (s.size() < 16) return fail(fmt::format("\"{}\"", t.path), "holds no token (delete it to make a new one)");
    t.token = std::move(s);
    return t;
  }
  if (errno != ENOENT) return fail_errno(fmt::format("open \"{}\"", t.path), errno);

  std::array<unsigned char, 32> raw{};
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) return fail("RAND_bytes", "no randomness");
  for (unsigned char b : raw) t.token += fmt::format("{:02x}", b);
  // O_EXCL: two agents starting at once must not both write (the second reads the first's).
  sys::UniqueFd out(::open(t.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out) return fail_errno(fmt::format("create \"{}\"", t.path), errno);
  const std::string line = t.token + "\n";
  if (::write(out.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()) || ::fsync(out.get()) != 0) {
    const int e = errno;
    ::unlink(t.path.c_str());
    return fail_errno(fmt::format("write \"{}\"", t.path), e);
  }
  t.created = true;
  return t;
}

}  // namespace connscope::agent
