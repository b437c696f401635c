#include "probe/redirects.h"

#include <utility>

namespace connscope::probe {

bool is_followed_redirect(unsigned status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

RedirectChain follow_redirects(const std::string& target, const DoctorReport& first, const RunRedirect& run) {
  RedirectChain chain;
  chain.final_target = target;
  const DoctorReport* r = &first;
  while (r->talk && r->talk->http) {
    const auto& h = *r->talk->http;
    if (!is_followed_redirect(h.status) || h.location.empty()) break;
    auto next = redirect_url(r->options.target, h.location);
    if (!next) {
      chain.stop = RedirectStop::unfollowable;
      chain.note = next.error().message();
      chain.error = next.error();
      break;
    }
    chain.hops.push_back({chain.final_target, h.status, *next});
    // The hop just added counts: a URL that redirects to itself is a loop.
    bool loop = false;
    for (const auto& hop : chain.hops) loop = loop || hop.url == *next;
    if (loop) {
      chain.stop = RedirectStop::loop;
      break;
    }
    if (chain.hops.size() > kMaxRedirects) {
      chain.stop = RedirectStop::too_many;
      break;
    }
    auto ran = run(*next);
    if (!ran) {
      chain.stop = RedirectStop::unfollowable;
      chain.note = ran.error().message();
      chain.error = std::move(ran.error());
      break;
    }
    chain.final_target = *next;
    r = *ran;
  }
  return chain;
}

}  // namespace connscope::probe
