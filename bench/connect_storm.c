/* A connection storm for bench/watch_bench.sh: as many connect + close as it can, to a listener
 * on PORT at ADDRS consecutive IPv4 addresses from ADDR (127.0.0.1 .. 127.0.0.ADDRS on
 * loopback), on THREADS threads, until COUNT connections are made or SECONDS have passed,
 * whichever comes first. Each connection: socket, blocking connect (on loopback the whole
 * handshake runs inside the connect call), close. The client closes first and its side goes to
 * TIME_WAIT; spreading the connections over several destination addresses multiplies the
 * 4-tuples, so 28,000 ephemeral ports do not run out (with net.ipv4.tcp_tw_reuse's loopback
 * default, a port's TIME_WAIT is reused after a second anyway).
 *
 *   connect_storm 127.0.0.1 9000 1000000 5 [THREADS [ADDRS [close|wait]]]
 *
 * "wait" reads until the server's FIN before closing, so that the server closes first and the
 * TIME_WAIT is on its side (a server that accepts and closes); "close" (the default) closes at
 * once.
 *
 * Prints one line: connections=N failed=N seconds=S rate=R cpu=S (user + sys), then the failures by errno. Exits 1
 * when nothing connected. Loopback only, and inside a namespace of its own in the script. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_ERRNO 256

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct shared {
  unsigned long base;  /* host order */
  unsigned short port;
  int addrs;
  int wait_fin; /* read until the server's FIN before closing: the server closes first */
  long count;
  double deadline;
  atomic_long started; /* connections handed out, so that COUNT bounds all threads together */
};

struct worker {
  struct shared* s;
  int index;
  long ok, failed;
  long by_errno[MAX_ERRNO];
};

static void* run(void* arg) {
  struct worker* w = arg;
  struct shared* s = w->s;
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons(s->port);
  int next_addr = w->index % s->addrs;
  for (long i = 0;; ++i) {
    /* The clock is read every 64 connections: a connection costs tens of microseconds. */
    if ((i & 63) == 0 && now_s() >= s->deadline) break;
    if (atomic_fetch_add_explicit(&s->started, 1, memory_order_relaxed) >= s->count) break;
    sin.sin_addr.s_addr = htonl((uint32_t)(s->base + (unsigned long)next_addr));
    if (++next_addr == s->addrs) next_addr = 0;
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      ++w->failed;
      ++w->by_errno[errno < MAX_ERRNO ? errno : 0];
      continue;
    }
    if (connect(fd, (struct sockaddr*)&sin, sizeof sin) == 0) {
      ++w->ok;
      if (s->wait_fin) {
        char c;
        while (read(fd, &c, 1) > 0) {
        }
      }
    } else {
      ++w->failed;
      ++w->by_errno[errno < MAX_ERRNO ? errno : 0];
    }
    close(fd);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s ADDR PORT COUNT SECONDS [THREADS [ADDRS [close|wait]]]\n", argv[0]);
    return 2;
  }
  struct in_addr a;
  if (inet_pton(AF_INET, argv[1], &a) != 1) {
    fprintf(stderr, "connect_storm: not an IPv4 address: %s\n", argv[1]);
    return 2;
  }
  const int threads = argc > 5 ? atoi(argv[5]) : 1;
  const int addrs = argc > 6 ? atoi(argv[6]) : 1;
  const double seconds = atof(argv[4]);
  const int wait_fin = argc > 7 && strcmp(argv[7], "wait") == 0;
  if (threads < 1 || threads > 64 || addrs < 1 || addrs > 250 || seconds <= 0 || seconds > 600) {
    fprintf(stderr, "connect_storm: THREADS 1-64, ADDRS 1-250, SECONDS (0, 600]\n");
    return 2;
  }
  struct shared s = {.base = ntohl(a.s_addr),
                     .port = (unsigned short)atoi(argv[2]),
                     .addrs = addrs,
                     .wait_fin = wait_fin,
                     .count = atol(argv[3])};
  atomic_init(&s.started, 0);
  struct worker* ws = calloc((size_t)threads, sizeof *ws);
  pthread_t* ts = calloc((size_t)threads, sizeof *ts);
  if (!ws || !ts) return 2;
  const double t0 = now_s();
  s.deadline = t0 + seconds;
  for (int i = 0; i < threads; ++i) {
    ws[i].s = &s;
    ws[i].index = i;
    if (pthread_create(&ts[i], NULL, run, &ws[i]) != 0) {
      perror("pthread_create");
      return 2;
    }
  }
  long ok = 0, failed = 0;
  long by_errno[MAX_ERRNO] = {0};
  for (int i = 0; i < threads; ++i) {
    pthread_join(ts[i], NULL);
    ok += ws[i].ok;
    failed += ws[i].failed;
    for (int e = 0; e < MAX_ERRNO; ++e) by_errno[e] += ws[i].by_errno[e];
  }
  const double elapsed = now_s() - t0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  printf("connections=%ld failed=%ld seconds=%.3f rate=%.0f cpu=%.3f\n", ok, failed, elapsed,
         (double)ok / elapsed, cpu);
  for (int e = 0; e < MAX_ERRNO; ++e) {
    if (by_errno[e]) printf("  %ld failed: %s\n", by_errno[e], strerror(e));
  }
  free(ws);
  free(ts);
  return ok > 0 ? 0 : 1;
}
