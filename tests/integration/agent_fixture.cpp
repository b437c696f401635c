#include "integration/agent_fixture.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include "integration/client.h"

namespace connscope::test {

TempDir::TempDir(const std::string& name)
    : path_(std::filesystem::temp_directory_path() / ("connscope-" + name + "-" + std::to_string(::getpid()))) {
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

HttpReply http_get(std::uint16_t port, const std::string& target, const std::vector<std::string>& headers) {
  auto fd = connect_tcp("127.0.0.1", port, 1s);
  if (!fd.valid()) return {};
  std::string req = "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n";
  for (const auto& h : headers) req += h + "\r\n";
  send_all(fd.get(), req + "\r\n");
  const auto r = read_until_close(fd.get(), 5s);
  HttpReply out;
  if (r.data.size() >= 12 && r.data.rfind("HTTP/1.", 0) == 0) {
    out.status = static_cast<unsigned>(std::stoi(r.data.substr(9, 3)));
  }
  const auto body = r.data.find("\r\n\r\n");
  if (body != std::string::npos) {
    out.head = r.data.substr(0, body);
    out.body = r.data.substr(body + 4);
  }
  return out;
}

std::string url_encode(const std::string& s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4U];
      out += hex[u & 15U];
    }
  }
  return out;
}

AgentProcess start_agent(const std::vector<std::string>& args, const std::string& config_text) {
  static int started = 0;
  AgentProcess a;
  std::vector<std::string> argv{CONNSCOPE_BIN, "--json", "agent"};
  argv.insert(argv.end(), args.begin(), args.end());
  const bool own_data = std::find(args.begin(), args.end(), "--data-dir") == args.end();
  const bool own_config = std::find(args.begin(), args.end(), "--config") == args.end();
  if (own_data || own_config) a.own_dir = std::make_unique<TempDir>("agent-" + std::to_string(++started));
  if (own_data) argv.insert(argv.end(), {"--data-dir", (a.own_dir->path() / "data").string()});
  if (own_config) {
    const auto config = a.own_dir->path() / "agent.toml";
    std::ofstream(config) << "probe_own_listeners = false\n" << config_text;
    argv.insert(argv.end(), {"--config", config.string()});
  }
  a.proc = Process::spawn(argv);
  const std::string line = a.proc.wait_for_line(0, 10s);
  if (line.empty()) throw std::runtime_error("agent did not start: " + a.proc.err());
  a.hello = nlohmann::json::parse(line);
  if (a.hello.at("event") != "listening") throw std::runtime_error("agent's first line: " + line);
  return a;
}

}  // namespace connscope::test
