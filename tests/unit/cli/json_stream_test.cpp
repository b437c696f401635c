#include "cli/json_stream.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <string>

#include <nlohmann/json.hpp>


namespace connscope::cli {
namespace {

// Everything written to a pipe, read back after finish().
class PipeOut {
 public:
  PipeOut() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read_end_ = fds[0];
    write_end_ = fds[1];
    // Large enough for every document below, so the writer never blocks.
    ::fcntl(write_end_, F_SETPIPE_SZ, 1 << 20);
  }
  ~PipeOut() {
    if (read_end_ >= 0) ::close(read_end_);
    if (write_end_ >= 0) ::close(write_end_);
  }
  PipeOut(const PipeOut&) = delete;
  PipeOut& operator=(const PipeOut&) = delete;
  [[nodiscard]] int fd() const { return write_end_; }
  void close_reader() {
    ::close(read_end_);
    read_end_ = -1;
  }
  std::string drain() {
    ::close(write_end_);
    write_end_ = -1;
    std::string out;
    char buf[65536];
    ssize_t n = 0;
    while ((n = ::read(read_end_, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }

 private:
  int read_end_ = -1;
  int write_end_ = -1;
};

TEST(JsonStream, WritesNlohmannsCompactDump) {
  nlohmann::json want;
  want["a"] = {{"count", 3}, {"name", "tab\there \"quoted\" back\\slash"}, {"neg", -5}};
  want["b"] = nlohmann::json::array({1.5, 0.0, 20.96090855533247, 1e-7, 123456789.0});
  want["c"] = nullptr;
  want["d"] = {{"x", true}, {"y", false}};
  want["e"] = "\xe5\x90\x8d\xe5\xad\x97 \x01";  // UTF-8 kept, a control character escaped
  want["f"] = nlohmann::json::array();
  want["g"] = nlohmann::json::object();
  want["h"] = std::uint64_t{18446744073709551615u};

  PipeOut out;
  JsonStream w(out.fd(), "the pipe");
  w.begin_object();
  w.key("a");
  w.begin_object();
  w.member("count", 3);
  w.member("name", "tab\there \"quoted\" back\\slash");
  w.member("neg", std::int64_t{-5});
  w.end_object();
  w.key("b");
  w.begin_array();
  for (double d : {1.5, 0.0, 20.96090855533247, 1e-7, 123456789.0}) w.value(d);
  w.end_array();
  w.key("c");
  w.null();
  w.key("d");
  w.value(nlohmann::json{{"x", true}, {"y", false}});
  w.member("e", std::string("\xe5\x90\x8d\xe5\xad\x97 \x01"));
  w.key("f");
  w.begin_array();
  w.end_array();
  w.key("g");
  w.begin_object();
  w.end_object();
  w.member("h", std::uint64_t{18446744073709551615u});
  w.end_object();
  ASSERT_TRUE(w.finish("\n"));
  EXPECT_EQ(out.drain(), want.dump() + "\n");
}

TEST(JsonStream, InvalidUtf8BecomesReplacementCharacters) {
  PipeOut out;
  JsonStream w(out.fd(), "the pipe");
  w.begin_array();
  w.value(std::string("ab\xff"));
  w.end_array();
  ASSERT_TRUE(w.finish());
  EXPECT_EQ(out.drain(), "[\"ab\xef\xbf\xbd\"]");
}

// Bigger than one 64 KiB piece: written as it goes, and whole at the end.
TEST(JsonStream, LargeArraysArriveWhole) {
  PipeOut out;
  JsonStream w(out.fd(), "the pipe");
  nlohmann::json want = nlohmann::json::array();
  w.begin_array();
  for (int i = 0; i < 20000; ++i) {
    w.begin_object();
    w.member("i", i);
    w.member("s", "127.0.0.1:" + std::to_string(i));
    w.end_object();
    want.push_back({{"i", i}, {"s", "127.0.0.1:" + std::to_string(i)}});
  }
  w.end_array();
  ASSERT_TRUE(w.finish());
  EXPECT_EQ(out.drain(), want.dump());
}

TEST(JsonStream, AWriteErrorIsKeptAndNamed) {
  PipeOut out;
  out.close_reader();
  std::signal(SIGPIPE, SIG_IGN);  // as connscope's main() does; the default would kill the test
  JsonStream w(out.fd(), "standard output");
  w.begin_array();
  for (int i = 0; i < 100000; ++i) w.value(i);  // several pieces: the first write fails
  w.end_array();
  const auto r = w.finish("\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, EPIPE);
  EXPECT_EQ(r.error().message(), "write standard output: Broken pipe");
}

}  // namespace
}  // namespace connscope::cli
