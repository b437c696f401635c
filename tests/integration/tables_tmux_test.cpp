// Tables line up in a terminal in every language: the real binary runs in a tmux pane (a
// terminal of 200 columns), and the pane's captured text is checked column by column. A Chinese
// heading takes two columns a character; a table padded by bytes would shift every row against
// its heading.

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/display_width.h"
#include "support/process.h"

namespace connscope::test {
namespace {

// Runs `command` (a shell line) in a detached tmux pane until `done` appears in it; the pane.
std::string run_in_tmux(const std::string& command, const std::string& done) {
  const std::string server = "connscope-tables-" + std::to_string(::getpid());
  const std::vector<std::string> tmux{"tmux", "-L", server, "-f", "/dev/null"};
  auto with = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = tmux;
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, 10s);
  };
  // LANG selects nothing here (--lang does); tmux needs a UTF-8 locale to draw wide characters.
  const auto started = with({"new-session", "-d", "-x", "200", "-y", "60", "env", "LC_ALL=C.UTF-8", "sh", "-c",
                             command + "; echo; echo " + done + "; sleep 30"});
  EXPECT_EQ(started.exit_code, 0) << started.err;
  std::string pane;
  for (int i = 0; i < 100 && pane.find(done) == std::string::npos; ++i) {
    std::this_thread::sleep_for(100ms);
    pane = with({"capture-pane", "-p", "-S", "-", "-t", "0"}).out;  // with what scrolled off
  }
  with({"kill-server"});
  return pane;
}

// The display column where each field of `line` starts (fields are separated by 2+ spaces).
std::vector<std::size_t> field_starts(const std::string& line) {
  std::vector<std::size_t> starts;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    if (i >= line.size()) break;
    starts.push_back(display_width(line.substr(0, i)));
    // To the next run of two spaces.
    const auto gap = line.find("  ", i);
    i = gap == std::string::npos ? line.size() : gap;
  }
  return starts;
}

// Every row whose first field starts with `row_prefix` has its fields where the heading has them.
void expect_aligned(const std::string& pane, const std::string& heading_start, const std::string& row_prefix,
                    std::size_t fields) {
  std::vector<std::string> lines = test::lines(pane);
  std::vector<std::size_t> heading;
  int rows = 0;
  for (const auto& l : lines) {
    if (heading.empty() && l.starts_with(heading_start)) {
      heading = field_starts(l);
      ASSERT_GE(heading.size(), fields) << l;
      continue;
    }
    if (heading.empty() || !l.starts_with(row_prefix)) continue;
    const auto row = field_starts(l);
    ASSERT_GE(row.size(), fields) << l;
    for (std::size_t k = 0; k < fields; ++k) EXPECT_EQ(row[k], heading[k]) << "field " << k << " of: " << l << "\n" << pane;
    ++rows;
  }
  EXPECT_FALSE(heading.empty()) << pane;
  EXPECT_GT(rows, 0) << pane;
}

TEST(TablesInTmux, AuditLinesUpInChinese) {
  const std::string pane = run_in_tmux(std::string(CONNSCOPE_BIN) + " --lang zh-CN audit", "audit-done");
  expect_aligned(pane, "设置项", "net.", 4);
}

TEST(TablesInTmux, ProbeLinesUpInChinese) {
  // Closed loopback ports: refused at once.
  const std::string pane =
      run_in_tmux(std::string(CONNSCOPE_BIN) + " --lang zh-CN probe 127.0.0.1 --ports 1-3", "probe-done");
  expect_aligned(pane, "端点", "127.0.0.1:", 4);
}

}  // namespace
}  // namespace connscope::test
