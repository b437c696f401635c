#include "probe/dns_result.h"

#include "core/error_text.h"

// The pure half of dns.h: names, c-ares statuses as failures and rcodes, the resolver and
// literal parsers, c-ares' addrinfo as an answer, the per-server timing. The other half,
// dns.cpp, runs c-ares on Asio.

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <climits>

#include <fmt/format.h>

namespace connscope::probe {

namespace {

using std::chrono::milliseconds;

// c-ares sends each query this many times per server (the second try waits twice as long).
constexpr int kTriesPerServer = 2;

std::string quoted(std::string_view what, std::string_view text) {
  return fmt::format("{} \"{}\"", what, text);
}

}  // namespace

std::string_view dns_family_name(DnsFamily family) {
  if (family == DnsFamily::v4) return "ipv4";
  if (family == DnsFamily::v6) return "ipv6";
  return "any";
}

std::string_view dns_source_name(DnsSource source) {
  if (source == DnsSource::literal) return "literal";
  if (source == DnsSource::hosts_file) return "hosts";
  return "dns";
}

std::string_view dns_failure_name(DnsFailure failure) {
  switch (failure) {
    case DnsFailure::none: return "none";
    case DnsFailure::nxdomain: return "nxdomain";
    case DnsFailure::servfail: return "servfail";
    case DnsFailure::refused: return "refused";
    case DnsFailure::timeout: return "timeout";
    case DnsFailure::no_address: return "no_address";
    case DnsFailure::unreachable: return "unreachable";
    case DnsFailure::bad_answer: return "bad_answer";
    case DnsFailure::bad_name: return "bad_name";
    case DnsFailure::other: return "other";
  }
  return "other";
}

std::optional<std::string_view> finding_id(DnsFailure failure) {
  switch (failure) {
    case DnsFailure::nxdomain: return "dns.nxdomain";
    case DnsFailure::servfail: return "dns.servfail";
    case DnsFailure::refused: return "dns.refused";
    case DnsFailure::timeout: return "dns.timeout";
    case DnsFailure::no_address: return "dns.no_address";
    case DnsFailure::unreachable: return "dns.unreachable";
    case DnsFailure::bad_answer: return "dns.bad_answer";
    case DnsFailure::none:
    case DnsFailure::bad_name:
    case DnsFailure::other: return std::nullopt;
  }
  return std::nullopt;
}

std::string_view record_type_name(DnsRecordType type) {
  return type == DnsRecordType::a ? "A" : "AAAA";
}

// --- classification -------------------------------------------------------------------------

DnsFailure classify_ares_status(int status) {
  switch (status) {
    case ARES_SUCCESS: return DnsFailure::none;
    case ARES_ENODATA: return DnsFailure::no_address;
    case ARES_ENOTFOUND: return DnsFailure::nxdomain;
    case ARES_ESERVFAIL: return DnsFailure::servfail;
    case ARES_EREFUSED: return DnsFailure::refused;
    case ARES_ETIMEOUT: return DnsFailure::timeout;
    case ARES_ECONNREFUSED: return DnsFailure::unreachable;
    case ARES_EFORMERR:
    case ARES_ENOTIMP:
    case ARES_EBADRESP: return DnsFailure::bad_answer;
    case ARES_EBADNAME: return DnsFailure::bad_name;
    default: return DnsFailure::other;
  }
}

std::optional<int> rcode_from_ares_status(int status) {
  switch (status) {
    case ARES_SUCCESS:
    case ARES_ENODATA: return 0;
    case ARES_EFORMERR: return 1;
    case ARES_ESERVFAIL: return 2;
    case ARES_ENOTFOUND: return 3;
    case ARES_ENOTIMP: return 4;
    case ARES_EREFUSED: return 5;
    default: return std::nullopt;
  }
}

std::string_view rcode_name(int rcode) {
  static constexpr std::string_view kNames[] = {"NOERROR", "FORMERR",  "SERVFAIL", "NXDOMAIN",
                                                "NOTIMP",  "REFUSED",  "YXDOMAIN", "YXRRSET",
                                                "NXRRSET", "NOTAUTH",  "NOTZONE"};
  if (rcode < 0 || rcode >= static_cast<int>(std::size(kNames))) return "unknown";
  return kNames[rcode];
}

std::string_view ares_status_name(int status) {
  static constexpr std::string_view kNames[] = {
      "ARES_SUCCESS",     "ARES_ENODATA",      "ARES_EFORMERR",   "ARES_ESERVFAIL",
      "ARES_ENOTFOUND",   "ARES_ENOTIMP",      "ARES_EREFUSED",   "ARES_EBADQUERY",
      "ARES_EBADNAME",    "ARES_EBADFAMILY",   "ARES_EBADRESP",   "ARES_ECONNREFUSED",
      "ARES_ETIMEOUT",    "ARES_EOF",          "ARES_EFILE",      "ARES_ENOMEM",
      "ARES_EDESTRUCTION", "ARES_EBADSTR",     "ARES_EBADFLAGS",  "ARES_ENONAME",
      "ARES_EBADHINTS",   "ARES_ENOTINITIALIZED", "ARES_ELOADIPHLPAPI",
      "ARES_EADDRGETNETWORKPARAMS", "ARES_ECANCELLED"};
  if (status < 0 || status >= static_cast<int>(std::size(kNames))) return "unknown";
  return kNames[status];
}

bool try_next_server(DnsFailure failure) {
  return failure == DnsFailure::servfail || failure == DnsFailure::refused ||
         failure == DnsFailure::timeout || failure == DnsFailure::unreachable ||
         failure == DnsFailure::bad_answer;
}

std::optional<std::size_t> deciding_outcome(std::span<const DnsTypeOutcome> outcomes) {
  if (outcomes.empty()) return std::nullopt;
  auto first = [&](auto pred) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      if (pred(outcomes[i].failure)) return i;
    }
    return std::nullopt;
  };
  if (auto i = first([](DnsFailure f) { return f == DnsFailure::none; })) return i;
  if (auto i = first([](DnsFailure f) { return f == DnsFailure::nxdomain; })) return i;
  if (auto i = first([](DnsFailure f) { return f != DnsFailure::no_address; })) return i;
  return 0;
}

DnsTypeOutcome type_outcome(DnsRecordType type, int ares_status, int timeouts, DnsAnswer answer,
                            bool from_server, bool stopped) {
  DnsTypeOutcome o;
  o.type = type;
  o.ares_status = ares_status;
  if (stopped && (o.ares_status == ARES_ECANCELLED || o.ares_status == ARES_EDESTRUCTION)) {
    o.ares_status = ARES_ETIMEOUT;  // our deadline, not c-ares', ended it
  }
  // A name not in the hosts file, with nothing after it in the lookup order, ends with
  // getaddrinfo's initial status (ECONNREFUSED): it means "not found" there.
  if (!from_server && o.ares_status == ARES_ECONNREFUSED) o.ares_status = ARES_ENOTFOUND;
  o.failure = classify_ares_status(o.ares_status);
  o.timeouts = timeouts;
  o.answer = std::move(answer);
  // getaddrinfo succeeds on a CNAME that leads to no address of the family.
  if (o.failure == DnsFailure::none && o.answer.addresses.empty()) {
    o.failure = DnsFailure::no_address;
  }
  if (from_server) o.rcode = rcode_from_ares_status(o.ares_status);
  return o;
}

std::vector<DnsAddress> addresses_of(std::span<const DnsTypeOutcome> outcomes) {
  std::vector<DnsAddress> out;
  for (const auto& o : outcomes) {
    if (o.failure != DnsFailure::none) continue;
    out.insert(out.end(), o.answer.addresses.begin(), o.answer.addresses.end());
  }
  return out;
}

bool settle_on_last_attempt(DnsResult& r) {
  const DnsAttempt& last = r.attempts.back();
  const auto i = deciding_outcome(last.queries);
  r.source = DnsSource::dns;
  r.failure = last.failure;
  r.server.reset();
  r.rcode.reset();
  if (i) {
    const DnsTypeOutcome& q = last.queries[*i];
    r.rcode = q.rcode;
    if (q.rcode) r.server = last.server;
    r.detail = r.failure == DnsFailure::none ? "" : ares_strerror(q.ares_status);
  }
  r.addresses = addresses_of(last.queries);
  r.cnames.clear();
  for (const auto& o : last.queries) {
    if (!o.answer.cnames.empty()) {
      r.cnames = o.answer.cnames;
      break;
    }
  }
  r.canonical_name = r.cnames.empty() ? "" : r.cnames.back().target;
  return r.failure == DnsFailure::none;
}

bool DnsAttempt::answered() const {
  const auto i = deciding_outcome(queries);
  return i && queries[*i].rcode.has_value();
}

// --- parsing --------------------------------------------------------------------------------

Result<Endpoint> parse_resolver(std::string_view text) {
  constexpr std::string_view what = "--resolver";
  if (text.empty()) return fail_text(quoted(what, text), Msg::err_dns_missing_address);
  // A bare address, with or without brackets: port 53.
  std::string_view bare = text;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') {
    bare = bare.substr(1, bare.size() - 2);
  }
  const std::string host(bare);
  unsigned char buf[sizeof(in6_addr)];
  char canon[INET6_ADDRSTRLEN] = {};
  for (int af : {AF_INET, AF_INET6}) {
    if (inet_pton(af, host.c_str(), buf) == 1) {
      inet_ntop(af, buf, canon, sizeof canon);
      return Endpoint{af, canon, 53};
    }
  }
  // parse_endpoint reads ":53" as every address: no server to ask.
  if (text.front() == ':') {
    return fail_text(quoted(what, text), Msg::err_dns_missing_address);
  }
  return parse_endpoint(text, what);
}

std::optional<DnsAddress> parse_address_literal(std::string_view target) {
  if (target.size() > 2 && target.front() == '[' && target.back() == ']') {
    target = target.substr(1, target.size() - 2);
  }
  std::string_view zone;
  if (const auto pct = target.find('%'); pct != std::string_view::npos) {
    zone = target.substr(pct);
    target = target.substr(0, pct);
  }
  const std::string host(target);
  unsigned char buf[sizeof(in6_addr)];
  char canon[INET6_ADDRSTRLEN] = {};
  if (zone.empty() && inet_pton(AF_INET, host.c_str(), buf) == 1) {
    inet_ntop(AF_INET, buf, canon, sizeof canon);
    return DnsAddress{AF_INET, canon, std::nullopt};
  }
  if (inet_pton(AF_INET6, host.c_str(), buf) == 1 && zone.size() != 1) {
    inet_ntop(AF_INET6, buf, canon, sizeof canon);
    return DnsAddress{AF_INET6, std::string(canon) + std::string(zone), std::nullopt};
  }
  return std::nullopt;
}

DnsAnswer collect_addrinfo(const ares_addrinfo* ai) {
  DnsAnswer answer;
  if (ai == nullptr) return answer;
  for (const ares_addrinfo_cname* c = ai->cnames; c != nullptr; c = c->next) {
    if (c->alias == nullptr || c->name == nullptr) continue;
    answer.cnames.push_back(DnsCname{c->alias, c->name, c->ttl});
  }
  for (const ares_addrinfo_node* n = ai->nodes; n != nullptr; n = n->ai_next) {
    if (n->ai_addr == nullptr) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (n->ai_family == AF_INET && n->ai_addrlen >= sizeof(sockaddr_in)) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(n->ai_addr);
      inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
    } else if (n->ai_family == AF_INET6 && n->ai_addrlen >= sizeof(sockaddr_in6)) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(n->ai_addr);
      inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
    } else {
      continue;
    }
    answer.addresses.push_back(DnsAddress{n->ai_family, text, n->ai_ttl});
  }
  return answer;
}

AresTiming ares_timing(milliseconds share) {
  // Tries 1 and 2 wait T and 2T (c-ares doubles per round through its server list, and each
  // channel has one server), so T = share / 3 spends the share. A small margin lets c-ares'
  // own timeout (with its count of unanswered tries) end the attempt before the hard stop.
  constexpr long long kMaxMs = INT_MAX / 4;
  constexpr long long kMaxMarginMs = 50;
  const long long ms = std::clamp<long long>(share.count(), 0, kMaxMs);
  const long long margin = std::min(ms / 20, kMaxMarginMs);
  const long long per_try = std::max<long long>(1, (ms - margin) / 3);
  return AresTiming{static_cast<int>(per_try), kTriesPerServer};
}

}  // namespace connscope::probe
