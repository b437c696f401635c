#pragma once
// The doctor's stage lines (cli/doctor_text.h): what each stage found, one clause at a time, and
// the words for the outcomes the JSON names by token. An English outcome text is its token, as
// the lines always showed it. Part of the catalog in text.h (same rules: fmt templates with named
// arguments, one X(id, English) each; plural ones in the _PLURALS list).

// clang-format off
#define CONNSCOPE_DOCTOR_LINE_MESSAGES(X)                                                         \
  X(d_status_ok, "ok")                                                                            \
  X(d_status_warn, "warn")                                                                        \
  X(d_status_fail, "fail")                                                                        \
  X(d_status_skipped, "skipped")                                                                  \
  X(d_list_sep, "; ")                                                                             \
  X(d_resolve_literal, "{name} is an address: no lookup")                                         \
  X(d_resolve_ok, "{name} → {addresses} (from {via})")                                            \
  X(d_resolve_ok_rcode, "{name} → {addresses} (from {via}, {rcode})")                             \
  X(d_resolve_alias, "{alias} is an alias of {target}")                                           \
  X(d_resolve_failed, "{name}: {failure} ({via})")                                                \
  X(d_resolve_failed_rcode, "{name}: {failure} ({via}, {rcode})")                                 \
  X(d_via_hosts_file, "the hosts file")                                                           \
  X(d_via_no_server, "no server answered")                                                        \
  X(d_dns_nxdomain, "nxdomain")                                                                   \
  X(d_dns_servfail, "servfail")                                                                   \
  X(d_dns_refused, "refused")                                                                     \
  X(d_dns_timeout, "timeout")                                                                     \
  X(d_dns_no_address, "no_address")                                                               \
  X(d_dns_unreachable, "unreachable")                                                             \
  X(d_dns_bad_answer, "bad_answer")                                                               \
  X(d_dns_bad_name, "bad_name")                                                                   \
  X(d_dns_other, "other")                                                                         \
  X(d_route_local, "{destination} is this host (dev {interface})")                               \
  X(d_route_link_down, " (link down)")                                                            \
  X(d_route_failed, "{destination}: {outcome}")                                                   \
  X(d_route_failed_error, "{destination}: {outcome} ({error})")                                   \
  X(d_route_no_route, "no_route")                                                                 \
  X(d_route_unreachable_route, "unreachable_route")                                               \
  X(d_route_prohibited_route, "prohibited_route")                                                 \
  X(d_route_blackhole_route, "blackhole_route")                                                   \
  X(d_route_error, "error")                                                                       \
  X(d_reach_unavailable, "ICMP unavailable here ({reason}): says nothing about the host")        \
  X(d_reach_replies, "{destination}: {received}/{sent} echo replies")                             \
  X(d_reach_replies_rtt, "{destination}: {received}/{sent} echo replies, rtt min/avg/max {min}/{avg}/{max}") \
  X(d_reach_icmp, ", {icmp}")                                                                     \
  X(d_reach_maybe_filtered, " (ICMP may be filtered: not a sign the host is down)")               \
  X(d_this_host, "this host")                                                                     \
  X(d_connect_ok, "{remote} connected in {time}")                                                 \
  X(d_connect_from, " from {local}")                                                              \
  X(d_connect_failed, "{remote} {failure} after {time}")                                          \
  X(d_connect_failed_icmp, "{remote} {failure} ({icmp}) after {time}")                            \
  X(d_connect_refused, "refused")                                                                 \
  X(d_connect_rejected_icmp, "rejected_icmp")                                                     \
  X(d_connect_admin_prohibited, "admin_prohibited")                                               \
  X(d_connect_host_unreachable, "host_unreachable")                                               \
  X(d_connect_no_route, "no_route")                                                               \
  X(d_connect_filtered, "filtered")                                                               \
  X(d_connect_local_port_exhaustion, "local_port_exhaustion")                                     \
  X(d_connect_other, "other")                                                                     \
  X(d_trace_error, "trace could not run: {error}")                                                \
  X(d_trace_no_hop, "trace: no hop answered")                                                     \
  X(d_trace_unreachable, "trace: hop {hop} ({address}) says unreachable")                         \
  X(d_trace_last, "trace: hop {hop} ({address}) answered last")                                   \
  X(d_trace_silent, ", hop {hop} is silent")                                                      \
  X(d_trace_destination, ", the destination")                                                     \
  X(d_repeat, "{attempts} handshakes: {connected} connected, {retransmitted} after resent SYNs, min/median/max {min}/{median}/{max}") \
  X(d_tls_then_refused, "{version} {cipher}, then refused")                                       \
  X(d_tls_peer_sent, ": the peer sent {reply}")                                                   \
  X(d_tls_alert, ": alert {name} ({description})")                                                \
  X(d_tls_verify_error, ": {error}")                                                              \
  X(d_tls_alpn, ", ALPN {alpn}")                                                                  \
  X(d_tls_subject, ", {subject}")                                                                 \
  X(d_tls_verified, ", verified")                                                                 \
  X(d_tls_not_verified, ", NOT verified ({error})")                                               \
  X(d_tls_ok, "ok")                                                                               \
  X(d_tls_not_tls, "not_tls")                                                                     \
  X(d_tls_alert_outcome, "alert")                                                                 \
  X(d_tls_client_cert_required, "client_cert_required")                                           \
  X(d_tls_cert_expired, "cert_expired")                                                           \
  X(d_tls_cert_not_yet_valid, "cert_not_yet_valid")                                               \
  X(d_tls_hostname_mismatch, "hostname_mismatch")                                                 \
  X(d_tls_untrusted, "untrusted")                                                                 \
  X(d_tls_chain_incomplete, "chain_incomplete")                                                   \
  X(d_tls_old_protocol, "old_protocol")                                                           \
  X(d_tls_timeout, "timeout")                                                                     \
  X(d_tls_closed_by_peer, "closed_by_peer")                                                       \
  X(d_tls_reset_by_peer, "reset_by_peer")                                                         \
  X(d_tls_other, "other")                                                                         \
  X(d_talk_line, "{protocol}: {what}")                                                            \
  X(d_talk_server, " (Server: {server})")                                                         \
  X(d_talk_redirect, ", redirects to {location}")                                                 \
  X(d_talk_first_byte, ", first byte after {time}")                                               \
  X(d_talk_peer_closed, ", the peer closed with {how}")                                           \
  X(d_talk_ok, "ok")                                                                              \
  X(d_talk_slow_first_byte, "slow_first_byte")                                                    \
  X(d_talk_http_4xx, "http_4xx")                                                                  \
  X(d_talk_http_5xx, "http_5xx")                                                                  \
  X(d_talk_http_no_final, "http_no_final")                                                        \
  X(d_talk_app_error, "app_error")                                                                \
  X(d_talk_unexpected_reply, "unexpected_reply")                                                  \
  X(d_talk_no_response, "no_response")                                                            \
  X(d_talk_silent, "silent")                                                                      \
  X(d_talk_timeout, "timeout")                                                                    \
  X(d_talk_closed_by_peer, "closed_by_peer")                                                      \
  X(d_talk_reset_by_peer, "reset_by_peer")                                                        \
  X(d_talk_failed, "failed")                                                                      \
  X(d_close_none, "the peer did not close within {time}")                                         \
  X(d_close_peer, "the peer closed with {how} {time} after our FIN")                              \
  X(d_mtu_retry, "out of order at the deadline: {out_of_order}; retried with MSS {mss}: {result} ({got})") \
  X(d_mtu_got_through, "got through")                                                             \
  X(d_mtu_stalled_again, "stalled again")                                                         \
  X(d_mtu_no_connect, "did not connect")                                                          \
  X(d_mtu_tls, "TLS {outcome}")                                                                   \
  X(d_mtu_nothing, "nothing")                                                                     \
  X(d_redirect, "redirect: {status} {url} -> {location}")                                         \
  X(d_redirect_unfollowable, "redirects not followed further: {note}")

#define CONNSCOPE_DOCTOR_LINE_PLURALS(X)                                                          \
  X(d_connect_after_retransmits, retransmits, " after {retransmits} SYN retransmission",           \
    " after {retransmits} SYN retransmissions")                                                   \
  X(d_tls_expires, days, ", expires in {days} day", ", expires in {days} days")
// clang-format on
