#pragma once
// How the agent samples this machine, behind one interface, so that the agent's core (agent.cpp:
// the latest samples, history, probes, the routes) stays as it is when the way of sampling
// changes. The core starts and stops a sampler and receives what it takes through a SampleSink,
// always on the server's thread; how and when samples are taken, on which threads, and at what
// cost, is the sampler's business.
//
// Two samplers: BpfSampler (bpf_sampler.h), the default when the kernel programs load: its
// fast sample carries the exact state distribution kept by the eBPF census
// (FastSample::kernel), and its full sample, every check interval, is also the census's check;
// and TierSampler (tier_sampler.h): the fast tier every second on the server's thread, a full
// sock_diag dump every 10 s on a thread of its own. The core renders whatever optional fields
// are present.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "agent/fast_tier.h"
#include "agent/full_tier.h"
#include "core/error.h"

namespace connscope::agent {

enum class SampleTier { fast, full };

// What a sampler says about itself: the snapshot's `sampler` object (docs/json.md) and the
// dashboard's "sampling" line.
struct SamplerInfo {
  std::string kind;                           // "bpf" or "tiers"
  std::chrono::milliseconds fast_interval{};  // how often a fast sample comes
  std::chrono::milliseconds full_interval{};  // how often a full sample comes (at the least)
  bool bpf = false;                           // whether BPF sampling is on
  // Why BPF sampling is off, as the agent's caller said it; empty: not said (null in the JSON).
  std::string bpf_off_reason;
};

// Where a sampler's results go. Each callback is called on the server's thread only (the
// executor the sampler was made with), and never after Sampler::stop() has returned.
struct SampleSink {
  std::function<void(std::shared_ptr<const FastSample>)> fast;
  std::function<void(std::shared_ptr<const FullSample>)> full;
  // A sample of `tier` could not be taken; the next good one of that tier replaces the error.
  std::function<void(SampleTier tier, const Error& error)> error;
};

// A sampler is made, started, asked and stopped on the server's thread (or before that thread
// runs its io_context).
class Sampler {
 public:
  virtual ~Sampler() = default;
  Sampler() = default;
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // Begins sampling. The first fast sample (or its error) is delivered before start returns,
  // so that the first request, and the probes of the machine's listeners, have it. Once.
  virtual void start(SampleSink sink) = 0;
  // Ends sampling and joins whatever threads the sampler runs; no callback comes after it
  // returns. Idempotent; the destructor calls it.
  virtual void stop() = 0;

  [[nodiscard]] virtual SamplerInfo info() const = 0;
  // The wait after the latest full sample (0 before the first one): the full interval, or
  // longer when the sampler stretches it (the snapshot's `full_wait_ms`).
  [[nodiscard]] virtual std::chrono::milliseconds full_wait() const = 0;
};

}  // namespace connscope::agent
