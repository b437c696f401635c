// `connscope load`'s report from a constructed storm: the text in English and Chinese, the JSON
// fields docs/json.md lists, and the exit status.
#include "cli/load_render.h"

#include <gtest/gtest.h>

#include <sstream>

#include <nlohmann/json.hpp>

#include "core/display_width.h"

namespace connscope::cli {
namespace {

using load::Fate;
using std::chrono::microseconds;

// 1000/s for 2 s at 127.0.0.1:8080: 1,950 connected, 40 after SYN retransmissions (38 once,
// 2 twice), 10 timed out.
std::pair<LoadRun, load::LoadReport> storm() {
  LoadRun run;
  run.target = "localhost:8080";
  run.address = "127.0.0.1:8080";
  run.options.rate = 1000;
  run.options.duration = std::chrono::seconds(2);
  run.options.timeout = std::chrono::seconds(5);
  run.options.max_in_flight = 5001;
  run.fd_limit = 1'048'576;
  load::LoadReport r;
  r.elapsed = std::chrono::milliseconds(7010);
  r.start_span = std::chrono::microseconds(1999000);
  r.planned = 2000;
  r.started = 2000;
  r.finished = 2000;
  r.fates = {{load::classify(0, false, std::nullopt, 0), 1950, 0},
             {load::classify(0, false, std::nullopt, 1), 40, 0},
             {load::classify(0, true, std::nullopt, 0), 10, 0}};
  r.syn_retransmits = {{1, 38}, {2, 2}};
  load::LatencyHistogram h;
  for (int i = 0; i < 1950; ++i) h.add(microseconds(90 + i % 20));
  for (int i = 0; i < 38; ++i) h.add(microseconds(1'000'200));
  for (int i = 0; i < 2; ++i) h.add(microseconds(3'000'400));
  r.connect = h.summary();
  r.handshake = h.summary();
  r.max_in_flight = 52;
  r.timeline = {{1000, 980, 0, 0, 30}, {1000, 990, 20, 0, 52}, {0, 20, 20, 0, 40}, {0, 0, 0, 0, 12}, {0, 0, 0, 0, 10},
                {0, 0, 0, 10, 10}};
  return {run, r};
}

TEST(LoadRender, TextInEnglish) {
  const auto [run, r] = storm();
  const auto text = render_load_text(run, r, Lang::en);
  EXPECT_NE(text.find("load localhost:8080 (127.0.0.1:8080): connect, open loop at 1000/s for 2s, timeout 5s, close with fin\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("2000 connections started over 2.00s (1000/s); the run ended after 7.01s, with at most 52 in flight\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  connected after SYN retransmissions     40   2.0 %  syn-ack      tcp.slow_handshake\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("  timed out (no answer)                   10   0.5 %  no-response  tcp.filtered\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("connected after retransmitted SYNs, by how many: 1 resent: 38, 2 resent: 2\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("(its ListenOverflows/ListenDrops count them)"), std::string::npos) << text;
  EXPECT_NE(text.find("p99.9"), std::string::npos);
  EXPECT_NE(text.find("3.00s"), std::string::npos) << text;  // the max
}

TEST(LoadRender, TextInChineseLinesUpByDisplayWidth) {
  const auto [run, r] = storm();
  const auto text = render_load_text(run, r, Lang::zh_CN);
  EXPECT_NE(text.find("已建立"), std::string::npos) << text;
  EXPECT_NE(text.find("重传 SYN 后建立"), std::string::npos) << text;
  EXPECT_NE(text.find("全连接队列"), std::string::npos) << text;
  // The fate table: the count column ends at the same display column on every row.
  std::vector<std::size_t> ends;
  std::istringstream in(text);
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (line.find("结局") != std::string::npos) in_table = true;
    if (!in_table) continue;
    const auto pct = line.find(" %");
    const auto at = pct == std::string::npos ? line.find("占比") : pct;
    if (at == std::string::npos) break;  // the lines that say what each fate means
    ends.push_back(display_width(line.substr(0, at)));
  }
  ASSERT_EQ(ends.size(), 4u) << text;  // heading and three fates
  for (std::size_t i = 2; i < ends.size(); ++i) EXPECT_EQ(ends[i], ends[1]) << text;
}

TEST(LoadRender, Json) {
  const auto [run, r] = storm();
  const auto j = render_load_json(run, r);
  EXPECT_EQ(j.at("model"), "open_loop");
  EXPECT_EQ(j.at("mode"), "connect");
  EXPECT_EQ(j.at("rate"), 1000.0);
  EXPECT_TRUE(j.at("connections").is_null());
  EXPECT_EQ(j.at("planned"), 2000);
  EXPECT_EQ(j.at("started"), 2000);
  EXPECT_EQ(j.at("fates").size(), 3u);
  EXPECT_EQ(j.at("fates").at(1).at("fate"), "connected_after_retransmits");
  EXPECT_EQ(j.at("fates").at(1).at("finding"), "tcp.slow_handshake");
  EXPECT_EQ(j.at("fates").at(2).at("fate"), "timed_out");
  EXPECT_EQ(j.at("fates").at(2).at("reason"), "no-response");
  EXPECT_EQ(j.at("syn_retransmits").at("1"), 38);
  EXPECT_EQ(j.at("syn_retransmits").at("2"), 2);
  const auto& c = j.at("latency_ms").at("connect");
  EXPECT_EQ(c.at("count"), 1990);
  EXPECT_LE(c.at("p50").get<double>(), 0.11);
  EXPECT_GE(c.at("p99").get<double>(), 1000.2);
  EXPECT_EQ(c.at("max").get<double>(), 3000.4);
  EXPECT_EQ(j.at("timeline").size(), 6u);
  EXPECT_EQ(j.at("timeline").at(1).at("retransmitted"), 20);
}

TEST(LoadRender, ExitStatus) {
  auto [run, r] = storm();
  EXPECT_EQ(load_exit_code(r), 1);
  r.fates = {{load::classify(0, false, std::nullopt, 0), 2000, 0}};
  EXPECT_EQ(load_exit_code(r), 0);
  r.finished = 0;
  r.fates.clear();
  EXPECT_EQ(load_exit_code(r), 1);  // nothing finished: not healthy
}

}  // namespace
}  // namespace connscope::cli
