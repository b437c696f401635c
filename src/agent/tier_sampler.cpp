#include "agent/tier_sampler.h"

#include <boost/asio/post.hpp>
#include <optional>

#include "agent/fast_tier.h"
#include "agent/sampler_clock.h"
#include "core/thread_owner.h"
#include "sys/netlink.h"

namespace connscope::agent {

namespace asio = boost::asio;

std::chrono::milliseconds full_wait(std::chrono::milliseconds interval, std::chrono::nanoseconds cost,
                                    double budget) {
  if (budget <= 0) return interval;
  const auto needed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::duration<double, std::nano>(static_cast<double>(cost.count()) / budget));
  return std::max(interval, needed);
}

struct TierSampler::Impl : std::enable_shared_from_this<TierSampler::Impl> {
  Impl(asio::any_io_executor executor, TierSamplerOptions o, sys::SockDiagSocket fast_dumps)
      : options(std::move(o)), ex(std::move(executor)), clock(ex), fast_socket(std::move(fast_dumps)), fast(fast_socket) {}

  const TierSamplerOptions options;
  asio::any_io_executor ex;

  // The server's thread only.
  ThreadOwner owner;
  SamplerClock clock;  // callbacks are made only while it runs
  sys::SockDiagSocket fast_socket;
  FastTier fast;
  SampleSink sink;
  std::chrono::milliseconds wait_after_full{};

  // The full thread only: its own socket, opened there.
  std::optional<Result<sys::SockDiagSocket>> full_dumps;

  void sample_fast() {
    owner.check();
    auto s = fast.sample();
    if (s) {
      sink.fast(std::make_shared<const FastSample>(std::move(*s)));
    } else {
      sink.error(SampleTier::fast, s.error());
    }
  }

  // On the server's thread: what the full thread took, and how long it waits now.
  void full_taken(const Result<std::shared_ptr<const FullSample>>& taken, std::chrono::milliseconds wait) {
    owner.check();
    if (!clock.running()) return;
    wait_after_full = wait;
    if (taken) {
      sink.full(*taken);
    } else {
      sink.error(SampleTier::full, taken.error());
    }
  }

  // One round of the full thread; returns the wait before the next.
  std::chrono::milliseconds full_round() {
    if (!full_dumps) full_dumps = sys::SockDiagSocket::open();
    auto& dumps = *full_dumps;
    Result<FullSample> s = dumps ? take_full_sample(*dumps, options.full)
                                 : Result<FullSample>(std::unexpected(dumps.error()));
    const auto cost = s ? s->cpu : std::chrono::nanoseconds{};
    Result<std::shared_ptr<const FullSample>> taken =
        s ? Result<std::shared_ptr<const FullSample>>(std::make_shared<const FullSample>(std::move(*s)))
          : std::unexpected(s.error());
    const auto wait = agent::full_wait(options.full_interval, cost, options.full_cpu_budget);
    asio::post(ex, [weak = weak_from_this(), taken = std::move(taken), wait] {
      if (auto self = weak.lock()) self->full_taken(taken, wait);
    });
    return wait;
  }
};

Result<std::unique_ptr<TierSampler>> TierSampler::create(asio::any_io_executor ex, TierSamplerOptions options) {
  auto dumps = sys::SockDiagSocket::open();
  if (!dumps) return std::unexpected(dumps.error());
  return std::unique_ptr<TierSampler>(
      new TierSampler(std::make_shared<Impl>(std::move(ex), std::move(options), std::move(*dumps))));
}

TierSampler::~TierSampler() { stop(); }

// The clock's callbacks hold the Impl raw: the slow thread is joined and the fast timer
// cancelled (its handler checks the clock) by stop(), before the Impl can go.
void TierSampler::start(SampleSink sink) {
  Impl& d = *impl_;
  d.owner.check();
  if (d.clock.running()) return;
  d.sink = std::move(sink);
  d.clock.start(d.options.fast_interval, [p = &d] { p->sample_fast(); }, [p = &d] { return p->full_round(); });
}

void TierSampler::stop() {
  Impl& d = *impl_;
  d.owner.check();
  d.clock.stop();
}

SamplerInfo TierSampler::info() const {
  const auto& o = impl_->options;
  return SamplerInfo{.kind = "tiers",
                     .fast_interval = o.fast_interval,
                     .full_interval = o.full_interval,
                     .bpf = false,
                     .bpf_off_reason = o.bpf_off_reason};
}

std::chrono::milliseconds TierSampler::full_wait() const {
  impl_->owner.check();
  return impl_->wait_after_full;
}

}  // namespace connscope::agent
