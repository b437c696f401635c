#pragma once
// `connscope serve`'s error details (serve/request.h, serve/options.h), part of the catalog in
// text.h (same rules: fmt templates with named arguments, one X(id, English) per message).

// clang-format off
#define CONNSCOPE_SERVE_MESSAGES(X)                                                               \
  X(serve_err_self_signed_and_files, "cannot be combined with --tls-cert/--tls-key")              \
  X(serve_err_tls_partner, "needs its partner (--tls-cert and --tls-key go together)")            \
  X(serve_err_location_control, "control characters are not allowed")                             \
  X(serve_err_demo_addresses, "chooses its own addresses; leave out --listen and --port")         \
  X(serve_err_mode_no_argument, "{mode} takes no argument")                                       \
  X(serve_err_unknown_mode, "unknown mode (one of: {modes})")                                     \
  X(serve_err_keepalive_format, "expected IDLE,INTVL,COUNT (e.g. 60s,10s,5)")                     \
  X(serve_err_keepalive_seconds, "{name} must be whole seconds from 1s to 32767s")                \
  X(serve_err_keepalive_count, "COUNT must be a whole number from 1 to 127")                      \
  X(serve_err_http_status, "not an HTTP status (200-599)")
// clang-format on
