// The CLI and the agent give the same doctor options for the same target: `connscope doctor
// TARGET --timeout T` (cli/doctor_request.h) and a [[probes]] entry with that target and timeout
// (agent::doctor_options_for) both start from probe::doctor_defaults and nothing else differs.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "agent/probe_status.h"
#include "cli/doctor_request.h"
#include "core/error_text.h"
#include "core/target.h"
#include "probe/doctor_defaults.h"

namespace connscope::cli {
namespace {

using namespace std::chrono_literals;

// Every field of DoctorOptions, so that a field added later and set by one side only shows here.
void expect_same(const probe::DoctorOptions& a, const probe::DoctorOptions& b, const std::string& what) {
  EXPECT_EQ(a.target.host, b.target.host) << what;
  EXPECT_EQ(a.target.kind, b.target.kind) << what;
  EXPECT_EQ(a.target.scheme, b.target.scheme) << what;
  EXPECT_EQ(a.target.port, b.target.port) << what;
  EXPECT_EQ(a.target.http_path, b.target.http_path) << what;
  EXPECT_EQ(a.port, b.port) << what;
  EXPECT_EQ(a.family, b.family) << what;
  EXPECT_EQ(a.resolver.has_value(), b.resolver.has_value()) << what;
  EXPECT_EQ(a.timeout, b.timeout) << what;
  EXPECT_EQ(a.protocol, b.protocol) << what;
  EXPECT_EQ(a.http_path, b.http_path) << what;
  EXPECT_EQ(a.slow_first_byte, b.slow_first_byte) << what;
  EXPECT_EQ(a.echo_count, b.echo_count) << what;
  EXPECT_EQ(a.repeat, b.repeat) << what;
  EXPECT_EQ(a.echo_interval, b.echo_interval) << what;
  EXPECT_EQ(a.tls, b.tls) << what;
  EXPECT_EQ(a.ca_file, b.ca_file) << what;
  EXPECT_EQ(a.client_cert.has_value(), b.client_cert.has_value()) << what;
  EXPECT_EQ(a.sni, b.sni) << what;
  EXPECT_EQ(a.insecure, b.insecure) << what;
  EXPECT_EQ(a.identify, b.identify) << what;
}

agent::ProbeConfig probe_config(const std::string& target, std::chrono::milliseconds timeout) {
  agent::ProbeConfig p;
  p.target = target;
  auto parsed = parse_target(target);
  EXPECT_TRUE(parsed.has_value()) << target;
  if (parsed) p.parsed = *parsed;
  p.timeout = timeout;
  return p;
}

TEST(DoctorOptions, TheCliAndTheAgentAgreeOnEveryTarget) {
  const char* targets[] = {
      "https://example.com/health?x=1", "http://127.0.0.1:8080", "10.0.0.5:6379", "db.internal:5432",
      "example.com:443",                "127.0.0.1:5999",        "[::1]:22",      "smtps://mail.example:465",
      "redis://cache:6380",             "example.com:8443",      "http://[2001:db8::1]:81/a/b",
  };
  for (const char* target : targets) {
    DoctorFlags f;
    f.target = target;
    auto cli = doctor_options(f, 1500ms);
    ASSERT_TRUE(cli.has_value()) << target << ": " << cli.error().message();
    const auto agent = agent::doctor_options_for(probe_config(target, 1500ms));
    expect_same(*cli, agent, target);
  }
}

TEST(DoctorOptions, DefaultsFollowTheSchemeThenThePort) {
  const auto o = [](const char* text) {
    auto t = parse_target(text);
    EXPECT_TRUE(t.has_value()) << text;
    return probe::doctor_defaults(*t, t->port.value_or(0), 2s);
  };
  EXPECT_EQ(o("https://example.com/x").protocol, AppProtocol::http);
  EXPECT_TRUE(o("https://example.com/x").tls);
  EXPECT_EQ(o("https://example.com/x").http_path, "/x");
  EXPECT_FALSE(o("https://example.com/x").identify);
  EXPECT_EQ(o("db:5432").protocol, AppProtocol::postgres);
  EXPECT_FALSE(o("db:5432").identify);
  EXPECT_TRUE(o("example.com:443").tls);
  // No scheme and a port no protocol is known for: the doctor finds out what it speaks.
  EXPECT_EQ(o("127.0.0.1:5999").protocol, AppProtocol::banner);
  EXPECT_TRUE(o("127.0.0.1:5999").identify);
  EXPECT_EQ(o("127.0.0.1:5999").http_path, "/");
  auto t = parse_target("127.0.0.1:5999");
  EXPECT_EQ(probe::doctor_defaults(*t, 5999, 0ms).timeout, 1ms);  // never a zero deadline
}

TEST(DoctorOptions, FlagsOverrideTheDefaults) {
  DoctorFlags f;
  f.target = "127.0.0.1:5999";
  f.proto = "redis";
  auto o = doctor_options(f, 3s);
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->protocol, AppProtocol::redis);
  EXPECT_FALSE(o->identify);
  f.proto.clear();
  f.tls = true;
  o = doctor_options(f, 3s);
  ASSERT_TRUE(o.has_value());
  EXPECT_TRUE(o->tls);
  EXPECT_FALSE(o->identify);
  f.tls = false;
  f.target = "example.com:443";
  f.no_tls = true;
  f.port = 8443;
  o = doctor_options(f, 3s);
  ASSERT_TRUE(o.has_value());
  EXPECT_FALSE(o->tls);
  EXPECT_EQ(o->port, 8443);
}

TEST(DoctorOptions, UsageErrorsNameTheInputAndSpeakTheReadersLanguage) {
  DoctorFlags f;
  f.target = "127.0.0.1:80";
  f.repeat = 0;
  auto o = doctor_options(f, 3s);
  ASSERT_FALSE(o.has_value());
  EXPECT_EQ(o.error().message(), "--repeat \"0\": must be 1 to 1000");
  EXPECT_EQ(o.error().message(Lang::zh_CN), "--repeat \"0\": 取值须在 1 到 1000 之间");
  f.repeat = 1;
  f.proto = "gopher";
  o = doctor_options(f, 3s);
  ASSERT_FALSE(o.has_value());
  EXPECT_EQ(o.error().message(),
            "--proto \"gopher\": unknown protocol (banner, http, ssh, smtp, ftp, redis, postgres, mysql)");
  f.proto.clear();
  f.v6 = true;
  o = doctor_options(f, 3s);
  ASSERT_FALSE(o.has_value());
  EXPECT_EQ(o.error().message(), "target \"127.0.0.1:80\": an IPv4 address with -6");
  f.v6 = false;
  f.target = "example.com";
  o = doctor_options(f, 3s);
  ASSERT_FALSE(o.has_value());
  EXPECT_EQ(o.error().detail_id, Msg::doctor_no_port);
  f.target = "example.com:80";
  f.http_path = "health";
  o = doctor_options(f, 3s);
  ASSERT_FALSE(o.has_value());
  EXPECT_EQ(o.error().message(), "--http-path \"health\": must start with /");
}

TEST(DoctorOptions, AFollowedHopKeepsOnlyTheFlagsThatDoNotNameTheTarget) {
  DoctorFlags f;
  f.target = "http://a.example:8080/x";
  f.port = 8080;
  f.sni = "a.example";
  f.http_path = "/y";
  f.proto = "http";
  f.tls = true;
  f.insecure = true;
  f.repeat = 3;
  f.v4 = true;
  const auto hop = redirect_flags(f, "https://b.example/z");
  EXPECT_EQ(hop.target, "https://b.example/z");
  EXPECT_FALSE(hop.port.has_value());
  EXPECT_TRUE(hop.sni.empty());
  EXPECT_TRUE(hop.http_path.empty());
  EXPECT_TRUE(hop.proto.empty());
  EXPECT_FALSE(hop.tls);
  EXPECT_FALSE(hop.no_tls);
  EXPECT_TRUE(hop.insecure);
  EXPECT_EQ(hop.repeat, 3);
  EXPECT_TRUE(hop.v4);
}

}  // namespace
}  // namespace connscope::cli
