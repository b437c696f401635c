#pragma once
// What is wrong with what a person typed: targets and URLs, addresses, ports, numbers,
// durations, port lists and target files (core/target, endpoint, number, duration;
// probe/scan_input). Each is the detail of an Error (core/error_text.h), said after the input it
// names. Part of the catalog in text.h (same rules: fmt templates with named arguments).

// clang-format off
#define CONNSCOPE_INPUT_MESSAGES(X)                                                               \
  X(in_missing_host, "missing host")                                                              \
  X(in_bad_ipv4, "not a valid IPv4 address (a host name cannot be only digits and dots)")         \
  X(in_name_too_long, "host name is {length} characters long (at most {max})")                    \
  X(in_empty_label, "empty label in host name (two dots in a row, or a leading dot)")             \
  X(in_label_too_long, "label \"{label}...\" is {length} characters long (at most {max})")        \
  X(in_bad_name_char, "invalid character '{char}' in host name")                                  \
  X(in_label_dash, "label \"{label}\" starts or ends with '-'")                                   \
  X(in_missing_bracket, "missing ']' after the IPv6 address")                                     \
  X(in_empty_brackets, "empty brackets (expected [IPV6] or [IPV6]:PORT)")                         \
  X(in_not_ipv6_quoted, "\"{text}\" is not an IPv6 address")                                      \
  X(in_text_after_bracket, "unexpected text after ']' (expected [IPV6]:PORT)")                    \
  X(in_url_ipv6_brackets, "an IPv6 address in a URL needs brackets (e.g. http://[{address}]/)")   \
  X(in_ipv6_port_ambiguous,                                                                       \
    "ambiguous: an IPv6 address with a port needs brackets, e.g. [{head}]:{port} (or [{text}] "  \
    "for the address alone)")                                                                     \
  X(in_not_ipv6_no_colon, "not an IPv6 address (and a host name has no ':')")                     \
  X(in_missing_host_before_colon, "missing host before ':'")                                      \
  X(in_empty_target,                                                                              \
    "empty target (expected HOST, HOST:PORT, [IPV6]:PORT or a URL such as https://example.com/)") \
  X(in_non_ascii, "non-ASCII characters (write an internationalised name in its xn-- form)")      \
  X(in_space_or_control, "contains a space or a control character")                              \
  X(in_missing_scheme, "missing scheme before \"://\" (known: {known})")                          \
  X(in_unknown_scheme, "unknown scheme \"{scheme}\" (known: {known})")                            \
  X(in_path_needs_scheme, "a path needs a URL scheme (e.g. http://example.com/health)")           \
  X(in_credentials,                                                                               \
    "user names and passwords (user@host) are not accepted: connscope never sends credentials; "  \
    "leave out the part before '@'")                                                              \
  X(in_redirect_scheme, "redirects are followed from http and https targets only")                \
  X(in_empty_location, "an empty Location")                                                       \
  X(in_location_control, "a Location with spaces or control bytes")                               \
  X(in_not_port, "not a port (1-65535)")                                                          \
  X(in_not_port_or_zero, "not a port (0-65535)")                                                  \
  X(in_empty_address, "empty address (expected ADDR:PORT)")                                       \
  X(in_missing_port_ipv6, "missing port after the IPv6 address (expected [ADDR]:PORT)")           \
  X(in_ipv6_needs_brackets, "an IPv6 address with a port needs brackets (e.g. [::1]:8080)")       \
  X(in_not_ipv6, "not an IPv6 address")                                                           \
  X(in_not_numeric_ip, "not a numeric IP address")                                                \
  X(in_not_whole_number, "not a whole number from {min} to {max}")                                \
  X(in_empty_duration, "empty duration (expected e.g. 500ms, 3s, 1m)")                            \
  X(in_not_duration, "not a duration (expected a number and a unit: 500ms, 3s, 1m)")              \
  X(in_unknown_unit, "unknown unit (use ns, us, ms, s, m, h or d)")                               \
  X(in_duration_too_long, "duration too long")                                                    \
  X(in_not_port_number, "\"{item}\" is not a port number")                                        \
  X(in_item_not_port, "{item} is not a port (1-65535)")                                           \
  X(in_empty_port_list, "empty (expected e.g. 1-1024,8080)")                                      \
  X(in_empty_item, "an empty item (two commas in a row, or a trailing comma)")                    \
  X(in_range_backwards, "range {item} ends below its start")                                      \
  X(in_no_targets_in_file, "no targets in it")                                                    \
  /* CLI11's parse errors (cli/parse_error_text.h) */                                            \
  X(cli_required, "{name} is required")                                                           \
  X(cli_value_missing, "{option} needs a value ({type})")                                         \
  X(cli_not_convertible, "Could not convert: {option} = {value}")                                 \
  X(cli_requires, "{option} requires {other}")                                                    \
  X(cli_excludes, "{option} excludes {other}")                                                    \
  X(cli_see_help, " (see connscope --help)")                                                      \
  X(cli_more_than_zero, "must be more than 0")

#define CONNSCOPE_INPUT_PLURALS(X)                                                                \
  X(cli_unexpected_args, args_count, "The following argument was not expected: {args}",          \
    "The following arguments were not expected: {args}")
// clang-format on
