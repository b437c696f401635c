#pragma once
// NETLINK_SOCK_DIAG dumps (the interface `ss` uses): one inet_diag request, every reply message
// streamed to a callback as raw bytes, never stored. Replies can be recorded to a file and
// replayed from it, so the parsers above (src/inspect) are tested on real kernel output.
//
// Recording format: the 8-byte magic "CSNLDMP1", then one record per received datagram: a
// 4-byte length in host byte order (the same order as the netlink data inside) and that many
// bytes, exactly as recvmsg() returned them.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

#include "core/error.h"
#include "sys/unique_fd.h"

struct mnl_socket;

namespace connscope::sys {

// Bit (1 << state) for each kernel TCP state number; kAllTcpStates asks for every state.
constexpr std::uint32_t tcp_state_bit(int state) { return std::uint32_t{1} << state; }
constexpr std::uint32_t kAllTcpStates = 0xFFFFFFFFu;

// The kernel's 4-tuple key of one socket, for an exact lookup (no dump). Addresses in network
// byte order, as inet_diag_sockid carries them (IPv4 in the first word).
struct InetDiagSocketId {
  std::uint16_t local_port = 0;  // host byte order
  std::uint16_t remote_port = 0;
  std::uint32_t local[4] = {};
  std::uint32_t remote[4] = {};
  std::uint32_t interface = 0;
  std::uint64_t cookie = 0;  // 0: any socket with this 4-tuple
};

struct InetDiagRequest {
  // AF_INET or AF_INET6; AF_UNSPEC (TCP only) asks for both families in one walk of the
  // kernel's socket table, through the older TCPDIAG_GETSOCK request (a second walk for IPv6
  // alone costs 20-40 ms at 200k IPv4 sockets, skipping them one by one).
  int family = AF_INET;
  int protocol = IPPROTO_TCP;          // IPPROTO_TCP or IPPROTO_UDP
  std::uint32_t states = kAllTcpStates;  // a mask of tcp_state_bit()s
  bool tcp_info = false;               // ask for INET_DIAG_INFO (struct tcp_info) per socket
  bool meminfo = false;                // ask for INET_DIAG_SKMEMINFO (memory and drop counts)
  // An INET_DIAG_REQ_BYTECODE filter run by the kernel (see inspect/sock_diag.h for a builder);
  // empty: no filter. The kernel rejects invalid bytecode with EINVAL.
  std::vector<std::byte> bytecode;
  // Set: not a dump but the one socket with this id (family AF_INET or AF_INET6). The reply is
  // one message, or the error ENOENT when the socket is gone.
  std::optional<InetDiagSocketId> exact;
  // Receive on a second thread while the sink runs (large dumps; see SockDiagSocket).
  bool overlap = false;

  // "sock_diag dump tcp4", the `op` of every error about this request.
  [[nodiscard]] std::string describe() const;
};

// Receives one netlink message (header included) of type SOCK_DIAG_BY_FAMILY; the bytes are
// valid only during the call. An error stops the dump and is returned by dump().
using MessageSink = std::function<Result<void>(std::span<const std::byte> message)>;

struct DumpStats {
  std::size_t datagrams = 0;
  std::size_t messages = 0;  // messages handed to the sink
  std::size_t bytes = 0;     // datagram bytes received
  // NLM_F_DUMP_INTR: the tables changed during the dump, so a socket may be missing or
  // appear twice. Callers that need exactness may dump again.
  bool interrupted = false;
};

// Appends every datagram it is given to a recording file. Owns the file; one thread.
class DumpRecorder {
 public:
  // Creates (or truncates) `path` and writes the magic.
  static Result<DumpRecorder> create(const std::string& path);
  Result<void> append(std::span<const std::byte> datagram);

 private:
  DumpRecorder(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::string path_;
};

// Where sock_diag replies come from: the kernel or a recording. The kernel boundary.
class DumpSource {
 public:
  virtual ~DumpSource() = default;
  // Runs one dump to its end (NLMSG_DONE), calling `sink` for every socket message; for an
  // `exact` request, the one reply.
  virtual Result<DumpStats> dump(const InetDiagRequest& request, const MessageSink& sink) = 0;
};

// A NETLINK_SOCK_DIAG socket (libmnl) and its receive buffer. Move-only; one thread. Dumps run
// one at a time; a dump stopped early by its sink leaves the kernel mid-dump, so the socket is
// replaced before the next one.
class SockDiagSocket final : public DumpSource {
 public:
  // The receive buffer: the kernel fills at most ~32 KiB per datagram when the reader offers
  // that much; smaller buffers mean more recvmsg calls (see docs/ARCHITECTURE.md).
  static constexpr std::size_t kDefaultBufferSize = 64 * 1024;

  static Result<SockDiagSocket> open(std::size_t buffer_size = kDefaultBufferSize);

  SockDiagSocket(SockDiagSocket&&) noexcept;
  SockDiagSocket& operator=(SockDiagSocket&&) noexcept;
  ~SockDiagSocket() override;

  // Every datagram received from now on is also appended to `recorder` (not owned; must
  // outlive the dumps; nullptr stops recording). A failed append fails the dump.
  void set_recorder(DumpRecorder* recorder) { recorder_ = recorder; }

  Result<DumpStats> dump(const InetDiagRequest& request, const MessageSink& sink) override;

 private:
  struct Closer {
    void operator()(mnl_socket* nl) const noexcept;
  };
  using Handle = std::unique_ptr<mnl_socket, Closer>;

  SockDiagSocket(Handle nl, std::size_t buffer_size);
  static Result<Handle> open_handle();
  // One received datagram: counted, recorded, and its messages handed to the sink.
  Result<void> consume(std::span<const std::byte> datagram, const std::string& op,
                       std::uint32_t portid, const MessageSink& sink, DumpStats& stats, bool& done);
  Result<DumpStats> dump_overlapped(const std::string& op, std::uint32_t portid,
                                    const MessageSink& sink);

  Handle nl_;
  std::vector<std::byte> buffer_;
  std::uint32_t seq_ = 0;
  bool stale_ = false;  // a dump was abandoned mid-way: reopen before the next one
  DumpRecorder* recorder_ = nullptr;
};

// Replays a recording: each dump() call feeds the next recorded dump (up to its NLMSG_DONE, or
// the one datagram of an exact lookup) to the sink; the request is not checked against what was recorded. A truncated or garbled file
// is an error naming the file and offset. Owns the file; one thread.
class DumpReplay final : public DumpSource {
 public:
  static Result<DumpReplay> open(const std::string& path);
  Result<DumpStats> dump(const InetDiagRequest& request, const MessageSink& sink) override;

 private:
  DumpReplay(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::string path_;
  std::uint64_t offset_ = 0;  // into the file, for error messages
  std::vector<std::byte> buffer_;
};

// Walks the netlink messages in one datagram (pure; shared by the socket and the replay).
// Socket messages go to `sink`; NLMSG_ERROR, or an NLMSG_DONE carrying a negative errno, is an
// Error with `op`; messages whose seq or port id differ from `seq`/`portid` are skipped when
// `check_ids` is set (leftovers of an older dump). Sets `done` on NLMSG_DONE.
Result<void> walk_datagram(std::span<const std::byte> datagram, const std::string& op,
                           bool check_ids, std::uint32_t seq, std::uint32_t portid,
                           const MessageSink& sink, DumpStats& stats, bool& done);

}  // namespace connscope::sys
