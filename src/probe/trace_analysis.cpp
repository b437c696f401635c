#include "probe/trace_result.h"

#include <sys/socket.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace connscope::probe {

using std::chrono::microseconds;

namespace {

bool is_destination_reply(ProbeReply r) {
  return r == ProbeReply::syn_ack || r == ProbeReply::rst || r == ProbeReply::echo_reply ||
         r == ProbeReply::udp_reply;
}

}  // namespace

// ---- names ----

std::string_view trace_mode_name(TraceMode mode) {
  switch (mode) {
    case TraceMode::tcp: return "tcp";
    case TraceMode::udp: return "udp";
    case TraceMode::icmp: return "icmp";
  }
  return "tcp";
}

std::string_view probe_reply_name(ProbeReply reply) {
  switch (reply) {
    case ProbeReply::time_exceeded: return "time_exceeded";
    case ProbeReply::unreachable: return "unreachable";
    case ProbeReply::port_unreachable: return "port_unreachable";
    case ProbeReply::syn_ack: return "syn_ack";
    case ProbeReply::rst: return "rst";
    case ProbeReply::echo_reply: return "echo_reply";
    case ProbeReply::udp_reply: return "udp_reply";
    case ProbeReply::local_error: return "local_error";
    case ProbeReply::timeout: return "timeout";
  }
  return "timeout";
}

bool reply_answered(ProbeReply r) { return r != ProbeReply::timeout && r != ProbeReply::local_error; }

std::string_view hop_loss_name(HopLoss loss) {
  switch (loss) {
    case HopLoss::none: return "none";
    case HopLoss::rate_limited: return "rate_limited";
    case HopLoss::path_loss: return "path_loss";
    case HopLoss::silent: return "silent";
    case HopLoss::no_answer: return "no_answer";
  }
  return "none";
}

std::string_view trace_verdict_name(TraceVerdict verdict) {
  switch (verdict) {
    case TraceVerdict::reached: return "reached";
    case TraceVerdict::stopped: return "stopped";
    case TraceVerdict::unreachable: return "unreachable";
    case TraceVerdict::error: return "error";
  }
  return "error";
}

std::string_view mtu_outcome_name(MtuOutcome outcome) {
  switch (outcome) {
    case MtuOutcome::confirmed: return "confirmed";
    case MtuOutcome::unconfirmed: return "unconfirmed";
    case MtuOutcome::error: return "error";
  }
  return "error";
}

int TraceResult::last_responding_hop() const {
  int last = 0;
  for (const auto& h : hops) {
    if (h.stats.received > 0) last = std::max(last, h.ttl);
  }
  return last;
}

std::optional<std::string> TraceResult::last_responder() const {
  const int last = last_responding_hop();
  for (const auto& h : hops) {
    if (h.ttl == last && !h.responders.empty()) return h.responders.front();
  }
  return std::nullopt;
}

// ---- pure parts ----

ProbeReply classify_icmp_reply(ErrOrigin origin, std::uint8_t type, std::uint8_t code) {
  if (origin == ErrOrigin::icmp) {
    if (type == icmpv4::kTimeExceeded) return ProbeReply::time_exceeded;
    if (type == icmpv4::kDestUnreach && code == icmpv4::kPortUnreach) return ProbeReply::port_unreachable;
    return ProbeReply::unreachable;
  }
  if (origin == ErrOrigin::icmp6) {
    if (type == icmpv6::kTimeExceeded) return ProbeReply::time_exceeded;
    if (type == icmpv6::kDestUnreach && code == icmpv6::kPortUnreach) return ProbeReply::port_unreachable;
    return ProbeReply::unreachable;
  }
  return ProbeReply::local_error;
}

bool is_too_big(ErrOrigin origin, std::uint8_t type, std::uint8_t code) {
  if (origin == ErrOrigin::icmp) return type == icmpv4::kDestUnreach && code == icmpv4::kFragNeeded;
  if (origin == ErrOrigin::icmp6) return type == icmpv6::kPacketTooBig;
  return false;
}

bool destination_answered(const TraceProbe& probe, const std::string& destination) {
  if (!probe.from || *probe.from != destination) return false;
  return is_destination_reply(probe.reply) || probe.reply == ProbeReply::port_unreachable ||
         probe.reply == ProbeReply::unreachable;
}

HopStats hop_stats(std::span<const TraceProbe> probes) {
  HopStats s;
  std::vector<double> rtts;
  for (const auto& p : probes) {
    ++s.sent;
    if (!reply_answered(p.reply)) continue;
    ++s.received;
    if (p.rtt) {
      rtts.push_back(static_cast<double>(p.rtt->count()));
      s.last = *p.rtt;
      if (!s.best || *p.rtt < *s.best) s.best = *p.rtt;
      if (!s.worst || *p.rtt > *s.worst) s.worst = *p.rtt;
    }
  }
  if (s.sent > 0) {
    s.loss_percent = 100.0 * static_cast<double>(s.sent - s.received) / static_cast<double>(s.sent);
  }
  if (!rtts.empty()) {
    double sum = 0;
    for (double v : rtts) sum += v;
    const double mean = sum / static_cast<double>(rtts.size());
    double var = 0;
    for (double v : rtts) var += (v - mean) * (v - mean);
    var /= static_cast<double>(rtts.size());
    s.avg = microseconds(std::llround(mean));
    s.stdev = microseconds(std::llround(std::sqrt(var)));
  }
  return s;
}

std::vector<TraceHop> aggregate_hops(std::span<const TraceProbe> probes,
                                     const std::string& destination, int first_ttl,
                                     int last_ttl) {
  std::vector<TraceHop> hops;
  for (int ttl = first_ttl; ttl <= last_ttl; ++ttl) {
    TraceHop hop;
    hop.ttl = ttl;
    std::vector<std::pair<std::string, int>> counts;  // in order of first answer
    for (const auto& p : probes) {
      if (p.ttl != ttl) continue;
      hop.probes.push_back(p);
      if (destination_answered(p, destination)) hop.destination = true;
      if (!p.from || !reply_answered(p.reply)) continue;
      auto it = std::find_if(counts.begin(), counts.end(),
                             [&](const auto& c) { return c.first == *p.from; });
      if (it == counts.end()) {
        counts.emplace_back(*p.from, 1);
      } else {
        ++it->second;
      }
    }
    std::stable_sort(counts.begin(), counts.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    for (auto& c : counts) hop.responders.push_back(std::move(c.first));
    hop.stats = hop_stats(hop.probes);
    hops.push_back(std::move(hop));
  }
  return hops;
}

void analyze_loss(std::span<TraceHop> hops) {
  for (std::size_t i = 0; i < hops.size(); ++i) {
    TraceHop& h = hops[i];
    if (h.stats.sent == 0 || h.stats.received == h.stats.sent) {
      h.loss = HopLoss::none;
      continue;
    }
    // The least loss at any later hop that was probed: what got through beyond this one.
    std::optional<double> later_min;
    bool later_answered = false;
    for (std::size_t j = i + 1; j < hops.size(); ++j) {
      if (hops[j].stats.sent == 0) continue;
      later_min = later_min ? std::min(*later_min, hops[j].stats.loss_percent)
                            : hops[j].stats.loss_percent;
      later_answered = later_answered || hops[j].stats.received > 0;
    }
    if (h.stats.received == 0) {
      h.loss = later_answered ? HopLoss::silent : HopLoss::no_answer;
      continue;
    }
    if (h.destination || !later_min) {
      h.loss = HopLoss::path_loss;
      continue;
    }
    h.loss = *later_min < h.stats.loss_percent ? HopLoss::rate_limited : HopLoss::path_loss;
  }
}

VerdictInfo decide_verdict(std::span<const TraceProbe> probes, const std::string& destination) {
  VerdictInfo v;
  // The hop where an address first answered with time exceeded: a router's place in the path.
  auto hop_of_router = [&](const std::string& address) -> std::optional<int> {
    std::optional<int> best;
    for (const auto& p : probes) {
      if (p.reply == ProbeReply::time_exceeded && p.from && *p.from == address) {
        best = best ? std::min(*best, p.ttl) : p.ttl;
      }
    }
    return best;
  };
  auto take = [&](const TraceProbe& p) {
    v.answer = p.reply;
    v.origin = p.origin;
    v.icmp_type = p.icmp_type;
    v.icmp_code = p.icmp_code;
    v.error = p.error;
    v.reporter = p.from;
  };

  // Reached: the lowest TTL the destination answered; its most telling answer (a handshake
  // over a reset over an ICMP error) when probes of that TTL differ.
  const TraceProbe* reached = nullptr;
  auto rank = [](ProbeReply r) {
    if (r == ProbeReply::syn_ack || r == ProbeReply::echo_reply || r == ProbeReply::udp_reply) return 0;
    if (r == ProbeReply::rst || r == ProbeReply::port_unreachable) return 1;
    return 2;
  };
  for (const auto& p : probes) {
    if (!destination_answered(p, destination)) continue;
    if (reached == nullptr || p.ttl < reached->ttl ||
        (p.ttl == reached->ttl && rank(p.reply) < rank(reached->reply))) {
      reached = &p;
    }
  }
  if (reached != nullptr) {
    v.verdict = TraceVerdict::reached;
    v.hop = reached->ttl;
    take(*reached);
    return v;
  }

  // A router said unreachable: the lowest TTL that got such an answer. A router that rejects
  // what it forwards answers the TTL that reaches it with time exceeded and the next with the
  // rejection, so its hop is where it answered time exceeded, when it did.
  const TraceProbe* unreach = nullptr;
  for (const auto& p : probes) {
    if (p.reply != ProbeReply::unreachable && p.reply != ProbeReply::port_unreachable) continue;
    if (unreach == nullptr || p.ttl < unreach->ttl) unreach = &p;
  }
  if (unreach != nullptr) {
    v.verdict = TraceVerdict::unreachable;
    take(*unreach);
    v.hop = unreach->ttl;
    if (unreach->from) {
      if (auto h = hop_of_router(*unreach->from)) v.hop = std::min(v.hop, *h);
    }
    return v;
  }

  const TraceProbe* last = nullptr;
  for (const auto& p : probes) {
    if (p.reply != ProbeReply::time_exceeded) continue;
    if (last == nullptr || p.ttl > last->ttl) last = &p;
  }
  if (last != nullptr) {
    v.verdict = TraceVerdict::stopped;
    v.hop = last->ttl;
    v.reporter = last->from;
    v.answer = ProbeReply::time_exceeded;
    return v;
  }

  // Nothing came back. When this host refused to send (no route, a local firewall), that is
  // the answer: unreachable, reported here (hop 0).
  for (const auto& p : probes) {
    if (p.reply == ProbeReply::local_error) {
      v.verdict = TraceVerdict::unreachable;
      v.hop = 0;
      take(p);
      v.reporter.reset();
      return v;
    }
  }
  v.verdict = TraceVerdict::stopped;
  v.hop = 0;
  return v;
}

std::vector<TraceHop> build_hops(std::span<const TraceProbe> probes, const VerdictInfo& verdict,
                                 const std::string& destination, int first_ttl, int max_ttl) {
  int last = max_ttl;
  if (verdict.verdict == TraceVerdict::reached) {
    last = verdict.hop;
  } else if (verdict.verdict == TraceVerdict::unreachable) {
    // Down to the TTL that got the rejection (which may be one past the rejecting router's hop).
    std::optional<int> rejected;
    for (const auto& p : probes) {
      if ((p.reply == ProbeReply::unreachable || p.reply == ProbeReply::port_unreachable) &&
          p.from == verdict.reporter) {
        rejected = rejected ? std::min(*rejected, p.ttl) : p.ttl;
      }
    }
    last = std::max({verdict.hop, rejected.value_or(0), first_ttl});
  } else if (verdict.verdict == TraceVerdict::stopped) {
    last = std::min(max_ttl, std::max(verdict.hop + 1, first_ttl));
  }
  last = std::min(last, max_ttl);
  auto hops = aggregate_hops(probes, destination, first_ttl, last);
  analyze_loss(hops);
  return hops;
}

std::optional<int> hop_of(std::span<const TraceHop> hops, const std::string& address) {
  for (const auto& h : hops) {
    if (std::find(h.responders.begin(), h.responders.end(), address) != h.responders.end()) {
      return h.ttl;
    }
  }
  return std::nullopt;
}

std::size_t udp_payload_for(int family, int packet_size) {
  const int headers = family == AF_INET6 ? 48 : 28;
  return packet_size <= headers ? 0 : static_cast<std::size_t>(packet_size - headers);
}

int next_mtu(int family, int size, std::uint32_t next_hop_mtu) {
  const int minimum = family == AF_INET6 ? 1280 : 68;
  if (next_hop_mtu >= static_cast<std::uint32_t>(minimum) &&
      next_hop_mtu < static_cast<std::uint32_t>(size)) {
    return static_cast<int>(next_hop_mtu);
  }
  // RFC 1191's plateau table, for routers that report no MTU.
  constexpr std::array<int, 11> kPlateaus{65535, 32000, 17914, 8166, 4352, 2002,
                                          1492,  1006,  508,   296,  68};
  for (int p : kPlateaus) {
    if (p < size) return std::max(p, minimum);
  }
  return minimum;
}

}  // namespace connscope::probe
