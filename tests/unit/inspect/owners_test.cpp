#include "inspect/owners.h"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "sys/proc_net.h"

namespace connscope::inspect {
namespace {

namespace fs = std::filesystem;

TEST(Owners, SocketInodeFromLink) {
  EXPECT_EQ(sys::socket_inode_from_link("socket:[12345]").value(), 12345u);
  for (const char* other : {"pipe:[12345]", "socket:[]", "socket:[12x]", "/dev/null",
                            "socket:[12345", "anon_inode:[eventpoll]"}) {
    EXPECT_FALSE(sys::socket_inode_from_link(other).has_value()) << other;
  }
}

TEST(Owners, ParseNofileLimit) {
  const std::string limits =
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max cpu time              unlimited            unlimited            seconds   \n"
      "Max open files            1024                 524288               files     \n"
      "Max locked memory         8388608              8388608              bytes     \n";
  auto l = parse_nofile_limit(limits);
  ASSERT_TRUE(l.has_value()) << l.error().message();
  EXPECT_EQ(l->soft.value(), 1024u);
  EXPECT_EQ(l->hard.value(), 524288u);
  auto unlimited = parse_nofile_limit("Max open files            unlimited            unlimited            files\n");
  ASSERT_TRUE(unlimited.has_value());
  EXPECT_FALSE(unlimited->soft.has_value());
  EXPECT_FALSE(parse_nofile_limit("Max cpu time unlimited unlimited seconds\n").has_value());
  auto garbled = parse_nofile_limit("Max open files            lots                 524288               files\n");
  ASSERT_FALSE(garbled.has_value());
  EXPECT_EQ(garbled.error().message(), "limits: \"Max open files\": not a number: \"lots\"");
}

// A fake /proc: two processes sharing a listener inode, one unrelated fd, one process without
// an fd folder.
TEST(Owners, ScansAFakeProcTree) {
  const fs::path root = fs::temp_directory_path() / ("connscope-owners-" + std::to_string(::getpid()));
  fs::remove_all(root);
  auto make_proc = [&](int pid, const char* comm, std::vector<std::pair<std::string, std::string>> fds) {
    const fs::path p = root / std::to_string(pid);
    fs::create_directories(p / "fd");
    std::ofstream(p / "comm") << comm << "\n";
    std::ofstream(p / "limits") << "Max open files            64                   128                  files\n";
    for (const auto& [fd, target] : fds) fs::create_symlink(target, p / "fd" / fd);
  };
  make_proc(200, "worker", {{"3", "socket:[777]"}, {"4", "socket:[888]"}});
  make_proc(100, "master", {{"0", "/dev/null"}, {"5", "socket:[777]"}});
  fs::create_directories(root / "300");  // no fd folder: gone or kernel thread
  fs::create_directories(root / "self");
  auto table = scan_owners(root.string());
  ASSERT_TRUE(table.has_value()) << table.error().message();
  ASSERT_NE(table->owner(777), nullptr);
  EXPECT_EQ(table->owner(777)->pid, 100);  // shared: the lowest pid, usually the parent
  EXPECT_EQ(table->owner(777)->command, "master");
  ASSERT_NE(table->owner(888), nullptr);
  EXPECT_EQ(table->owner(888)->pid, 200);
  EXPECT_EQ(table->owner(888)->open_fds, 2u);
  EXPECT_EQ(table->owner(888)->nofile_soft.value(), 64u);
  EXPECT_EQ(table->owner(999), nullptr);
  EXPECT_EQ(table->processes().size(), 2u);
  fs::remove_all(root);
}

TEST(Owners, MissingProcRootIsAnError) {
  auto table = scan_owners("/nonexistent/proc");
  ASSERT_FALSE(table.has_value());
  EXPECT_EQ(table.error().message(), "/nonexistent/proc: cannot open it (No such file or directory)");
}

TEST(Owners, FindsThisProcessSocketInTheRealProc) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  auto table = scan_owners();
  ASSERT_TRUE(table.has_value());
  const auto* owner = table->owner(st.st_ino);
  ASSERT_NE(owner, nullptr);
  EXPECT_EQ(owner->pid, ::getpid());
  EXPECT_GE(owner->open_fds, 4u);  // stdin, stdout, stderr and the socket
  ::close(fd);
}

}  // namespace
}  // namespace connscope::inspect

namespace connscope::inspect {
namespace {

TEST(OwnerRecords, RoundTripAndErrors) {
  auto table = parse_owner_records("U 2\nP 100 12 1024 4096 nginx: master\nP 200 3 - - w\nS 777 100\nS 888 200\n");
  ASSERT_TRUE(table.has_value()) << table.error().message();
  ASSERT_NE(table->owner(777), nullptr);
  EXPECT_EQ(table->owner(777)->command, "nginx: master");
  EXPECT_EQ(table->owner(777)->nofile_soft.value(), 1024u);
  EXPECT_FALSE(table->owner(888)->nofile_soft.has_value());
  EXPECT_EQ(table->unreadable(), 2u);
  auto again = parse_owner_records(format_owner_records(*table, nullptr));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->owner(888)->pid, 200);
  EXPECT_EQ(again->processes().size(), 2u);
  for (const char* bad : {"X 1\n", "P 1 2\n", "S 5 999\n", "P x 1 - - c\n", "U\n"}) {
    auto r = parse_owner_records(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().message(), "owners:1: malformed record");
  }
}

}  // namespace
}  // namespace connscope::inspect
