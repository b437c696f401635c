// The /proc text parsers: sockstat and sockstat6, the netstat / snmp counter tables and snmp6
// (sys/proc_counters.h), /proc/net/tcp and tcp6 (sys/proc_net.h), the port-range sysctl
// (sys/sysctl.h), the fd link target of the owner scan, and the owner records of a recording
// (inspect/owners.h). Every parser sees the whole input: they share lines, numbers and keys.

#include <netinet/in.h>

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "fuzz_check.h"
#include "inspect/owners.h"
#include "sys/proc_counters.h"
#include "sys/proc_net.h"
#include "sys/sysctl.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace connscope;
  const auto text = fuzz::text(data, size);
  (void)sys::parse_sockstat(text, "sockstat");
  (void)sys::parse_sockstat6(text, "sockstat6");
  if (auto table = sys::parse_counter_table(text, "netstat")) {
    // Rates between the table and itself: every counter present, none went backwards.
    auto rates = sys::compute_counter_rates(*table, *table, std::chrono::seconds(1));
    fuzz::check(rates.has_value(), "rates of a table with itself");
    for (const auto& rate : rates->by_counter) {
      fuzz::check(rate.status != sys::RateStatus::went_backwards, "no counter went backwards");
    }
  }
  (void)sys::parse_snmp6(text, "snmp6");
  (void)sys::parse_proc_net_tcp(text, AF_INET);
  (void)sys::parse_proc_net_tcp(text, AF_INET6);
  if (auto range = sys::parse_port_range(text)) {
    (void)range->first;
  }
  (void)sys::socket_inode_from_link(text);
  if (auto owners = inspect::parse_owner_records(text)) {
    // What --record writes back must read back the same.
    const auto again = inspect::format_owner_records(*owners, nullptr);
    auto reparsed = inspect::parse_owner_records(again);
    fuzz::check(reparsed.has_value(), "owner records round trip");
    fuzz::check(inspect::format_owner_records(*reparsed, nullptr) == again,
                "owner records round trip is stable");
  }
  return 0;
}
