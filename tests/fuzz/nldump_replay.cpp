// `inspect --replay` recordings: a whole .nldump file read by sys::DumpReplay (the magic, the
// record lengths, the datagrams up to NLMSG_DONE), each message parsed as inspect does. The file
// is an in-memory one (memfd) opened through /proc/self/fd, so DumpReplay::open runs unchanged.

#include <netinet/in.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "inspect/sock_diag.h"
#include "sys/netlink.h"

namespace {

// One memfd for the whole run: truncated and rewritten for each input.
int memfd() {
  static const int fd = ::memfd_create("nldump", MFD_CLOEXEC);
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace connscope;
  const int fd = memfd();
  connscope::fuzz::check(fd >= 0, "memfd_create");
  connscope::fuzz::check(::ftruncate(fd, 0) == 0, "ftruncate");
  connscope::fuzz::check(::pwrite(fd, data, size, 0) == static_cast<ssize_t>(size), "pwrite");
  auto replay = sys::DumpReplay::open("/proc/self/fd/" + std::to_string(fd));
  if (!replay) return 0;
  // The recordings of tests/fixtures hold TCP then UDP dumps; each dump() reads at least one
  // record, so the loop ends at the file's end (an error) or after a bounded number of dumps.
  for (int i = 0; i < 64; ++i) {
    sys::InetDiagRequest request;
    request.protocol = (i % 2 == 0) ? IPPROTO_TCP : IPPROTO_UDP;
    const sys::MessageSink sink = [&](std::span<const std::byte> message) -> Result<void> {
      auto record = inspect::parse_sock_diag_message(message, request.protocol);
      if (!record) return std::unexpected(record.error());
      return {};
    };
    auto stats = replay->dump(request, sink);
    if (!stats) break;
  }
  return 0;
}
