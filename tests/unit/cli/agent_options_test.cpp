// `connscope agent`'s configuration → the agent's options (agent::agent_options, config.h): what
// cmd_agent used to map itself, field by field.
#include <gtest/gtest.h>

#include <chrono>

#include "agent/agent.h"
#include "agent/config.h"

namespace connscope::agent {
namespace {

using namespace std::chrono_literals;

TEST(AgentOptions, EveryConfiguredValueReachesTheAgent) {
  auto config = parse_config(R"(listen = "127.0.0.1:9700"
probe_own_listeners = false
probe_interval = "20s"
probe_timeout = "2s"
[sampling]
fast_interval = "500ms"
full_interval = "15s"
full_cpu_budget = 2.5
check_interval = "5m"
[history]
raw_retention = "2h"
rollup_retention = "7d"
[http]
max_connections = 100
header_limit = 4096
request_deadline = "3s"
idle_timeout = "30s"
[[probes]]
target = "https://example.com/health"
)",
                             "agent.toml");
  ASSERT_TRUE(config.has_value()) << config.error().message();
  const AgentOptions o = agent_options(*config, {false, true, Lang::zh_CN});
  EXPECT_EQ(o.listen.port, 9700);
  EXPECT_TRUE(o.bpf);
  EXPECT_TRUE(o.bpf_off_reason.empty());
  EXPECT_EQ(o.fast_interval, 500ms);
  EXPECT_EQ(o.full_interval, 15s);
  EXPECT_DOUBLE_EQ(o.full_cpu_budget, 0.025);
  EXPECT_EQ(o.check_interval, 5min);
  EXPECT_EQ(o.history.raw_retention, 2h);
  EXPECT_EQ(o.history.rollup_retention, 7 * 24h);
  EXPECT_EQ(o.limits.max_connections, 100U);
  EXPECT_EQ(o.limits.header_limit, 4096U);
  EXPECT_EQ(o.limits.request_deadline, 3s);
  EXPECT_EQ(o.limits.idle_timeout, 30s);
  EXPECT_TRUE(o.owners);
  EXPECT_EQ(o.lang, Lang::zh_CN);
  EXPECT_EQ(o.probes.lang, Lang::zh_CN);
  EXPECT_FALSE(o.probes.probe_own_listeners);
  EXPECT_EQ(o.probes.listener_interval, 20s);
  EXPECT_EQ(o.probes.listener_timeout, 2s);
  ASSERT_EQ(o.probes.probes.size(), 1U);
  EXPECT_EQ(o.probes.probes[0].target, "https://example.com/health");
  // The data directory's files are the caller's.
  EXPECT_FALSE(o.history_file.has_value());
  EXPECT_FALSE(o.token.has_value());
}

TEST(AgentOptions, NoBpfTurnsTheKernelProgramsOffAndSaysWhy) {
  const AgentConfig config;
  const AgentOptions o = agent_options(config, {true, false, Lang::en});
  EXPECT_FALSE(o.bpf);
  EXPECT_EQ(o.bpf_off_reason, "turned off (--no-bpf, or [sampling] bpf = false)");
  EXPECT_FALSE(o.owners);
  AgentConfig off;
  off.sampling.bpf = false;
  EXPECT_FALSE(agent_options(off, {false, false, Lang::en}).bpf);
}

}  // namespace
}  // namespace connscope::agent
