/* Keeps N established TCP connections (2*N sockets) on loopback and replaces RATE of them every
 * second, for bench/agent_soak.sh: a socket population that stays the same size while its members
 * change all the time, so that whatever the agent keeps per socket, per port or per 4-tuple must
 * be released as fast as it is made.
 *
 * Listens on 127.0.0.1:PORT; a forked client opens the N connections, then every 100 ms closes the
 * oldest RATE/10 and opens as many new ones (a ring). One close in ten is an ordinary close (FIN:
 * the client's side goes through FIN_WAIT and TIME_WAIT, the server's through CLOSE_WAIT, so
 * TIME_WAIT holds about RATE/10 * 60 sockets), the others an abortive one (RST, linger 0). The
 * server accepts with epoll and closes its side when the peer's FIN or RST arrives. Each process
 * holds about N descriptors, so N must stay under the nofile limit.
 *
 * Prints "ready PORT" once the N connections are up, then one line every 10 s
 * (opened=... closed=... failed=...) from the client. Both processes exit when stdin reaches
 * EOF, after LIFETIME seconds, or when the other one dies.
 *
 * Usage: churn_sockets PORT N RATE [LIFETIME_S]   (default lifetime 2100 s) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int open_one(const struct sockaddr_in* sin) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (const struct sockaddr*)sin, sizeof *sin) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void close_one(int fd, unsigned long serial) {
  if (serial % 10 != 0) {
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  close(fd);
}

/* The client: the ring of N connections. Reads stdin to notice EOF. */
static int client(const struct sockaddr_in* sin, int n, int rate, double end) {
  int* ring = calloc((size_t)n, sizeof *ring);
  if (!ring) return 1;
  for (int i = 0; i < n; ++i) {
    ring[i] = open_one(sin);
    if (ring[i] < 0) { perror("churn_sockets: connect"); return 1; }
  }
  printf("ready %d\n", ntohs(sin->sin_port));
  fflush(stdout);
  unsigned long opened = (unsigned long)n, closed = 0, failed = 0, serial = 0;
  int head = 0;
  const int per_tick = rate / 10 > 0 ? rate / 10 : 1;
  double next = now_s(), report = next + 10;
  for (;;) {
    double t = now_s();
    if (t >= end) break;
    if (t >= report) {
      printf("opened=%lu closed=%lu failed=%lu\n", opened, closed, failed);
      fflush(stdout);
      report += 10;
    }
    next += 0.1;
    int wait_ms = (int)((next - t) * 1000);
    if (wait_ms < 0) wait_ms = 0;
    struct pollfd p = {.fd = 0, .events = POLLIN};
    int r = poll(&p, 1, wait_ms);
    if (r > 0) {
      char buf[64];
      if (read(0, buf, sizeof buf) <= 0) break;
    } else if (r < 0 && errno != EINTR) {
      break;
    }
    if (getppid() == 1) break; /* the server is gone */
    for (int k = 0; k < per_tick; ++k) {
      if (ring[head] >= 0) { close_one(ring[head], serial++); ++closed; }
      ring[head] = open_one(sin);
      if (ring[head] < 0) ++failed; else ++opened;
      head = (head + 1) % n;
    }
  }
  for (int i = 0; i < n; ++i) if (ring[i] >= 0) close_one(ring[i], 1);
  return 0;
}

static volatile sig_atomic_t stop;
static void on_stop(int sig) { (void)sig; stop = 1; }

/* The server: accepts, and closes a connection once its peer has. On SIGTERM or SIGINT it stops
 * the client and reaps it, so that no zombie is left. */
static int server(int ls, pid_t child, double end) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  ev.data.fd = 0;
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
  struct epoll_event evs[256];
  for (;;) {
    if (stop || now_s() >= end) break;
    int r = epoll_wait(ep, evs, 256, 500);
    if (r < 0 && errno != EINTR) break;
    if (waitpid(child, NULL, WNOHANG) == child) { child = -1; break; }
    for (int i = 0; i < r; ++i) {
      int fd = evs[i].data.fd;
      if (fd == ls) {
        for (;;) {
          int c = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) break;
          struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
      } else if (fd == 0) {
        char buf[64];
        if (read(0, buf, sizeof buf) <= 0) goto out;
      } else {
        char buf[512];
        ssize_t got = read(fd, buf, sizeof buf);
        if (got <= 0 && !(got < 0 && errno == EAGAIN)) close(fd); /* FIN or RST: done */
      }
    }
  }
out:
  if (child > 0) { kill(child, SIGTERM); waitpid(child, NULL, 0); }
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 4) { fprintf(stderr, "usage: churn_sockets PORT N RATE [LIFETIME_S]\n"); return 2; }
  int port = atoi(argv[1]), n = atoi(argv[2]), rate = atoi(argv[3]);
  int lifetime = argc > 4 ? atoi(argv[4]) : 2100;
  if (n <= 0 || rate < 0 || rate > n) { fprintf(stderr, "churn_sockets: need 0 < N, 0 <= RATE <= N\n"); return 2; }
  double end = now_s() + lifetime;
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(ls, (struct sockaddr*)&sin, sizeof sin) || listen(ls, 4096)) {
    perror("churn_sockets: listen");
    return 1;
  }
  pid_t child = fork();
  if (child < 0) { perror("churn_sockets: fork"); return 1; }
  if (child == 0) {
    close(ls);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1) return 0;
    return client(&sin, n, rate, end);
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_stop};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  return server(ls, child, end);
}
