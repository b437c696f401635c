#include "sys/netlink.h"

#include "core/error_text.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <unistd.h>

#include <array>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace connscope::sys {

namespace {

constexpr std::array<char, 8> kMagic = {'C', 'S', 'N', 'L', 'D', 'M', 'P', '1'};
// No datagram of a netlink dump comes near this (the kernel fills at most ~32 KiB); a larger
// record length means the file is garbled, and we must not allocate whatever it says.
constexpr std::uint32_t kMaxRecord = 1u << 20;
constexpr std::size_t kHeaderLen = sizeof(nlmsghdr);
constexpr std::size_t kAttrHeaderLen = sizeof(nlattr);  // libmnl's MNL_ATTR_HDRLEN, unsigned

constexpr std::size_t align4(std::size_t n) { return (n + 3u) & ~std::size_t{3}; }

// The kernel's error numbers are 1..4095 (MAX_ERRNO). A larger one in an error field comes from
// a garbled recording, and negating INT_MIN would be undefined (found by the sock_diag fuzzer).
constexpr int kMaxErrno = 4095;

Result<void> write_all(int fd, const void* data, std::size_t len, const std::string& path) {
  const auto* p = static_cast<const std::byte*>(data);
  while (len > 0) {
    const ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_text(path, Msg::err_write, {}, errno);
    }
    p += n;
    len -= static_cast<std::size_t>(n);
  }
  return {};
}

// Reads up to `len` bytes, fewer only at end of file. Returns how many were read.
Result<std::size_t> read_full(int fd, void* data, std::size_t len, const std::string& path) {
  auto* p = static_cast<std::byte*>(data);
  std::size_t got = 0;
  while (got < len) {
    const ssize_t n = ::read(fd, p + got, len - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_text(path, Msg::err_read, {}, errno);
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  return got;
}

// Receives one datagram of a dump into `buf`; EINTR is retried, the rest is an error.
Result<std::size_t> receive(mnl_socket* nl, std::span<std::byte> buf, const std::string& op) {
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
    if (n > 0) return static_cast<std::size_t>(n);
    if (n == 0) return fail_text(op, Msg::err_nl_closed_early);
    const int err = errno;
    if (err == EINTR) continue;
    if (err == ENOBUFS) {
      return fail_text(op, Msg::err_nl_dropped, {}, err);
    }
    if (err == ENOSPC) {  // libmnl's word for MSG_TRUNC
      return fail_text(op, Msg::err_nl_reply_too_large, {{"size", std::to_string(buf.size())}});
    }
    return fail_errno(op, err);
  }
}

// Whether this datagram ends the dump (NLMSG_DONE or NLMSG_ERROR for our request), or is too
// malformed to go on; the reader thread of an overlapped dump stops there.
bool ends_dump(std::span<const std::byte> d, std::uint32_t seq, std::uint32_t portid) {
  std::size_t off = 0;
  while (off < d.size()) {
    if (d.size() - off < kHeaderLen) return true;
    nlmsghdr h{};
    std::memcpy(&h, d.data() + off, kHeaderLen);
    if (h.nlmsg_len < kHeaderLen || h.nlmsg_len > d.size() - off) return true;
    if (h.nlmsg_seq == seq && h.nlmsg_pid == portid &&
        (h.nlmsg_type == NLMSG_DONE || h.nlmsg_type == NLMSG_ERROR || h.nlmsg_type == NLMSG_OVERRUN)) {
      return true;
    }
    off += std::min(align4(h.nlmsg_len), d.size() - off);
  }
  return false;
}

}  // namespace

std::string InetDiagRequest::describe() const {
  std::string proto;
  if (protocol == IPPROTO_TCP) {
    proto = "tcp";
  } else if (protocol == IPPROTO_UDP) {
    proto = "udp";
  } else {
    proto = fmt::format("proto{}-", protocol);
  }
  const char* fam = family == AF_INET6 ? "6" : family == AF_INET ? "4" : "";
  return fmt::format("sock_diag {} {}{}", exact ? "get" : "dump", proto, fam);
}

// ---- the walk over one datagram ----

Result<void> walk_datagram(std::span<const std::byte> datagram, const std::string& op,
                           bool check_ids, std::uint32_t seq, std::uint32_t portid,
                           const MessageSink& sink, DumpStats& stats, bool& done) {
  std::size_t off = 0;
  while (off < datagram.size()) {
    const std::size_t left = datagram.size() - off;
    nlmsghdr h{};
    if (left < kHeaderLen) {
      return fail_text(op, Msg::err_nl_stray_bytes,
                       {{"bytes", std::to_string(left)}, {"offset", std::to_string(off)},
                        {"size", std::to_string(datagram.size())}});
    }
    std::memcpy(&h, datagram.data() + off, kHeaderLen);
    if (h.nlmsg_len < kHeaderLen || h.nlmsg_len > left) {
      return fail_text(op, Msg::err_nl_bad_length,
                       {{"length", std::to_string(h.nlmsg_len)}, {"offset", std::to_string(off)},
                        {"size", std::to_string(datagram.size())}});
    }
    const auto message = datagram.subspan(off, h.nlmsg_len);
    const auto payload = message.subspan(kHeaderLen);
    // The last message may end without its alignment padding.
    off += std::min(align4(h.nlmsg_len), left);

    if (check_ids && (h.nlmsg_seq != seq || h.nlmsg_pid != portid)) continue;
    if (h.nlmsg_flags & NLM_F_DUMP_INTR) stats.interrupted = true;

    if (h.nlmsg_type == NLMSG_NOOP) continue;
    if (h.nlmsg_type == NLMSG_DONE) {
      // The kernel may report an error that ended the dump here, as a negative errno.
      if (payload.size() >= sizeof(int)) {
        int err = 0;
        std::memcpy(&err, payload.data(), sizeof err);
        if (err < -kMaxErrno) {
          return fail_text(op, Msg::err_nl_bad_error,
                           {{"message", "NLMSG_DONE"}, {"error", std::to_string(err)}});
        }
        if (err < 0) return fail_errno(op, -err);
      }
      done = true;
      return {};
    }
    if (h.nlmsg_type == NLMSG_ERROR) {
      int err = 0;
      if (payload.size() < sizeof err) {
        return fail_text(op, Msg::err_nl_short, {{"message", "NLMSG_ERROR"}});
      }
      std::memcpy(&err, payload.data(), sizeof err);
      if (err == 0) continue;  // an acknowledgement
      if (err < -kMaxErrno || err > kMaxErrno) {
        return fail_text(op, Msg::err_nl_bad_error,
                         {{"message", "NLMSG_ERROR"}, {"error", std::to_string(err)}});
      }
      return fail_errno(op, err < 0 ? -err : err);
    }
    if (h.nlmsg_type == NLMSG_OVERRUN) return fail_text(op, Msg::err_nl_overrun);
    ++stats.messages;
    if (auto r = sink(message); !r) return r;
  }
  return {};
}

// ---- recording ----

Result<DumpRecorder> DumpRecorder::create(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return fail_text(path, Msg::err_create, {}, errno);
  if (auto r = write_all(fd.get(), kMagic.data(), kMagic.size(), path); !r) {
    return std::unexpected(r.error());
  }
  return DumpRecorder(std::move(fd), path);
}

Result<void> DumpRecorder::append(std::span<const std::byte> datagram) {
  if (datagram.size() > kMaxRecord) {
    return fail_text(path_, Msg::err_nl_record_too_large, {{"bytes", std::to_string(datagram.size())}});
  }
  const auto len = static_cast<std::uint32_t>(datagram.size());
  if (auto r = write_all(fd_.get(), &len, sizeof len, path_); !r) return r;
  return write_all(fd_.get(), datagram.data(), datagram.size(), path_);
}

// ---- the live socket ----

void SockDiagSocket::Closer::operator()(mnl_socket* nl) const noexcept { mnl_socket_close(nl); }

SockDiagSocket::SockDiagSocket(Handle nl, std::size_t buffer_size)
    : nl_(std::move(nl)), buffer_(buffer_size) {}
SockDiagSocket::SockDiagSocket(SockDiagSocket&&) noexcept = default;
SockDiagSocket& SockDiagSocket::operator=(SockDiagSocket&&) noexcept = default;
SockDiagSocket::~SockDiagSocket() = default;

Result<SockDiagSocket::Handle> SockDiagSocket::open_handle() {
  Handle nl(mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC));
  if (!nl) return fail_text("sock_diag", Msg::err_open_socket, {{"kind", "netlink"}}, errno);
  if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return fail_text("sock_diag", Msg::err_bind_socket, {{"kind", "netlink"}}, errno);
  }
  return nl;
}

Result<SockDiagSocket> SockDiagSocket::open(std::size_t buffer_size) {
  // Below a page the kernel would still send page-sized datagrams, which then fail as truncated.
  if (buffer_size < 8192) buffer_size = 8192;
  auto nl = open_handle();
  if (!nl) return std::unexpected(nl.error());
  return SockDiagSocket(std::move(*nl), buffer_size);
}

Result<DumpStats> SockDiagSocket::dump(const InetDiagRequest& request, const MessageSink& sink) {
  const std::string op = request.describe();
  const bool unspec = request.family == AF_UNSPEC;
  if (!unspec && request.family != AF_INET && request.family != AF_INET6) {
    return fail_text(op, Msg::err_nl_bad_family);
  }
  if (unspec && (request.protocol != IPPROTO_TCP || request.exact)) {
    return fail_text(op, Msg::err_nl_unspec_tcp_only);
  }
  if (request.protocol < 0 || request.protocol > 255) return fail_text(op, Msg::err_nl_not_protocol);
  if (request.bytecode.size() > 0xFFFFu - kAttrHeaderLen) {
    return fail_text(op, Msg::err_nl_bytecode_too_long);
  }
  if (stale_ || !nl_) {
    auto nl = open_handle();
    if (!nl) return std::unexpected(nl.error());
    nl_ = std::move(*nl);
    stale_ = false;
  }

  // The request: nlmsghdr, inet_diag_req_v2 (or the older inet_diag_req, which alone takes
  // AF_UNSPEC), then the optional bytecode attribute.
  const std::size_t req_len = unspec ? sizeof(inet_diag_req) : sizeof(inet_diag_req_v2);
  std::vector<std::byte> out(align4(kHeaderLen) + align4(req_len) + kAttrHeaderLen +
                             align4(request.bytecode.size()));
  nlmsghdr* nlh = mnl_nlmsg_put_header(out.data());
  nlh->nlmsg_type = unspec ? TCPDIAG_GETSOCK : SOCK_DIAG_BY_FAMILY;
  nlh->nlmsg_flags = request.exact ? NLM_F_REQUEST : NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = ++seq_;
  const auto ext = (request.tcp_info ? std::uint8_t{1} << (INET_DIAG_INFO - 1) : 0) |
                   (request.meminfo ? std::uint8_t{1} << (INET_DIAG_SKMEMINFO - 1) : 0);
  if (unspec) {
    auto* req = static_cast<inet_diag_req*>(mnl_nlmsg_put_extra_header(nlh, req_len));
    req->idiag_family = AF_UNSPEC;
    req->idiag_states = request.states;
    req->idiag_ext = static_cast<std::uint8_t>(ext);
  } else {
    auto* req = static_cast<inet_diag_req_v2*>(mnl_nlmsg_put_extra_header(nlh, req_len));
    req->sdiag_family = static_cast<std::uint8_t>(request.family);
    req->sdiag_protocol = static_cast<std::uint8_t>(request.protocol);
    req->idiag_states = request.states;
    req->idiag_ext = static_cast<std::uint8_t>(ext);
    if (request.exact) {
      const InetDiagSocketId& id = *request.exact;
      req->id.idiag_sport = htons(id.local_port);
      req->id.idiag_dport = htons(id.remote_port);
      std::memcpy(req->id.idiag_src, id.local, sizeof id.local);
      std::memcpy(req->id.idiag_dst, id.remote, sizeof id.remote);
      req->id.idiag_if = id.interface;
      if (id.cookie == 0) {
        req->id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
        req->id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
      } else {
        req->id.idiag_cookie[0] = static_cast<std::uint32_t>(id.cookie);
        req->id.idiag_cookie[1] = static_cast<std::uint32_t>(id.cookie >> 32);
      }
    }
  }
  if (!request.bytecode.empty()) {
    mnl_attr_put(nlh, INET_DIAG_REQ_BYTECODE, request.bytecode.size(), request.bytecode.data());
  }

  for (;;) {
    if (mnl_socket_sendto(nl_.get(), nlh, nlh->nlmsg_len) >= 0) break;
    if (errno != EINTR) return fail_errno(op, errno);
  }

  // From here on an early return leaves the kernel mid-dump.
  stale_ = true;
  const std::uint32_t portid = mnl_socket_get_portid(nl_.get());
  if (request.overlap && !request.exact) {
    if (auto r = dump_overlapped(op, portid, sink); r || !stale_) return r;
  }
  DumpStats stats;
  bool done = false;
  while (!done) {
    auto n = receive(nl_.get(), buffer_, op);
    if (!n) return std::unexpected(n.error());
    if (auto r = consume(std::span(buffer_.data(), *n), op, portid, sink, stats, done); !r) {
      // An NLMSG_ERROR ends the kernel's side of the dump; anything else may not have. An exact
      // lookup's one reply has been read whatever it was.
      if (request.exact) stale_ = false;
      return std::unexpected(r.error());
    }
    if (request.exact) done = true;
  }
  stale_ = false;
  return stats;
}

Result<void> SockDiagSocket::consume(std::span<const std::byte> datagram, const std::string& op,
                                     std::uint32_t portid, const MessageSink& sink, DumpStats& stats,
                                     bool& done) {
  ++stats.datagrams;
  stats.bytes += datagram.size();
  if (recorder_ != nullptr) {
    if (auto r = recorder_->append(datagram); !r) return r;
  }
  return walk_datagram(datagram, op, true, seq_, portid, sink, stats, done);
}

Result<DumpStats> SockDiagSocket::dump_overlapped(const std::string& op, std::uint32_t portid,
                                                  const MessageSink& sink) {
  // A reader thread receives the next datagrams (the kernel fills them during recvmsg) while
  // this thread parses: on two cores the dump costs about the kernel's time, not kernel plus
  // parse. Slots bound the memory; the sink and the recorder run on this thread only.
  struct Slot {
    std::vector<std::byte> data;
    std::size_t len = 0;
  };
  constexpr std::size_t kSlots = 8;
  std::vector<Slot> slots(kSlots);
  for (auto& sl : slots) sl.data.resize(buffer_.size());
  std::mutex m;
  std::condition_variable cv;
  std::vector<Slot*> free_slots;
  for (auto& sl : slots) free_slots.push_back(&sl);
  std::deque<Slot*> full;
  bool reader_done = false;
  std::optional<Error> reader_error;
  mnl_socket* nl = nl_.get();
  const std::uint32_t seq = seq_;

  std::thread reader;
  try {
    reader = std::thread([&] {
      for (;;) {
        Slot* slot = nullptr;
        {
          std::unique_lock lock(m);
          cv.wait(lock, [&] { return !free_slots.empty(); });
          slot = free_slots.back();
          free_slots.pop_back();
        }
        auto n = receive(nl, slot->data, op);
        const bool last = !n || ends_dump(std::span(slot->data.data(), *n), seq, portid);
        {
          std::lock_guard lock(m);
          if (n) {
            slot->len = *n;
            full.push_back(slot);
          } else {
            reader_error = n.error();
            free_slots.push_back(slot);
          }
          reader_done = last;
        }
        cv.notify_all();
        if (last) return;
      }
    });
  } catch (const std::system_error&) {
    return fail_text(op, Msg::err_nl_no_thread);  // stale_ stays: the caller goes serial
  }

  DumpStats stats;
  bool done = false;
  Result<void> status;
  for (;;) {
    Slot* slot = nullptr;
    {
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return !full.empty() || reader_done; });
      if (full.empty()) break;
      slot = full.front();
      full.pop_front();
    }
    // After a failure, keep receiving (and dropping) to the end of the dump, so the socket is
    // ready for the next request.
    if (status && !done) status = consume(std::span(slot->data.data(), slot->len), op, portid, sink, stats, done);
    {
      std::lock_guard lock(m);
      free_slots.push_back(slot);
    }
    cv.notify_all();
  }
  reader.join();
  if (reader_error) return std::unexpected(*reader_error);  // stale_ stays set
  stale_ = false;
  if (!status) return std::unexpected(status.error());
  if (!done) return fail_text(op, Msg::err_nl_no_done);
  return stats;
}

// ---- replay ----

Result<DumpReplay> DumpReplay::open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_text(path, Msg::err_open, {}, errno);
  std::array<char, kMagic.size()> magic{};
  auto got = read_full(fd.get(), magic.data(), magic.size(), path);
  if (!got) return std::unexpected(got.error());
  if (*got != magic.size() || magic != kMagic) {
    return fail_text(path, Msg::err_nl_not_recording);
  }
  DumpReplay replay(std::move(fd), path);
  replay.offset_ = magic.size();
  return replay;
}

Result<DumpStats> DumpReplay::dump(const InetDiagRequest& request, const MessageSink& sink) {
  const std::string op = request.describe();
  const std::string& file_op = path_;
  DumpStats stats;
  bool done = false;
  while (!done) {
    std::uint32_t len = 0;
    auto got = read_full(fd_.get(), &len, sizeof len, path_);
    if (!got) return std::unexpected(got.error());
    if (*got == 0) {
      return fail_text(file_op, Msg::err_nl_recording_ends, {{"offset", std::to_string(offset_)}});
    }
    if (*got != sizeof len) {
      return fail_text(file_op, Msg::err_nl_truncated_header, {{"offset", std::to_string(offset_)}});
    }
    if (len == 0 || len > kMaxRecord) {
      return fail_text(file_op, Msg::err_nl_garbled_length,
                       {{"length", std::to_string(len)}, {"offset", std::to_string(offset_)}});
    }
    buffer_.resize(len);
    got = read_full(fd_.get(), buffer_.data(), len, path_);
    if (!got) return std::unexpected(got.error());
    if (*got != len) {
      return fail_text(file_op, Msg::err_nl_truncated_record,
                       {{"offset", std::to_string(offset_)}, {"got", std::to_string(*got)},
                        {"length", std::to_string(len)}});

    }
    offset_ += sizeof len + len;
    ++stats.datagrams;
    stats.bytes += len;
    if (auto r = walk_datagram(buffer_, op, false, 0, 0, sink, stats, done); !r) {
      return std::unexpected(r.error());
    }
    if (request.exact) done = true;
  }
  return stats;
}

}  // namespace connscope::sys
