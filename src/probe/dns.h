#pragma once
// The resolve stage: a name to its addresses with c-ares, with the evidence a person needs when
// it fails (DESIGN.md, "resolve"): which server answered, the response code, the CNAME chain,
// every A/AAAA with its TTL, and the time taken.
//
// How a name is looked up (like getaddrinfo, but every step is recorded):
// - An IP literal is not looked up at all (source literal).
// - Without --resolver, the lookup order of /etc/nsswitch.conf ("files dns" → the hosts file,
//   then DNS) and resolv.conf's servers, search domains and ndots apply, as c-ares reads them.
//   With --resolver, only that server is asked, about exactly the name given (no hosts file, no
//   search domains): the question is "what does this server say".
// - The servers are asked one at a time, in their configured order (each with its own c-ares
//   channel), instead of letting c-ares rotate among them: then every answer is known to come
//   from one server, and a server that says SERVFAIL or REFUSED is recorded as such before the
//   next is asked (c-ares 1.18 reports a SERVFAIL/REFUSED it retried as ECONNREFUSED, so the
//   channel runs with ARES_FLAG_NOCHECKRESP and the failover is ours). The next server is asked
//   after a timeout, SERVFAIL, REFUSED, an unreachable port or a broken answer; NXDOMAIN,
//   "no data" and addresses are final. When every server fails, the last one's verdict is the
//   result (what a client ends up with); `attempts` has each.
// - A and AAAA are separate queries (both at once), so each has its own rcode: a server that
//   answers A but fails AAAA shows up as such.
// - The whole stage has one deadline (options.timeout). Each server gets an equal share of what
//   is left; within a share c-ares sends the query twice (timeout about share/3, then twice
//   that, as c-ares doubles it), ending a little before the share does so that c-ares' own
//   timeout reports how many tries went unanswered. An Asio timer at the deadline is the hard
//   stop.
//
// c-ares' sockets are watched by Asio (non-owning stream_descriptors released before c-ares
// closes them) on the caller's executor; no threads, no blocking calls (but for reading
// resolv.conf, nsswitch.conf and the hosts file, which c-ares does synchronously).
//
// Known limits (c-ares 1.18's getaddrinfo API): the name that answered after a search domain
// was appended is not reported unless a CNAME names it; addresses are in c-ares' order (RFC 6724
// sorted) within each family, A before AAAA.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "probe/dns_result.h"

namespace connscope::probe {

// Resolves `name` (or takes it as an IP literal). Never throws for DNS, network or system
// errors: they are the result's failure (other, with detail, when c-ares cannot be set up).
// Runs on `ex` (its io_context thread only); returns by options.timeout plus scheduling slack.
boost::asio::awaitable<DnsResult> resolve(boost::asio::any_io_executor ex, std::string name,
                                          DnsOptions options);

}  // namespace connscope::probe
