#include "probe/resolve_names.h"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>

#include "probe/dns.h"

namespace connscope::probe {

namespace asio = boost::asio;

std::map<std::string, NameResolution> resolve_names(const std::vector<std::string>& names, DnsFamily family,
                                                    std::chrono::milliseconds timeout) {
  std::map<std::string, NameResolution> out;
  if (names.empty()) return out;
  asio::io_context io(1);
  std::size_t next = 0;  // the workers share it: they all run on this thread
  auto worker = [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    while (next < names.size()) {
      const std::string name = names[next++];
      DnsOptions o;
      o.family = family;
      o.timeout = timeout;
      const DnsResult d = co_await resolve(ex, name, o);
      NameResolution r;
      if (d.ok() && !d.addresses.empty()) {
        r.address = d.addresses.front().address;
        r.family = d.addresses.front().family;
      } else {
        r.failure = std::string(dns_failure_name(d.ok() ? DnsFailure::no_address : d.failure));
        r.detail = d.detail;
      }
      out[name] = std::move(r);
    }
  };
  for (std::size_t i = 0; i < std::min(kResolveWorkers, names.size()); ++i) {
    asio::co_spawn(io, worker(), asio::detached);
  }
  io.run();
  return out;
}

}  // namespace connscope::probe
