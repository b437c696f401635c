#include "sys/netlink.h"

#include <gtest/gtest.h>

#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <fstream>
#include <string>
#include <vector>

namespace connscope::sys {
namespace {

using Bytes = std::vector<std::byte>;

// A netlink message of `type` with `payload_len` bytes, each byte set to `fill`.
Bytes message(std::uint16_t type, std::size_t payload_len, std::uint8_t fill = 0xAB,
              std::uint32_t seq = 1, std::uint32_t portid = 7) {
  Bytes out(NLMSG_ALIGN(NLMSG_HDRLEN + payload_len), std::byte{fill});
  nlmsghdr h{};
  h.nlmsg_len = static_cast<std::uint32_t>(NLMSG_HDRLEN + payload_len);
  h.nlmsg_type = type;
  h.nlmsg_flags = NLM_F_MULTI;
  h.nlmsg_seq = seq;
  h.nlmsg_pid = portid;
  std::memcpy(out.data(), &h, sizeof h);
  return out;
}

Bytes done_message(int err = 0) {
  auto m = message(NLMSG_DONE, sizeof(int));
  std::memcpy(m.data() + NLMSG_HDRLEN, &err, sizeof err);
  return m;
}

Bytes error_message(int err) {
  auto m = message(NLMSG_ERROR, sizeof(nlmsgerr), 0);
  std::memcpy(m.data() + NLMSG_HDRLEN, &err, sizeof err);
  return m;
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/connscope-netlink-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string record(const TempDir& dir, std::initializer_list<Bytes> datagrams) {
  const auto path = dir.file("dump.nldump");
  auto rec = DumpRecorder::create(path);
  EXPECT_TRUE(rec.has_value()) << rec.error().message();
  for (const auto& d : datagrams) EXPECT_TRUE(rec->append(d).has_value());
  return path;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

Result<DumpStats> replay_all(const std::string& path, std::vector<Bytes>& got) {
  auto replay = DumpReplay::open(path);
  if (!replay) return std::unexpected(replay.error());
  return replay->dump({}, [&](std::span<const std::byte> m) -> Result<void> {
    got.emplace_back(m.begin(), m.end());
    return {};
  });
}

TEST(NetlinkRequest, Describe) {
  InetDiagRequest r;
  EXPECT_EQ(r.describe(), "sock_diag dump tcp4");
  r.family = AF_INET6;
  r.protocol = IPPROTO_UDP;
  EXPECT_EQ(r.describe(), "sock_diag dump udp6");
  EXPECT_EQ(tcp_state_bit(10), 1u << 10);
}

TEST(NetlinkReplay, RoundTripFeedsEveryMessageInOrder) {
  TempDir dir;
  const auto a = message(SOCK_DIAG_BY_FAMILY, 72, 0x11);
  const auto b = message(SOCK_DIAG_BY_FAMILY, 73, 0x22);  // unaligned length: padded
  const auto c = message(SOCK_DIAG_BY_FAMILY, 100, 0x33);
  const auto path = record(dir, {concat({a, b}), concat({c, done_message()})});
  std::vector<Bytes> got;
  auto stats = replay_all(path, got);
  ASSERT_TRUE(stats.has_value()) << stats.error().message();
  EXPECT_EQ(stats->datagrams, 2u);
  EXPECT_EQ(stats->messages, 3u);
  EXPECT_FALSE(stats->interrupted);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], a);
  EXPECT_EQ(got[1], Bytes(b.begin(), b.begin() + NLMSG_HDRLEN + 73));  // without padding
  EXPECT_EQ(got[2], c);
}

TEST(NetlinkReplay, DumpsReplayInSequence) {
  TempDir dir;
  const auto path = record(dir, {concat({message(SOCK_DIAG_BY_FAMILY, 72), done_message()}),
                                 concat({done_message()})});
  auto replay = DumpReplay::open(path);
  ASSERT_TRUE(replay.has_value());
  int count = 0;
  auto sink = [&](std::span<const std::byte>) -> Result<void> {
    ++count;
    return {};
  };
  ASSERT_TRUE(replay->dump({}, sink).has_value());
  EXPECT_EQ(count, 1);
  ASSERT_TRUE(replay->dump({}, sink).has_value());  // the second, empty dump
  EXPECT_EQ(count, 1);
  auto third = replay->dump({}, sink);
  ASSERT_FALSE(third.has_value());
  EXPECT_NE(third.error().detail.find("no NLMSG_DONE"), std::string::npos);
}

TEST(NetlinkReplay, KernelErrorBecomesErrorWithErrnoAndOperation) {
  TempDir dir;
  const auto path = record(dir, {error_message(-EINVAL)});
  auto replay = DumpReplay::open(path);
  ASSERT_TRUE(replay.has_value());
  InetDiagRequest req;
  req.family = AF_INET6;
  auto r = replay->dump(req, [](std::span<const std::byte>) -> Result<void> { return {}; });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().op, "sock_diag dump tcp6");
  EXPECT_EQ(r.error().code, EINVAL);
}

TEST(NetlinkReplay, ErrorInDoneBecomesError) {
  TempDir dir;
  const auto path = record(dir, {concat({message(SOCK_DIAG_BY_FAMILY, 72), done_message(-EBUSY)})});
  std::vector<Bytes> got;
  auto r = replay_all(path, got);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, EBUSY);
  EXPECT_EQ(got.size(), 1u);
}

TEST(NetlinkReplay, SinkErrorStopsTheDump) {
  TempDir dir;
  const auto path = record(dir, {concat({message(SOCK_DIAG_BY_FAMILY, 72),
                                         message(SOCK_DIAG_BY_FAMILY, 72), done_message()})});
  auto replay = DumpReplay::open(path);
  ASSERT_TRUE(replay.has_value());
  int calls = 0;
  auto r = replay->dump({}, [&](std::span<const std::byte>) -> Result<void> {
    ++calls;
    return fail("parse", "bad");
  });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().op, "parse");
  EXPECT_EQ(calls, 1);
}

TEST(NetlinkReplay, EveryTruncationOfTheFileIsACleanError) {
  TempDir dir;
  const auto path = record(dir, {concat({message(SOCK_DIAG_BY_FAMILY, 72),
                                         message(SOCK_DIAG_BY_FAMILY, 80)}),
                                 concat({message(SOCK_DIAG_BY_FAMILY, 90), done_message()})});
  const auto whole = slurp(path);
  const auto cut_path = dir.file("cut.nldump");
  for (std::size_t len = 0; len < whole.size(); ++len) {
    spit(cut_path, whole.substr(0, len));
    std::vector<Bytes> got;
    auto r = replay_all(cut_path, got);
    ASSERT_FALSE(r.has_value()) << len;
    EXPECT_FALSE(r.error().detail.empty());
    EXPECT_LE(got.size(), 3u);
  }
  std::vector<Bytes> got;
  EXPECT_TRUE(replay_all(path, got).has_value());
}

TEST(NetlinkReplay, GarbledFiles) {
  TempDir dir;
  const auto path = dir.file("bad.nldump");
  std::vector<Bytes> got;

  spit(path, "not a recording at all");
  auto r = replay_all(path, got);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().detail.find("bad magic"), std::string::npos);

  const std::string magic = "CSNLDMP1";
  auto le32 = [](std::uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  spit(path, magic + le32(0xFFFFFFF0u) + "xxxx");  // a huge length: no allocation, an error
  r = replay_all(path, got);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().detail.find("garbled record length"), std::string::npos);

  spit(path, magic + le32(0));
  EXPECT_FALSE(replay_all(path, got).has_value());

  // A record whose message claims more bytes than the datagram holds.
  auto m = message(SOCK_DIAG_BY_FAMILY, 72);
  const std::uint32_t lie = 4000;
  std::memcpy(m.data(), &lie, sizeof lie);
  spit(path, magic + le32(static_cast<std::uint32_t>(m.size())) +
                 std::string(reinterpret_cast<const char*>(m.data()), m.size()));
  r = replay_all(path, got);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().detail.find("malformed"), std::string::npos);

  // Stray bytes shorter than a header after a message.
  auto stray = concat({message(SOCK_DIAG_BY_FAMILY, 8), Bytes(5, std::byte{1})});
  spit(path, magic + le32(static_cast<std::uint32_t>(stray.size())) +
                 std::string(reinterpret_cast<const char*>(stray.data()), stray.size()));
  EXPECT_FALSE(replay_all(path, got).has_value());

  EXPECT_FALSE(DumpReplay::open(dir.file("missing")).has_value());
}

TEST(NetlinkWalk, SkipsMessagesOfOtherDumpsAndNotesInterruptions) {
  auto stale = message(SOCK_DIAG_BY_FAMILY, 8, 0, /*seq=*/1, /*portid=*/7);
  auto current = message(SOCK_DIAG_BY_FAMILY, 8, 0, 2, 7);
  nlmsghdr h{};
  std::memcpy(&h, current.data(), sizeof h);
  h.nlmsg_flags |= NLM_F_DUMP_INTR;
  std::memcpy(current.data(), &h, sizeof h);
  const auto datagram = concat({stale, current});
  DumpStats stats;
  bool done = false;
  int calls = 0;
  auto r = walk_datagram(datagram, "op", true, 2, 7,
                         [&](std::span<const std::byte>) -> Result<void> {
                           ++calls;
                           return {};
                         },
                         stats, done);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(stats.interrupted);
  EXPECT_FALSE(done);
}

// Found by the sock_diag fuzzer: an error field holding INT_MIN (no kernel errno) was negated,
// which is undefined. Such a field is a garbled reply, reported as one, with no errno.
TEST(NetlinkWalk, ErrorFieldsBeyondTheKernelsErrnosAreMalformed) {
  for (const auto& datagram : {done_message(std::numeric_limits<int>::min()),
                               error_message(std::numeric_limits<int>::min()),
                               error_message(-4096), error_message(4096)}) {
    DumpStats stats;
    bool done = false;
    auto r = walk_datagram(datagram, "op", false, 0, 0,
                           [](std::span<const std::byte>) -> Result<void> { return {}; }, stats,
                           done);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, 0);
    EXPECT_NE(r.error().detail.find("malformed reply"), std::string::npos) << r.error().detail;
  }
  // The largest errno the kernel has (MAX_ERRNO) is still one.
  DumpStats stats;
  bool done = false;
  auto r = walk_datagram(error_message(-4095), "op", false, 0, 0,
                         [](std::span<const std::byte>) -> Result<void> { return {}; }, stats, done);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, 4095);
}

}  // namespace
}  // namespace connscope::sys
