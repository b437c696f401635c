// The BPF sampler's pure parts on recorded counters: drops labelled and accumulated, rates, the
// census base taken between two equal counter reads, and what the snapshot, /metrics and the
// history make of a FastSample's kernel part.
#include "agent/kernel_sample.h"

#include <gtest/gtest.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <deque>

#include <nlohmann/json.hpp>

#include "agent/bpf_sampler.h"
#include "agent/history_series.h"
#include "agent/metrics.h"
#include "agent/snapshot_json.h"
#include "prom_support.h"

namespace connscope::agent {
namespace {

using namespace inspect::tcp_state;

constexpr std::uint32_t kNetfilterDrop = 6;  // as a kernel's BTF may number it
constexpr std::uint32_t kNoSocket = 2;
const ReasonNames kNames{{kNoSocket, "NO_SOCKET"}, {kNetfilterDrop, "NETFILTER_DROP"}};

bpf::DropCount drop(std::uint32_t reason, std::uint16_t port, std::uint16_t protocol, std::uint64_t n) {
  return bpf::DropCount{reason, port, protocol, n};
}

std::uint64_t total_of(const DropTotals& t, const std::string& reason, const std::string& port, const std::string& proto) {
  const auto it = t.find(DropLabel{reason, port, proto});
  return it == t.end() ? 0 : it->second;
}

TEST(KernelSample, DropsLabelledByListeningPortAndAccumulated) {
  DropTotals totals;
  const std::set<std::uint16_t> listening{80};
  // First read: 3 netfilter drops to the listening port 80, 2 to an ephemeral port, 4 UDP to
  // port 53 (not a TCP listener), 1 of a reason this kernel's BTF does not name.
  const std::vector<bpf::DropCount> r1{drop(kNetfilterDrop, 80, IPPROTO_TCP, 3), drop(kNetfilterDrop, 41234, IPPROTO_TCP, 2),
                                       drop(kNoSocket, 53, IPPROTO_UDP, 4), drop(99, 0, 0, 1)};
  accumulate_drops(totals, {}, r1, kNames, listening);
  EXPECT_EQ(total_of(totals, "NETFILTER_DROP", "80", "tcp"), 3u);
  EXPECT_EQ(total_of(totals, "NETFILTER_DROP", "other", "tcp"), 2u);
  EXPECT_EQ(total_of(totals, "NO_SOCKET", "other", "udp"), 4u);
  EXPECT_EQ(total_of(totals, "reason_99", "other", "other"), 1u);
  EXPECT_EQ(totals.size(), 4u);

  // Port 80 stops listening: its later drops go to "other", and its total stays (a counter
  // never goes back).
  const std::vector<bpf::DropCount> r2{drop(kNetfilterDrop, 80, IPPROTO_TCP, 10), drop(kNetfilterDrop, 41234, IPPROTO_TCP, 2),
                                       drop(kNoSocket, 53, IPPROTO_UDP, 4), drop(99, 0, 0, 1)};
  accumulate_drops(totals, r1, r2, kNames, {});
  EXPECT_EQ(total_of(totals, "NETFILTER_DROP", "80", "tcp"), 3u);
  EXPECT_EQ(total_of(totals, "NETFILTER_DROP", "other", "tcp"), 9u);

  // A count that went back (the programs were reloaded) adds nothing.
  accumulate_drops(totals, r2, r1, kNames, listening);
  EXPECT_EQ(total_of(totals, "NETFILTER_DROP", "80", "tcp"), 3u);
}

TEST(KernelSample, TotalsAndRatesFromCounters) {
  bpf::KernelCounters c0;
  c0.totals[CS_C_RESET_SENT] = 10;
  c0.totals[CS_C_RESET_RECEIVED] = 1;
  c0.totals[CS_C_RETRANSMIT] = 100;
  c0.totals[CS_C_SYNACK_RETRANSMIT] = 4;
  c0.transitions[kClose * 16 + kSynSent] = 50;
  bpf::KernelCounters c1 = c0;
  c1.totals[CS_C_RESET_SENT] = 14;
  c1.totals[CS_C_RETRANSMIT] = 106;
  c1.transitions[kClose * 16 + kSynSent] = 70;
  c1.transitions[kSynSent * 16 + kEstablished] = 20;
  DropTotals d0{{DropLabel{"NETFILTER_DROP", "80", "tcp"}, 5}};
  DropTotals d1{{DropLabel{"NETFILTER_DROP", "80", "tcp"}, 9}, {DropLabel{"NO_SOCKET", "other", "tcp"}, 2}};
  const auto t0 = kernel_totals(c0, d0);
  const auto t1 = kernel_totals(c1, d1);
  EXPECT_EQ(t1.resets_sent, 14u);
  EXPECT_EQ(t1.synack_retransmits, 4u);
  EXPECT_EQ(t1.transitions[kSynSent * 16 + kEstablished], 20u);

  const auto r = kernel_rates(t0, t1, 2.0);
  EXPECT_DOUBLE_EQ(r.resets_sent, 2.0);
  EXPECT_DOUBLE_EQ(r.resets_received, 0.0);
  EXPECT_DOUBLE_EQ(r.retransmits, 3.0);
  ASSERT_EQ(r.transitions.size(), 2u);  // only those that happened
  EXPECT_DOUBLE_EQ(r.transitions.at({kClose, kSynSent}), 10.0);
  EXPECT_DOUBLE_EQ(r.transitions.at({kSynSent, kEstablished}), 10.0);
  ASSERT_EQ(r.drops.size(), 2u);
  EXPECT_DOUBLE_EQ(r.drops.at(DropLabel{"NETFILTER_DROP", "80", "tcp"}), 2.0);
  EXPECT_DOUBLE_EQ(r.drops.at(DropLabel{"NO_SOCKET", "other", "tcp"}), 1.0);
}

// One sock_diag message: a socket of `state`, no attributes.
std::vector<std::byte> socket_message(int state) {
  std::vector<std::byte> m(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(inet_diag_msg)));
  nlmsghdr h{};
  h.nlmsg_len = static_cast<__u32>(m.size());
  h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  inet_diag_msg d{};
  d.idiag_family = AF_INET;
  d.idiag_state = static_cast<__u8>(state);
  std::memcpy(m.data(), &h, sizeof h);
  std::memcpy(m.data() + NLMSG_HDRLEN, &d, sizeof d);
  return m;
}

// Dumps the same sockets every time (or, when `per_dump` is set, dump N shows per_dump[N], the
// last one repeating), counting the dumps.
class FakeDumps final : public sys::DumpSource {
 public:
  std::vector<int> states;
  std::vector<std::vector<int>> per_dump;
  int dumps = 0;
  Result<sys::DumpStats> dump(const sys::InetDiagRequest&, const sys::MessageSink& sink) override {
    ++dumps;
    const auto& shown =
        per_dump.empty() ? states : per_dump[std::min(static_cast<std::size_t>(dumps), per_dump.size()) - 1];
    for (int st : shown) {
      const auto m = socket_message(st);
      if (auto r = sink(m); !r) return std::unexpected(r.error());
    }
    return sys::DumpStats{};
  }
};

// Counter reads in order: each read returns the next (the last one repeats).
struct ScriptedCounters {
  std::deque<std::uint64_t> syn_sent;  // the CLOSE -> SYN_SENT counter at each read
  Result<bpf::KernelCounters> operator()() {
    bpf::KernelCounters c;
    c.transitions[kClose * 16 + kSynSent] = syn_sent.front();
    if (syn_sent.size() > 1) syn_sent.pop_front();
    return c;
  }
};

TEST(CensusBase, RetriesUntilNoTransitionDuringTheDump) {
  FakeDumps dumps;
  dumps.states = {kEstablished, kEstablished, kListen};
  // Before/after the first dump: 5 -> 7 (moved); the second: 7 -> 7, and its confirming dump 7.
  ScriptedCounters reads{{5, 7, 7, 7}};
  auto base = stable_census_dump(std::ref(reads), dumps, 5, std::chrono::milliseconds(0));
  ASSERT_TRUE(base.has_value()) << base.error().message();
  EXPECT_TRUE(base->exact);
  EXPECT_EQ(base->moved, 0u);
  EXPECT_EQ(base->attempts, 2);
  EXPECT_EQ(dumps.dumps, 3);
  EXPECT_EQ(base->at.transitions[kClose * 16 + kSynSent], 7u);
  EXPECT_EQ(base->dump.full[kEstablished], 2);
  EXPECT_EQ(base->dump.full[kListen], 1);
}

// A change whose tracepoint had fired before the dump but whose state the kernel had not stored
// yet: the dump still shows the old state, the next one the new. Not exact until two agree.
TEST(CensusBase, ADumpIsConfirmedByASecondThatAgrees) {
  FakeDumps dumps;
  dumps.per_dump = {{kEstablished, kEstablished}, {kEstablished}, {kEstablished}};
  ScriptedCounters reads{{4}};
  auto base = stable_census_dump(std::ref(reads), dumps, 5, std::chrono::milliseconds(0));
  ASSERT_TRUE(base.has_value()) << base.error().message();
  EXPECT_TRUE(base->exact);
  EXPECT_EQ(base->attempts, 2);
  EXPECT_EQ(dumps.dumps, 4);
  EXPECT_EQ(base->dump.full[kEstablished], 1);
}

TEST(CensusBase, BoundedUnderChurnAndSaysByHowMuch) {
  FakeDumps dumps;
  dumps.states = {kEstablished};
  // Every dump sees transitions: 3, then 1, then 2. The one with the fewest is kept.
  ScriptedCounters reads{{0, 3, 3, 4, 4, 6}};
  auto base = stable_census_dump(std::ref(reads), dumps, 3, std::chrono::milliseconds(0));
  ASSERT_TRUE(base.has_value());
  EXPECT_FALSE(base->exact);
  EXPECT_EQ(base->moved, 1u);
  EXPECT_EQ(base->attempts, 3);
  EXPECT_EQ(dumps.dumps, 3);
  EXPECT_EQ(base->at.transitions[kClose * 16 + kSynSent], 3u);  // read before the kept dump
}

TEST(CensusBase, AReadErrorIsReturned) {
  FakeDumps dumps;
  auto base = stable_census_dump([]() -> Result<bpf::KernelCounters> { return fail("read BPF map cs_transitions", "gone", 9); },
                                 dumps, 3);
  ASSERT_FALSE(base.has_value());
  EXPECT_EQ(base.error().op, "read BPF map cs_transitions");
}

// The census has reached counters past the check's dump: the dump is brought forward by the
// transitions between before the comparison, so a right census has no drift.
TEST(CensusCheck, TheDumpIsBroughtToTheCensusCountersBeforeComparing) {
  const auto at = std::chrono::system_clock::time_point(std::chrono::seconds(1'764'100'000));
  watch::DumpCensus base;
  base.full[kEstablished] = 10;
  base.full[kListen] = 2;
  watch::Census census(base, watch::Transitions{}, at);
  // Counters at the check's dump: 5 connects done; the dump shows 15 ESTABLISHED.
  watch::Transitions t_dump{};
  t_dump[kClose * 16 + kSynSent] = 5;
  t_dump[kSynSent * 16 + kEstablished] = 5;
  // Later, when the server's thread handles the check: 3 of them closed by the peer.
  watch::Transitions t_now = t_dump;
  t_now[kEstablished * 16 + kCloseWait] = 3;
  census.advance(t_now, 0);
  ASSERT_EQ(census.states()[kEstablished], 12);
  ASSERT_EQ(census.states()[kCloseWait], 3);

  CensusDump d;
  d.dump.full[kEstablished] = 15;
  d.dump.full[kListen] = 2;
  d.dump.requests = 4;
  for (std::size_t i = 0; i < t_dump.size(); ++i) d.at.transitions[i] = t_dump[i];
  d.exact = true;
  const auto c = check_census(census, d, t_now, at + std::chrono::minutes(10));
  EXPECT_TRUE(c.drift.empty()) << c.total_drift();
  EXPECT_EQ(c.total_drift(), 0);
  EXPECT_TRUE(c.exact);
  // Rebased on the dump: its request sockets, its time.
  EXPECT_EQ(census.states()[kSynRecv], 4);
  EXPECT_EQ(census.requests_as_of(), at + std::chrono::minutes(10));
  // And it goes on from `t_now`, not from the dump's counters.
  watch::Transitions t_later = t_now;
  t_later[kCloseWait * 16 + kLastAck] = 3;
  census.advance(t_later, 0);
  EXPECT_EQ(census.states()[kEstablished], 12);
  EXPECT_EQ(census.states()[kCloseWait], 0);
  EXPECT_EQ(census.states()[kLastAck], 3);
}

TEST(CensusCheck, AWrongCensusShowsItsDriftAndIsCorrected) {
  const auto at = std::chrono::system_clock::time_point(std::chrono::seconds(1'764'100'000));
  watch::DumpCensus base;
  base.full[kEstablished] = 10;
  watch::Census census(base, watch::Transitions{}, at);
  census.advance(watch::Transitions{}, 0);
  // The dump says 7 ESTABLISHED and 3 CLOSE_WAIT: three moves the counters missed.
  CensusDump d;
  d.dump.full[kEstablished] = 7;
  d.dump.full[kCloseWait] = 3;
  d.exact = false;
  d.moved = 1;
  const auto c = check_census(census, d, watch::Transitions{}, at);
  ASSERT_EQ(c.drift.size(), 2u);
  EXPECT_EQ(c.drift[0].state, kEstablished);
  EXPECT_EQ(c.drift[0].census, 10);
  EXPECT_EQ(c.drift[0].dump, 7);
  EXPECT_EQ(c.drift[1].state, kCloseWait);
  EXPECT_EQ(c.total_drift(), 6);
  EXPECT_FALSE(c.exact);
  EXPECT_EQ(c.moved, 1u);
  EXPECT_EQ(census.states()[kEstablished], 7);
  EXPECT_EQ(census.states()[kCloseWait], 3);
}

// A recorded second: a census of 2 ESTABLISHED and 1 LISTEN, then 3 connects that completed,
// one that closed, and their counters.
FastSample recorded_sample() {
  watch::DumpCensus base;
  base.full[kEstablished] = 2;
  base.full[kListen] = 1;
  watch::Transitions t0{};
  watch::Census census(base, t0, std::chrono::system_clock::time_point(std::chrono::milliseconds(1'764'100'000'000)));
  watch::Transitions t1{};
  t1[kClose * 16 + kSynSent] = 3;
  t1[kSynSent * 16 + kEstablished] = 3;
  t1[kEstablished * 16 + kFinWait1] = 1;
  t1[kFinWait1 * 16 + kFinWait2] = 1;
  t1[kFinWait2 * 16 + kClose] = 1;
  census.advance(t1, 1);

  bpf::KernelCounters c;
  c.transitions = t1;
  c.totals[CS_C_RESET_SENT] = 2;
  c.totals[CS_C_RETRANSMIT] = 5;
  DropTotals drops{{DropLabel{"NETFILTER_DROP", "80", "tcp"}, 4}};
  FastSample s;
  s.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'764'100'001'000));
  KernelSample k;
  k.states = census.states();
  k.requests_as_of = census.requests_as_of();
  k.totals = kernel_totals(c, drops);
  KernelRates r;
  r.resets_sent = 2;
  r.retransmits = 5;
  r.drops[DropLabel{"NETFILTER_DROP", "80", "tcp"}] = 4;
  r.transitions[{kClose, kSynSent}] = 3;
  k.per_second = r;
  CensusCheck check;
  check.time = s.time;
  check.drift = {watch::StateDrift{kEstablished, 5, 4}, watch::StateDrift{kCloseWait, 0, 2}};
  k.last_check = check;
  s.kernel = k;
  return s;
}

TEST(KernelSample, SnapshotJson) {
  const auto j = fast_json(recorded_sample());
  const auto& k = j.at("kernel");
  EXPECT_EQ(k.at("states").at("ESTABLISHED"), 4);
  EXPECT_EQ(k.at("states").at("LISTEN"), 1);
  EXPECT_EQ(k.at("states").at("TIME_WAIT"), 1);
  EXPECT_EQ(k.at("states").at("FIN_WAIT2"), 0);
  EXPECT_EQ(k.at("requests_as_of_ms"), 1'764'100'000'000);
  EXPECT_EQ(k.at("base").at("exact"), true);
  EXPECT_EQ(k.at("totals").at("resets").at("sent"), 2);
  EXPECT_EQ(k.at("totals").at("retransmits").at("data"), 5);
  const nlohmann::json want_drop = {{"reason", "NETFILTER_DROP"}, {"port", 80}, {"protocol", "tcp"}, {"count", 4}};
  EXPECT_EQ(k.at("totals").at("drops"), nlohmann::json::array({want_drop}));
  EXPECT_EQ(k.at("totals").at("transitions").size(), 5u);
  EXPECT_EQ(k.at("per_second").at("drops").at(0).at("rate"), 4.0);
  EXPECT_EQ(k.at("per_second").at("transitions").at(0),
            (nlohmann::json{{"from", "CLOSE"}, {"to", "SYN_SENT"}, {"rate", 3.0}}));
  EXPECT_EQ(k.at("check").at("total_drift"), 3);
  EXPECT_EQ(k.at("check").at("drift").at(1), (nlohmann::json{{"state", "CLOSE_WAIT"}, {"census", 0}, {"dump", 2}}));

  FastSample tiers;
  EXPECT_TRUE(fast_json(tiers).at("kernel").is_null());
}

TEST(KernelSample, SamplerJsonSaysBpfOrWhyNot) {
  SamplerInfo on{.kind = "bpf", .fast_interval = std::chrono::milliseconds(1000),
                 .full_interval = std::chrono::milliseconds(600'000), .bpf = true, .bpf_off_reason = {}};
  const auto j = sampler_json(on);
  EXPECT_EQ(j.at("kind"), "bpf");
  EXPECT_EQ(j.at("full_interval_ms"), 600'000);
  EXPECT_EQ(j.at("bpf").at("enabled"), true);
  EXPECT_TRUE(j.at("bpf").at("reason").is_null());
  SamplerInfo off{.kind = "tiers", .fast_interval = std::chrono::milliseconds(1000),
                  .full_interval = std::chrono::milliseconds(10'000), .bpf = false,
                  .bpf_off_reason = "load kernel programs: needs root, or CAP_BPF and CAP_PERFMON"};
  EXPECT_EQ(sampler_json(off).at("bpf").at("reason"), off.bpf_off_reason);
}

TEST(KernelSample, MetricsFamiliesAndPromtool) {
  const auto s = recorded_sample();
  const auto fs = metric_families(&s, nullptr);
  using prom_support::find_family;
  const auto* states = find_family(fs, "connscope_tcp_census_sockets");
  ASSERT_NE(states, nullptr);
  EXPECT_EQ(states->samples.size(), 11u);
  EXPECT_EQ(states->samples[0].labels[0].value, "ESTABLISHED");
  EXPECT_EQ(states->samples[0].value, 4);
  const auto* drops = find_family(fs, "connscope_drops_total");
  ASSERT_NE(drops, nullptr);
  ASSERT_EQ(drops->samples.size(), 1u);
  EXPECT_EQ(drops->type, prom::MetricType::counter);
  EXPECT_EQ(drops->samples[0].labels[0].value, "NETFILTER_DROP");
  EXPECT_EQ(drops->samples[0].labels[1].value, "80");
  EXPECT_EQ(drops->samples[0].labels[2].value, "tcp");
  EXPECT_EQ(drops->samples[0].value, 4);
  const auto* resets = find_family(fs, "connscope_resets_total");
  ASSERT_NE(resets, nullptr);
  EXPECT_EQ(resets->samples[0].labels[0].value, "sent");
  EXPECT_EQ(resets->samples[0].value, 2);
  const auto* retrans = find_family(fs, "connscope_retransmits_total");
  ASSERT_NE(retrans, nullptr);
  EXPECT_EQ(retrans->samples[0].value, 5);
  const auto* trans = find_family(fs, "connscope_state_transitions_total");
  ASSERT_NE(trans, nullptr);
  EXPECT_EQ(trans->samples.size(), 5u);
  const auto* drift = find_family(fs, "connscope_census_drift_sockets");
  ASSERT_NE(drift, nullptr);
  EXPECT_EQ(drift->samples[0].value, 3);

  // Without the kernel part none of them.
  FastSample tiers;
  EXPECT_EQ(find_family(metric_families(&tiers, nullptr), "connscope_drops_total"), nullptr);

  auto page = prom::render(fs);
  ASSERT_TRUE(page.has_value()) << page.error().message();
  EXPECT_NE(page->find("connscope_drops_total{reason=\"NETFILTER_DROP\",port=\"80\",protocol=\"tcp\"} 4\n"), std::string::npos)
      << *page;
  EXPECT_NE(page->find("connscope_state_transitions_total{from=\"CLOSE\",to=\"SYN_SENT\"} 3\n"), std::string::npos);
  CONNSCOPE_REQUIRE_PROMTOOL(promtool);
  const auto checked = prom_support::promtool_check(*promtool, *page);
  EXPECT_EQ(checked.status, 0) << checked.output << "\n" << *page;
  EXPECT_EQ(checked.output, "") << *page;
}

TEST(KernelSample, HistorySeries) {
  const ListenerSeriesGate all({std::chrono::milliseconds(0), 1024});
  const auto series = fast_series(recorded_sample(), all);
  std::map<std::string, double> by_name;
  for (const auto& v : series) by_name[v.series] = v.value;
  EXPECT_EQ(by_name.at("tcp_sockets{state=\"ESTABLISHED\"}"), 4);
  EXPECT_EQ(by_name.at("tcp_sockets{state=\"TIME_WAIT\"}"), 1);
  EXPECT_EQ(by_name.at("drops{reason=\"NETFILTER_DROP\"}"), 4);
  EXPECT_EQ(by_name.at("resets{direction=\"sent\"}"), 2);
  EXPECT_EQ(by_name.at("resets{direction=\"received\"}"), 0);
  EXPECT_EQ(by_name.at("retransmits{kind=\"data\"}"), 5);
  EXPECT_EQ(by_name.at("retransmits{kind=\"synack\"}"), 0);

  // A second without drops still writes the reason, at 0 (the chart comes back down).
  auto quiet = recorded_sample();
  quiet.kernel->per_second->drops.clear();
  std::map<std::string, double> q;
  for (const auto& v : fast_series(quiet, all)) q[v.series] = v.value;
  EXPECT_EQ(q.at("drops{reason=\"NETFILTER_DROP\"}"), 0);

  // The first sample has no rates: states only.
  auto first = recorded_sample();
  first.kernel->per_second.reset();
  std::map<std::string, double> f;
  for (const auto& v : fast_series(first, all)) f[v.series] = v.value;
  EXPECT_EQ(f.count("resets{direction=\"sent\"}"), 0u);
  EXPECT_EQ(f.at("tcp_sockets{state=\"LISTEN\"}"), 1);

  FastSample tiers;
  for (const auto& v : fast_series(tiers, all)) EXPECT_EQ(v.series.rfind("tcp_sockets", 0), std::string::npos) << v.series;
}

}  // namespace
}  // namespace connscope::agent
