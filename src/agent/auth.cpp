#include "agent/auth.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>

#include "agent/api_query.h"

namespace connscope::agent {

bool is_loopback(const Endpoint& e) {
  if (e.family == AF_INET) {
    in_addr a{};
    return ::inet_pton(AF_INET, e.address.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
  }
  in6_addr a{};
  return ::inet_pton(AF_INET6, e.address.c_str(), &a) == 1 && IN6_IS_ADDR_LOOPBACK(&a);
}

bool bearer_matches(std::string_view authorization, std::string_view token) {
  constexpr std::string_view kScheme = "Bearer ";
  if (token.empty() || authorization.size() != kScheme.size() + token.size()) return false;
  if (authorization.substr(0, kScheme.size()) != kScheme) return false;
  return CRYPTO_memcmp(authorization.data() + kScheme.size(), token.data(), token.size()) == 0;
}

bool cookie_matches(std::string_view cookie_header, std::string_view token) {
  if (token.empty()) return false;
  bool match = false;
  while (!cookie_header.empty()) {
    const auto end = cookie_header.find(';');
    std::string_view pair = cookie_header.substr(0, end);
    cookie_header = end == std::string_view::npos ? std::string_view{} : cookie_header.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != kTokenCookie) continue;
    const auto value = pair.substr(eq + 1);
    // Every cookie of that name is compared, in constant time each.
    if (value.size() == token.size() && CRYPTO_memcmp(value.data(), token.data(), token.size()) == 0) match = true;
  }
  return match;
}

std::optional<HttpResponse> Auth::check(const HttpRequest& r) const {
  if (!token_) return std::nullopt;
  if (bearer_matches(r.authorization, *token_) || cookie_matches(r.cookie, *token_)) return std::nullopt;
  HttpResponse res;
  const std::string_view path = std::string_view(r.target).substr(0, r.target.find('?'));
  const auto from_query = path == "/" ? query_param(r.target, "token") : std::nullopt;
  if (from_query && bearer_matches("Bearer " + *from_query, *token_)) {
    // The dashboard's first visit: the token moves from the address bar into a cookie.
    res.status = 303;
    res.headers.emplace_back("Location", "/");
    res.headers.emplace_back("Set-Cookie",
                             std::string(kTokenCookie) + "=" + *token_ + "; Path=/; HttpOnly; SameSite=Strict");
    return res;
  }
  res.status = 401;
  res.body = "a bearer token is required: Authorization: Bearer <token from the data dir> "
             "(the dashboard: open /?token=<token>)\n";
  res.headers.emplace_back("WWW-Authenticate", "Bearer");
  return res;
}

}  // namespace connscope::agent
