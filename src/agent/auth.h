#pragma once
// Who may ask the agent anything. A bind to a loopback address needs no token; any other bind
// needs the bearer token (token.h makes it) on every request, with no public path: the
// dashboard's files and /metrics too. A browser cannot put a header on the page or on an
// EventSource, so the page's first visit to /?token=<token> moves the token into a cookie (303
// to /, HttpOnly, SameSite=Strict) that every later request carries.
//
// Pure: no I/O, no clock. The token is compared in constant time.

#include <optional>
#include <string>
#include <string_view>

#include "agent/http_message.h"
#include "core/endpoint.h"

namespace connscope::agent {

// Is this a loopback address (127.0.0.0/8, ::1)? The only binds that need no token.
bool is_loopback(const Endpoint& e);

// "Bearer <token>"; an empty token never matches.
bool bearer_matches(std::string_view authorization, std::string_view token);

// The token in a Cookie header ("a=b; connscope_token=<token>"); an empty token never matches.
inline constexpr std::string_view kTokenCookie = "connscope_token";
bool cookie_matches(std::string_view cookie_header, std::string_view token);

// The check of every request, before the router. Immutable: any thread may call it.
class Auth {
 public:
  // No token: every request passes (a loopback bind).
  explicit Auth(std::optional<std::string> token) : token_(std::move(token)) {}

  // nullopt: the request goes on to the router. Otherwise the answer to send instead: 401 (no
  // token, or a wrong one), or the dashboard's 303 that sets the cookie.
  [[nodiscard]] std::optional<HttpResponse> check(const HttpRequest& r) const;

 private:
  std::optional<std::string> token_;
};

}  // namespace connscope::agent
