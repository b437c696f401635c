// The Prometheus text format 0.0.4 renderer: golden pages, value formatting, escaping, the
// checks that keep a bad page from reaching a scraper, promtool's verdict on a page that uses
// every feature, and the render time of a page of ~2,000 samples.
#include "agent/prometheus.h"

#include <gtest/gtest.h>

#include "prom_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace connscope::agent::prom {
namespace {

TEST(PromRender, GoldenGaugeAndCounterWithLabels) {
  const std::vector<MetricFamily> families{
      {"connscope_tcp_sockets",
       "TCP sockets by state and address family.",
       MetricType::gauge,
       {{{{"state", "ESTABLISHED"}, {"family", "ipv4"}}, 1234},
        {{{"state", "TIME_WAIT"}, {"family", "ipv6"}}, 0}}},
      {"connscope_listen_overflows_total",
       "Times a connection was dropped because a listener's accept queue was full.",
       MetricType::counter,
       {{{}, 17}}},
      {"connscope_build_info", "Untyped, no samples.", MetricType::untyped, {}},
  };
  const auto page = render(families);
  ASSERT_TRUE(page.has_value()) << page.error().message();
  EXPECT_EQ(*page,
            "# HELP connscope_tcp_sockets TCP sockets by state and address family.\n"
            "# TYPE connscope_tcp_sockets gauge\n"
            "connscope_tcp_sockets{state=\"ESTABLISHED\",family=\"ipv4\"} 1234\n"
            "connscope_tcp_sockets{state=\"TIME_WAIT\",family=\"ipv6\"} 0\n"
            "# HELP connscope_listen_overflows_total Times a connection was dropped because a "
            "listener's accept queue was full.\n"
            "# TYPE connscope_listen_overflows_total counter\n"
            "connscope_listen_overflows_total 17\n"
            "# HELP connscope_build_info Untyped, no samples.\n"
            "# TYPE connscope_build_info untyped\n");
}

TEST(PromRender, GoldenEscaping) {
  const std::vector<MetricFamily> families{
      {"connscope_probe_failure_info",
       "A help text with a backslash \\ and a\nnewline; \"quotes\" stay as they are.",
       MetricType::gauge,
       {{{{"target", "http://h/\"q\"\\path"}, {"finding", "line1\nline2"}}, 1}}},
  };
  const auto page = render(families);
  ASSERT_TRUE(page.has_value()) << page.error().message();
  EXPECT_EQ(*page,
            "# HELP connscope_probe_failure_info A help text with a backslash \\\\ and a\\nnewline;"
            " \"quotes\" stay as they are.\n"
            "# TYPE connscope_probe_failure_info gauge\n"
            "connscope_probe_failure_info{target=\"http://h/\\\"q\\\"\\\\path\","
            "finding=\"line1\\nline2\"} 1\n");
}

TEST(PromRender, KeepsTheGivenOrderOfFamiliesSamplesAndLabels) {
  const std::vector<MetricFamily> families{
      {"connscope_z", "z", MetricType::gauge, {{{{"b", "1"}, {"a", "2"}}, 1}, {{{"b", "0"}, {"a", "2"}}, 2}}},
      {"connscope_a", "a", MetricType::gauge, {{{}, 3}}},
  };
  const auto page = render(families);
  ASSERT_TRUE(page.has_value()) << page.error().message();
  EXPECT_EQ(*page,
            "# HELP connscope_z z\n# TYPE connscope_z gauge\n"
            "connscope_z{b=\"1\",a=\"2\"} 1\nconnscope_z{b=\"0\",a=\"2\"} 2\n"
            "# HELP connscope_a a\n# TYPE connscope_a gauge\nconnscope_a 3\n");
}

TEST(PromFormat, Values) {
  const double inf = std::numeric_limits<double>::infinity();
  struct Case {
    double v;
    const char* want;
  };
  const Case cases[] = {
      {0, "0"},
      {-0.0, "0"},
      {1, "1"},
      {-1, "-1"},
      {1e6, "1000000"},                       // not 1e+06
      {123456789012.0, "123456789012"},
      {9007199254740992.0, "9007199254740992"},  // 2^53: the last exact integer
      {18014398509481984.0, "18014398509481984"},  // 2^54: exact, shortest form has no exponent
      {1e22, "1e+22"},
      {0.25, "0.25"},
      {0.1, "0.1"},                           // shortest round trip, not 0.1000000000000000055
      {0.0021, "0.0021"},
      {1.5e-7, "1.5e-07"},
      {-2.5, "-2.5"},
      {1e300, "1e+300"},
      {std::numeric_limits<double>::quiet_NaN(), "NaN"},
      {inf, "+Inf"},
      {-inf, "-Inf"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(format_value(c.v), c.want) << "value " << c.v;
    // Every finite value reads back exactly.
    if (std::isfinite(c.v)) {
      EXPECT_EQ(std::strtod(format_value(c.v).c_str(), nullptr), c.v);
    }
  }
}

TEST(PromEscape, LabelValuesAndHelp) {
  struct Case {
    std::string in;
    std::string label;
    std::string help;
  };
  const Case cases[] = {
      {"plain", "plain", "plain"},
      {"a\\b", "a\\\\b", "a\\\\b"},
      {"say \"hi\"", "say \\\"hi\\\"", "say \"hi\""},
      {"two\nlines", "two\\nlines", "two\\nlines"},
      {"tab\tstays", "tab\tstays", "tab\tstays"},
      {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
       "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},                    // valid UTF-8 kept
      {"bad\xFF", "bad\xEF\xBF\xBD", "bad\xEF\xBF\xBD"},                 // not a lead byte
      {"\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD", "\xEF\xBF\xBD\xEF\xBF\xBD"},  // overlong '/'
      {"cut\xE2\x82", "cut\xEF\xBF\xBD\xEF\xBF\xBD", "cut\xEF\xBF\xBD\xEF\xBF\xBD"},  // truncated
      {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD",
       "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},                          // a UTF-16 surrogate
      {"\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD",
       "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},              // above U+10FFFF
      {std::string("nul\0byte", 8), std::string("nul\0byte", 8), std::string("nul\0byte", 8)},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(escape_label_value(c.in), c.label) << c.in;
    EXPECT_EQ(escape_help(c.in), c.help) << c.in;
  }
}

TEST(PromNames, Validation) {
  struct Case {
    const char* name;
    bool metric;
    bool label;
  };
  const Case cases[] = {
      {"connscope_tcp_sockets", true, true},
      {"_private", true, true},
      {"__reserved", true, false},
      {"a1", true, true},
      {"", false, false},
      {"1abc", false, false},
      {"camelCase", false, false},
      {"with-dash", false, false},
      {"with:colon", false, false},
      {"sp ace", false, false},
      {"caf\xC3\xA9", false, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(valid_metric_name(c.name), c.metric) << c.name;
    EXPECT_EQ(valid_label_name(c.name), c.label) << c.name;
  }
}

TEST(PromRender, RefusesWhatAScrapeOrPromtoolWouldReject) {
  struct Case {
    std::vector<MetricFamily> families;
    const char* detail;  // a part of the error's message
  };
  const Case cases[] = {
      {{{"connscope_Bad", "h", MetricType::gauge, {}}}, "not a valid metric name"},
      {{{"connscope_x", "", MetricType::gauge, {}}}, "no HELP text"},
      {{{"connscope_resets", "h", MetricType::counter, {}}}, "must end in _total"},
      {{{"connscope_sockets_total", "h", MetricType::gauge, {}}}, "only a counter"},
      {{{"connscope_x", "h", MetricType::gauge, {{{{"__name__", "y"}}, 1}}}},
       "label name \"__name__\""},
      {{{"connscope_x", "h", MetricType::gauge, {{{{"Port", "1"}}, 1}}}}, "label name \"Port\""},
      {{{"connscope_x", "h", MetricType::gauge, {{{{"a", "1"}, {"a", "2"}}, 1}}}},
       "label a appears twice"},
      {{{"connscope_x_total", "h", MetricType::counter, {{{}, -1}}}}, "negative"},
      {{{"connscope_x", "h", MetricType::gauge, {{{{"a", "1"}}, 1}, {{{"a", "1"}}, 2}}}},
       "two samples with the labels {a=\"1\"}"},
      // The same label set in another order is the same series.
      {{{"connscope_x", "h", MetricType::gauge,
         {{{{"a", "1"}, {"b", "2"}}, 1}, {{{"b", "2"}, {"a", "1"}}, 2}}}},
       "two samples"},
      {{{"connscope_x", "h", MetricType::gauge, {}}, {"connscope_x", "h", MetricType::gauge, {}}},
       "two families"},
  };
  for (const auto& c : cases) {
    const auto page = render(c.families);
    ASSERT_FALSE(page.has_value()) << c.detail;
    EXPECT_NE(page.error().message().find(c.detail), std::string::npos)
        << page.error().message();
    EXPECT_NE(page.error().message().find(c.families.front().name), std::string::npos)
        << page.error().message();
  }
  // Not duplicates: a different value of one label, and a different label set.
  const std::vector<MetricFamily> distinct{
      {"connscope_x", "h", MetricType::gauge,
       {{{{"a", "1"}}, 1}, {{{"a", "2"}}, 1}, {{{"a", "1"}, {"b", "1"}}, 1}, {{}, 1}}}};
  EXPECT_TRUE(render(distinct).has_value());
}

// Every feature of the renderer on one page, as the agent uses them.
std::vector<MetricFamily> feature_page() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  return {
      {"connscope_tcp_sockets", "TCP sockets by state and family.", MetricType::gauge,
       {{{{"state", "ESTABLISHED"}, {"family", "ipv4"}}, 500},
        {{{"state", "LISTEN"}, {"family", "ipv6"}}, 3}}},
      {"connscope_listen_queue_length", "Connections waiting in a listener's accept queue.",
       MetricType::gauge,
       {{{{"listener", "127.0.0.1:9600"}}, 0}, {{{"listener", "[::1]:443"}}, 128}}},
      {"connscope_tcp_retransmits_total", "Retransmitted TCP segments (TcpExt).",
       MetricType::counter, {{{}, 123456789012.0}}},
      {"connscope_probe_stage_duration_seconds", "Duration of a probe stage, in seconds.",
       MetricType::gauge,
       {{{{"target", "https://example.com/health?x=\"1\""}, {"stage", "connect"}}, 0.0021},
        {{{"target", "https://example.com/health?x=\"1\""}, {"stage", "secure"}}, nan},
        {{{"target", "redis://10.0.0.5"}, {"stage", "talk"}}, inf},
        {{{"target", "redis://10.0.0.5"}, {"stage", "close"}}, -inf}}},
      {"connscope_probe_failure_info",
       "A failing probe with its finding: \\ backslash,\nsecond line.", MetricType::gauge,
       {{{{"target", "db:5432"}, {"finding", "tcp.refused"},
          {"text", "Connection refused\nby \\\"db\\\" \xFF"}},
         1}}},
      {"connscope_findings", "Findings by id and severity.", MetricType::gauge,
       {{{{"id", "listen.accept_queue_full"}, {"severity", "critical"}}, 1}}},
      {"connscope_sample_seconds", "An untyped value.", MetricType::untyped, {{{}, 1.5e-7}}},
      {"connscope_empty", "A family with no samples yet.", MetricType::gauge, {}},
  };
}

using prom_support::Checked;
using prom_support::promtool_check;

TEST(PromRender, PromtoolAcceptsEveryFeature) {
  CONNSCOPE_REQUIRE_PROMTOOL(promtool);
  const auto page = render(feature_page());
  ASSERT_TRUE(page.has_value()) << page.error().message();
  const Checked ok = promtool_check(*promtool, *page);
  EXPECT_EQ(ok.status, 0) << ok.output << "\n--- page ---\n" << *page;
  EXPECT_EQ(ok.output, "") << "promtool complained about:\n" << *page;

  // The check is real: promtool refuses a page that breaks its rules (a counter without
  // _total and without HELP; render() would not write it).
  const Checked bad = promtool_check(*promtool, "# TYPE connscope_resets counter\nconnscope_resets 1\n");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("_total"), std::string::npos) << bad.output;
}

TEST(PromRender, TwoThousandSamplesRenderQuickly) {
  // About what /metrics holds on a busy machine: 200 listeners x 2 gauges, 100 probe targets x
  // 7 stages, counters, states.
  std::vector<MetricFamily> families;
  MetricFamily length{"connscope_listen_queue_length", "Accept queue length.", MetricType::gauge, {}};
  MetricFamily limit{"connscope_listen_queue_limit", "Accept queue limit.", MetricType::gauge, {}};
  for (int i = 0; i < 400; ++i) {
    const std::string l = "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":8080";
    length.samples.push_back({{{"listener", l}}, static_cast<double>(i)});
    limit.samples.push_back({{{"listener", l}}, 4096});
  }
  MetricFamily stages{"connscope_probe_stage_duration_seconds", "Stage time.", MetricType::gauge, {}};
  const char* names[] = {"resolve", "route", "reach", "connect", "secure", "talk", "close"};
  for (int t = 0; t < 150; ++t) {
    for (const char* s : names) {
      stages.samples.push_back(
          {{{"target", "https://host" + std::to_string(t) + ".example.com/health"}, {"stage", s}},
           0.000123 * (t + 1)});
    }
  }
  MetricFamily counters{"connscope_kernel_counter_total", "Kernel counters.", MetricType::counter, {}};
  for (int i = 0; i < 150; ++i) {
    counters.samples.push_back({{{"counter", "TcpExt.Counter" + std::to_string(i)}}, 1e9 + i});
  }
  families = {std::move(length), std::move(limit), std::move(stages), std::move(counters)};
  std::size_t samples = 0;
  for (const auto& f : families) samples += f.samples.size();
  ASSERT_GE(samples, 2000u);

  constexpr int kRounds = 50;
  std::vector<double> micros;
  std::size_t bytes = 0;
  for (int i = 0; i < kRounds; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const auto page = render(families);
    const auto end = std::chrono::steady_clock::now();
    ASSERT_TRUE(page.has_value()) << page.error().message();
    bytes = page->size();
    ASSERT_EQ(static_cast<std::size_t>(std::count(page->begin(), page->end(), '\n')),
              samples + 2 * families.size());
    micros.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  std::sort(micros.begin(), micros.end());
  const double median = micros[micros.size() / 2];
  RecordProperty("samples", static_cast<int>(samples));
  RecordProperty("bytes", static_cast<int>(bytes));
  RecordProperty("median_us", static_cast<int>(median));
  std::cout << "render: " << samples << " samples, " << bytes << " bytes, median " << median
            << " us, max " << micros.back() << " us over " << kRounds << " rounds\n";
  // A generous bound (the budget of a whole /metrics answer is 10 ms at p99): it catches a
  // quadratic renderer, not a slow machine. Debug and sanitizer builds are ~15x slower and
  // only report the figure.
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(median, 10'000.0);
#endif
}

}  // namespace
}  // namespace connscope::agent::prom
