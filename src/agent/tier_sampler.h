#pragma once
// The agent's sampler by tiers (sampler.h): the fast tier (fast_tier.h) every `fast_interval`
// on the server's thread, and the full tier (full_tier.h) on a thread of its own, every
// `full_interval` or, when a dump costs more CPU than `full_cpu_budget` allows, less often
// (full_wait). The full thread hands its samples to the server's thread by posting them to its
// executor.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "agent/full_tier.h"
#include "agent/sampler.h"
#include "core/error.h"

namespace connscope::agent {

struct TierSamplerOptions {
  std::chrono::milliseconds fast_interval{1000};
  std::chrono::milliseconds full_interval{10000};
  // The full dump's share of one core, on average (AgentOptions::full_cpu_budget).
  double full_cpu_budget = 0.0125;
  FullTierOptions full;
  std::string bpf_off_reason;  // SamplerInfo::bpf_off_reason
};

// How long the full tier waits after a dump that cost `cost` of CPU: `interval`, or longer so
// that its average stays within `budget` of a core (0: no budget).
std::chrono::milliseconds full_wait(std::chrono::milliseconds interval, std::chrono::nanoseconds cost, double budget);

// Owns the fast tier, its timer and its sock_diag socket (the server's thread), and the full
// tier's thread. Every member is called on the server's thread (see Sampler).
class TierSampler final : public Sampler {
 public:
  // Opens the fast tier's sock_diag socket: an error when that is not possible.
  static Result<std::unique_ptr<TierSampler>> create(boost::asio::any_io_executor ex, TierSamplerOptions options);
  ~TierSampler() override;

  void start(SampleSink sink) override;
  void stop() override;
  [[nodiscard]] SamplerInfo info() const override;
  [[nodiscard]] std::chrono::milliseconds full_wait() const override;

  struct Impl;

 private:
  explicit TierSampler(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  // Shared with the timer's handler and what the full thread posts, which may outlive stop().
  std::shared_ptr<Impl> impl_;
};

}  // namespace connscope::agent
