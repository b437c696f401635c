#pragma once
// The details of errors from the system and library layers (src/sys, core, inspect, bpf, watch,
// agent, probe): what went wrong, said in the reader's language by Error::message(lang)
// (core/error_text.h). The operation or object stays in Error::op as a token or a path
// ("/proc/net/tcp", "sock_diag dump tcp", "RLIMIT_NOFILE"); the errno stays in Error::code and is
// appended as the system's own text. One message per kind of failure: reuse before adding.
// Part of the catalog in text.h (same rules: fmt templates with named arguments).

// clang-format off
#define CONNSCOPE_ERROR_MESSAGES(X)                                                               \
  /* Files, directories and system calls: op is the path or the call; errno follows. */          \
  X(err_open, "cannot open it")                                                                   \
  X(err_read, "cannot read it")                                                                   \
  X(err_write, "cannot write it")                                                                 \
  X(err_create, "cannot create it")                                                               \
  X(err_list_dir, "cannot list the directory")                                                    \
  X(err_stat, "cannot look it up")                                                                \
  X(err_lock, "cannot lock it")                                                                   \
  X(err_open_socket, "cannot open a {kind} socket")                                               \
  X(err_bind_socket, "cannot bind the {kind} socket")                                             \
  X(err_set_option, "cannot set the socket option {option}")                                      \
  X(err_directory_not_pem, "a directory, not a PEM file")                                            \
  X(err_no_interface, "no such network interface")                                                \
  /* Parsing what the kernel or a file says: op is "PATH" or "PATH:LINE". */                      \
  X(err_malformed_entry, "malformed entry")                                                       \
  X(err_no_final_newline, "no newline at the end (truncated?)")                                   \
  X(err_no_group_prefix, "no \"{prefix}:\" at the start")                                         \
  X(err_name_without_value, "{group} has a name without a value (truncated?)")                    \
  X(err_not_a_number, "{name}: not a number: \"{value}\"")                                        \
  X(err_not_whole_number, "not a whole number: \"{value}\"")                                      \
  X(err_second_line, "a second {group} line")                                                     \
  X(err_file_empty, "empty")                                                                      \
  X(err_no_line, "no {group} line")                                                               \
  X(err_line_without_key, "{group} line without {key}")                                           \
  X(err_also_in_earlier_file, "{name} also in an earlier file")                                   \
  X(err_values_without_names, "{group}: \"{name}\" is not a counter name (values without their names line?)") \
  X(err_expected_values, "expected the values for the {group} names on line {line}, found {found}") \
  X(err_names_values_mismatch, "{names} names but {values} values")                               \
  X(err_appears_twice, "{name} appears twice")                                                    \
  X(err_names_without_values, "{group} names without a values line (truncated?)")                 \
  X(err_expected_name_value, "expected a name and a value, found {fields} fields")                \
  X(err_not_counter_name, "\"{name}\" is not a counter name")                                     \
  X(err_interval_not_positive, "interval must be positive, got {ns} ns")                      \
  X(err_no_max_open_files, "no \"Max open files\" line")                                          \
  X(err_max_open_files_values, "\"Max open files\" without soft and hard values")                 \
  X(err_max_open_files_number, "\"Max open files\": not a number: \"{value}\"")                   \
  X(err_malformed_record, "malformed record")                                                     \
  X(err_write_recording, "cannot write the recording")                                            \
  X(err_unknown_state, "unknown state \"{state}\" ({known})")                                     \
  /* Netlink: op is the dump or request, e.g. "sock_diag dump tcp", "RTM_GETROUTE". */           \
  X(err_nl_closed_early, "the socket closed before the end of the dump")                          \
  X(err_nl_dropped, "the kernel dropped replies (receive buffer overflow); the dump is incomplete") \
  X(err_nl_reply_too_large, "a reply was larger than the {size}-byte receive buffer")            \
  X(err_nl_stray_bytes, "malformed reply: {bytes} stray bytes at offset {offset} of a {size}-byte datagram") \
  X(err_nl_bad_length, "malformed reply: message length {length} at offset {offset} of a {size}-byte datagram") \
  X(err_nl_bad_attribute, "malformed reply: attribute length {length} at offset {offset} of {size} bytes") \
  X(err_nl_bad_error, "malformed reply: {message} error {error}")                                 \
  X(err_nl_short, "malformed reply: short {message}")                                             \
  X(err_nl_overrun, "the kernel reported an overrun")                                             \
  X(err_nl_no_done, "the dump ended without NLMSG_DONE")                                          \
  X(err_nl_no_reply, "no reply from the kernel before the deadline")                              \
  X(err_nl_request_short, "request shorter than a netlink header")                         \
  X(err_nl_bad_family, "the family must be AF_INET, AF_INET6 or (TCP) AF_UNSPEC")                 \
  X(err_nl_unspec_tcp_only, "AF_UNSPEC is for TCP dumps only")                                    \
  X(err_nl_not_protocol, "not an IP protocol")                                                    \
  X(err_nl_bytecode_too_long, "the filter bytecode is too long")                                  \
  X(err_nl_no_thread, "no thread for the overlapped dump")                                        \
  X(err_nl_record_too_large, "datagram of {bytes} bytes is too large to record")                \
  X(err_nl_not_recording, "not a connscope netlink recording (bad magic)")                        \
  X(err_nl_recording_ends, "the recording ends at offset {offset} before the end of the dump (no NLMSG_DONE)") \
  X(err_nl_truncated_header, "truncated record header at offset {offset}")                        \
  X(err_nl_garbled_length, "garbled record length {length} at offset {offset}")                   \
  X(err_nl_truncated_record, "truncated record at offset {offset}: {got} of {length} bytes")      \
  X(err_diag_short_message, "message of {size} bytes is shorter than its header")              \
  X(err_diag_length, "message length {length} does not fit its {size} bytes")                     \
  X(err_diag_type, "unexpected message type {type}")                                              \
  X(err_diag_cut_short, "{message} cut short ({got} of {size} bytes)")                            \
  X(err_diag_family, "unknown address family {family}")                                          \
  X(err_diag_stray, "{bytes} stray bytes after the attributes")                                   \
  X(err_diag_attribute, "attribute {type} has length {length} but {left} bytes remain")           \
  X(err_route_no_answer, "the reply holds neither a route nor an error")                          \
  X(err_link_no_answer, "the reply holds neither a link nor an error")                            \
  X(err_not_numeric_destination, "the destination is not a numeric IPv4 or IPv6 address")        \
  X(err_not_numeric_source, "the source is not a numeric IPv4 or IPv6 address")                  \
  X(err_families_differ, "the source and the destination are of different families")             \
  X(err_route_refused_source, "the kernel refused the source address or interface")              \
  /* Kernel events (eBPF). */                                                                     \
  X(err_no_btf, "the kernel has no BTF (CONFIG_DEBUG_INFO_BTF): kernel events need it")           \
  X(err_parse_btf, "cannot parse the kernel's BTF")                                               \
  X(err_bpf_privilege,                                                                            \
    "loading kernel programs needs root, or CAP_BPF and CAP_PERFMON (e.g. setcap "               \
    "cap_bpf,cap_perfmon+ep on the binary)")                                                      \
  X(err_count_cpus, "cannot count the possible CPUs")                                             \
  X(err_hook_missing, "this kernel does not have it")                                             \
  X(err_bpf_open_object, "cannot open the BPF object")                                            \
  X(err_bpf_size_ring, "cannot size the ring buffer")                                             \
  X(err_bpf_not_in_object, "the BPF program is not in the object")                                \
  X(err_bpf_load, "cannot load the BPF programs")                                                 \
  X(err_bpf_kernel_refused, "the kernel refused the program")                                     \
  X(err_bpf_verifier_refused, "the verifier refused it: {log}")                                   \
  X(err_bpf_attach, "could not attach")                                                           \
  X(err_bpf_all_refused, "the kernel refused every program; the first, {hook}: {reason}")         \
  X(err_bpf_map_update, "cannot update the BPF map {map}")                                        \
  X(err_bpf_map_read, "cannot read the BPF map {map}")                                            \
  X(err_bpf_open_ring, "cannot open the ring buffer")                                             \
  X(err_bpf_poll_ring, "cannot poll the ring buffer")                                             \
  X(err_bpf_no_events, "no events were asked for")                                                \
  X(err_event_unknown_kind_name, "unknown event kind \"{kind}\" (known: state, reset, retransmit, drop, overflow)") \
  X(err_event_size, "record of {size} bytes, expected {expected}")                              \
  X(err_event_unknown_kind, "unknown kind {kind}")                                                \
  X(err_no_address, "no address")                                                                 \
  /* The agent: its HTTP API, metrics, history database and token. */                            \
  X(err_query_target, "\"{target}\" is not a request target")                                     \
  X(err_query_parameter, "unknown parameter \"{name}\"")                                          \
  X(err_query_time,                                                                               \
    "{name} \"{value}\": use Unix milliseconds, \"now\" or a duration back from now (\"-15m\")")  \
  X(err_from_after_to, "from is after to")                                                        \
  X(err_query_series_empty, "series is empty")                                                    \
  X(err_query_too_many_series, "{count} series asked, at most {max} per request")                \
  X(err_step_too_small, "step must be at least 1ms")                                              \
  X(err_step_too_many_points, "step {step} gives more than {max} points over this range")         \
  X(err_query_too_many_points,                                                                    \
    "{series} series of {points} points is more than {max} points: use a larger step or fewer "   \
    "series")                                                                                     \
  X(err_query_limit, "limit \"{value}\": a number from 1 to {max}")                               \
  X(err_metric_name, "not a valid metric name (snake_case: [a-z_][a-z0-9_]*)")                    \
  X(err_metric_no_help, "no HELP text")                                                           \
  X(err_counter_total, "a counter's name must end in _total")                                     \
  X(err_only_counter_total, "only a counter's name may end in _total")                            \
  X(err_label_name, "label name \"{name}\" is not valid (snake_case, no leading __)")            \
  X(err_label_twice, "label {name} appears twice in one sample")                                  \
  X(err_counter_negative, "counter sample {labels} is negative: {value}")                         \
  X(err_samples_same_labels, "two samples with the labels {labels}")                              \
  X(err_metric_twice, "two families with this name")                                              \
  X(err_history_retention, "retention: raw must be positive and at most the rollup retention")   \
  X(err_history_limits, "limits must be positive")                                                \
  X(err_not_a_database, "not an SQLite database (move it aside or choose another --data-dir)")                            \
  X(err_db_damaged, "database is damaged: {reason}")                                          \
  X(err_db_wal_refused, "journal_mode=WAL refused (got {mode})")                                  \
  X(err_db_not_wal, "journal_mode is {mode}, not wal")                                            \
  X(err_db_schema_newer, "schema version {version} is newer than this connscope's ({supported})") \
  X(err_db_not_history, "not a connscope history (the writer creates it)")                        \
  X(err_db_schema_other, "schema version {version}, this connscope reads {supported} (the writer upgrades it)") \
  X(err_series_name_size, "series name of {size} bytes (1 .. {max})")                           \
  X(err_series_not_finite, "series \"{series}\": value is not finite")                        \
  X(err_step_not_positive, "step must be positive")                                               \
  X(err_too_many_points, "{points} points asked, at most {max}: use a larger step")               \
  X(err_finding_no_id, "a finding without an id")                                                 \
  X(err_finding_key_twice, "key \"{key}\" given twice")                                           \
  X(err_finding_no_severity, "{key}: no severity")                                                \
  X(err_finding_evidence, "{key}: evidence is not JSON")                                      \
  X(err_limit_range, "limit {value} (1 .. {max})")                                                \
  X(err_probe_no_target, "a probe result without a target")                                       \
  X(err_probe_stages_json, "{target}: stages are not JSON")                                   \
  X(err_data_dir_busy, "another connscope agent is using it (choose another --data-dir)")        \
  X(err_no_token, "holds no token (delete it to make a new one)")                                 \
  X(err_no_randomness, "no randomness")                                                           \
  X(err_not_numeric_address, "not a numeric address")                                             \
  X(err_listen, "cannot listen on this address")                                                  \
  /* Probes: DNS, route, reach, TLS, talk. */                                                     \
  X(err_dns_missing_address, "missing address (expected IP or IP:PORT)")                          \
  X(err_tls_timeout, "not done within {ms} ms")                                                   \
  X(err_peer_closed, "the peer closed the connection")                                            \
  X(err_no_pem_certificate, "no PEM certificate in it")                                           \
  X(err_no_pem_certificate_reason, "no PEM certificate in it ({reason})")                         \
  X(err_no_pem_key, "no PEM private key in it, or one we cannot read ({reason})")                 \
  X(err_key_mismatch, "this key does not belong to the certificate in {cert}")                    \
  X(err_tls_alert_after, "the server sent alert \"{alert}\" after the handshake")                 \
  X(err_icmp_watch, "cannot watch the ICMP socket")                                               \
  X(err_icmp_wait, "cannot wait for ICMP replies")                                                \
  X(err_reach_options,                                                                            \
    "count must be 1-1000, timeouts positive, the interval not negative and the payload at most " \
    "65000 bytes")                                                                                \
  X(err_not_http, "not an HTTP response (no \"HTTP/\" at the start)")                             \
  X(err_http_parse, "the HTTP response cannot be parsed: {reason}")
// clang-format on
