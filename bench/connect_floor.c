/* The floor for `connscope probe`: the least a connect scan can do. Nonblocking connect() to
 * ADDR:FIRST..LAST with at most WINDOW in flight, one epoll set, SO_ERROR on the wake-up,
 * close. No error queue, no per-endpoint record, no timeout bookkeeping beyond one deadline
 * check per wake-up. Prints the counts and the time.
 *
 *   connect_floor 127.0.0.1 1 65535 2048 [TIMEOUT_MS [THREADS]]
 *
 * THREADS > 1 (the fair floor for a scan that uses that many cores): each thread its own epoll
 * set over every THREADS-th port, with WINDOW / THREADS in flight.
 *
 * Loopback only in bench/probe_bench.sh. IPv4 or IPv6 (a ':' in ADDR). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct slot {
  int fd;
  double start;
};

struct job {
  struct sockaddr_storage ss;
  socklen_t len;
  int v6, first, last, stride, window;
  double timeout;
  long open_n, closed_n, filtered_n, other_n;
  int failed;
};

static void* run(void* arg) {
  struct job* j = arg;
  struct sockaddr_storage ss = j->ss;
  const socklen_t len = j->len;
  const int v6 = j->v6, last = j->last, window = j->window;
  const double timeout = j->timeout;
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) { perror("epoll_create1"); j->failed = 1; return NULL; }
  struct slot* slots = calloc((size_t)window, sizeof *slots);
  int* free_ids = calloc((size_t)window, sizeof *free_ids);
  struct epoll_event* events = calloc((size_t)window, sizeof *events);
  if (!slots || !free_ids || !events) { j->failed = 1; return NULL; }
  int nfree = window;
  for (int i = 0; i < window; ++i) free_ids[i] = window - 1 - i;

  int next = j->first, inflight = 0;
  while (next <= last || inflight > 0) {
    while (next <= last && nfree > 0) {
      const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        if (inflight > 0) break;
        perror("socket");
        j->failed = 1;
        return NULL;
      }
      if (v6) {
        ((struct sockaddr_in6*)&ss)->sin6_port = htons((unsigned short)next);
      } else {
        ((struct sockaddr_in*)&ss)->sin_port = htons((unsigned short)next);
      }
      next += j->stride;
      const int rc = connect(fd, (struct sockaddr*)&ss, len);
      if (rc == 0 || errno != EINPROGRESS) {
        if (rc == 0) ++j->open_n; else if (errno == ECONNREFUSED) ++j->closed_n; else ++j->other_n;
        close(fd);
        continue;
      }
      const int id = free_ids[--nfree];
      slots[id].fd = fd;
      slots[id].start = now_s();
      struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (unsigned)id};
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      ++inflight;
    }
    const int n = epoll_wait(ep, events, window, 100);
    for (int k = 0; k < n; ++k) {
      const int id = (int)events[k].data.u32;
      int err = 0;
      socklen_t el = sizeof err;
      getsockopt(slots[id].fd, SOL_SOCKET, SO_ERROR, &err, &el);
      if (err == 0) ++j->open_n; else if (err == ECONNREFUSED) ++j->closed_n; else ++j->other_n;
      close(slots[id].fd);
      slots[id].fd = -1;
      free_ids[nfree++] = id;
      --inflight;
    }
    if (n == 0) { /* a timeout pass: only reached when something is silent */
      const double t = now_s();
      for (int id = 0; id < window; ++id) {
        if (slots[id].fd >= 0 && slots[id].start > 0 && t - slots[id].start > timeout) {
          close(slots[id].fd);
          slots[id].fd = -1;
          slots[id].start = 0;
          free_ids[nfree++] = id;
          --inflight;
          ++j->filtered_n;
        }
      }
    }
  }
  free(slots);
  free(free_ids);
  free(events);
  close(ep);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s ADDR FIRST LAST WINDOW [TIMEOUT_MS]\n", argv[0]);
    return 2;
  }
  const char* addr = argv[1];
  const int first = atoi(argv[2]);
  const int last = atoi(argv[3]);
  const int window = atoi(argv[4]);
  const double timeout = argc > 5 ? atof(argv[5]) / 1000.0 : 3.0;
  const int threads = argc > 6 ? atoi(argv[6]) : 1;
  if (first < 1 || last > 65535 || first > last || window < 1 || threads < 1 || threads > 64) return 2;

  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  const int v6 = strchr(addr, ':') != NULL;
  if (v6) {
    struct sockaddr_in6* s6 = (struct sockaddr_in6*)&ss;
    s6->sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1) return 2;
    len = sizeof *s6;
  } else {
    struct sockaddr_in* s4 = (struct sockaddr_in*)&ss;
    s4->sin_family = AF_INET;
    if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1) return 2;
    len = sizeof *s4;
  }

  struct job jobs[64];
  pthread_t tids[64];
  const double t0 = now_s();
  for (int t = 0; t < threads; ++t) {
    memset(&jobs[t], 0, sizeof jobs[t]);
    jobs[t].ss = ss;
    jobs[t].len = len;
    jobs[t].v6 = v6;
    jobs[t].first = first + t;
    jobs[t].last = last;
    jobs[t].stride = threads;
    jobs[t].window = window / threads > 0 ? window / threads : 1;
    jobs[t].timeout = timeout;
    if (pthread_create(&tids[t], NULL, run, &jobs[t]) != 0) return 3;
  }
  long open_n = 0, closed_n = 0, filtered_n = 0, other_n = 0;
  for (int t = 0; t < threads; ++t) {
    pthread_join(tids[t], NULL);
    if (jobs[t].failed) return 3;
    open_n += jobs[t].open_n;
    closed_n += jobs[t].closed_n;
    filtered_n += jobs[t].filtered_n;
    other_n += jobs[t].other_n;
  }
  const double elapsed = now_s() - t0;
  printf("%d endpoints in %.3f s: %ld open, %ld closed, %ld filtered, %ld other\n",
         last - first + 1, elapsed, open_n, closed_n, filtered_n, other_n);
  return 0;
}
