// A peer's first bytes: the greeting and reply classifiers of the talk stage
// (probe::describe_reply: HTTP, HTTP/2, SSH, SMTP/FTP, Redis, MySQL, PostgreSQL, TLS records,
// text), the evidence line (summarize), the preview, and the secure stage's test of whether the
// bytes could be TLS at all (probe::could_be_tls). banner.h promises printable ASCII only.

#include <cstddef>
#include <cstdint>

#include "fuzz_check.h"
#include "probe/banner.h"
#include "probe/tls_probe.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace connscope;
  using namespace connscope::probe;
  const auto bytes = fuzz::text(data, size);
  const ReplyDescription reply = describe_reply(bytes);
  fuzz::check(reply.size <= size, "size looked at");
  fuzz::check(fuzz::printable_ascii(reply.version), "version printable");
  fuzz::check(fuzz::printable_ascii(reply.software), "software printable");
  fuzz::check(fuzz::printable_ascii(reply.text), "text printable");
  fuzz::check(fuzz::printable_ascii(reply.state), "state printable");
  fuzz::check(fuzz::printable_ascii(reply.severity), "severity printable");
  fuzz::check(fuzz::printable_ascii(reply.preview), "preview printable");
  fuzz::check(fuzz::printable_ascii(summarize(reply)), "summary printable");
  (void)reply_kind_name(reply.kind);
  fuzz::check(fuzz::printable_ascii(escape_preview(bytes, 16)), "escape_preview printable");
  (void)could_be_tls(bytes);
  return 0;
}
