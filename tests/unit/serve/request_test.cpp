// serve::build_options: the checks `serve`'s flags get, the defaults it reads from the kernel,
// and error details that come from the catalog (English and Chinese).
#include "serve/request.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "sys/sysctl.h"

namespace connscope::serve {
namespace {

TEST(ServeRequest, DefaultsToLoopback8080AndSomaxconn) {
  auto o = build_options({});
  ASSERT_TRUE(o) << o.error().message();
  ASSERT_EQ(o->listeners.size(), 1u);
  EXPECT_EQ(o->listeners[0].endpoint.to_string(), "127.0.0.1:8080");
  EXPECT_EQ(o->listeners[0].mode, Mode::echo);
  if (auto somaxconn = sys::read_sysctl_int("net.core.somaxconn"); somaxconn && *somaxconn > 0) {
    EXPECT_EQ(o->backlog, std::min<std::int64_t>(*somaxconn, 65535));
  }
}

TEST(ServeRequest, BacklogModeArgumentAndPort) {
  ServeRequest r;
  r.backlog = std::string("8");
  r.mode = std::string("drip=250ms");  // (a literal assigned here trips GCC 12's -Wrestrict)
  r.port = std::string("0");
  auto o = build_options(r);
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->backlog, 8);
  EXPECT_EQ(o->interval, std::chrono::milliseconds(250));
  struct stat st {};
  const bool ipv6 = ::stat("/proc/net/if_inet6", &st) == 0;
  ASSERT_EQ(o->listeners.size(), ipv6 ? 2u : 1u);
  EXPECT_EQ(o->listeners[0].endpoint.to_string(), "0.0.0.0:0");
  if (ipv6) {
    EXPECT_EQ(o->listeners[1].endpoint.to_string(), "[::]:0");
  }
}

TEST(ServeRequest, DemoTakesOnePortPerModeAndNoAddresses) {
  ServeRequest r;
  r.demo = true;
  r.demo_port = "9700";
  auto o = build_options(r);
  ASSERT_TRUE(o) << o.error().message();
  ASSERT_EQ(o->listeners.size(), std::size(kAllModes));
  EXPECT_EQ(o->listeners.back().endpoint.port, 9700 + std::size(kAllModes) - 1);
  r.listen = {"127.0.0.1:1"};
  auto bad = build_options(r);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "--demo: chooses its own addresses; leave out --listen and --port");
  EXPECT_EQ(bad.error().message(Lang::zh_CN), "--demo: 会自行选择监听地址；请去掉 --listen 和 --port");
}

TEST(ServeRequest, BadCombinationsAreCatalogErrors) {
  ServeRequest a;
  a.tls_self_signed = true;
  a.tls_cert = "c.pem";
  auto e = build_options(a);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().op, "--tls-self-signed");
  EXPECT_EQ(e.error().detail_id, Msg::serve_err_self_signed_and_files);

  ServeRequest b;
  b.tls_key = "k.pem";
  e = build_options(b);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(), "--tls-key: needs its partner (--tls-cert and --tls-key go together)");

  ServeRequest c;
  c.http_location = "http://x/\r\nSet-Cookie: a";
  e = build_options(c);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().detail_id, Msg::serve_err_location_control);

  ServeRequest d;
  d.interval = "0s";
  e = build_options(d);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(), "--interval \"0s\": must be more than 0");

  ServeRequest m;
  m.mode = "echo=1";
  e = build_options(m);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(), "--mode \"echo=1\": echo takes no argument");
  EXPECT_EQ(e.error().message(Lang::zh_CN), "--mode \"echo=1\": echo 模式不接受参数");
}

TEST(ServeRequest, OpenErrorsAreSortedIntoUsageAndMachine) {
  EXPECT_EQ(exit_for_open_error(Error{"--tls-cert \"x\"", 2, {}}), ExitCode::usage);
  EXPECT_EQ(exit_for_open_error(Error{"bind 192.0.2.1:80", EADDRNOTAVAIL, {}}), ExitCode::usage);
  EXPECT_EQ(exit_for_open_error(Error{"bind 127.0.0.1:80", EADDRINUSE, {}}), ExitCode::could_not_run);
  Options o;
  o.listeners.push_back({Endpoint{AF_INET, "127.0.0.1", 80}, Mode::echo});
  const auto low = explain_open_error(Error{"bind 127.0.0.1:80", EACCES, {}}, o, Lang::en);
  EXPECT_EQ(low.op, "bind 127.0.0.1:80: ports below 1024 need root or CAP_NET_BIND_SERVICE");
}

}  // namespace
}  // namespace connscope::serve
