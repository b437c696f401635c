#pragma once
// Kernel socket summaries and protocol counters from /proc/net: sockstat{,6} (sockets in use,
// orphans, TIME_WAIT, memory) and netstat / snmp / snmp6 (ListenOverflows, RetransSegs, ...),
// plus per-second rates between two samples. These are the O(1) sources `connscope inspect`
// reads every second instead of a full socket dump.
//
// The parsers are pure (text in, values out) so they run on recorded files; `source` names the
// file in errors ("parse /proc/net/netstat line 4: 118 names but 117 values"). Every parser
// rejects empty text and a last line without its newline (a file cut short). The read_*
// functions do the file I/O under a proc root ("/proc", or a recorded tree for tests and
// --replay). /proc/net shows the network namespace of the reading thread.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace connscope::sys {

// /proc/net/sockstat: kernel-maintained gauges, so reading them costs the same with 10 or 10^6
// sockets. Values are signed because the kernel sums per-CPU counters that can be transiently
// negative on old kernels; it prints them as-is.
struct Sockstat {
  std::int64_t sockets_used = 0;  // "sockets: used": every socket of every family
  // inuse counts IPv4 sockets only (IPv6 ones are in sockstat6); orphan, tw, alloc and mem
  // count both families.
  std::int64_t tcp_inuse = 0;      // in the kernel's tables (listening, connected), not TIME_WAIT
  std::int64_t tcp_orphan = 0;     // closed by their process, still in FIN_WAIT/LAST_ACK/CLOSING
  std::int64_t tcp_tw = 0;         // TIME_WAIT
  std::int64_t tcp_alloc = 0;      // allocated TCP sockets, including orphans, excluding TIME_WAIT
  std::int64_t tcp_mem_pages = 0;  // TCP buffer memory in pages (compare with net.ipv4.tcp_mem)
  std::int64_t udp_inuse = 0;
  std::int64_t udp_mem_pages = 0;
};

// /proc/net/sockstat6: the IPv6 counterparts of tcp_inuse and udp_inuse.
struct Sockstat6 {
  std::int64_t tcp6_inuse = 0;
  std::int64_t udp6_inuse = 0;
};

struct SocketSummary {
  Sockstat v4;
  std::optional<Sockstat6> v6;  // absent when the kernel has no IPv6 (ipv6.disable=1)
};

// Fields the kernel adds later (and lines such as RAW, FRAG) are ignored; a missing required
// line or field, an odd key/value list or a non-number is an error naming the file and line.
Result<Sockstat> parse_sockstat(std::string_view text, std::string_view source);
Result<Sockstat6> parse_sockstat6(std::string_view text, std::string_view source);

// Counters keyed "<group>.<name>" as the kernel spells them: "TcpExt.ListenOverflows",
// "Tcp.RetransSegs", "Ip6.InReceives". Lookups take a string_view (transparent comparator).
//
// Values are std::int64_t because one field is signed: Tcp.MaxConn is printed as -1 ("no
// limit"). Every other field is an unsigned long that the kernel prints unsigned; such a value
// is stored as its two's-complement int64, so a gauge that went transiently negative in a
// per-CPU sum (printed as 18446744073709551615) reads back as -1. A real counter cannot reach
// 2^63 (292 years at 10^9 events a second), so nothing is lost for counters.
using Counters = std::map<std::string, std::int64_t, std::less<>>;

// /proc/net/netstat and /proc/net/snmp: pairs of lines, "TcpExt: A B C" then "TcpExt: 1 2 3".
// Errors: a header without its value line, a value line of another group, a count mismatch,
// a non-number, a name that is not a name (two value lines in a row), a repeated key, no text.
Result<Counters> parse_counter_table(std::string_view text, std::string_view source);

// /proc/net/snmp6: "Ip6InReceives   123", one per line. The group is the name up to and
// including its first '6' (Ip6, Icmp6, Udp6, UdpLite6), so "Ip6InReceives" -> "Ip6.InReceives";
// a name without a '6' is kept whole.
Result<Counters> parse_snmp6(std::string_view text, std::string_view source);

// <proc_root>/net/sockstat, and sockstat6 when it exists.
Result<SocketSummary> read_socket_summary(std::string_view proc_root = "/proc");

// <proc_root>/net/netstat and snmp merged into one map, and snmp6 when it exists.
Result<Counters> read_counters(std::string_view proc_root = "/proc");

// The counters `inspect` turns into per-second rates (issue 3), in a stable order.
enum class RateCounter : std::uint8_t {
  listen_overflows,       // TcpExt.ListenOverflows: accept queue full, SYN or ACK dropped
  listen_drops,           // TcpExt.ListenDrops: every drop at a listener (includes the above)
  req_q_full_drop,        // TcpExt.TCPReqQFullDrop: SYN queue full, no syncookies
  req_q_full_do_cookies,  // TcpExt.TCPReqQFullDoCookies: SYN queue full, sent a syncookie
  syncookies_sent,        // TcpExt.SyncookiesSent
  syncookies_recv,        // TcpExt.SyncookiesRecv
  syncookies_failed,      // TcpExt.SyncookiesFailed
  retrans_segs,           // Tcp.RetransSegs
  syn_retrans,            // TcpExt.TCPSynRetrans: SYN and SYN-ACK retransmissions
  out_rsts,               // Tcp.OutRsts
  attempt_fails,          // Tcp.AttemptFails
  estab_resets,           // Tcp.EstabResets
  timeouts,               // TcpExt.TCPTimeouts: retransmission timer expiries
  abort_on_timeout,       // TcpExt.TCPAbortOnTimeout: connection given up after retries
  abort_on_data,          // TcpExt.TCPAbortOnData: RST because data arrived after close
  abort_on_close,         // TcpExt.TCPAbortOnClose: RST because unread data at close
};
inline constexpr std::size_t kRateCounterCount =
    static_cast<std::size_t>(RateCounter::abort_on_close) + 1;

// The Counters key of `c`, e.g. "TcpExt.ListenOverflows".
std::string_view rate_counter_key(RateCounter c);

enum class RateStatus : std::uint8_t {
  missing,         // not in one of the samples: this kernel does not have it (never shown as 0)
  went_backwards,  // smaller in the second sample: wrap or reset (netns recreated, replayed
                   // files out of order); no rate, since any figure would be invented
  ok,
};

struct CounterRate {
  RateStatus status = RateStatus::missing;
  std::int64_t before = 0;  // the samples, when present (for "went from X to Y")
  std::int64_t after = 0;
  std::uint64_t delta = 0;  // after - before, when ok
  double per_second = 0.0;  // delta / dt, when ok
};

struct CounterRates {
  std::array<CounterRate, kRateCounterCount> by_counter{};

  [[nodiscard]] const CounterRate& operator[](RateCounter c) const {
    return by_counter[static_cast<std::size_t>(c)];
  }
};

// Rates between two samples taken `dt` apart (pure). A non-positive dt is an error: two
// samples from a steady clock in the wrong order, or the same sample twice.
Result<CounterRates> compute_counter_rates(const Counters& before, const Counters& after,
                                           std::chrono::nanoseconds dt);

}  // namespace connscope::sys
