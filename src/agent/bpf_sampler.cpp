#include "agent/bpf_sampler.h"

#include <boost/asio/post.hpp>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "agent/cpu_time.h"
#include "agent/fast_tier.h"
#include "agent/sampler_clock.h"
#include "bpf/kernel_btf.h"
#include "core/thread_owner.h"

namespace connscope::agent {

namespace asio = boost::asio;

namespace {

watch::Transitions transitions_of(const bpf::KernelCounters& c) {
  watch::Transitions t{};
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = c.transitions[i];
  return t;
}

}  // namespace

Result<CensusDump> stable_census_dump(const std::function<Result<bpf::KernelCounters>()>& read_counters,
                                      sys::DumpSource& dumps, int attempts, std::chrono::milliseconds settle) {
  std::optional<CensusDump> best;
  for (int i = 1; i <= std::max(attempts, 1); ++i) {
    auto before = read_counters();
    if (!before) return std::unexpected(before.error());
    auto dump = watch::dump_census(dumps);
    if (!dump) return std::unexpected(dump.error());
    auto after = read_counters();
    if (!after) return std::unexpected(after.error());
    auto moved = transitions_between(transitions_of(*before), transitions_of(*after));
    bool exact = false;
    if (moved == 0) {
      // The tracepoint fires before the kernel stores the new state (and, for CLOSE, before it
      // unhashes the socket): a change counted before the dump may not show in it yet. A second
      // dump a moment later, with no transition in between, that agrees confirms the first.
      std::this_thread::sleep_for(settle);
      auto again = watch::dump_census(dumps);
      if (!again) return std::unexpected(again.error());
      auto last = read_counters();
      if (!last) return std::unexpected(last.error());
      moved = transitions_between(transitions_of(*after), transitions_of(*last));
      exact = moved == 0 && again->full == dump->full;
    }
    if (!best || moved < best->moved || exact) {
      best = CensusDump{std::move(*dump), std::move(*before), exact, moved, i};
    }
    best->attempts = i;
    if (exact) break;
  }
  return std::move(*best);
}

CensusCheck check_census(watch::Census& census, const CensusDump& d, const watch::Transitions& now,
                         std::chrono::system_clock::time_point when) {
  const auto time_wait = census.current().time_wait;
  watch::Census fresh(d.dump, transitions_of(d.at), when);
  fresh.advance(now, time_wait);
  CensusCheck c;
  c.time = when;
  c.drift = census.check(fresh.current(), now, when);
  c.exact = d.exact;
  c.moved = d.moved;
  return c;
}

struct BpfSampler::Impl : std::enable_shared_from_this<BpfSampler::Impl> {
  Impl(asio::any_io_executor executor, BpfSamplerOptions o, std::unique_ptr<bpf::Tracer> t,
       ReasonNames reason_names, sys::SockDiagSocket fast_dumps, CensusDump base)
      : options(std::move(o)),
        ex(std::move(executor)),
        tracer(std::move(t)),
        names(std::move(reason_names)),
        clock(ex),
        fast_socket(std::move(fast_dumps)),
        fast(fast_socket),
        census(base.dump, transitions_of(base.at), std::chrono::system_clock::now()),
        base_exact(base.exact),
        base_moved(base.moved),
        last_raw(std::move(base.at)) {}

  const BpfSamplerOptions options;
  asio::any_io_executor ex;
  // Read from both threads: Tracer::counters() reads the maps and changes nothing.
  const std::shared_ptr<bpf::Tracer> tracer;
  const ReasonNames names;

  // The server's thread only.
  ThreadOwner owner;
  SamplerClock clock;  // callbacks are made only while it runs
  sys::SockDiagSocket fast_socket;
  FastTier fast;
  watch::Census census;
  bool base_exact;
  std::uint64_t base_moved;
  bpf::KernelCounters last_raw;  // the counters last applied to the census
  DropTotals drops;              // accumulated under their labels
  std::set<std::uint16_t> listening;  // the TCP ports listened on at the last fast sample
  std::optional<KernelTotals> last_totals;
  std::chrono::steady_clock::time_point last_at{};
  std::optional<CensusCheck> last_check;
  SampleSink sink;
  std::chrono::milliseconds wait_after_full{};

  // The full thread only: its own socket, opened there; the first round takes no check.
  std::optional<Result<sys::SockDiagSocket>> full_dumps;
  bool first_round = true;

  // Applies counters read now to the drops' totals and the census.
  void advance_to(bpf::KernelCounters now, std::int64_t time_wait) {
    accumulate_drops(drops, last_raw.drops, now.drops, names, listening);
    census.advance(transitions_of(now), time_wait);
    last_raw = std::move(now);
  }

  Result<FastSample> take_fast() {
    auto s = fast.sample();
    if (!s) return s;
    const auto cpu0 = cpu_time(CLOCK_THREAD_CPUTIME_ID);
    auto now = tracer->counters();
    if (!now) return std::unexpected(now.error());
    const auto at = std::chrono::steady_clock::now();
    std::set<std::uint16_t> now_listening;
    for (const auto& l : s->listeners) now_listening.insert(l.local.port);
    if (now_listening != listening) {
      // The programs key drops by these ports only, any other by port 0: churn through
      // ephemeral ports must not add a key to read every second for each port. A port the map
      // has no room for (over 16,384 listeners) has its drops counted as "other", as they are
      // labelled anyway until it is there.
      const std::vector<std::uint16_t> ports(now_listening.begin(), now_listening.end());
      (void)tracer->set_listening_ports(ports);
      listening = std::move(now_listening);
    }
    const std::int64_t time_wait =
        s->sockstat ? static_cast<std::int64_t>(s->sockstat->v4.tcp_tw) : census.current().time_wait;
    advance_to(std::move(*now), time_wait);
    KernelSample k;
    k.states = census.states();
    k.requests_as_of = census.requests_as_of();
    k.base_exact = base_exact;
    k.base_moved = base_moved;
    k.totals = kernel_totals(last_raw, drops);
    if (last_totals && at > last_at) {
      k.per_second = kernel_rates(*last_totals, k.totals, std::chrono::duration<double>(at - last_at).count());
    }
    k.last_check = last_check;
    last_totals = k.totals;
    last_at = at;
    s->kernel = std::move(k);
    s->cpu += cpu_time(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    return s;
  }

  void sample_fast() {
    owner.check();
    auto s = take_fast();
    if (s) {
      sink.fast(std::make_shared<const FastSample>(std::move(*s)));
    } else {
      sink.error(SampleTier::fast, s.error());
    }
  }

  // On the server's thread: the census brought to counters read now, and the check's dump
  // brought to the same counters (the transitions since the counters read before it), compared;
  // the dump's then becomes the census. Counters only grow, so `now` is at or after the dump's.
  Result<void> check_census(const CensusDump& d, std::chrono::system_clock::time_point when) {
    auto now = tracer->counters();
    if (!now) return std::unexpected(now.error());
    advance_to(std::move(*now), census.current().time_wait);
    auto c = agent::check_census(census, d, transitions_of(last_raw), when);
    last_check = std::move(c);
    // The dump is the census's base now: its uncertainty replaces the first one's.
    base_exact = d.exact;
    base_moved = d.moved;
    return {};
  }

  void full_taken(const Result<std::shared_ptr<const FullSample>>& taken,
                  const std::optional<Result<CensusDump>>& check, std::chrono::system_clock::time_point when) {
    owner.check();
    if (!clock.running()) return;
    wait_after_full = options.check_interval;
    if (check) {
      auto checked = *check ? check_census(**check, when) : Result<void>(std::unexpected(check->error()));
      if (!checked) sink.error(SampleTier::full, checked.error());
    }
    if (taken) {
      sink.full(*taken);
    } else {
      sink.error(SampleTier::full, taken.error());
    }
  }

  // One round of the full thread: a full sample at once, then a full sample and a census check
  // every check_interval.
  std::chrono::milliseconds full_round() {
    if (!full_dumps) full_dumps = sys::SockDiagSocket::open();
    auto& dumps = *full_dumps;
    Result<std::shared_ptr<const FullSample>> taken = std::unexpected(Error{});
    std::optional<Result<CensusDump>> check;
    const auto when = std::chrono::system_clock::now();
    if (dumps) {
      auto s = take_full_sample(*dumps, options.full);
      if (!first_round) {
        const auto cpu0 = cpu_time(CLOCK_PROCESS_CPUTIME_ID);
        check = stable_census_dump([this] { return tracer->counters(); }, *dumps, options.census_attempts);
        if (s) s->cpu += cpu_time(CLOCK_PROCESS_CPUTIME_ID) - cpu0;  // the check is the full tier's cost
      }
      taken = s ? Result<std::shared_ptr<const FullSample>>(std::make_shared<const FullSample>(std::move(*s)))
                : std::unexpected(s.error());
    } else {
      taken = std::unexpected(dumps.error());
    }
    first_round = false;
    asio::post(ex, [weak = weak_from_this(), taken = std::move(taken), check = std::move(check), when] {
      if (auto self = weak.lock()) self->full_taken(taken, check, when);
    });
    return options.check_interval;
  }
};

Result<std::unique_ptr<BpfSampler>> BpfSampler::create(asio::any_io_executor ex, BpfSamplerOptions options) {
  bpf::TracerOptions t;
  t.event_mask = 0;  // counters only: no ring events
  t.ring_bytes = std::size_t{4096};
  auto tracer = bpf::Tracer::open(t);
  if (!tracer) return std::unexpected(tracer.error());
  for (const auto& h : (*tracer)->hooks()) {
    // Without the state tracepoint there is no census.
    if (h.program == "cs_state" && h.error) return std::unexpected(*h.error);
  }
  ReasonNames names;
  if (auto btf = bpf::KernelBtf::load()) names = btf->enum_names("skb_drop_reason", "SKB_DROP_REASON_");
  auto dumps = sys::SockDiagSocket::open();
  if (!dumps) return std::unexpected(dumps.error());
  auto base = stable_census_dump([&] { return (*tracer)->counters(); }, *dumps, options.census_attempts);
  if (!base) return std::unexpected(base.error());
  auto impl = std::make_shared<Impl>(std::move(ex), std::move(options), std::move(*tracer), std::move(names),
                                     std::move(*dumps), std::move(*base));
  return std::unique_ptr<BpfSampler>(new BpfSampler(std::move(impl)));
}

BpfSampler::~BpfSampler() { stop(); }

// As TierSampler's: the clock's callbacks hold the Impl raw, and stop() ends them.
void BpfSampler::start(SampleSink sink) {
  Impl& d = *impl_;
  d.owner.check();
  if (d.clock.running()) return;
  d.sink = std::move(sink);
  d.clock.start(d.options.fast_interval, [p = &d] { p->sample_fast(); }, [p = &d] { return p->full_round(); });
}

void BpfSampler::stop() {
  Impl& d = *impl_;
  d.owner.check();
  d.clock.stop();
}

SamplerInfo BpfSampler::info() const {
  const auto& o = impl_->options;
  return SamplerInfo{.kind = "bpf", .fast_interval = o.fast_interval, .full_interval = o.check_interval, .bpf = true,
                     .bpf_off_reason = {}};
}

std::chrono::milliseconds BpfSampler::full_wait() const {
  impl_->owner.check();
  return impl_->wait_after_full;
}

}  // namespace connscope::agent
