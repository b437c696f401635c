// Opens N TCP connections to ADDR PORT, keeps them idle until stdin closes, and reports how long
// the connects took. Used by serve_bench.sh to measure a server's memory per idle connection.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: hold_connections ADDR PORT N\n");
    return 2;
  }
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
  if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1) {
    std::fprintf(stderr, "hold_connections: \"%s\": not an IPv4 address\n", argv[1]);
    return 2;
  }
  const int n = std::atoi(argv[3]);
  std::vector<int> fds;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) {
      std::perror("hold_connections: connect");
      return 1;
    }
    fds.push_back(fd);
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%d connections in %.3f s\n", n, secs);
  std::fflush(stdout);
  char buf[64];
  while (::read(0, buf, sizeof buf) > 0) {
  }
  for (int fd : fds) ::close(fd);
  return 0;
}
