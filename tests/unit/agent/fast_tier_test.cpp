// The fast tier against this machine's kernel (loopback only): a listener we open is in the
// LISTEN dump with its queue, the counters are read, the second sample has rates, and a sample
// costs little CPU.
#include "agent/fast_tier.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "sys/unique_fd.h"

namespace connscope::agent {
namespace {

using namespace std::chrono_literals;

TEST(FastTier, SeesOurListenerItsQueueAndRates) {
  sys::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(fd.valid());
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd.get(), 7), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
  const std::uint16_t port = ntohs(a.sin_port);
  // One connection the listener never accepts: it waits in the accept queue.
  sys::UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);

  auto dumps = sys::SockDiagSocket::open();
  ASSERT_TRUE(dumps.has_value()) << dumps.error().message();
  FastTier tier(*dumps);
  auto first = tier.sample();
  ASSERT_TRUE(first.has_value()) << first.error().message();
  EXPECT_FALSE(first->rates.has_value());
  EXPECT_TRUE(first->sockstat.has_value());
  EXPECT_TRUE(first->counters.contains("Tcp.CurrEstab"));
  const auto it = std::find_if(first->listeners.begin(), first->listeners.end(),
                               [&](const inspect::ListenerRow& l) { return l.local.port == port; });
  ASSERT_NE(it, first->listeners.end());
  EXPECT_EQ(it->local.address, "127.0.0.1");
  EXPECT_EQ(it->accept_queue, 1u);
  EXPECT_EQ(it->accept_queue_limit, 7u);

  std::this_thread::sleep_for(20ms);
  auto second = tier.sample();
  ASSERT_TRUE(second.has_value()) << second.error().message();
  ASSERT_TRUE(second->rates.has_value());
  EXPECT_EQ((*second->rates)[sys::RateCounter::listen_overflows].status, sys::RateStatus::ok);
  // A handful of listeners and a few /proc files: far below the 5 ms per sample even on
  // a busy machine (ASan included).
  EXPECT_LT(second->cpu, 50ms);
}

}  // namespace
}  // namespace connscope::agent
