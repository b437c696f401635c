#include "sys/proc_counters.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "sys/proc_net.h"

// Fixtures: tests/fixtures/proc/net/{sockstat,sockstat6,netstat,snmp,snmp6} were copied from a
// real Debian 12 machine (kernel 6.18). tests/fixtures/proc_later/net/ is the same netstat, snmp
// and sockstat with numbers edited to stand for a sample taken 2 s later (listen overflows,
// syncookies, retransmissions up; Tcp.OutRsts down, as after a reset), and no IPv6 files.

namespace connscope::sys {
namespace {

using namespace std::chrono_literals;

std::string fixtures_root(const char* tree = "proc") {
  return std::string(CONNSCOPE_FIXTURES) + "/" + tree;
}

std::string fixture(const char* name, const char* tree = "proc") {
  auto text = read_file(fixtures_root(tree) + "/net/" + name);
  EXPECT_TRUE(text.has_value()) << text.error().message();
  return text.value_or("");
}

std::int64_t at(const Counters& c, std::string_view key) {
  const auto it = c.find(key);
  EXPECT_NE(it, c.end()) << key;
  return it == c.end() ? -999 : it->second;
}

// ---- sockstat ----------------------------------------------------------------------------

TEST(Sockstat, ParsesRecordedFile) {
  auto s = parse_sockstat(fixture("sockstat"), "/proc/net/sockstat");
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(s->sockets_used, 14);
  EXPECT_EQ(s->tcp_inuse, 4);
  EXPECT_EQ(s->tcp_orphan, 2);
  EXPECT_EQ(s->tcp_tw, 10079);
  EXPECT_EQ(s->tcp_alloc, 6);
  EXPECT_EQ(s->tcp_mem_pages, 212);
  EXPECT_EQ(s->udp_inuse, 0);
  EXPECT_EQ(s->udp_mem_pages, 0);
}

TEST(Sockstat, ParsesRecordedIpv6File) {
  auto s = parse_sockstat6(fixture("sockstat6"), "/proc/net/sockstat6");
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(s->tcp6_inuse, 0);
  EXPECT_EQ(s->udp6_inuse, 0);
  auto hand = parse_sockstat6("TCP6: inuse 7\nUDP6: inuse 3\nRAW6: inuse 1\n", "s6");
  ASSERT_TRUE(hand.has_value()) << hand.error().message();
  EXPECT_EQ(hand->tcp6_inuse, 7);
  EXPECT_EQ(hand->udp6_inuse, 3);
}

TEST(Sockstat, IgnoresFieldsAndLinesAddedByLaterKernels) {
  auto s = parse_sockstat(
      "sockets: used 9 extra 1\n"
      "TCP: inuse 1 orphan 2 tw 3 alloc 4 mem 5 newfield 6\n"
      "UDP: inuse 7 mem 8\n"
      "NEWPROTO: inuse 1\n",
      "/proc/net/sockstat");
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(s->sockets_used, 9);
  EXPECT_EQ(s->tcp_mem_pages, 5);
  EXPECT_EQ(s->udp_mem_pages, 8);
}

struct BrokenCase {
  const char* name;
  std::string text;
  std::string message;
};

std::ostream& operator<<(std::ostream& os, const BrokenCase& c) { return os << c.name; }

// (GTest's own lambda parameter is called `info`, so a lambda here would shadow it.)
std::string case_name(const testing::TestParamInfo<BrokenCase>& p) { return p.param.name; }

class BrokenSockstat : public testing::TestWithParam<BrokenCase> {};

TEST_P(BrokenSockstat, IsAnErrorNamingFileAndLine) {
  auto s = parse_sockstat(GetParam().text, "/proc/net/sockstat");
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().message(), GetParam().message);
  EXPECT_EQ(s.error().code, 0);
}

const std::string kGoodSockstatTail = "UDP: inuse 0 mem 0\n";

INSTANTIATE_TEST_SUITE_P(
    Table, BrokenSockstat,
    testing::Values(
        BrokenCase{"empty", "", "/proc/net/sockstat: empty"},
        BrokenCase{"only_blank_lines", "\n\n", "/proc/net/sockstat: empty"},
        BrokenCase{"no_tcp_line", "sockets: used 1\n" + kGoodSockstatTail,
                   "/proc/net/sockstat: no TCP line"},
        BrokenCase{"tcp_without_tw",
                   "sockets: used 1\nTCP: inuse 1 orphan 0 alloc 1 mem 1\n" + kGoodSockstatTail,
                   "/proc/net/sockstat:2: TCP line without tw"},
        BrokenCase{"name_without_value",
                   "sockets: used 1\nTCP: inuse 1 orphan\n" + kGoodSockstatTail,
                   "/proc/net/sockstat:2: TCP has a name without a value (truncated?)"},
        BrokenCase{
            "not_a_number",
            "sockets: used 1\nTCP: inuse 1 orphan x tw 0 alloc 1 mem 1\n" + kGoodSockstatTail,
            "/proc/net/sockstat:2: TCP orphan: not a number: \"x\""},
        BrokenCase{"no_prefix", "sockets used 1\n",
                   "/proc/net/sockstat:1: "
                   "no \"NAME:\" at the start"},
        BrokenCase{"repeated_line", "sockets: used 1\nsockets: used 2\n",
                   "/proc/net/sockstat:2: a second sockets line"},
        BrokenCase{"cut_mid_line", "sockets: used 1\nTCP: inuse 1 orph",
                   "/proc/net/sockstat:2: no newline at the end (truncated?)"}),
    case_name);

TEST(Sockstat, Ipv6FileWithoutUdp6IsAnError) {
  auto s = parse_sockstat6("TCP6: inuse 1\n", "/proc/net/sockstat6");
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().message(), "/proc/net/sockstat6: no UDP6 line");
}

// ---- netstat / snmp ----------------------------------------------------------------------

TEST(CounterTable, ParsesRecordedNetstat) {
  auto c = parse_counter_table(fixture("netstat"), "/proc/net/netstat");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->size(), 135u + 18u + 76u);         // TcpExt, IpExt, MPTcpExt
  EXPECT_EQ(at(*c, "TcpExt.SyncookiesSent"), 0);  // first field
  EXPECT_EQ(at(*c, "TcpExt.TW"), 378612);
  EXPECT_EQ(at(*c, "TcpExt.ListenOverflows"), 794);
  EXPECT_EQ(at(*c, "TcpExt.ListenDrops"), 794);
  EXPECT_EQ(at(*c, "TcpExt.TCPTimeouts"), 178);
  EXPECT_EQ(at(*c, "TcpExt.TCPSynRetrans"), 176);
  EXPECT_EQ(at(*c, "TcpExt.TCPAbortOnData"), 23);
  EXPECT_EQ(at(*c, "TcpExt.TCPAbortOnClose"), 376);
  EXPECT_EQ(at(*c, "TcpExt.TCPAODroppedIcmps"), 0);  // last field of the first group
  EXPECT_EQ(at(*c, "IpExt.InOctets"), 1265049500);
  EXPECT_EQ(at(*c, "MPTcpExt.WinProbe"), 0);
}

TEST(CounterTable, ParsesRecordedSnmpWithSignedMaxConn) {
  auto c = parse_counter_table(fixture("snmp"), "/proc/net/snmp");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->size(), 20u + 29u + 1u + 15u + 9u + 9u);  // Ip Icmp IcmpMsg Tcp Udp UdpLite
  EXPECT_EQ(at(*c, "Tcp.MaxConn"), -1);                  // the one signed field: "no limit"
  EXPECT_EQ(at(*c, "Tcp.RtoMax"), 120000);
  EXPECT_EQ(at(*c, "Tcp.RetransSegs"), 188);
  EXPECT_EQ(at(*c, "Tcp.OutRsts"), 3295);
  EXPECT_EQ(at(*c, "Tcp.AttemptFails"), 12);
  EXPECT_EQ(at(*c, "Tcp.EstabResets"), 1213);
  EXPECT_EQ(at(*c, "Tcp.InSegs"), 10002268);
  EXPECT_EQ(at(*c, "Ip.Forwarding"), 2);
  EXPECT_EQ(at(*c, "IcmpMsg.InType3"), 1);
  EXPECT_EQ(at(*c, "UdpLite.MemErrors"), 0);
}

TEST(CounterTable, KeepsUnsignedValuesAsTwosComplement) {
  auto c = parse_counter_table(
      "Tcp: MaxConn CurrEstab Big\nTcp: -1 18446744073709551615 9223372036854775807\n", "snmp");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(at(*c, "Tcp.MaxConn"), -1);
  EXPECT_EQ(at(*c, "Tcp.CurrEstab"), -1);  // a per-CPU gauge sum printed unsigned
  EXPECT_EQ(at(*c, "Tcp.Big"), std::numeric_limits<std::int64_t>::max());
}

TEST(CounterTable, AcceptsAGroupWithNoFields) {
  // icmpmsg prints its pair only when there are messages, but an empty pair must not break us.
  auto c = parse_counter_table("IcmpMsg:\nIcmpMsg:\nTcp: A\nTcp: 1\n", "snmp");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->size(), 1u);
}

class BrokenCounterTable : public testing::TestWithParam<BrokenCase> {};

TEST_P(BrokenCounterTable, IsAnErrorNamingFileAndLine) {
  auto c = parse_counter_table(GetParam().text, "/proc/net/netstat");
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().message(), GetParam().message);
  EXPECT_EQ(c.error().code, 0);
}

// Variants of the recorded file, built by editing one line.
std::string netstat_with_line(std::size_t index, const std::string& replacement) {
  const std::string text = fixture("netstat");
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto end = text.find('\n', pos);
    lines.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out += (i == index ? replacement : lines[i]) + "\n";
  }
  return out;
}

std::string drop_last_field(const std::string& line) { return line.substr(0, line.rfind(' ')); }

std::string recorded_line(std::size_t index) {
  const std::string text = fixture("netstat");
  std::size_t pos = 0;
  for (std::size_t i = 0; i < index; ++i) pos = text.find('\n', pos) + 1;
  return text.substr(pos, text.find('\n', pos) - pos);
}

std::vector<BrokenCase> broken_counter_tables() {
  return {
      {"empty", "", "/proc/net/netstat: empty"},
      {"only_blank_lines", "\n \n", "/proc/net/netstat: empty"},
      {"tcpext_one_value_short", netstat_with_line(1, drop_last_field(recorded_line(1))),
       "/proc/net/netstat:2: 135 names but 134 values"},
      {"ipext_one_value_short", netstat_with_line(3, drop_last_field(recorded_line(3))),
       "/proc/net/netstat:4: 18 names but 17 values"},
      {"one_value_too_many", netstat_with_line(3, recorded_line(3) + " 5"),
       "/proc/net/netstat:4: 18 names but 19 values"},
      {"header_without_values",
       recorded_line(0) + "\n" + recorded_line(1) + "\n" + recorded_line(2) + "\n",
       "/proc/net/netstat:3: IpExt names without a values line (truncated?)"},
      {"values_of_another_group", recorded_line(0) + "\n" + recorded_line(3) + "\n",
       "/proc/net/netstat:2: expected the values for the TcpExt names on line 1, "
       "found IpExt"},
      {"values_without_names", recorded_line(1) + "\n",
       "/proc/net/netstat:1: TcpExt: \"0\" is not a counter name (values without "
       "their names line?)"},
      {"not_a_number", "Tcp: RtoAlgorithm RtoMin\nTcp: 1 2x\n",
       "/proc/net/netstat:2: Tcp.RtoMin: not a number: \"2x\""},
      {"plus_sign", "Tcp: A\nTcp: +1\n",
       "/proc/net/netstat:2: Tcp.A: not a number: \"+1\""},
      {"beyond_64_bits", "Tcp: A\nTcp: 18446744073709551616\n",
       "/proc/net/netstat:2: Tcp.A: not a number: \"18446744073709551616\""},
      {"no_group_prefix", "Tcp A B\n",
       "/proc/net/netstat:1: no \"Group:\" at the start"},
      {"repeated_group", "Tcp: A\nTcp: 1\n\nTcp: A\nTcp: 2\n",
       "/proc/net/netstat:5: Tcp.A appears twice"},
      {"cut_mid_number", "Tcp: A B\nTcp: 1 23",
       "/proc/net/netstat:2: no newline at the end (truncated?)"},
      {"binary_garbage", std::string("\x7f\x00\xff:\x01\n", 6),
       "/proc/net/netstat:1: " + std::string("\x7f\x00\xff", 3) +
           ": \"\x01\" is not a counter name (values without their names line?)"},
  };
}

INSTANTIATE_TEST_SUITE_P(Table, BrokenCounterTable, testing::ValuesIn(broken_counter_tables()),
                         case_name);

// Every way a read can be cut short: whole groups parse, everything else is an error, nothing
// crashes (this also runs under the sanitizers).
TEST(CounterTable, EveryTruncationOfTheRecordedFilesIsAGroupBoundaryOrAnError) {
  for (const char* name : {"netstat", "snmp"}) {
    const std::string text = fixture(name);
    std::size_t lines_seen = 0;
    for (std::size_t len = 1; len < text.size(); ++len) {
      const std::string_view cut(text.data(), len);
      auto c = parse_counter_table(cut, name);
      const bool at_line_end = cut.back() == '\n';
      if (at_line_end) ++lines_seen;
      const bool whole_groups = at_line_end && lines_seen % 2 == 0;
      EXPECT_EQ(c.has_value(), whole_groups) << name << " cut at " << len;
    }
  }
}

// ---- snmp6 -------------------------------------------------------------------------------

TEST(Snmp6, ParsesRecordedFileIntoGroupDotName) {
  auto c = parse_snmp6(fixture("snmp6"), "/proc/net/snmp6");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->size(), 90u);
  EXPECT_EQ(at(*c, "Ip6.InReceives"), 185);
  EXPECT_EQ(at(*c, "Ip6.InHdrErrors"), 0);
  EXPECT_EQ(at(*c, "Icmp6.InType1"), 1);
  EXPECT_EQ(at(*c, "Icmp6.OutType135"), 4);
  EXPECT_EQ(at(*c, "Udp6.InDatagrams"), 0);
  EXPECT_EQ(at(*c, "UdpLite6.MemErrors"), 0);
  EXPECT_EQ(c->count("Ip6InReceives"), 0u);
}

TEST(Snmp6, NameWithoutASixIsKeptWhole) {
  auto c = parse_snmp6("Ip6InReceives 1\nFoo 2\nBar6 3\n", "snmp6");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(at(*c, "Ip6.InReceives"), 1);
  EXPECT_EQ(at(*c, "Foo"), 2);
  EXPECT_EQ(at(*c, "Bar6"), 3);
}

class BrokenSnmp6 : public testing::TestWithParam<BrokenCase> {};

TEST_P(BrokenSnmp6, IsAnErrorNamingFileAndLine) {
  auto c = parse_snmp6(GetParam().text, "/proc/net/snmp6");
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, BrokenSnmp6,
    testing::Values(
        BrokenCase{"empty", "", "/proc/net/snmp6: empty"},
        BrokenCase{"name_only", "Ip6InReceives 1\nIp6InHdrErrors\n",
                   "/proc/net/snmp6:2: expected a name and a value, found 1 fields"},
        BrokenCase{"three_fields", "Ip6InReceives 1 2\n",
                   "/proc/net/snmp6:1: expected a name and a value, found 3 fields"},
        BrokenCase{"not_a_number", "Ip6InReceives\tabc\n",
                   "/proc/net/snmp6:1: Ip6InReceives: not a number: \"abc\""},
        BrokenCase{"not_a_name", "123 456\n",
                   "/proc/net/snmp6:1: \"123\" is not a counter name"},
        BrokenCase{"repeated", "Ip6InReceives 1\nIp6InReceives 2\n",
                   "/proc/net/snmp6:2: Ip6.InReceives appears twice"},
        BrokenCase{"cut_mid_line", "Ip6InReceives 1\nIp6InHdr",
                   "/proc/net/snmp6:2: no newline at the end (truncated?)"}),
    case_name);

// ---- readers -----------------------------------------------------------------------------

TEST(ProcCountersRead, ReadsARecordedTree) {
  auto summary = read_socket_summary(fixtures_root());
  ASSERT_TRUE(summary.has_value()) << summary.error().message();
  EXPECT_EQ(summary->v4.tcp_tw, 10079);
  ASSERT_TRUE(summary->v6.has_value());
  EXPECT_EQ(summary->v6->tcp6_inuse, 0);

  auto c = read_counters(fixtures_root());
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->size(), 229u + 83u + 90u);  // netstat + snmp + snmp6
  EXPECT_EQ(at(*c, "TcpExt.ListenOverflows"), 794);
  EXPECT_EQ(at(*c, "Tcp.MaxConn"), -1);
  EXPECT_EQ(at(*c, "Ip6.InReceives"), 185);
}

TEST(ProcCountersRead, ATreeWithoutIpv6HasNoIpv6Parts) {
  auto summary = read_socket_summary(fixtures_root("proc_later"));
  ASSERT_TRUE(summary.has_value()) << summary.error().message();
  EXPECT_EQ(summary->v4.tcp_tw, 12079);
  EXPECT_FALSE(summary->v6.has_value());

  auto c = read_counters(fixtures_root("proc_later"));
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->size(), 229u + 83u);
  EXPECT_EQ(c->count("Ip6.InReceives"), 0u);
}

TEST(ProcCountersRead, AMissingRequiredFileIsAnErrnoError) {
  const std::string root = fixtures_root("no-such-tree");
  auto c = read_counters(root);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, ENOENT);
  EXPECT_EQ(c.error().op, root + "/net/netstat");
  auto s = read_socket_summary(root);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ENOENT);
  EXPECT_EQ(s.error().op, root + "/net/sockstat");
}

TEST(ProcCountersRead, ParseErrorsNameTheFileRead) {
  const auto root =
      std::filesystem::path(testing::TempDir()) / ("proc_counters_" + std::to_string(::getpid()));
  std::filesystem::create_directories(root / "net");
  std::ofstream(root / "net" / "netstat") << "TcpExt: A B\nTcpExt: 1\n";
  auto c = read_counters(root.string());
  std::filesystem::remove_all(root);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().message(),
            (root / "net" / "netstat").string() + ":2: 2 names but 1 values");
}

// ---- rates -------------------------------------------------------------------------------

TEST(CounterRates, EveryKeyIsDistinctAndSpelledAsOnTheRecordedKernel) {
  auto c = read_counters(fixtures_root());
  ASSERT_TRUE(c.has_value()) << c.error().message();
  std::set<std::string_view> keys;
  for (std::size_t i = 0; i < kRateCounterCount; ++i) {
    const auto key = rate_counter_key(static_cast<RateCounter>(i));
    EXPECT_TRUE(keys.insert(key).second) << key;
    EXPECT_EQ(c->count(key), 1u) << key;
  }
  EXPECT_EQ(rate_counter_key(RateCounter::listen_overflows), "TcpExt.ListenOverflows");
  EXPECT_EQ(rate_counter_key(RateCounter::retrans_segs), "Tcp.RetransSegs");
  EXPECT_EQ(rate_counter_key(RateCounter::abort_on_close), "TcpExt.TCPAbortOnClose");
}

struct ExpectedRate {
  RateCounter counter;
  RateStatus status;
  std::int64_t before;
  std::int64_t after;
  std::uint64_t delta;
  double per_second;
};

TEST(CounterRates, BetweenTwoRecordedSamplesTwoSecondsApart) {
  auto before = read_counters(fixtures_root());
  auto after = read_counters(fixtures_root("proc_later"));
  ASSERT_TRUE(before.has_value()) << before.error().message();
  ASSERT_TRUE(after.has_value()) << after.error().message();
  auto rates = compute_counter_rates(*before, *after, 2s);
  ASSERT_TRUE(rates.has_value()) << rates.error().message();

  using enum RateCounter;
  constexpr auto ok = RateStatus::ok;
  const std::vector<ExpectedRate> expected = {
      {listen_overflows, ok, 794, 1794, 1000, 500.0},
      {listen_drops, ok, 794, 1794, 1000, 500.0},
      {req_q_full_drop, ok, 0, 0, 0, 0.0},
      {req_q_full_do_cookies, ok, 0, 40, 40, 20.0},
      {syncookies_sent, ok, 0, 40, 40, 20.0},
      {syncookies_recv, ok, 0, 0, 0, 0.0},
      {syncookies_failed, ok, 0, 0, 0, 0.0},
      {retrans_segs, ok, 188, 388, 200, 100.0},
      {syn_retrans, ok, 176, 186, 10, 5.0},
      // Went down: reported as such, with both samples, and no rate at all.
      {out_rsts, RateStatus::went_backwards, 3295, 3000, 0, 0.0},
      {attempt_fails, ok, 12, 12, 0, 0.0},
      {estab_resets, ok, 1213, 1213, 0, 0.0},
      {timeouts, ok, 178, 179, 1, 0.5},
      {abort_on_timeout, ok, 0, 0, 0, 0.0},
      {abort_on_data, ok, 23, 23, 0, 0.0},
      {abort_on_close, ok, 376, 376, 0, 0.0},
  };
  ASSERT_EQ(expected.size(), kRateCounterCount);
  for (const auto& e : expected) {
    SCOPED_TRACE(std::string(rate_counter_key(e.counter)));
    const auto& r = (*rates)[e.counter];
    EXPECT_EQ(r.status, e.status);
    EXPECT_EQ(r.before, e.before);
    EXPECT_EQ(r.after, e.after);
    EXPECT_EQ(r.delta, e.delta);
    EXPECT_DOUBLE_EQ(r.per_second, e.per_second);
  }
}

TEST(CounterRates, ACounterThisKernelLacksIsMissingNotZero) {
  auto before = read_counters(fixtures_root());
  auto after = read_counters(fixtures_root("proc_later"));
  ASSERT_TRUE(before.has_value() && after.has_value());
  // An older kernel without TCPReqQFullDrop: absent from both samples.
  before->erase("TcpExt.TCPReqQFullDrop");
  after->erase("TcpExt.TCPReqQFullDrop");
  // Present in only one sample (e.g. replayed files from two kernels): missing as well.
  after->erase("TcpExt.TCPAbortOnData");
  auto rates = compute_counter_rates(*before, *after, 1s);
  ASSERT_TRUE(rates.has_value()) << rates.error().message();

  const auto& absent = (*rates)[RateCounter::req_q_full_drop];
  EXPECT_EQ(absent.status, RateStatus::missing);
  EXPECT_EQ(absent.delta, 0u);
  const auto& half = (*rates)[RateCounter::abort_on_data];
  EXPECT_EQ(half.status, RateStatus::missing);
  EXPECT_EQ(half.before, 23);  // what there was is still shown
  EXPECT_EQ((*rates)[RateCounter::listen_overflows].status, RateStatus::ok);
  EXPECT_DOUBLE_EQ((*rates)[RateCounter::listen_overflows].per_second, 1000.0);
}

TEST(CounterRates, EmptySamplesAreAllMissing) {
  auto rates = compute_counter_rates({}, {}, 1s);
  ASSERT_TRUE(rates.has_value());
  for (const auto& r : rates->by_counter) EXPECT_EQ(r.status, RateStatus::missing);
}

TEST(CounterRates, HugeDeltaIsExactAndSubSecondIntervalsScale) {
  const Counters before{{"Tcp.RetransSegs", 0}};
  const Counters after{{"Tcp.RetransSegs", std::numeric_limits<std::int64_t>::max()}};
  auto rates = compute_counter_rates(before, after, 500ms);
  ASSERT_TRUE(rates.has_value());
  const auto& r = (*rates)[RateCounter::retrans_segs];
  EXPECT_EQ(r.status, RateStatus::ok);
  EXPECT_EQ(r.delta, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
  EXPECT_DOUBLE_EQ(r.per_second, 2.0 * static_cast<double>(r.delta));
}

TEST(CounterRates, NonPositiveIntervalIsAnError) {
  const Counters c{{"Tcp.RetransSegs", 1}};
  auto zero = compute_counter_rates(c, c, 0s);
  ASSERT_FALSE(zero.has_value());
  EXPECT_EQ(zero.error().message(), "compute_counter_rates: interval must be positive, got 0 ns");
  EXPECT_FALSE(compute_counter_rates(c, c, -1ms).has_value());
}

}  // namespace
}  // namespace connscope::sys
