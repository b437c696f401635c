#pragma once
// The ICMP and ICMPv6 types and codes in words (probe/icmp.cpp's one table), and the sentence that
// describes an ICMP error with its numbers. Part of the catalog in text.h (same rules: fmt
// templates with named arguments, one X(id, English) per message). The English words are also
// what JSON evidence and logs quote.

// clang-format off
#define CONNSCOPE_ICMP_MESSAGES(X)                                                                \
  X(icmp_echo_reply, "echo reply")                                                                \
  X(icmp_dest_unreachable, "destination unreachable")                                             \
  X(icmp_net_unreachable, "net unreachable")                                                      \
  X(icmp_host_unreachable, "host unreachable")                                                    \
  X(icmp_protocol_unreachable, "protocol unreachable")                                            \
  X(icmp_port_unreachable, "port unreachable")                                                    \
  X(icmp_frag_needed, "fragmentation needed")                                                     \
  X(icmp_source_route_failed, "source route failed")                                              \
  X(icmp_net_unknown, "destination network unknown")                                              \
  X(icmp_host_unknown, "destination host unknown")                                                \
  X(icmp_source_host_isolated, "source host isolated")                                            \
  X(icmp_net_prohibited, "network administratively prohibited")                                   \
  X(icmp_host_prohibited, "host administratively prohibited")                                     \
  X(icmp_net_unreachable_tos, "network unreachable for TOS")                                      \
  X(icmp_host_unreachable_tos, "host unreachable for TOS")                                        \
  X(icmp_admin_prohibited, "administratively prohibited")                                         \
  X(icmp_precedence_violation, "host precedence violation")                                       \
  X(icmp_precedence_cutoff, "precedence cutoff in effect")                                        \
  X(icmp_source_quench, "source quench")                                                          \
  X(icmp_redirect, "redirect")                                                                    \
  X(icmp_echo_request, "echo request")                                                            \
  X(icmp_time_exceeded, "time exceeded")                                                          \
  X(icmp_reassembly_time_exceeded, "fragment reassembly time exceeded")                           \
  X(icmp_parameter_problem, "parameter problem")                                                  \
  X(icmp_param_missing_option, "parameter problem: missing a required option")                   \
  X(icmp_param_bad_length, "parameter problem: bad length")                                       \
  X(icmp6_no_route, "no route")                                                                   \
  X(icmp6_beyond_scope, "beyond scope of source address")                                         \
  X(icmp6_address_unreachable, "address unreachable")                                             \
  X(icmp6_policy_fail, "source address failed ingress/egress policy")                            \
  X(icmp6_reject_route, "reject route")                                                           \
  X(icmp6_source_routing_error, "error in source routing header")                                 \
  X(icmp6_packet_too_big, "packet too big")                                                       \
  X(icmp6_unknown_next_header, "unrecognized next header")                                        \
  X(icmp6_unknown_option, "parameter problem: unrecognized option")                               \
  X(icmp_describe_named, "{protocol} {name} (type {type} code {code})")                           \
  X(icmp_describe_numbers, "{protocol} type {type} code {code}")                                  \
  X(icmp_describe_named_from, "{protocol} {name} (type {type} code {code}) from {from}")          \
  X(icmp_describe_numbers_from, "{protocol} type {type} code {code} from {from}")
// clang-format on
