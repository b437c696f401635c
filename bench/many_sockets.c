/* Holds 2*N established TCP sockets on loopback: listens on 127.0.0.1:PORT, forks a client that
 * connects N times to it (from 127.0.0.1 with kernel-chosen ports, which are shared across
 * destination ports), and accepts the N connections in the parent. Each process holds about N
 * descriptors, so N must stay under the nofile limit (20,000 here). Both processes print nothing
 * but "ready PORT" once all connections are up, and exit when stdin reaches EOF or after
 * LIFETIME seconds, whichever comes first; they close with RST, leaving no TIME_WAIT.
 * Usage: many_sockets PORT N [LIFETIME_S]   (default lifetime 300 s) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Close with RST (linger 0) so that exiting leaves no TIME_WAIT sockets to skew the next run. */
static void no_linger(int fd) {
  struct linger l = {.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

static void wait_eof_or_timeout(int lifetime_s) {
  time_t end = time(NULL) + lifetime_s;
  char buf[64];
  for (;;) {
    long left = (long)(end - time(NULL));
    if (left <= 0) return;
    struct pollfd p = {.fd = 0, .events = POLLIN};
    int r = poll(&p, 1, (int)(left * 1000));
    if (r == 0) return;
    if (r < 0) { if (errno == EINTR) continue; return; }
    ssize_t n = read(0, buf, sizeof buf);
    if (n <= 0) return;
  }
}

int main(int argc, char** argv) {
  if (argc < 3) { fprintf(stderr, "usage: many_sockets PORT N [LIFETIME_S]\n"); return 2; }
  int port = atoi(argv[1]), n = atoi(argv[2]);
  int lifetime = argc > 3 ? atoi(argv[3]) : 300;
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(ls, (struct sockaddr*)&sin, sizeof sin) || listen(ls, 4096)) {
    perror("many_sockets: listen"); return 1;
  }
  pid_t child = fork();
  if (child < 0) { perror("many_sockets: fork"); return 1; }
  if (child == 0) {
    close(ls);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    int* fds = calloc((size_t)n, sizeof *fds);
    for (int i = 0; i < n; ++i) {
      fds[i] = socket(AF_INET, SOCK_STREAM, 0);
      if (fds[i] < 0 || connect(fds[i], (struct sockaddr*)&sin, sizeof sin)) {
        fprintf(stderr, "many_sockets: connect %d of %d to port %d: %s\n", i, n, port, strerror(errno));
        return 1;
      }
      no_linger(fds[i]);
    }
    wait_eof_or_timeout(lifetime);
    return 0;
  }
  int* fds = calloc((size_t)n, sizeof *fds);
  for (int i = 0; i < n; ++i) {
    fds[i] = accept(ls, NULL, NULL);
    if (fds[i] < 0) { perror("many_sockets: accept"); kill(child, SIGTERM); return 1; }
    no_linger(fds[i]);
  }
  printf("ready %d\n", port);
  fflush(stdout);
  wait_eof_or_timeout(lifetime);
  kill(child, SIGTERM);
  waitpid(child, NULL, 0);
  return 0;
}
