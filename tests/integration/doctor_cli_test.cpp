// `connscope doctor` on loopback: bad input is one line and exit 2, a healthy HTTP server is
// exit 0 with every stage shown, a closed port is the verdict line and exit 1.

#include <gtest/gtest.h>

#include <algorithm>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "integration/serve_fixture.h"

namespace connscope::test {
namespace {

CmdResult doctor(std::vector<std::string> args, bool json = false) {
  std::vector<std::string> argv{CONNSCOPE_BIN};
  if (json) argv.push_back("--json");
  argv.insert(argv.end(), {"--timeout", "2s", "doctor"});
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, 15s);
}

TEST(Doctor, BadInputIsOneLineAndExitTwo) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{""}, "target \"\""},
      {{"exa mple.com:80"}, "target \"exa mple.com:80\""},
      {{"127.0.0.1:0"}, "target \"127.0.0.1:0\""},
      {{"127.0.0.1:65536"}, "target \"127.0.0.1:65536\""},
      {{"2001:db8::1:443"}, "[2001:db8::1]:443"},
      {{"gopher://127.0.0.1/"}, "target \"gopher://127.0.0.1/\""},
      {{"127.0.0.1"}, "no port"},
      {{"--port", "0", "127.0.0.1"}, "--port \"0\": not a port (1-65535)"},
      {{"--ca-file", "/nonexistent/ca.pem", "https://127.0.0.1/"}, "--ca-file \"/nonexistent/ca.pem\""},
      {{"--proto", "gopher", "127.0.0.1:80"}, "--proto \"gopher\""},
      {{"--resolver", "not-an-ip", "x.test:80"}, "not-an-ip"},
      {{"-4", "[::1]:80"}, "an IPv6 address with -4"},
      {{"--tls", "--no-tls", "127.0.0.1:80"}, "--tls and --no-tls"},
  };
  for (const auto& [args, want] : cases) {
    const auto r = doctor(args);
    EXPECT_EQ(r.exit_code, 2) << want << ": " << r.err;
    EXPECT_EQ(r.out, "") << want;
    EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
  }
}

TEST(Doctor, HealthyHttpOnLoopbackIsExitZeroWithEveryStage) {
  auto served = start_serve({"--mode", "http"});
  const std::string url = "http://127.0.0.1:" + std::to_string(served.port) + "/";
  const auto r = doctor({url}, true);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("verdict").at("status"), "ok");
  ASSERT_EQ(j.at("stages").size(), 7u);
  const char* order[] = {"resolve", "route", "reach", "connect", "secure", "talk", "close"};
  double ms[7];
  for (std::size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(j.at("stages").at(i).at("stage"), order[i]);
    ms[i] = j.at("stages").at(i).at("duration_ms").get<double>();
  }
  EXPECT_EQ(j.at("stages").at(1).at("evidence").at("routes").at(0).at("outcome"), "local");
  EXPECT_EQ(j.at("stages").at(4).at("status"), "skipped");  // no TLS
  EXPECT_EQ(j.at("stages").at(5).at("evidence").at("http").at("status"), 200);
  EXPECT_EQ(j.at("stages").at(6).at("evidence").at("how"), "fin");
  // The doctor's own time between and around the stages; reach runs alongside connect and the
  // stages after it.
  const double rest = ms[3] + ms[4] + ms[5] + ms[6];
  const double own = j.at("duration_ms").get<double>() - ms[0] - ms[1] - std::max(ms[2], rest);
  EXPECT_LE(own, 5.0);
  EXPECT_GE(own, -0.5) << "stage times longer than the run";

  const auto human = doctor({url});
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_EQ(human.out.rfind("OK: " + url + " answered: every stage passed in ", 0), 0u) << human.out;
  EXPECT_NE(human.out.find("HTTP/1.1 200 OK"), std::string::npos) << human.out;
  EXPECT_EQ(human.out.find("\x1b["), std::string::npos) << "no colour off a terminal";
}

TEST(Doctor, ClosedPortIsTheVerdictLineAndExitOne) {
  // A port that was just in use and is now closed: bound, then released.
  auto served = start_serve({"--mode", "http"});
  const auto port = served.port;
  served.proc.stop();
  const auto r = doctor({"127.0.0.1:" + std::to_string(port)});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto first = lines(r.out).at(0);
  EXPECT_EQ(first, "FAIL connect: 127.0.0.1:" + std::to_string(port) +
                       " refused (RST from the host): nothing listens on port " + std::to_string(port));
  EXPECT_NE(r.out.find("fix: On the server: ss -ltnp"), std::string::npos) << r.out;
}

TEST(Doctor, AServerThatClosesRightAfterAcceptingStillCompletedTheHandshake) {
  // The FIN can be there before the connect stage looks at its socket (CLOSE_WAIT already):
  // the handshake completed all the same, and the close is the talk stage's to judge.
  auto served = start_serve({"--mode", "close-after-accept"});
  for (int i = 0; i < 10; ++i) {
    const auto r = doctor({"127.0.0.1:" + std::to_string(served.port)}, true);
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("stages").at(3).at("stage"), "connect");
    EXPECT_EQ(j.at("stages").at(3).at("status"), "ok") << r.out;
    EXPECT_NE(j.at("stages").at(5).at("status"), "ok") << r.out;
  }
}

TEST(Doctor, FollowRunsAgainAtTheLocationAndStopsAtALoop) {
  auto target = start_serve({"--mode", "http"});
  const std::string final_url = "http://127.0.0.1:" + std::to_string(target.port) + "/final";
  auto redirector = start_serve({"--mode", "http", "--http-status", "301", "--http-location", final_url});
  const std::string first = "http://127.0.0.1:" + std::to_string(redirector.port) + "/";

  const auto plain = doctor({first}, true);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  const auto pj = nlohmann::json::parse(plain.out);
  EXPECT_EQ(pj.at("stages").at(5).at("evidence").at("http").at("status"), 301);
  EXPECT_EQ(pj.at("stages").at(5).at("evidence").at("http").at("location"), final_url);

  const auto followed = doctor({"--follow", first}, true);
  ASSERT_EQ(followed.exit_code, 0) << followed.err;
  const auto fj = nlohmann::json::parse(followed.out);
  ASSERT_EQ(fj.at("redirects").size(), 1u);
  EXPECT_EQ(fj.at("redirects").at(0).at("status"), 301);
  EXPECT_EQ(fj.at("redirects").at(0).at("location"), final_url);
  EXPECT_EQ(fj.at("final_target"), final_url);
  EXPECT_EQ(fj.at("stages").at(5).at("evidence").at("http").at("status"), 200);

  auto looping = start_serve({"--mode", "http", "--http-status", "302", "--http-location", "/again"});
  const auto lr = doctor({"--follow", "http://127.0.0.1:" + std::to_string(looping.port) + "/"}, true);
  const auto lj = nlohmann::json::parse(lr.out);
  EXPECT_EQ(lr.exit_code, 1) << lr.out;
  EXPECT_EQ(lj.at("redirects").size(), 2u);
  EXPECT_EQ(lj.at("redirect_stopped").at("reason"), "loop");
  EXPECT_EQ(lj.at("verdict").at("status"), "fail");
  EXPECT_EQ(lj.at("verdict").at("stage"), "talk");
  EXPECT_EQ(lj.at("verdict").at("finding"), "http.redirect_loop");
}

TEST(Doctor, FollowGivesUpAfterTenRedirects) {
  // Each hop redirects to a new URL (/1, /1/1, ...): never a loop, never a final answer.
  auto endless = start_serve({"--mode", "http", "--http-status", "307", "--http-location", "1/"});
  const auto r = doctor({"--follow", "http://127.0.0.1:" + std::to_string(endless.port) + "/"}, true);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(j.at("redirects").size(), 11u);
  EXPECT_EQ(j.at("redirect_stopped").at("reason"), "too_many");
  EXPECT_EQ(j.at("verdict").at("finding"), "http.too_many_redirects");
}

}  // namespace
}  // namespace connscope::test
