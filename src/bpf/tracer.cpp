#include "bpf/tracer.h"

#include "core/error_text.h"

#include <fmt/format.h>

#include <arpa/inet.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <string_view>

// bpftool's generated C is not held to the project's warnings.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include "bpf/connscope.skel.h"
#pragma GCC diagnostic pop
#include "bpf/kernel_btf.h"

namespace connscope::bpf {

namespace {

struct HookSpec {
  const char* program;
  const char* name;      // the BTF tracepoint (without its group)
  const char* group;     // its group, for messages
  int min_args;          // the arguments the program reads
  std::uint32_t kinds;
};

constexpr HookSpec kHooks[] = {
    {"cs_state", "inet_sock_set_state", "sock", 3, CS_EVENT_BIT(CS_EV_STATE)},
    {"cs_reset_sent", "tcp_send_reset", "tcp", 2, CS_EVENT_BIT(CS_EV_RESET_SENT)},
    {"cs_reset_received", "tcp_receive_reset", "tcp", 1, CS_EVENT_BIT(CS_EV_RESET_RECEIVED)},
    {"cs_retransmit", "tcp_retransmit_skb", "tcp", 2, CS_EVENT_BIT(CS_EV_RETRANSMIT)},
    {"cs_synack_retransmit", "tcp_retransmit_synack", "tcp", 2,
     CS_EVENT_BIT(CS_EV_SYNACK_RETRANSMIT)},
    {"cs_drop", "kfree_skb", "skb", 3, CS_EVENT_BIT(CS_EV_DROP)},
};

std::string target_text(const HookSpec& h) { return std::string("tracepoint ") + h.group + ":" + h.name; }

// libbpf prints its warnings on stderr unless told otherwise; its print hook is process-wide by
// its API. connscope reports what failed itself (hooks(), the verifier's log), so libbpf's lines
// are not printed; while a Tracer loads on this thread, the name of a program libbpf says it
// failed to load is kept, because a refusal that is not the verifier's (EPERM)
// leaves no other trace of which program it was.
thread_local std::string* g_refused_program = nullptr;

int quiet_libbpf(enum libbpf_print_level level, const char* format, va_list args) {
  if (g_refused_program == nullptr || level == LIBBPF_DEBUG) return 0;
  char line[512];
  va_list copy;
  va_copy(copy, args);
  std::vsnprintf(line, sizeof line, format, copy);
  va_end(copy);
  const std::string_view text(line);
  constexpr std::string_view kProg = "prog '";
  if (const auto at = text.find(kProg); at != std::string_view::npos && text.find("failed to load") != std::string_view::npos) {
    const auto name = text.substr(at + kProg.size());
    *g_refused_program = std::string(name.substr(0, name.find('\'')));
  }
  return 0;
}

// The last lines of a verifier log, which say why it refused.
std::string log_tail(std::string_view log, std::size_t lines) {
  while (!log.empty() && (log.back() == '\n' || log.back() == '\0')) log.remove_suffix(1);
  std::size_t pos = log.size();
  for (std::size_t n = 0; n < lines && pos > 0; ++n) {
    const auto nl = log.rfind('\n', pos - 1);
    if (nl == std::string_view::npos) {
      pos = 0;
      break;
    }
    pos = nl;
  }
  std::string out(log.substr(pos == 0 ? 0 : pos + 1));
  for (auto& c : out)
    if (c == '\n') c = ';';
  return out;
}

// ctx is the Tracer's on_record_ slot, which poll() points at its caller's function.
int on_ring_record(void* ctx, void* data, std::size_t size) {
  const auto* fn = *static_cast<const Tracer::RecordFn* const*>(ctx);
  if (fn != nullptr) (*fn)(std::span<const std::byte>(static_cast<const std::byte*>(data), size));
  return 0;
}

}  // namespace

Result<std::uint32_t> netns_inode(int pid) {
  const std::string path = pid == 0 ? "/proc/self/ns/net" : "/proc/" + std::to_string(pid) + "/ns/net";
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return fail_text(path, Msg::err_stat, {}, errno);
  return static_cast<std::uint32_t>(st.st_ino);
}

Result<std::unique_ptr<Tracer>> Tracer::open(const TracerOptions& options) {
  if (auto p = check_privilege(); !p) return std::unexpected(p.error());
  auto btf = KernelBtf::load();
  if (!btf) return std::unexpected(btf.error());
  std::uint32_t netns = 0;
  if (options.netns) {
    netns = *options.netns;
  } else {
    auto own = netns_inode();
    if (!own) return std::unexpected(own.error());
    netns = *own;
  }

  libbpf_set_print(quiet_libbpf);
  std::unique_ptr<Tracer> t(new Tracer());
  t->asked_ = options.event_mask;
  t->netns_ = netns;
  t->ncpus_ = libbpf_num_possible_cpus();
  if (t->ncpus_ <= 0) return fail_text("libbpf_num_possible_cpus", Msg::err_count_cpus, {}, -t->ncpus_);
  for (const HookSpec& h : kHooks) {
    Hook hook{h.program, target_text(h), h.kinds, std::nullopt};
    const bool present = btf->tracepoint_args(h.name) >= h.min_args;
    if (!present) hook.error = error_text(hook.target, Msg::err_hook_missing, {}, ENOENT);
    t->hooks_.push_back(std::move(hook));
  }

  // A kernel may refuse one program (a verifier may reject what another accepts). libbpf loads an object whole, so the refused
  // program is turned off, with its reason, and the object opened and loaded again without it.
  for (std::size_t attempt = 0;; ++attempt) {
    t->skel_ = connscope_bpf__open();
    if (t->skel_ == nullptr) return fail_text("bpf", Msg::err_bpf_open_object, {}, errno);
    t->skel_->rodata->has_reset_reason = btf->tracepoint_args("tcp_send_reset") >= 3;
    if (bpf_map__set_max_entries(t->skel_->maps.cs_events, static_cast<std::uint32_t>(options.ring_bytes)) != 0)
      return fail_text("cs_events", Msg::err_bpf_size_ring, {}, errno);
    std::vector<std::vector<char>> logs(std::size(kHooks));
    for (std::size_t i = 0; i < std::size(kHooks); ++i) {
      struct bpf_program* prog = bpf_object__find_program_by_name(t->skel_->obj, kHooks[i].program);
      if (prog == nullptr) return fail_text(kHooks[i].program, Msg::err_bpf_not_in_object);
      if (t->hooks_[i].error) {
        bpf_program__set_autoload(prog, false);
        continue;
      }
      logs[i].resize(std::size_t{256} << 10);
      bpf_program__set_log_buf(prog, logs[i].data(), logs[i].size());
    }
    std::string refused_name;
    g_refused_program = &refused_name;
    const int err = connscope_bpf__load(t->skel_);
    g_refused_program = nullptr;
    if (err == 0) break;
    // On failure libbpf closes every program. The refused one is the one whose log the kernel
    // filled (libbpf retries a verifier's refusal with logging on), else the one libbpf named.
    std::optional<std::size_t> refused;
    for (std::size_t i = 0; i < std::size(kHooks) && !refused; ++i)
      if (!logs[i].empty() && logs[i][0] != '\0') refused = i;
    for (std::size_t i = 0; i < std::size(kHooks) && !refused; ++i)
      if (refused_name == kHooks[i].program) refused = i;
    connscope_bpf__destroy(t->skel_);
    t->skel_ = nullptr;
    if (!refused || attempt >= std::size(kHooks)) return fail_text("bpf", Msg::err_bpf_load, {}, -err);
    const std::string log(logs[*refused].data());
    // A log that ends in the verifier's statistics means it accepted the program and the kernel
    // refused it after; otherwise the tail says what it rejected.
    const bool verified = log.find("processed ") != std::string::npos && log.find("insns") != std::string::npos;
    t->hooks_[*refused].error =
        verified || log.empty()
            ? error_text(t->hooks_[*refused].target, Msg::err_bpf_kernel_refused, {}, -err)
            : error_text(t->hooks_[*refused].target, Msg::err_bpf_verifier_refused, {{"log", log_tail(log, 4)}}, -err);
  }

  for (std::size_t i = 0; i < std::size(kHooks); ++i) {
    if (t->hooks_[i].error) continue;
    struct bpf_program* prog = bpf_object__find_program_by_name(t->skel_->obj, kHooks[i].program);
    struct bpf_link* link = bpf_program__attach(prog);
    if (link == nullptr) {
      t->hooks_[i].error = error_text(t->hooks_[i].target, Msg::err_bpf_attach, {}, errno);
      continue;
    }
    t->links_.push_back(link);
  }
  bool any = false;
  for (const auto& h : t->hooks_) any = any || !h.error;
  if (!any) {
    // The first hook's reason is kept as its English line: an argument is text, not a message.
    const Error& first = *t->hooks_.front().error;
    return fail_text("bpf", Msg::err_bpf_all_refused, {{"hook", first.op}, {"reason", error_line({}, first.detail, first.code)}});
  }

  const std::uint32_t zero = 0;
  if (bpf_map__update_elem(t->skel_->maps.cs_netns_map, &zero, sizeof zero, &netns, sizeof netns, BPF_ANY) != 0)
    return fail_text("cs_netns_map", Msg::err_bpf_map_update, {{"map", "cs_netns_map"}}, errno);
  cs_config cfg{};
  cfg.event_mask = options.event_mask;
  cfg.pid = options.pid;
  cfg.port = options.port;
  cfg.records_per_sec = options.records_per_second;
  cfg.aggregate_mask = options.aggregate_mask;
  cfg.owners = options.owners || options.pid != 0 ? 1 : 0;
  if (options.peer) {
    sockaddr_storage ss{};
    options.peer->to_sockaddr(ss);
    cfg.peer_family = static_cast<std::uint16_t>(options.peer->family);
    if (options.peer->family == AF_INET)
      std::memcpy(cfg.peer, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, 4);
    else
      std::memcpy(cfg.peer, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, 16);
  }
  if (bpf_map__update_elem(t->skel_->maps.cs_config_map, &zero, sizeof zero, &cfg, sizeof cfg, BPF_ANY) != 0)
    return fail_text("cs_config_map", Msg::err_bpf_map_update, {{"map", "cs_config_map"}}, errno);

  if (options.event_mask != 0) {
    t->ring_ = ring_buffer__new(bpf_map__fd(t->skel_->maps.cs_events), on_ring_record, &t->on_record_, nullptr);
    if (t->ring_ == nullptr) return fail_text("cs_events", Msg::err_bpf_open_ring, {}, errno);
  }
  return t;
}

Tracer::~Tracer() {
  if (ring_ != nullptr) ring_buffer__free(ring_);
  for (auto* l : links_) bpf_link__destroy(l);
  if (skel_ != nullptr) connscope_bpf__destroy(skel_);
}

std::uint32_t Tracer::kinds_off() const {
  std::uint32_t on = 0;
  for (const auto& h : hooks_)
    if (!h.error) on |= h.kinds;
  return asked_ & ~on;
}

Result<int> Tracer::poll(std::chrono::milliseconds timeout, const RecordFn& on_record) {
  if (ring_ == nullptr) return fail_text("cs_events", Msg::err_bpf_no_events);
  on_record_ = &on_record;
  const int n = ring_buffer__consume(ring_);
  if (n > 0) {
    on_record_ = nullptr;
    return n;
  }
  const int r = ring_buffer__poll(ring_, static_cast<int>(timeout.count()));
  on_record_ = nullptr;
  if (r == -EINTR) return 0;
  if (r < 0) return fail_text("cs_events", Msg::err_bpf_poll_ring, {}, -r);
  return r;
}

Result<void> Tracer::remember_listener(std::uint16_t port, std::uint32_t pid, std::string_view comm) {
  cs_listen_key key{};
  key.netns = netns_;
  key.port = port;
  cs_owner owner{};
  owner.pid = pid;
  std::memcpy(owner.comm, comm.data(), std::min(comm.size(), sizeof owner.comm - 1));
  if (bpf_map__update_elem(skel_->maps.cs_listen_owners, &key, sizeof key, &owner, sizeof owner, BPF_ANY) != 0)
    return fail_text(fmt::format(":{}", port), Msg::err_bpf_map_update, {{"map", "cs_listen_owners"}}, errno);
  return {};
}

Result<void> Tracer::set_listening_ports(std::span<const std::uint16_t> ports) {
  const std::set<std::uint16_t> want(ports.begin(), ports.end());
  const std::uint8_t yes = 1;
  for (const std::uint16_t p : want) {
    if (listening_.contains(p)) continue;
    const std::uint32_t key = p;
    if (bpf_map__update_elem(skel_->maps.cs_listening, &key, sizeof key, &yes, sizeof yes, BPF_ANY) != 0)
      return fail_text(fmt::format(":{}", p), Msg::err_bpf_map_update, {{"map", "cs_listening"}}, errno);
  }
  for (const std::uint16_t p : listening_) {
    if (want.contains(p)) continue;
    const std::uint32_t key = p;
    (void)bpf_map__delete_elem(skel_->maps.cs_listening, &key, sizeof key, 0);
  }
  listening_ = want;
  return {};
}

namespace {

// The calls of a program the kernel skipped because it was already running on that CPU
// (bpf_prog_info.recursion_misses, Linux 5.12 and later); 0 before, and for a program not loaded.
std::uint64_t recursion_misses(const struct bpf_program* prog) {
  const int fd = prog == nullptr ? -1 : bpf_program__fd(prog);
  if (fd < 0) return 0;
  bpf_prog_info info{};
  std::uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return 0;
  return info.recursion_misses;
}

}  // namespace

namespace {

// A per-CPU map's value for one key, summed over the CPUs.
class PerCpuSum {
 public:
  explicit PerCpuSum(int ncpus) : values_(static_cast<std::size_t>(ncpus)) {}
  bool read(const struct bpf_map* map, const void* key, std::size_t key_size) {
    if (bpf_map__lookup_elem(map, key, key_size, values_.data(), values_.size() * sizeof(std::uint64_t), 0) != 0)
      return false;
    sum_ = 0;
    for (auto v : values_) sum_ += v;
    return true;
  }
  [[nodiscard]] std::uint64_t sum() const { return sum_; }

 private:
  std::vector<std::uint64_t> values_;
  std::uint64_t sum_ = 0;
};

Result<void> read_array(const struct bpf_map* map, int ncpus, std::span<std::uint64_t> into) {
  PerCpuSum v(ncpus);
  for (std::uint32_t i = 0; i < into.size(); ++i) {
    if (!v.read(map, &i, sizeof i)) {
      return fail_text(bpf_map__name(map), Msg::err_bpf_map_read, {{"map", bpf_map__name(map)}}, errno);
    }

    into[i] = v.sum();
  }
  return {};
}

// Every key of a per-CPU hash with its summed value. A key deleted between the two calls is
// skipped (these maps only grow while the programs run).
template <class Key, class Fn>
void for_each_sum(const struct bpf_map* map, int ncpus, Fn fn) {
  PerCpuSum v(ncpus);
  Key key{};
  const void* prev = nullptr;
  while (bpf_map__get_next_key(map, prev, &key, sizeof key) == 0) {
    if (v.read(map, &key, sizeof key)) fn(key, v.sum());
    prev = &key;
  }
}

}  // namespace

Result<KernelCounters> Tracer::counters() const {
  KernelCounters out;
  if (auto r = read_array(skel_->maps.cs_transitions, ncpus_, out.transitions); !r) return std::unexpected(r.error());
  if (auto r = read_array(skel_->maps.cs_counters, ncpus_, out.totals); !r) return std::unexpected(r.error());
  if (auto r = read_array(skel_->maps.cs_held, ncpus_, out.held); !r) return std::unexpected(r.error());

  out.state_missed = recursion_misses(skel_->progs.cs_state);
  for (std::size_t i = 0; i < hooks_.size(); ++i) {
    if (hooks_[i].error || (hooks_[i].kinds & asked_) == 0) continue;
    out.missed += recursion_misses(bpf_object__find_program_by_name(skel_->obj, kHooks[i].program));
  }
  for_each_sum<cs_drop_key>(skel_->maps.cs_drops, ncpus_, [&](const cs_drop_key& k, std::uint64_t n) {
    out.drops.push_back(DropCount{k.reason, k.port, k.protocol, n});
  });
  return out;
}

Result<Aggregates> Tracer::aggregates() const {
  Aggregates out;
  if (auto r = read_array(skel_->maps.cs_matched_transitions, ncpus_, out.transitions); !r)
    return std::unexpected(r.error());
  if (auto r = read_array(skel_->maps.cs_matched_other, ncpus_, out.other); !r) return std::unexpected(r.error());
  for_each_sum<cs_match_key>(skel_->maps.cs_matched, ncpus_, [&](const cs_match_key& k, std::uint64_t n) {
    out.counts.push_back({k, n});
  });
  return out;
}

}  // namespace connscope::bpf
