#include "agent/http_request.h"

#include <boost/beast/http/error.hpp>
#include <cstdint>
#include <string>

namespace connscope::agent {

namespace http = boost::beast::http;

HttpResponse method_not_allowed() {
  HttpResponse res;
  res.status = 405;
  res.body = "read-only: GET and HEAD only\n";
  res.headers.emplace_back("Allow", "GET, HEAD");
  return res;
}

void limit_request_parser(RequestParser& parser, const HttpLimits& limits) {
  parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
  parser.body_limit(limits.body_limit);
}

RequestIntake take_request(const boost::system::error_code& ec,
                           const http::request<http::string_body>& req) {
  RequestIntake in;
  if (ec) {
    HttpResponse res;
    res.status = ec == http::error::header_limit ? 431 : ec == http::error::body_limit ? 413 : 400;
    res.body = res.status == 431   ? "request header too large\n"
               : res.status == 413 ? "request body too large\n"
                                   : "bad request\n";
    in.answer = std::move(res);
    return in;
  }
  in.parsed = true;
  in.keep_alive = req.keep_alive();
  in.head = req.method() == http::verb::head;
  if (req.method() != http::verb::get && !in.head) {
    in.answer = method_not_allowed();
    return in;
  }
  HttpRequest r;
  r.method = in.head ? "HEAD" : "GET";
  r.target = std::string(req.target());
  if (auto it = req.find(http::field::authorization); it != req.end()) {
    r.authorization = std::string(it->value());
  }
  if (auto it = req.find(http::field::cookie); it != req.end()) r.cookie = std::string(it->value());
  if (auto it = req.find(http::field::accept_language); it != req.end()) {
    r.accept_language = std::string(it->value());
  }
  in.request = std::move(r);
  return in;
}

}  // namespace connscope::agent
