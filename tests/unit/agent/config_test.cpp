// The agent's TOML configuration: defaults, every key read, and one clear error naming the file
// and the line for each kind of bad input (syntax, unknown key, wrong type, bad value, range,
// settings that contradict each other, duplicate probes), plus reading from a file.
#include "agent/config.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

namespace connscope::agent {
namespace {

using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;

TEST(AgentConfig, EmptyTextGivesTheDefaults) {
  for (const char* text : {"", "# only a comment\n\n"}) {
    const auto c = parse_config(text, "agent.toml");
    ASSERT_TRUE(c.has_value()) << c.error().message();
    EXPECT_EQ(c->listen.to_string(), "127.0.0.1:9600");
    EXPECT_EQ(c->data_dir, "/var/lib/connscope");
    EXPECT_TRUE(c->probe_own_listeners);
    EXPECT_EQ(c->probe_interval, 30s);
    EXPECT_EQ(c->probe_timeout, 3s);
    EXPECT_EQ(c->sampling.fast_interval, 1s);
    EXPECT_EQ(c->sampling.full_interval, 10s);
    EXPECT_EQ(c->sampling.full_cpu_budget_percent, 1.25);
    EXPECT_TRUE(c->sampling.bpf);
    EXPECT_EQ(c->sampling.check_interval, 10min);
    EXPECT_EQ(c->history.raw_retention, 1h);
    EXPECT_EQ(c->history.rollup_retention, std::chrono::hours(24 * 30));
    EXPECT_EQ(c->http.max_connections, 4096u);
    EXPECT_EQ(c->http.header_limit, 8192u);
    EXPECT_EQ(c->http.request_deadline, 5s);
    EXPECT_EQ(c->http.idle_timeout, 60s);
    EXPECT_TRUE(c->probes.empty());
  }
}

TEST(AgentConfig, ReadsEveryKey) {
  const char* text = R"(# a full configuration
listen = "[::1]:0"
data_dir = "/tmp/cs"
probe_own_listeners = false
probe_interval = "1m"
probe_timeout = "2s"

[sampling]
fast_interval = "500ms"
full_interval = "30s"
full_cpu_budget = 3
bpf = false
check_interval = "5m"

[history]
raw_retention = "2h"
rollup_retention = "7d"

[http]
max_connections = 100
header_limit = 16384
request_deadline = "2.5s"
idle_timeout = "10s"

[[probes]]
target = "https://example.com/health"
interval = "10s"
timeout = "1500ms"

[[probes]]
target = "10.0.0.5:6379"
)";
  const auto c = parse_config(text, "agent.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_FALSE(c->sampling.bpf);
  EXPECT_EQ(c->sampling.check_interval, 5min);
  EXPECT_EQ(c->listen.family, AF_INET6);
  EXPECT_EQ(c->listen.to_string(), "[::1]:0");
  EXPECT_EQ(c->data_dir, "/tmp/cs");
  EXPECT_FALSE(c->probe_own_listeners);
  EXPECT_EQ(c->probe_interval, 1min);
  EXPECT_EQ(c->probe_timeout, 2s);
  EXPECT_EQ(c->sampling.fast_interval, 500ms);
  EXPECT_EQ(c->sampling.full_interval, 30s);
  EXPECT_EQ(c->sampling.full_cpu_budget_percent, 3.0);
  EXPECT_EQ(c->history.raw_retention, 2h);
  EXPECT_EQ(c->history.rollup_retention, std::chrono::hours(24 * 7));
  // Not set: the defaults.
  EXPECT_EQ(c->history.listener_charted_after, 1min);
  EXPECT_EQ(c->history.max_charted_listeners, 1024u);
  EXPECT_EQ(c->http.max_connections, 100u);
  EXPECT_EQ(c->http.header_limit, 16384u);
  EXPECT_EQ(c->http.request_deadline, 2500ms);
  EXPECT_EQ(c->http.idle_timeout, 10s);
  ASSERT_EQ(c->probes.size(), 2u);
  EXPECT_EQ(c->probes[0].target, "https://example.com/health");
  EXPECT_EQ(c->probes[0].parsed.host, "example.com");
  EXPECT_EQ(c->probes[0].parsed.port, 443);
  EXPECT_TRUE(c->probes[0].parsed.tls);
  EXPECT_EQ(c->probes[0].interval, 10s);
  EXPECT_EQ(c->probes[0].timeout, 1500ms);
  EXPECT_EQ(c->probes[0].line, 25);
  // The second inherits probe_interval and probe_timeout.
  EXPECT_EQ(c->probes[1].target, "10.0.0.5:6379");
  EXPECT_EQ(c->probes[1].parsed.port, 6379);
  EXPECT_EQ(c->probes[1].interval, 1min);
  EXPECT_EQ(c->probes[1].timeout, 2s);
  EXPECT_EQ(c->probes[1].line, 30);
}

TEST(AgentConfig, BpfKeysAreChecked) {
  auto c = parse_config("[sampling]\nbpf = \"yes\"\n", "agent.toml");
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().op, "agent.toml line 2");
  EXPECT_NE(c.error().detail.find("sampling.bpf: expected true or false"), std::string::npos) << c.error().detail;
  c = parse_config("[sampling]\nfast_interval = \"2s\"\ncheck_interval = \"1s\"\n", "agent.toml");
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().detail.find("sampling.check_interval \"1s\": shorter than sampling.fast_interval"), std::string::npos)
      << c.error().detail;
}

TEST(AgentConfig, ChartedListenerKeys) {
  const auto c = parse_config("[history]\nlistener_charted_after = \"0s\"\nmax_charted_listeners = 0\n", "agent.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->history.listener_charted_after, 0ms);
  EXPECT_EQ(c->history.max_charted_listeners, 0u);
}

TEST(AgentConfig, ListenForms) {
  struct Case {
    const char* listen;
    const char* want;
  };
  const Case cases[] = {
      {"127.0.0.1:9600", "127.0.0.1:9600"},
      {"0.0.0.0:80", "0.0.0.0:80"},
      {":9700", "0.0.0.0:9700"},  // core/endpoint.h: every IPv4 address
      {"127.0.0.1:0", "127.0.0.1:0"},  // the kernel picks a port (tests run two agents)
      {"[::]:9600", "[::]:9600"},
      {"localhost:9600", "127.0.0.1:9600"},
  };
  for (const auto& c : cases) {
    const auto cfg = parse_config(std::string("listen = \"") + c.listen + "\"\n", "a.toml");
    ASSERT_TRUE(cfg.has_value()) << c.listen << ": " << cfg.error().message();
    EXPECT_EQ(cfg->listen.to_string(), c.want);
  }
}

// Each bad input gives exactly this message: the file, the line, the key and the problem.
TEST(AgentConfig, ErrorsNameFileLineAndProblem) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      // TOML syntax: toml++'s description, with our file and line.
      {"listen = \"127.0.0.1:9600\"\nhttp = [\n", nullptr},
      // Unknown keys, with a suggestion for a typo.
      {"lisen = \"127.0.0.1:1\"\n",
       "agent.toml line 1: unknown key \"lisen\" (did you mean listen?)"},
      {"[sampling]\nfast_intervl = \"1s\"\n",
       "agent.toml line 2: unknown key \"sampling.fast_intervl\" (did you mean "
       "sampling.fast_interval?)"},
      {"[http]\nmax_connections = 5\nbacklog = 5\n",
       "agent.toml line 3: unknown key \"http.backlog\" (known: http.max_connections, "
       "http.header_limit, http.request_deadline, http.idle_timeout)"},
      {"[[probes]]\ntarget = \"h:1\"\n[[probes]]\ntarget = \"h:2\"\nintervall = \"3s\"\n",
       "agent.toml line 5: unknown key \"probes[1].intervall\" (did you mean "
       "probes[1].interval?)"},
      {"[nonsense]\n", "agent.toml line 1: unknown key \"nonsense\" (known: listen, data_dir, "
                       "probe_own_listeners, probe_interval, probe_timeout, sampling, history, "
                       "http, probes)"},
      // Wrong types.
      {"listen = 9600\n", "agent.toml line 1: listen: expected a string, got an integer"},
      {"probe_own_listeners = \"yes\"\n",
       "agent.toml line 1: probe_own_listeners: expected true or false, got a string"},
      {"\n[sampling]\nfast_interval = 1\n",
       "agent.toml line 3: sampling.fast_interval: expected a duration string such as \"30s\", "
       "got an integer"},
      {"[http]\nheader_limit = \"8KiB\"\n",
       "agent.toml line 2: http.header_limit: expected an integer, got a string"},
      {"sampling = 3\n", "agent.toml line 1: sampling: expected a table ([sampling]), got an "
                         "integer"},
      {"probes = \"h:1\"\n",
       "agent.toml line 1: probes: expected an array of tables ([[probes]]), got a string"},
      {"probes = [1]\n", "agent.toml line 1: probes[0]: expected a table ([[probes]]), got an "
                         "integer"},
      // Bad values.
      {"listen = \"example.com:9600\"\n", nullptr},
      {"listen = \"127.0.0.1:70000\"\n", nullptr},
      {"data_dir = \"\"\n", "agent.toml line 1: data_dir \"\": empty path"},
      {"[[probes]]\ntarget = \"a:1\"\n[[probes]]\ntarget = \"b:1\"\n[[probes]]\ntarget = "
       "\"c:1\"\ninterval = \"3x\"\n",
       "agent.toml line 7: probes[2].interval \"3x\": unknown unit (use ns, us, ms, s, m, h or "
       "d)"},
      {"[[probes]]\ntarget = \"host:99999\"\n", nullptr},
      {"[[probes]]\ntarget = \"example.com\"\n",
       "agent.toml line 2: probes[0].target \"example.com\": no port (write HOST:PORT, or a URL "
       "whose scheme names one)"},
      {"[[probes]]\ninterval = \"5s\"\n",
       "agent.toml line 1: probes[0]: no target (target = \"HOST:PORT\")"},
      {"[[probes]]\ntarget = \"h:1\"\n\n[[probes]]\ntarget = \"h:1\"\n",
       "agent.toml line 4: probes[1].target \"h:1\": already probed by probes[0] (line 1)"},
      // Ranges.
      {"[sampling]\nfast_interval = \"0s\"\n",
       "agent.toml line 2: sampling.fast_interval \"0s\": out of range (100ms to 1m)"},
      {"[http]\nmax_connections = 0\n",
       "agent.toml line 2: http.max_connections 0: out of range (1 to 1000000)"},
      {"[http]\nheader_limit = 1048576\n",
       "agent.toml line 2: http.header_limit 1048576: out of range (1024 to 65536)"},
      {"[http]\nidle_timeout = \"2h\"\n",
       "agent.toml line 2: http.idle_timeout \"2h\": out of range (1s to 1h)"},
      {"[sampling]\nfull_cpu_budget = 150.5\n",
       "agent.toml line 2: sampling.full_cpu_budget 150.5: out of range (0 to 100)"},
      {"[sampling]\nfull_cpu_budget = \"2%\"\n",
       "agent.toml line 2: sampling.full_cpu_budget: expected a number, got a string"},
      {"probe_interval = \"100ms\"\n",
       "agent.toml line 1: probe_interval \"100ms\": out of range (1s to 24h)"},
      {"[history]\nlistener_charted_after = \"2d\"\n",
       "agent.toml line 2: history.listener_charted_after \"2d\": out of range (0s to 24h)"},
      {"[history]\nmax_charted_listeners = -1\n",
       "agent.toml line 2: history.max_charted_listeners -1: out of range (0 to 100000)"},
      // Settings that contradict each other.
      {"[sampling]\nfast_interval = \"5s\"\nfull_interval = \"2s\"\n",
       "agent.toml line 3: sampling.full_interval \"2s\": shorter than sampling.fast_interval "
       "\"5s\""},
      {"[sampling]\nfull_interval = \"500ms\"\n",
       "agent.toml line 2: sampling.full_interval \"500ms\": shorter than "
       "sampling.fast_interval 1s (the default)"},
      {"[sampling]\nfast_interval = \"30s\"\nfull_interval = \"1m\"\n[history]\n"
       "raw_retention = \"10s\"\n",
       "agent.toml line 5: history.raw_retention \"10s\": shorter than sampling.fast_interval "
       "\"30s\""},
      {"[sampling]\nfast_interval = \"30s\"\n",
       "agent.toml line 2: sampling.fast_interval \"30s\": longer than sampling.full_interval "
       "10s (the default)"},
      {"[history]\nrollup_retention = \"30m\"\n",
       "agent.toml line 2: history.rollup_retention \"30m\": shorter than "
       "history.raw_retention 1h (the default)"},
      {"probe_timeout = \"40s\"\n",
       "agent.toml line 1: probe_timeout \"40s\": longer than probe_interval 30s (the default)"},
      {"[[probes]]\ntarget = \"h:1\"\ninterval = \"2s\"\n",
       "agent.toml line 3: probes[0]: timeout 3s (from probe_timeout) is longer than the "
       "interval \"2s\""},
      {"[[probes]]\ntarget = \"h:1\"\ntimeout = \"45s\"\n",
       "agent.toml line 3: probes[0]: timeout \"45s\" is longer than the interval 30s (from "
       "probe_interval)"},
  };
  for (const auto& c : cases) {
    const auto cfg = parse_config(c.text, "agent.toml");
    ASSERT_FALSE(cfg.has_value()) << "accepted:\n" << c.text;
    const std::string msg = cfg.error().message();
    EXPECT_EQ(cfg.error().code, 0);
    if (c.message != nullptr) {
      EXPECT_EQ(msg, c.message) << c.text;
    } else {
      EXPECT_TRUE(msg.starts_with("agent.toml line ")) << msg;
    }
  }
}

// Where the message is toml++'s or core's, check the line and the key it names.
TEST(AgentConfig, ErrorsFromTomlAndCoreKeepTheLine) {
  struct Case {
    const char* text;
    const char* starts;
    const char* contains;
  };
  const Case cases[] = {
      // An unterminated array: toml++ places the error where the array starts.
      {"listen = \"127.0.0.1:9600\"\nhttp = [\n", "agent.toml line 2: ", "(column"},
      {"a = 1\na = 2\n", "agent.toml line 2: ", "(column"},  // a duplicate key: toml++ refuses
      {"[http]\n\nmax_connections = 1_000_000_000_000_000_000_000\n", "agent.toml line 3: ",
       "(column"},
      {"\n\nlisten = \"example.com:9600\"\n", "agent.toml line 3: listen \"example.com:9600\": ",
       "not a numeric IP address"},
      {"listen = \"127.0.0.1:70000\"\n", "agent.toml line 1: listen \"127.0.0.1:70000\": ",
       "port"},
      {"[[probes]]\ntarget = \"host:99999\"\n",
       "agent.toml line 2: probes[0].target \"host:99999\": ", "port"},
      {"data_dir = \"a\\u0000b\"\n", "agent.toml line 1: data_dir \"a\\x00b\": ", "NUL"},
  };
  for (const auto& c : cases) {
    const auto cfg = parse_config(c.text, "agent.toml");
    ASSERT_FALSE(cfg.has_value()) << "accepted:\n" << c.text;
    const std::string msg = cfg.error().message();
    EXPECT_TRUE(msg.starts_with(c.starts)) << msg;
    EXPECT_NE(msg.find(c.contains), std::string::npos) << msg;
  }
}

TEST(AgentConfig, GarbageIsAnErrorNotACrash) {
  const std::string inputs[] = {
      std::string("\0\0\0", 3), "\xFF\xFE\xFD", "[[[", "= = =", "listen = \"\xC0\xAF\"\n",
      std::string(100000, '['), "[probes]\ntarget = \"h:1\"\n",
  };
  for (const auto& text : inputs) {
    const auto cfg = parse_config(text, "junk.toml");
    ASSERT_FALSE(cfg.has_value());
    EXPECT_TRUE(cfg.error().message().starts_with("junk.toml")) << cfg.error().message();
  }
}

TEST(AgentConfig, ManyProbesAndALateDuplicate) {
  std::string text;
  for (int i = 0; i < 5000; ++i) {
    text += "[[probes]]\ntarget = \"10.1." + std::to_string(i / 250) + "." +
            std::to_string(i % 250) + ":80\"\n";
  }
  const auto many = parse_config(text, "big.toml");
  ASSERT_TRUE(many.has_value()) << many.error().message();
  ASSERT_EQ(many->probes.size(), 5000u);
  EXPECT_EQ(many->probes[4999].line, 2 * 4999 + 1);
  text += "[[probes]]\ntarget = \"10.1.0.7:80\"\n";
  const auto dup = parse_config(text, "big.toml");
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().message(),
            "big.toml line 10001: probes[5000].target \"10.1.0.7:80\": already probed by "
            "probes[7] (line 15)");
}

class TempFile {
 public:
  explicit TempFile(const std::string& text)
      : path_(std::filesystem::temp_directory_path() /
              ("connscope_config_test_" + std::to_string(::getpid()) + ".toml")) {
    std::ofstream(path_, std::ios::binary) << text;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  [[nodiscard]] std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(AgentConfig, LoadsAFileAndNamesItInErrors) {
  {
    TempFile f("[http]\nmax_connections = 7\n");
    const auto cfg = load_config(f.path());
    ASSERT_TRUE(cfg.has_value()) << cfg.error().message();
    EXPECT_EQ(cfg->http.max_connections, 7u);
  }
  {
    TempFile f("\n\n[http]\nmax_conections = 7\n");
    const auto cfg = load_config(f.path());
    ASSERT_FALSE(cfg.has_value());
    EXPECT_TRUE(cfg.error().message().starts_with(f.path() + " line 4: unknown key"))
        << cfg.error().message();
  }
  {
    const auto cfg = load_config("/nonexistent/connscope/agent.toml");
    ASSERT_FALSE(cfg.has_value());
    EXPECT_EQ(cfg.error().code, ENOENT);
    EXPECT_EQ(cfg.error().op, "config /nonexistent/connscope/agent.toml");
  }
  {
    const auto cfg = load_config(std::filesystem::temp_directory_path().string());
    ASSERT_FALSE(cfg.has_value());
    EXPECT_EQ(cfg.error().code, EISDIR);
  }
  {
    TempFile f(std::string(2 * 1024 * 1024, '#'));
    const auto cfg = load_config(f.path());
    ASSERT_FALSE(cfg.has_value());
    EXPECT_NE(cfg.error().message().find("larger than 1 MiB"), std::string::npos);
  }
}

}  // namespace
}  // namespace connscope::agent
