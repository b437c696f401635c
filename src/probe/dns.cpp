#include "probe/dns.h"

#include "core/error_text.h"
#include "probe/dns_channel.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <iterator>
#include <memory>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace connscope::probe {

namespace {

namespace asio = boost::asio;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

bool family_wanted(int af, DnsFamily family) {
  if (family == DnsFamily::v4) return af == AF_INET;
  if (family == DnsFamily::v6) return af == AF_INET6;
  return true;
}

std::vector<DnsRecordType> record_types(DnsFamily family) {
  if (family == DnsFamily::v4) return {DnsRecordType::a};
  if (family == DnsFamily::v6) return {DnsRecordType::aaaa};
  return {DnsRecordType::a, DnsRecordType::aaaa};
}

// What the system configuration says (resolv.conf, nsswitch.conf), as c-ares reads it.
struct SystemConfig {
  std::vector<Endpoint> servers;
  std::vector<std::string> search;
  std::string lookups;
};

struct ChannelDeleter {
  void operator()(ares_channel channel) const { ares_destroy(channel); }
};
using ChannelPtr = std::unique_ptr<std::remove_pointer_t<ares_channel>, ChannelDeleter>;

Result<SystemConfig> read_system_config(const std::string& resolv_conf) {
  ares_options opts{};
  int mask = 0;
  std::string path = resolv_conf;
  if (!path.empty()) {
    // c-ares falls back to its defaults (127.0.0.1) when the file is missing: say so instead.
    if (::access(path.c_str(), R_OK) != 0) return fail_text(path, Msg::err_read, {}, errno);

    opts.resolvconf_path = path.data();
    mask |= ARES_OPT_RESOLVCONF;
  }
  ares_channel raw = nullptr;
  const int st = ares_init_options(&raw, &opts, mask);
  if (st != ARES_SUCCESS) return fail("ares_init_options", ares_strerror(st));
  const ChannelPtr channel(raw);

  SystemConfig config;
  ares_addr_port_node* servers = nullptr;
  if (const int gs = ares_get_servers_ports(channel.get(), &servers); gs != ARES_SUCCESS) {
    return fail("ares_get_servers_ports", ares_strerror(gs));
  }
  for (const ares_addr_port_node* s = servers; s != nullptr; s = s->next) {
    char text[INET6_ADDRSTRLEN] = {};
    ares_inet_ntop(s->family, &s->addr, text, sizeof text);
    const int port = s->udp_port != 0 ? s->udp_port : 53;
    config.servers.push_back(Endpoint{s->family, text, static_cast<std::uint16_t>(port)});
  }
  ares_free_data(servers);

  ares_options saved{};
  int saved_mask = 0;
  if (const int ss = ares_save_options(channel.get(), &saved, &saved_mask); ss != ARES_SUCCESS) {
    return fail("ares_save_options", ares_strerror(ss));
  }
  if (saved.lookups != nullptr) config.lookups = saved.lookups;
  for (int i = 0; i < saved.ndomains; ++i) {
    config.search.emplace_back(saved.domains[i]);
  }
  ares_destroy_options(&saved);
  if (config.lookups.empty()) config.lookups = "fb";  // c-ares' own default
  return config;
}

// One c-ares channel with its queries, driven by Asio: c-ares reports which sockets it wants
// to read or write (ARES_OPT_SOCK_STATE_CB), each is watched with a non-owning
// stream_descriptor, and a timer runs c-ares' own timeouts (ares_timeout).
//
// Owns the channel, the descriptors (released, never closed: c-ares owns the fds and tells us
// (fd, 0, 0) before it closes one) and the query results. Shared by the coroutine that runs it
// and by its pending waits, so a wait that completes after the run ended finds it alive; used
// only on the executor's thread. shutdown() destroys the channel.
class AresRun : public std::enable_shared_from_this<AresRun> {
 public:
  explicit AresRun(asio::any_io_executor ex) : ex_(std::move(ex)), ares_timer_(ex_), done_(ex_) {}
  ~AresRun() { shutdown(); }
  AresRun(const AresRun&) = delete;
  AresRun& operator=(const AresRun&) = delete;

  // ARES_SUCCESS or c-ares' status for a channel that could not be set up.
  int init(const ChannelConfig& config) {
    return init_channel(&channel_, config, &AresRun::on_sock_state, this);
  }

  // Starts one getaddrinfo for the type's family; its result is kept for outcomes().
  void query(const std::string& name, DnsRecordType type) {
    auto slot = std::make_unique<Slot>();
    slot->run = this;
    slot->type = type;
    Slot* raw = slot.get();
    slots_.push_back(std::move(slot));
    ++pending_;
    ares_addrinfo_hints hints{};
    hints.ai_family = type == DnsRecordType::a ? AF_INET : AF_INET6;
    // The hosts file's answer comes back inside this call; DNS answers come through the waits.
    ares_getaddrinfo(channel_, name.c_str(), nullptr, &hints, &AresRun::on_addrinfo, raw);
  }

  // Until every query has its result, or hard_stop: then the queries still running are
  // cancelled and reported as timed out.
  asio::awaitable<void> wait(Clock::time_point hard_stop) {
    after_ares();
    if (pending_ > 0) {
      done_.expires_at(hard_stop);
      co_await done_.async_wait(kTuple);  // cancelled by the last result
    }
    if (pending_ > 0 && channel_ != nullptr) {
      stopped_ = true;
      ares_cancel(channel_);  // each remaining query's callback runs now, ARES_ECANCELLED
    }
  }

  std::vector<DnsTypeOutcome> outcomes(bool from_server) const {
    std::vector<DnsTypeOutcome> out;
    for (const auto& slot : slots_) {
      out.push_back(type_outcome(slot->type, slot->status, slot->timeouts, slot->answer,
                                 from_server, stopped_));
    }
    return out;
  }

  void shutdown() {
    if (channel_ != nullptr) {
      ares_channel channel = std::exchange(channel_, nullptr);
      ares_destroy(channel);  // releases our descriptors through on_sock_state first
    }
    for (auto& [fd, watch] : watches_) watch->desc.release();
    watches_.clear();
    ares_timer_.cancel();
    done_.cancel();
  }

 private:
  struct Slot {
    AresRun* run = nullptr;
    DnsRecordType type = DnsRecordType::a;
    int status = ARES_ECANCELLED;
    int timeouts = 0;
    DnsAnswer answer;
  };

  struct Watch {
    Watch(const asio::any_io_executor& ex, std::uint64_t watch_id) : desc(ex), id(watch_id) {}
    asio::posix::stream_descriptor desc;
    std::uint64_t id;  // tells this watch from a later one on the same (reused) fd number
    bool want_read = false;
    bool want_write = false;
    bool read_armed = false;
    bool write_armed = false;
  };

  // c-ares calls these from C: nothing may throw out of them.
  static void on_sock_state(void* data, ares_socket_t fd, int readable, int writable) {
    auto* self = static_cast<AresRun*>(data);
    try {
      if (readable == 0 && writable == 0) {
        if (auto it = self->watches_.find(fd); it != self->watches_.end()) {
          it->second->desc.release();  // c-ares closes the fd right after this
          self->watches_.erase(it);
        }
        return;
      }
      auto& watch = self->watches_[fd];
      if (!watch) {
        auto fresh = std::make_unique<Watch>(self->ex_, ++self->next_watch_id_);
        boost::system::error_code ec;
        fresh->desc.assign(fd, ec);
        if (ec) {
          // Unwatched, the socket's answer is never read: c-ares' timeouts (or the hard stop)
          // end the query instead.
          self->watches_.erase(fd);
          return;
        }
        watch = std::move(fresh);
      }
      watch->want_read = readable != 0;
      watch->want_write = writable != 0;
    } catch (...) {
      // Out of memory: the same as an unwatched socket.
    }
  }

  static void on_addrinfo(void* arg, int status, int timeouts, ares_addrinfo* ai) {
    auto* slot = static_cast<Slot*>(arg);
    slot->status = status;
    slot->timeouts = timeouts;
    if (ai != nullptr) {
      try {
        slot->answer = collect_addrinfo(ai);
      } catch (...) {
        slot->status = ARES_ENOMEM;
      }
      ares_freeaddrinfo(ai);
    }
    AresRun* run = slot->run;
    if (run->pending_ > 0) --run->pending_;
    if (run->pending_ == 0) {
      try {
        run->done_.cancel();
      } catch (...) {
        // The hard stop still ends the wait.
      }
    }
  }

  // After every call into c-ares: wait for what its sockets want, and for its next timeout.
  void after_ares() {
    if (channel_ == nullptr) return;
    for (auto& [fd, watch] : watches_) {
      if (watch->want_read) arm(fd, *watch, false);
      if (watch->want_write) arm(fd, *watch, true);
    }
    timeval tv{};
    if (ares_timeout(channel_, nullptr, &tv) != nullptr) {
      ares_timer_.expires_after(std::chrono::seconds(tv.tv_sec) + microseconds(tv.tv_usec));
      ares_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (ec || self->channel_ == nullptr) return;
        ares_process_fd(self->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        self->after_ares();
      });
    } else {
      ares_timer_.cancel();
    }
  }

  void arm(int fd, Watch& watch, bool write) {
    bool& armed = write ? watch.write_armed : watch.read_armed;
    if (armed) return;
    armed = true;
    auto handler = [self = shared_from_this(), fd, id = watch.id,
                    write](boost::system::error_code ec) { self->on_ready(fd, id, write, ec); };
    // Asio's epoll reactor is edge-triggered and its async_wait never checks readiness first:
    // c-ares reads a TCP answer in pieces (length, then body) and leaves the rest queued,
    // which no new edge would announce. So a socket that is ready already is handled now.
    pollfd p{fd, static_cast<short>(write ? POLLOUT : POLLIN), 0};
    if (::poll(&p, 1, 0) > 0) {
      asio::post(ex_, [handler = std::move(handler)]() mutable { handler({}); });
      return;
    }
    watch.desc.async_wait(write ? asio::posix::stream_descriptor::wait_write
                                : asio::posix::stream_descriptor::wait_read,
                          std::move(handler));
  }

  void on_ready(int fd, std::uint64_t id, bool write, boost::system::error_code ec) {
    if (channel_ == nullptr) return;
    auto it = watches_.find(fd);
    if (it == watches_.end() || it->second->id != id) return;  // released; maybe fd reused
    Watch& watch = *it->second;
    (write ? watch.write_armed : watch.read_armed) = false;
    if (ec == asio::error::operation_aborted) return;
    if (write ? watch.want_write : watch.want_read) {
      // May close fd (and erase `watch`) or open others.
      ares_process_fd(channel_, write ? ARES_SOCKET_BAD : fd, write ? fd : ARES_SOCKET_BAD);
    }
    after_ares();
  }

  asio::any_io_executor ex_;
  ares_channel channel_ = nullptr;
  std::unordered_map<int, std::unique_ptr<Watch>> watches_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::size_t pending_ = 0;
  std::uint64_t next_watch_id_ = 0;
  bool stopped_ = false;
  asio::steady_timer ares_timer_;  // c-ares' next retransmission or timeout
  asio::steady_timer done_;        // expires at the hard stop; cancelled by the last result
};

// Runs the types' queries on one channel until they end or hard_stop.
asio::awaitable<std::vector<DnsTypeOutcome>> run_queries(asio::any_io_executor ex,
                                                         std::string name,
                                                         std::vector<DnsRecordType> types,
                                                         ChannelConfig config,
                                                         Clock::time_point hard_stop) {
  auto run = std::make_shared<AresRun>(ex);
  const bool from_server = config.lookups == "b";
  if (const int st = run->init(config); st != ARES_SUCCESS) {
    run->shutdown();
    std::vector<DnsTypeOutcome> out;
    for (DnsRecordType type : types) {
      DnsTypeOutcome o;
      o.type = type;
      o.ares_status = st;
      o.failure = classify_ares_status(st);
      out.push_back(std::move(o));
    }
    co_return out;
  }
  for (DnsRecordType type : types) run->query(name, type);
  co_await run->wait(hard_stop);
  auto out = run->outcomes(from_server);
  run->shutdown();
  co_return out;
}

}  // namespace

// --- the stage ------------------------------------------------------------------------------

asio::awaitable<DnsResult> resolve(asio::any_io_executor ex, std::string name,
                                   DnsOptions options) {
  const auto start = Clock::now();
  const auto deadline = start + options.timeout;
  DnsResult r;
  r.name = name;
  r.family = options.family;
  auto finish = [&]() -> DnsResult {
    r.elapsed = duration_cast<microseconds>(Clock::now() - start);
    return std::move(r);
  };

  if (auto literal = parse_address_literal(name)) {
    r.source = DnsSource::literal;
    if (family_wanted(literal->family, options.family)) {
      r.addresses.push_back(*literal);
      r.failure = DnsFailure::none;
    } else {
      r.failure = DnsFailure::no_address;
    }
    co_return finish();
  }
  if (options.timeout <= milliseconds::zero()) {
    r.failure = DnsFailure::other;
    r.detail = "the timeout must be positive";
    co_return finish();
  }

  if (options.resolver) {
    r.servers = {*options.resolver};
    r.lookups = "b";
  } else {
    auto config = read_system_config(options.resolv_conf);
    if (!config) {
      r.failure = DnsFailure::other;
      r.detail = config.error().message();
      co_return finish();
    }
    r.servers = std::move(config->servers);
    r.search = std::move(config->search);
    r.lookups = std::move(config->lookups);
  }

  const auto types = record_types(options.family);
  r.failure = DnsFailure::other;
  r.detail = "no lookup method (nsswitch.conf names neither files nor dns)";
  bool decided = false;
  for (char step : r.lookups) {
    if (decided) break;
    if (Clock::now() >= deadline) {
      if (r.attempts.empty()) {  // else the servers' verdict stands
        r.failure = DnsFailure::timeout;
        r.detail = "the deadline passed before a server was asked";
      }
      break;
    }
    if (step == 'f') {
      ChannelConfig cc;
      cc.lookups = "f";
      cc.resolv_conf = options.resolv_conf;
      r.hosts = co_await run_queries(ex, name, types, cc, deadline);
      for (auto& o : r.hosts) {
        for (auto& a : o.answer.addresses) a.ttl.reset();  // the file has none
      }
      const auto i = deciding_outcome(r.hosts);
      if (i && r.hosts[*i].failure == DnsFailure::none) {
        r.source = DnsSource::hosts_file;
        r.failure = DnsFailure::none;
        r.detail.clear();
        r.addresses = addresses_of(r.hosts);
        decided = true;
      } else if (r.attempts.empty()) {  // else the servers' verdict stands
        r.failure = DnsFailure::other;
        r.detail = "not in the hosts file";
      }
      continue;
    }
    if (step != 'b') continue;

    if (r.servers.empty()) {
      r.failure = DnsFailure::other;
      r.detail = "no DNS server configured";
      continue;
    }
    std::vector<DnsAttempt> attempts;
    for (std::size_t k = 0; k < r.servers.size(); ++k) {
      const auto left = duration_cast<milliseconds>(deadline - Clock::now());
      if (left <= milliseconds::zero()) break;
      const auto share = left / static_cast<long long>(r.servers.size() - k);
      ChannelConfig cc;
      cc.lookups = "b";
      cc.timing = ares_timing(share);
      cc.resolv_conf = options.resolv_conf;
      cc.no_search = options.resolver.has_value();
      cc.server = r.servers[k];
      DnsAttempt attempt;
      attempt.server = r.servers[k];
      const auto t0 = Clock::now();
      attempt.queries = co_await run_queries(ex, name, types, cc, deadline);
      attempt.elapsed = duration_cast<microseconds>(Clock::now() - t0);
      const auto i = deciding_outcome(attempt.queries);
      attempt.failure = i ? attempt.queries[*i].failure : DnsFailure::other;
      attempts.push_back(std::move(attempt));
      if (!try_next_server(attempts.back().failure)) break;
    }
    if (attempts.empty()) {  // only when the hosts file used up the deadline
      r.failure = DnsFailure::timeout;
      r.detail = "the deadline passed before a server was asked";
      continue;
    }
    r.attempts.insert(r.attempts.end(), attempts.begin(), attempts.end());

    // The last server asked decides: it is what a client would end up with.
    decided = settle_on_last_attempt(r);
  }
  co_return finish();
}

}  // namespace connscope::probe
