#pragma once
// The resolve stage's options, results and pure parts (classification of c-ares' statuses,
// address literals, the deciding answer), without Asio: what rules/, the CLI's renderers and the
// agent include. The stage itself, resolve(), is dns.h.

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/endpoint.h"
#include "core/error.h"
#include "probe/stage.h"

struct ares_addrinfo;  // c-ares' getaddrinfo result (ares.h), read by collect_addrinfo

namespace connscope::probe {

enum class DnsFamily { any, v4, v6 };  // -4 / -6
std::string_view dns_family_name(DnsFamily family);  // "any", "ipv4", "ipv6"

enum class DnsSource {
  literal,     // the target was an IP address: no lookup
  hosts_file,  // the hosts file (or c-ares' built-in localhost): no server involved
  dns,         // asked a DNS server (also when every server failed)
};
std::string_view dns_source_name(DnsSource source);  // "literal", "hosts", "dns"

enum class DnsFailure {
  none,         // at least one address of the asked family
  nxdomain,     // dns.nxdomain: the server says the name does not exist (rcode NXDOMAIN)
  servfail,     // dns.servfail: rcode SERVFAIL
  refused,      // dns.refused: rcode REFUSED
  timeout,      // dns.timeout: no answer before the deadline
  no_address,   // dns.no_address: the name exists but has no address of the asked family
  unreachable,  // dns.unreachable: the server's host said nothing listens there (ICMP port
                // unreachable: c-ares' ECONNREFUSED) or the socket could not be opened
  bad_answer,   // dns.bad_answer: FORMERR, NOTIMP or a response c-ares could not parse
  bad_name,     // the name is not a valid DNS name (a usage error, not a finding)
  other,        // anything else (out of memory, c-ares setup): see detail
};
std::string_view dns_failure_name(DnsFailure failure);  // "nxdomain", "no_address", ...
// "dns.nxdomain", ...; nullopt for none, bad_name and other.
std::optional<std::string_view> finding_id(DnsFailure failure);

// --- pure helpers (unit-tested) -----------------------------------------------------------

// c-ares status (ARES_SUCCESS, ARES_ENOTFOUND, ...) → failure. ARES_SUCCESS is none; a success
// without addresses is decided by the caller (no_address).
DnsFailure classify_ares_status(int status);
// The DNS response code an ares status stands for, when it comes from a server's response
// (ares_query's mapping: NOERROR with answers → SUCCESS, NOERROR without → ENODATA, FORMERR,
// SERVFAIL, NXDOMAIN → ENOTFOUND, NOTIMP, REFUSED); nullopt for local errors and timeouts.
std::optional<int> rcode_from_ares_status(int status);
std::string_view rcode_name(int rcode);  // "NOERROR", "NXDOMAIN", ...; "RCODE<n>" otherwise
std::string_view ares_status_name(int status);  // "ARES_ENOTFOUND", ...

// A failed server attempt that should move on to the next server.
bool try_next_server(DnsFailure failure);

// --resolver IP[:PORT]: "198.18.4.2", "198.18.4.2:5353", "2001:db8::53", "[2001:db8::53]:5353".
// Port 53 when none is given.
Result<Endpoint> parse_resolver(std::string_view text);

struct DnsAddress {
  int family = 0;       // AF_INET or AF_INET6
  std::string address;  // numeric, canonical ("2001:db8::1"; a v6 zone kept as "fe80::1%eth0")
  std::optional<std::int32_t> ttl;  // seconds, from the answer; absent for literals
  friend bool operator==(const DnsAddress&, const DnsAddress&) = default;
};

// The target as an IP address ("198.18.3.2", "2001:db8::1", "[2001:db8::1]", "fe80::1%eth0"),
// or nullopt when it is a name.
std::optional<DnsAddress> parse_address_literal(std::string_view target);

struct DnsCname {
  std::string alias;   // the name that is an alias ...
  std::string target;  // ... of this one
  std::int32_t ttl = 0;
  friend bool operator==(const DnsCname&, const DnsCname&) = default;
};

// What one ares_getaddrinfo result holds: its CNAME chain, in answer order (the hosts file's
// canonical-name entry without an alias is left out), and its addresses. Pure: reads the
// struct, frees nothing.
struct DnsAnswer {
  std::vector<DnsCname> cnames;
  std::vector<DnsAddress> addresses;
};
DnsAnswer collect_addrinfo(const ares_addrinfo* ai);

// How one server's share of the deadline becomes c-ares' per-try timeout and try count.
struct AresTiming {
  int timeout_ms = 0;
  int tries = 0;
};
AresTiming ares_timing(std::chrono::milliseconds share);

// --- the stage ------------------------------------------------------------------------------

struct DnsOptions {
  DnsFamily family = DnsFamily::any;
  // --resolver: ask only this server. nullopt: the system's configuration.
  std::optional<Endpoint> resolver;
  // The whole stage, hosts file and every server included. Must be positive.
  std::chrono::milliseconds timeout{3000};
  // Read this instead of /etc/resolv.conf (tests). Empty: the system's.
  std::string resolv_conf;
};

enum class DnsRecordType { a, aaaa };
std::string_view record_type_name(DnsRecordType type);  // "A", "AAAA"

// One query (A or AAAA) to one server, or to the hosts file.
struct DnsTypeOutcome {
  DnsRecordType type = DnsRecordType::a;
  int ares_status = 0;        // as c-ares reported it (ARES_ETIMEOUT also for our hard stop)
  DnsFailure failure = DnsFailure::other;
  std::optional<int> rcode;   // the response code, when a server answered
  int timeouts = 0;           // tries c-ares saw go unanswered (0 when our hard stop ended it)
  DnsAnswer answer;
};

// The failure of a name from its per-type outcomes (A and AAAA): none if any has an address;
// else NXDOMAIN (the name does not exist, whatever the other said); else the first
// server-side or transport failure (servfail, refused, timeout, ...), since "no data" from one
// type says nothing about the type that failed; else no_address. Returns the index of the
// outcome that decided it (nullopt for an empty list).
std::optional<std::size_t> deciding_outcome(std::span<const DnsTypeOutcome> outcomes);

// One query's outcome as the resolve stage records it from c-ares' callback: the status (our
// own hard stop, `stopped`, turns c-ares' cancellation into a timeout; ECONNREFUSED from the
// hosts file alone means "not found"), its failure, the rcode when a server was asked
// (`from_server`), and no_address for a success without an address of the family.
DnsTypeOutcome type_outcome(DnsRecordType type, int ares_status, int timeouts, DnsAnswer answer,
                            bool from_server, bool stopped);

// Every address of the outcomes that have some, in their order (A before AAAA).
std::vector<DnsAddress> addresses_of(std::span<const DnsTypeOutcome> outcomes);

// One server asked (both types).
struct DnsAttempt {
  Endpoint server;
  std::vector<DnsTypeOutcome> queries;  // A then AAAA, as asked
  DnsFailure failure = DnsFailure::other;  // of this attempt, as deciding_outcome says
  std::chrono::microseconds elapsed{0};
  // The server sent a DNS response to the deciding query (any rcode).
  [[nodiscard]] bool answered() const;
};

struct DnsResult {
  std::string name;  // as asked
  DnsFamily family = DnsFamily::any;
  DnsSource source = DnsSource::dns;
  DnsFailure failure = DnsFailure::other;
  // The server whose response decided the result; absent for literals, the hosts file and
  // when no server answered.
  std::optional<Endpoint> server;
  std::optional<int> rcode;  // that response's code
  std::vector<DnsCname> cnames;  // the chain from the asked name, in order
  std::string canonical_name;    // the last CNAME's target; empty without a CNAME
  std::vector<DnsAddress> addresses;  // A (with -4 or any), then AAAA (with -6 or any)
  std::vector<Endpoint> servers;      // the servers this run could ask, in order
  std::vector<std::string> search;    // search domains in force (none with --resolver)
  std::string lookups;                // c-ares' lookup order: "fb" = hosts file, then DNS
  // The hosts-file queries, when the file was consulted; a name not in it is ARES_ENOTFOUND
  // (failure nxdomain, no rcode).
  std::vector<DnsTypeOutcome> hosts;
  std::vector<DnsAttempt> attempts;   // every server asked, in order
  std::string detail;                 // c-ares' words for the deciding status, or ours
  std::chrono::microseconds elapsed{0};  // the stage's wall time

  [[nodiscard]] bool ok() const { return failure == DnsFailure::none; }
};

// The servers' verdict once r.attempts holds every server asked: the last one decides, as it is
// what a client ends up with (source, failure, rcode, the server that answered, detail,
// addresses, CNAME chain, canonical name). Returns whether the name is resolved.
bool settle_on_last_attempt(DnsResult& r);

}  // namespace connscope::probe
