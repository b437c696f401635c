#include "integration/serve_fixture.h"

#include <sys/socket.h>

#include <stdexcept>

#include <nlohmann/json.hpp>

namespace connscope::test {

Served start_serve(const std::vector<std::string>& args, const std::string& address,
                   const SpawnOptions& options) {
  std::vector<std::string> argv{CONNSCOPE_BIN, "--json", "-v", "serve", "--listen",
                                address.find(':') == std::string::npos ? address + ":0"
                                                                        : "[" + address + "]:0"};
  argv.insert(argv.end(), args.begin(), args.end());
  Served s;
  s.proc = Process::spawn(argv, options);
  s.address = address;
  const std::string first = s.proc.wait_for_line(0, 5s);
  if (first.empty()) {
    throw std::runtime_error("serve did not start: " + s.proc.err());
  }
  const auto j = nlohmann::json::parse(first);
  if (j.at("event") != "listening") throw std::runtime_error("unexpected first line: " + first);
  s.port = j.at("listeners").at(0).at("port").get<std::uint16_t>();
  return s;
}

std::vector<sys::ProcNetTcpEntry> sockets_on_port(std::uint16_t port, int state) {
  std::vector<sys::ProcNetTcpEntry> out;
  for (int family : {AF_INET, AF_INET6}) {
    auto text = sys::read_file(family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6");
    if (!text) continue;
    auto entries = sys::parse_proc_net_tcp(*text, family);
    if (!entries) throw std::runtime_error(entries.error().message());
    for (auto& e : *entries) {
      if (e.local_port == port && e.state == state) out.push_back(e);
    }
  }
  return out;
}

std::vector<std::string> json_events(const std::string& out, const std::string& event) {
  std::vector<std::string> found;
  for (const auto& line : lines(out)) {
    if (line.empty() || line.front() != '{') continue;
    const auto j = nlohmann::json::parse(line);
    if (j.value("event", "") == event) found.push_back(line);
  }
  return found;
}

}  // namespace connscope::test
