#pragma once
// `connscope audit`'s own messages beyond the table words in text.h, and the errors of
// recording and replaying (audit and inspect). Part of the catalog in text.h (same rules: fmt
// templates with named arguments, one X(id, English) per message).

// clang-format off
#define CONNSCOPE_AUDIT_MESSAGES(X)                                                               \
  X(help_audit_record, "Save the netlink replies, the settings and the owners the audit reads into DIR") \
  X(help_audit_replay, "Run from inputs saved with audit --record")                               \
  X(audit_err_no_sysctls, "no kernel setting could be read (is /proc mounted?)")                  \
  X(rec_err_create_dir, "cannot create the folder")                                               \
  X(rec_err_record_and_replay, "cannot be combined with --replay")                               \
  X(inspect_err_pid_needs_owners, "needs the owner scan; leave out --no-owners")
// clang-format on
