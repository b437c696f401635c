// trace's renderers (cli/trace_render.h) on hand-built results: the table, the ICMP words from
// the catalog (English and Chinese), the loss notes and verdicts, and the JSON fields.
#include "cli/trace_render.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include "probe/icmp.h"

namespace connscope::cli {
namespace {

using namespace std::chrono_literals;
using probe::ProbeReply;

probe::TraceProbe answer(int ttl, ProbeReply reply, std::string from, std::chrono::microseconds rtt) {
  probe::TraceProbe p;
  p.ttl = ttl;
  p.reply = reply;
  p.from = std::move(from);
  p.rtt = rtt;
  return p;
}

probe::TraceHop hop(int ttl, std::vector<probe::TraceProbe> probes) {
  probe::TraceHop h;
  h.ttl = ttl;
  h.probes = std::move(probes);
  for (const auto& p : h.probes) {
    ++h.stats.sent;
    if (p.from) {
      if (std::find(h.responders.begin(), h.responders.end(), *p.from) == h.responders.end()) h.responders.push_back(*p.from);
      ++h.stats.received;
      h.stats.best = h.stats.best ? std::min(*h.stats.best, *p.rtt) : *p.rtt;
      h.stats.worst = h.stats.worst ? std::max(*h.stats.worst, *p.rtt) : *p.rtt;
      h.stats.avg = h.stats.best;
      h.stats.last = p.rtt;
    }
  }
  h.stats.loss_percent = 100.0 * (h.stats.sent - h.stats.received) / h.stats.sent;
  return h;
}

// Two hops: a router that answers time exceeded, then one that says "administratively
// prohibited" (ICMP 3/13): the destination is unreachable.
probe::TraceResult prohibited() {
  probe::TraceResult r;
  r.mode = probe::TraceMode::tcp;
  r.destination = Endpoint{AF_INET, "198.18.3.2", 443};
  r.hops.push_back(hop(1, {answer(1, ProbeReply::time_exceeded, "198.18.1.1", 1000us)}));
  auto p = answer(2, ProbeReply::unreachable, "198.18.2.1", 2000us);
  p.origin = probe::ErrOrigin::icmp;
  p.icmp_type = 3;
  p.icmp_code = 13;
  r.hops.push_back(hop(2, {p}));
  r.verdict = probe::TraceVerdict::unreachable;
  r.info.verdict = r.verdict;
  r.info.hop = 2;
  r.info.reporter = "198.18.2.1";
  r.info.answer = ProbeReply::unreachable;
  r.info.origin = probe::ErrOrigin::icmp;
  r.info.icmp_type = 3;
  r.info.icmp_code = 13;
  r.rounds = 1;
  return r;
}

probe::TraceOptions one_probe() {
  probe::TraceOptions o;
  o.probes = 1;
  o.max_hops = 5;
  return o;
}

TEST(TraceRender, EnglishTable) {
  const TraceShown t{"198.18.3.2:443", "198.18.3.2", true};
  const auto text = render_trace_text(t, prohibited(), one_probe(), {}, Style{false}, Lang::en);
  EXPECT_EQ(text,
            "trace to 198.18.3.2 port 443, tcp, 5 hops max, 1 probe per hop\n"
            " hop  address      loss  rtt min/avg/max             answered\n"
            "   1  198.18.1.1     0%  1.00ms/1.00ms/1.00ms        time exceeded\n"
            "   2  198.18.2.1     0%  2.00ms/2.00ms/2.00ms        unreachable (ICMP 3/13 administratively prohibited)\n"
            "not reached: hop 2 (198.18.2.1) reports the destination unreachable: ICMP 3/13 administratively "
            "prohibited\n");
}

TEST(TraceRender, ChineseIcmpWordsAndColumns) {
  const TraceShown t{"198.18.3.2:443", "198.18.3.2", true};
  const auto text = render_trace_text(t, prohibited(), one_probe(), {}, Style{false}, Lang::zh_CN);
  EXPECT_NE(text.find("ICMP 3/13 通信被管理性禁止"), std::string::npos) << text;
  EXPECT_EQ(text.find("administratively"), std::string::npos) << text;
  EXPECT_EQ(text.find("time exceeded"), std::string::npos) << text;
  EXPECT_NE(text.find("198.18.3.2 端口 443，tcp"), std::string::npos) << text;
  EXPECT_EQ(text.find("port"), std::string::npos) << text;
  // The address column is as wide as its widest cell in terminal columns (地址 is four, and
  // fmt pads it as four).
  EXPECT_NE(text.find("\n  跳  地址         丢包  RTT"), std::string::npos) << text;
  EXPECT_NE(text.find("\n   1  198.18.1.1     0%  "), std::string::npos) << text;
}

TEST(TraceRender, UnknownCodesKeepTheirNumbers) {
  auto r = prohibited();
  r.info.icmp_type = 42;
  r.info.icmp_code = 7;
  const TraceShown t{"h", "198.18.3.2", true};
  const auto text = render_trace_text(t, r, one_probe(), {}, Style{false}, Lang::zh_CN);
  EXPECT_TRUE(text.ends_with("：ICMP 42/7\n")) << text;
}

TEST(TraceRender, ResolvedNamesAndColour) {
  auto r = prohibited();
  r.verdict = probe::TraceVerdict::reached;
  r.info.verdict = r.verdict;
  r.info.answer = ProbeReply::syn_ack;
  r.hops.back().probes.back().reply = ProbeReply::syn_ack;
  const TraceShown t{"example.test:443", "example.test", false};
  const std::map<std::string, std::string> names{{"198.18.1.1", "r1.lab"}};
  const auto text = render_trace_text(t, r, one_probe(), names, Style{true}, Lang::en);
  EXPECT_TRUE(text.starts_with("trace to example.test (198.18.3.2) port 443")) << text;
  EXPECT_NE(text.find("r1.lab (198.18.1.1)"), std::string::npos) << text;
  EXPECT_NE(text.find("\x1b[32mreached 198.18.3.2 at hop 2: port 443 is open (SYN-ACK)\x1b[0m\n"), std::string::npos)
      << text;
}

TEST(TraceRender, Json) {
  const TraceShown t{"198.18.3.2:443", "198.18.3.2", true};
  const auto j = nlohmann::json::parse(render_trace_json(t, prohibited(), one_probe(), {}));
  EXPECT_EQ(j.at("target"), "198.18.3.2:443");
  EXPECT_EQ(j.at("mode"), "tcp");
  EXPECT_EQ(j.at("port"), 443);
  EXPECT_EQ(j.at("verdict").at("result"), "unreachable");
  EXPECT_EQ(j.at("verdict").at("icmp"), (nlohmann::json{{"origin", "icmp"}, {"type", 3}, {"code", 13}}));
  ASSERT_EQ(j.at("hops").size(), 2u);
  EXPECT_EQ(j.at("hops")[1].at("probes")[0].at("reply"), "unreachable");
  EXPECT_EQ(j.at("hops")[0].at("responders")[0].at("name"), nullptr);
  EXPECT_EQ(j.at("path_mtu"), nullptr);
}

TEST(IcmpWords, DescribeInBothLanguages) {
  using probe::ErrOrigin;
  EXPECT_EQ(probe::describe_icmp(ErrOrigin::icmp, 3, 3), "ICMP port unreachable (type 3 code 3)");
  EXPECT_EQ(probe::describe_icmp(ErrOrigin::icmp6, 1, 3, std::string("2001:db8::1")),
            "ICMPv6 address unreachable (type 1 code 3) from 2001:db8::1");
  EXPECT_EQ(probe::describe_icmp(ErrOrigin::icmp, 42, 7), "ICMP type 42 code 7");
  EXPECT_EQ(probe::describe_icmp(ErrOrigin::icmp, 3, 3, std::nullopt, Lang::zh_CN), "ICMP 端口不可达（类型 3 代码 3）");
  EXPECT_EQ(probe::describe_icmp(ErrOrigin::icmp, 42, 7, std::string("198.18.2.1"), Lang::zh_CN),
            "来自 198.18.2.1 的 ICMP 类型 42 代码 7");
  EXPECT_EQ(probe::icmp_known_name(ErrOrigin::icmp, 3, 13), "administratively prohibited");
  EXPECT_EQ(probe::icmp_known_name(ErrOrigin::icmp, 3, 13, Lang::zh_CN), "通信被管理性禁止");
  EXPECT_EQ(probe::icmp_known_name(ErrOrigin::icmp, 3, 99, Lang::zh_CN), "目标不可达");
  EXPECT_FALSE(probe::icmp_known_name(ErrOrigin::icmp, 42, 7, Lang::zh_CN));
}

}  // namespace
}  // namespace connscope::cli
