#pragma once
// The agent's sampler with eBPF (sampler.h): the exact TCP state distribution every second at a
// cost that does not grow with the number of sockets.
//
// - At creation: the kernel programs (src/bpf) with no events, counters only, and the census's
//   base (watch/census.h): one sock_diag dump between two reads of the transition counters,
//   retried (a few times) until no transition happened during it, so that the census starts
//   exact; when churn never allows that, the last try is taken and the sample says by how many
//   transitions it may be off.
// - Every fast_interval, on the server's thread: the fast tier (sockstat, counters, the LISTEN
//   dump: fast_tier.h) plus the programs' counters (a fixed number of map reads, and one per drop
//   key) applied to the census: FastSample::kernel.
// - On a thread of its own: a full sample (full_tier.h) at start, then every check_interval a
//   full sample and a census dump (taken as the base is), which the server's thread compares
//   with the census brought to the same counters: the drift, and the census rebased on the dump.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "agent/full_tier.h"
#include "agent/kernel_sample.h"
#include "agent/sampler.h"
#include "bpf/tracer.h"
#include "core/error.h"
#include "sys/netlink.h"
#include "watch/census.h"

namespace connscope::agent {

struct BpfSamplerOptions {
  std::chrono::milliseconds fast_interval{1000};
  std::chrono::milliseconds check_interval{600'000};
  FullTierOptions full;
  int census_attempts = 5;  // dumps tried for a census base with no transition during it
};

// A census dump and the counters read just before it.
struct CensusDump {
  watch::DumpCensus dump;
  bpf::KernelCounters at;  // read before the dump
  bool exact = false;      // no transition during it, and a second dump agreed with it
  std::uint64_t moved = 0; // else: the transitions during it (0: the second dump disagreed)
  int attempts = 0;
};

// Dumps until the transition counters read before and after a dump are equal and a second dump
// `settle` later (no transition in between either) shows the same full sockets, at most
// `attempts` times; then the try with the fewest transitions during it. Errors: a read or a dump
// that failed.
Result<CensusDump> stable_census_dump(const std::function<Result<bpf::KernelCounters>()>& read_counters,
                                      sys::DumpSource& dumps, int attempts,
                                      std::chrono::milliseconds settle = std::chrono::milliseconds(10));

// Checks `census`, which has applied the transition counters `now`, against the dump `d` (taken
// after its counters `d.at`, which are at or before `now`): the dump is brought to `now` by the
// transitions between, the states compared (the drift), and the result becomes the census.
CensusCheck check_census(watch::Census& census, const CensusDump& d, const watch::Transitions& now,
                         std::chrono::system_clock::time_point when);

// Owns the tracer, the census, the fast tier (the server's thread) and the full thread. Every
// member is called on the server's thread (see Sampler).
class BpfSampler final : public Sampler {
 public:
  // Errors mean no BPF sampling (the caller falls back to the tiers, saying why): no privilege,
  // no BTF, the programs did not load, the state tracepoint is off, a dump failed.
  static Result<std::unique_ptr<BpfSampler>> create(boost::asio::any_io_executor ex, BpfSamplerOptions options);
  ~BpfSampler() override;

  void start(SampleSink sink) override;
  void stop() override;
  [[nodiscard]] SamplerInfo info() const override;
  [[nodiscard]] std::chrono::milliseconds full_wait() const override;

  struct Impl;

 private:
  explicit BpfSampler(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace connscope::agent
