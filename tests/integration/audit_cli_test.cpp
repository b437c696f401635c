// `connscope audit` from a recording: --replay gives the golden output (tests/fixtures/
// audit_replay, recorded by record_audit_replay.sh in a namespace of its own), --record then
// --replay gives back what the live run printed, and bad recording flags are usage errors.

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "integration/client.h"
#include "support/process.h"

namespace connscope::test {
namespace {

namespace fs = std::filesystem;

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Golden files: a change to the gathering or the renderers shows up here; regenerate with the
// commands in tests/fixtures/README.md.
TEST(Audit, ReplayMatchesTheGoldenOutput) {
  const std::string dir = std::string(CONNSCOPE_FIXTURES) + "/audit_replay";
  const auto human = run({CONNSCOPE_BIN, "audit", "--replay", dir}, 10s);
  EXPECT_EQ(human.exit_code, 1) << human.err;  // settings below recommendation
  EXPECT_EQ(human.out, read(dir + ".golden.txt"));
  const auto json = run({CONNSCOPE_BIN, "--json", "audit", "--replay", dir}, 10s);
  EXPECT_EQ(json.exit_code, 1) << json.err;
  EXPECT_EQ(json.out, read(dir + ".golden.json"));
  // In Chinese: every heading, status word, why/fix label and finding text from zh_CN.po; only
  // sysctl names, values, finding ids and commands stay as they are.
  const auto zh = run({CONNSCOPE_BIN, "--lang", "zh-CN", "audit", "--replay", dir}, 10s);
  EXPECT_EQ(zh.exit_code, 1) << zh.err;
  EXPECT_EQ(zh.out, read(dir + ".golden.zh_CN.txt"));
  EXPECT_NE(zh.out.find("低于推荐值"), std::string::npos);
  EXPECT_NE(zh.out.find("net.core.somaxconn"), std::string::npos);
}

TEST(Audit, RecordThenReplayGivesTheSameAnswer) {
  const fs::path dir = fs::temp_directory_path() / ("connscope-audit-rec-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const auto live = run({CONNSCOPE_BIN, "--json", "audit", "--record", dir.string()}, 20s);
  ASSERT_TRUE(live.exit_code == 0 || live.exit_code == 1) << live.err;
  EXPECT_TRUE(fs::exists(dir / "sock_diag.nldump"));
  EXPECT_TRUE(fs::exists(dir / "proc/sys/net/core/somaxconn"));
  EXPECT_TRUE(fs::exists(dir / "owners.txt"));
  const auto again = run({CONNSCOPE_BIN, "--json", "audit", "--replay", dir.string()}, 10s);
  EXPECT_EQ(again.exit_code, live.exit_code) << again.err;
  EXPECT_EQ(again.out, live.out);
  fs::remove_all(dir);

  // Without owners the recording has none, and the replay says so as the live run did.
  const auto bare = run({CONNSCOPE_BIN, "--json", "audit", "--no-owners", "--record", dir.string()}, 20s);
  ASSERT_TRUE(bare.exit_code == 0 || bare.exit_code == 1) << bare.err;
  EXPECT_FALSE(fs::exists(dir / "owners.txt"));
  const auto bare_again = run({CONNSCOPE_BIN, "--json", "audit", "--replay", dir.string()}, 10s);
  EXPECT_EQ(bare_again.out, bare.out);
  fs::remove_all(dir);
}

TEST(Audit, BadRecordingFlagsAreUsageErrors) {
  const auto both = run({CONNSCOPE_BIN, "audit", "--record", "/tmp/x", "--replay", "/tmp/y"}, 10s);
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.err.find("--replay"), std::string::npos) << both.err;
  const auto missing = run({CONNSCOPE_BIN, "audit", "--replay", "/nonexistent/connscope-audit"}, 10s);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("sock_diag.nldump"), std::string::npos) << missing.err;
  const auto zh = run({CONNSCOPE_BIN, "--lang", "zh-CN", "audit", "--record", "/tmp/x", "--replay", "/tmp/y"}, 10s);
  EXPECT_NE(zh.err.find("不能与 --replay 同时使用"), std::string::npos) << zh.err;
}

}  // namespace
}  // namespace connscope::test
