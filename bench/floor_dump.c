/* The floors connscope inspect is measured against (bench/inspect_bench.sh).
 *   floor_dump dump   one inet_diag dump of every TCP socket, IPv4 then IPv6, all states, no
 *                     extensions, 32 KiB receive buffer; prints the number of sockets.
 *   floor_dump dump-info  the same dump with INET_DIAG_INFO (tcp_info) asked for, as inspect does.
 *   floor_dump fds    readlink every /proc/<pid>/fd/<n>; prints how many are sockets.
 *   floor_dump both   the two, one after the other, in one process. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int with_info; /* "dump-info": also ask for INET_DIAG_INFO (struct tcp_info) */

static long dump_family(int fd, int family) {
  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 r;
  } req;
  memset(&req, 0, sizeof req);
  req.nlh.nlmsg_len = sizeof req;
  req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.nlh.nlmsg_seq = (unsigned)family;
  req.r.sdiag_family = (unsigned char)family;
  req.r.sdiag_protocol = IPPROTO_TCP;
  req.r.idiag_states = 0xfff;
  if (with_info) req.r.idiag_ext = 1 << (INET_DIAG_INFO - 1);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (sendto(fd, &req, sizeof req, 0, (struct sockaddr*)&sa, sizeof sa) < 0) { perror("sendto"); exit(1); }
  static char buf[32768] __attribute__((aligned(8)));
  long count = 0;
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) { perror("recv"); exit(1); }
    for (struct nlmsghdr* h = (struct nlmsghdr*)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE) return count;
      if (h->nlmsg_type == NLMSG_ERROR) { fprintf(stderr, "netlink error\n"); exit(1); }
      ++count;
    }
  }
}

static long dump(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) { perror("socket"); exit(1); }
  long c = dump_family(fd, AF_INET) + dump_family(fd, AF_INET6);
  close(fd);
  return c;
}

static long scan_fds(void) {
  DIR* proc = opendir("/proc");
  if (!proc) { perror("/proc"); exit(1); }
  long sockets = 0;
  struct dirent* p;
  char path[64], link[64];
  while ((p = readdir(proc))) {
    if (p->d_name[0] < '0' || p->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%s/fd", p->d_name);
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) continue;
    DIR* d = fdopendir(dfd);
    if (!d) { close(dfd); continue; }
    struct dirent* e;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      ssize_t n = readlinkat(dfd, e->d_name, link, sizeof link - 1);
      if (n > 8 && memcmp(link, "socket:[", 8) == 0) ++sockets;
    }
    closedir(d);
  }
  closedir(proc);
  return sockets;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "dump";
  if (!strcmp(mode, "dump-info")) { with_info = 1; mode = "dump"; }
  if (!strcmp(mode, "dump")) printf("%ld sockets\n", dump());
  else if (!strcmp(mode, "fds")) printf("%ld socket fds\n", scan_fds());
  else if (!strcmp(mode, "both")) { long s = dump(); printf("%ld sockets, %ld socket fds\n", s, scan_fds()); }
  else { fprintf(stderr, "usage: floor_dump dump|dump-info|fds|both\n"); return 2; }
  return 0;
}
