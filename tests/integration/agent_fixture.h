#pragma once
// Test support for the agent's integration tests: temporary directories, a plain HTTP GET, and
// `connscope agent` started on a kernel-chosen loopback port.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/process.h"

namespace connscope::test {

// A fresh directory under the temporary directory, removed with everything in it when the
// object goes (even after a failed assertion). Declare it before the processes writing into it.
class TempDir {
 public:
  explicit TempDir(const std::string& name);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct HttpReply {
  unsigned status = 0;  // 0: no HTTP answer (refused, timed out)
  std::string head;     // status line and headers
  std::string body;
};

// One HTTP/1.0 GET on a new connection to 127.0.0.1:port, read until the server closes (1.0:
// no chunked answers, from Go's servers either). `headers`: whole extra header lines.
HttpReply http_get(std::uint16_t port, const std::string& target, const std::vector<std::string>& headers = {});

// Percent-encodes everything but RFC 3986's unreserved characters.
std::string url_encode(const std::string& s);

struct AgentProcess {
  std::unique_ptr<TempDir> own_dir;  // when the test gave no --data-dir or no --config
  Process proc;
  nlohmann::json hello;  // the --json startup line
  [[nodiscard]] std::uint16_t port() const { return hello.at("port").get<std::uint16_t>(); }
};

// `connscope --json agent ARGS...`, waiting for its startup line (throws when it does not come).
// Without a --data-dir in ARGS it gets a temporary one; without a --config, one that turns off
// the probes of this machine's listeners: they would connect to the listeners of the tests
// running beside it (Serve.HoldsTenThousandIdleConnections counts its accepts); `config` is
// added to that file.
AgentProcess start_agent(const std::vector<std::string>& args, const std::string& config = "");

}  // namespace connscope::test
