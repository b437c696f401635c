// `connscope watch`'s command line: a bad filter is a usage error (exit 2) that names the input
// and the command never reaches the kernel; without the privilege to load eBPF it cannot run
// (exit 3) and says which capabilities it needs. The events themselves: tests/lab/watch_lab_test.cpp.

#include <gtest/gtest.h>

#include <unistd.h>

#include <string>
#include <vector>

#include "support/process.h"

namespace connscope::test {
namespace {

CmdResult cs(std::vector<std::string> args) {
  args.insert(args.begin(), CONNSCOPE_BIN);
  return run(args, 20s);
}

// Exit `code`, nothing on stdout, exactly one line on stderr: "connscope: ..." containing `want`.
void expect_one_line_error(const CmdResult& r, int code, const std::string& want) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
  EXPECT_TRUE(r.err.starts_with("connscope: ")) << r.err;
  EXPECT_NE(r.err.find(want), std::string::npos) << "want \"" << want << "\" in: " << r.err;
}

TEST(WatchCli, UnknownEventKindIsAUsageErrorNamingIt) {
  const auto r = cs({"watch", "--events", "state,bogus", "--duration", "1s"});
  expect_one_line_error(r, 2, "--events: unknown event kind \"bogus\"");
  EXPECT_NE(r.err.find("known: state, reset, retransmit, drop, overflow"), std::string::npos) << r.err;
}

TEST(WatchCli, BadPeerIsAUsageErrorNamingIt) {
  expect_one_line_error(cs({"watch", "--peer", "198.18.300.1", "--duration", "1s"}), 2,
                        "--peer \"198.18.300.1\": not an IP address");
  expect_one_line_error(cs({"--json", "watch", "--peer", "server.example", "--duration", "1s"}), 2,
                        "--peer \"server.example\": not an IP address");
}

TEST(WatchCli, PortZeroIsAUsageErrorNamingIt) {
  expect_one_line_error(cs({"watch", "--port", "0", "--duration", "1s"}), 2, "--port \"0\": not a port (1-65535)");
  expect_one_line_error(cs({"watch", "--port", "65536", "--duration", "1s"}), 2,
                        "--port \"65536\": not a port (1-65535)");
}

// Root drops to nobody with no capabilities at all (setpriv); a test run without root is
// unprivileged already.
TEST(WatchCli, UnprivilegedCannotRunAndNamesTheCapabilities) {
  std::vector<std::string> argv;
  if (::geteuid() == 0) {
    argv = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"};
  }
  for (const auto& a : {CONNSCOPE_BIN, "--json", "watch", "--duration", "1s"}) argv.emplace_back(a);
  const auto r = run(argv, 20s);
  expect_one_line_error(r, 3, "bpf: loading kernel programs needs root, or CAP_BPF and CAP_PERFMON");
}

}  // namespace
}  // namespace connscope::test
