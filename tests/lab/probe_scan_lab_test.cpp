// `connscope probe` in the lab, from the client namespace: open, closed, filtered and rejected
// (ICMP port-unreachable and admin-prohibited from r2) endpoints each get their state, reason and
// sender (v4 and v6); 10,000 endpoints in equal thirds open / closed / filtered with --timeout 1s
// finish within 1.5 s; the same 10,000 under a 256-descriptor limit complete with every endpoint
// classified and the concurrency capped.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lab/lab.h"

namespace connscope::lab {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::uint16_t kOpen = 8080;
constexpr std::uint16_t kClosed = 8081;
constexpr std::uint16_t kDropped = 8082;
constexpr std::uint16_t kPortUnreachable = 8083;
constexpr std::uint16_t kProhibited = 8084;

std::vector<json> json_lines(const std::string& out) {
  std::vector<json> v;
  for (const auto& line : test::lines(out)) v.push_back(json::parse(line));
  return v;
}

// Listening sockets on [first, first + count) at the server's address of `family`.
std::vector<UniqueFd> listen_range(Lab& lab, Family family, std::uint16_t first, int count) {
  return lab.in_ns(Node::server, [&] {
    std::vector<UniqueFd> fds;
    const std::string addr = lab.addr(Node::server, family);
    for (int i = 0; i < count; ++i) {
      const auto port = static_cast<std::uint16_t>(first + i);
      UniqueFd fd(::socket(family == Family::v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
      const int one = 1;
      ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_storage ss{};
      socklen_t len = 0;
      if (family == Family::v4) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        ::inet_pton(AF_INET, addr.c_str(), &a.sin_addr);
        std::memcpy(&ss, &a, sizeof a);
        len = sizeof a;
      } else {
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(port);
        ::inet_pton(AF_INET6, addr.c_str(), &a.sin6_addr);
        std::memcpy(&ss, &a, sizeof a);
        len = sizeof a;
      }
      if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd.get(), 16) != 0) {
        throw std::runtime_error(std::string("listen on port ").append(std::to_string(port)).append(": ").append(std::strerror(errno)));
      }
      fds.push_back(std::move(fd));
    }
    return fds;
  });
}

void raise_own_fd_limit() {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);
}

class ProbeStatesLab : public LabTest, public ::testing::WithParamInterface<Family> {};

TEST_P(ProbeStatesLab, EachEndpointGetsItsStateReasonAndSender) {
  const Family fam = GetParam();
  auto listeners = listen_range(lab(), fam, kOpen, 1);
  lab().drop(Node::r2, fam, kDropped);
  lab().reject(Node::r2, fam, kPortUnreachable, RejectKind::port_unreachable);
  lab().reject(Node::r2, fam, kProhibited, RejectKind::admin_prohibited);
  std::string host = lab().server_v4();
  if (fam == Family::v6) host = std::string("[").append(lab().server_v6()).append("]");
  const std::string r2 = lab().addr(Node::r2, fam);
  const auto t0 = Clock::now();
  const auto r = lab().exec(Node::client, {CONNSCOPE_BIN, "--json", "--timeout", "1s", "probe", host,
                                           "--ports", "8080-8084"}, 15s);
  const auto took = Clock::now() - t0;
  ASSERT_EQ(r.exit_code, 1) << r.err << r.out;
  const auto rows = json_lines(r.out);
  ASSERT_EQ(rows.size(), 6u) << r.out;
  std::map<int, json> by_port;
  for (std::size_t i = 0; i + 1 < rows.size(); ++i) by_port[rows[i].at("port").get<int>()] = rows[i];

  EXPECT_EQ(by_port[kOpen].at("state"), "open");
  EXPECT_EQ(by_port[kOpen].at("reason"), "syn-ack");

  EXPECT_EQ(by_port[kClosed].at("state"), "closed");
  EXPECT_EQ(by_port[kClosed].at("reason"), "conn-refused");
  EXPECT_TRUE(by_port[kClosed].at("from").is_null());

  EXPECT_EQ(by_port[kDropped].at("state"), "filtered");
  EXPECT_EQ(by_port[kDropped].at("reason"), "no-response");
  EXPECT_EQ(by_port[kDropped].at("timed_out"), true);
  EXPECT_GE(by_port[kDropped].at("time_ms").get<double>(), 990.0);

  EXPECT_EQ(by_port[kPortUnreachable].at("state"), "unreachable");
  EXPECT_EQ(by_port[kPortUnreachable].at("reason"), "port-unreachable");
  EXPECT_EQ(by_port[kPortUnreachable].at("from"), r2);
  EXPECT_EQ(by_port[kPortUnreachable].at("finding"), "tcp.rejected_icmp");
  EXPECT_EQ(by_port[kPortUnreachable].at("icmp").at("code"), fam == Family::v4 ? 3 : 4);

  EXPECT_EQ(by_port[kProhibited].at("state"), "unreachable");
  EXPECT_EQ(by_port[kProhibited].at("reason"), "admin-prohibited");
  EXPECT_EQ(by_port[kProhibited].at("from"), r2);
  EXPECT_EQ(by_port[kProhibited].at("finding"), "net.admin_prohibited");

  const auto& s = rows.back();
  EXPECT_EQ(s.at("open"), 1);
  EXPECT_EQ(s.at("closed"), 1);
  EXPECT_EQ(s.at("filtered"), 1);
  EXPECT_EQ(s.at("unreachable"), 2);
  // All at once: one timeout, not five.
  EXPECT_LT(took, 4s);

  // The table says who refused.
  const auto t = lab().exec(Node::client, {CONNSCOPE_BIN, "--timeout", "1s", "probe", host, "--ports",
                                           "8083-8084"}, 15s);
  EXPECT_NE(t.out.find(std::string("icmp port-unreachable from ").append(r2)), std::string::npos) << t.out;
  EXPECT_NE(t.out.find(std::string("icmp admin-prohibited from ").append(r2)), std::string::npos) << t.out;
}

INSTANTIATE_TEST_SUITE_P(Families, ProbeStatesLab, ::testing::Values(Family::v4, Family::v6),
                         [](const auto& p) { return std::string(to_string(p.param)); });

// 10,000 endpoints: ports 10000-13333 open (3,334), 20000-23332 closed (3,333), 30000-33332
// dropped by the server's firewall (3,333).
class ProbeThousandsLab : public LabTest {
 protected:
  void SetUp() override {
    LabTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    raise_own_fd_limit();
    listeners_ = listen_range(lab(), Family::v4, 10000, 3334);
    lab().nft(Node::server,
              "add table inet scanlab\n"
              "add chain inet scanlab in { type filter hook input priority 0; policy accept; }\n"
              "add rule inet scanlab in tcp dport 30000-33332 drop\n");
    file_ = lab().dir() / "targets.txt";
    std::ofstream out(file_);
    out << "# 10,000 lab endpoints\n";
    const std::string s = lab().server_v4();
    for (int p = 10000; p < 13334; ++p) out << s << ':' << p << '\n';
    for (int p = 20000; p < 23333; ++p) out << s << ':' << p << '\n';
    for (int p = 30000; p < 33333; ++p) out << s << ':' << p << '\n';
  }
  void expect_counts(const json& s) {
    EXPECT_EQ(s.at("total"), 10000);
    EXPECT_EQ(s.at("open"), 3334);
    EXPECT_EQ(s.at("closed"), 3333);
    EXPECT_EQ(s.at("filtered"), 3333);
    EXPECT_EQ(s.at("unreachable"), 0);
    EXPECT_EQ(s.at("error"), 0);
  }
  std::vector<UniqueFd> listeners_;
  std::filesystem::path file_;
};

TEST_F(ProbeThousandsLab, TenThousandInThirdsFinishWithinOneAndAHalfSeconds) {
  const auto r = lab().exec(Node::client, {CONNSCOPE_BIN, "--json", "--timeout", "1s", "probe", "-f",
                                           file_.string(), "--concurrency", "12000"}, 30s);
  ASSERT_EQ(r.exit_code, 1) << r.err;
  const auto rows = json_lines(r.out);
  ASSERT_EQ(rows.size(), 10001u);
  const auto& s = rows.back();
  expect_counts(s);
  const double ms = s.at("duration_ms").get<double>();
  std::printf("10,000 lab endpoints (thirds open/closed/filtered, --timeout 1s): %.0f ms\n", ms);
  EXPECT_GE(ms, 1000.0);  // the filtered third waits out the timeout ...
  EXPECT_LE(ms, 1500.0);  // ... once, all at the same time
}

TEST_F(ProbeThousandsLab, TenThousandStayWithinA256DescriptorLimit) {
  test::SpawnOptions opts;
  const std::string ns_path = std::string("/run/netns/").append(lab().ns(Node::client));
  const auto ns = UniqueFd(::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(ns.valid());
  opts.netns_fd = ns.get();
  opts.nofile = 256;
  const auto r = test::run({CONNSCOPE_BIN, "--json", "--timeout", "300ms", "probe", "-f", file_.string()},
                           50s, opts);
  ASSERT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("--concurrency 1000 lowered to "), std::string::npos) << r.err;
  const auto rows = json_lines(r.out);
  ASSERT_EQ(rows.size(), 10001u);
  const auto& s = rows.back();
  expect_counts(s);
  EXPECT_EQ(s.at("fd_limit"), 256);
  EXPECT_LE(s.at("concurrency").get<int>(), 256 - 32 - 3);
  EXPECT_LE(s.at("max_in_flight").get<int>(), s.at("concurrency").get<int>());
}

}  // namespace
}  // namespace connscope::lab
