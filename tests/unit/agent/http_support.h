#pragma once
// Requests and responses of the agent's pure HTTP parts (auth.h, router.h), made and read in tests.

#include <algorithm>
#include <string>
#include <string_view>

#include "agent/http_message.h"

namespace connscope::agent::test {

inline HttpRequest request(std::string method, std::string target) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  return r;
}

// An extra header's value; "<absent>" when the response has none of that name.
inline std::string header(const HttpResponse& res, std::string_view name) {
  const auto it = std::find_if(res.headers.begin(), res.headers.end(), [&](const auto& h) { return h.first == name; });
  return it == res.headers.end() ? std::string("<absent>") : it->second;
}

}  // namespace connscope::agent::test
