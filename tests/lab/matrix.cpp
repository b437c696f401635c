#include "lab/matrix.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <string>

namespace connscope::lab::matrix {

using namespace std::chrono_literals;

std::string_view name(Fault f) {
  switch (f) {
    case Fault::none: return "none";
    case Fault::drop: return "drop";
    case Fault::reject_reset: return "reject_tcp_reset";
    case Fault::reject_icmp: return "reject_icmp";
    case Fault::reject_rate_limited: return "reject_icmp_rate_limited";
    case Fault::loss: return "loss30";
    case Fault::delay: return "delay300ms";
    case Fault::mtu_blackhole: return "mtu_blackhole";
    case Fault::close_after_accept: return "close_after_accept";
    case Fault::reset_after_accept: return "reset_after_accept";
    case Fault::never_accept: return "never_accept";
    case Fault::slow_first_byte: return "slow_first_byte";
    case Fault::tls_no_shared_cipher: return "tls_alert_no_shared_cipher";
    case Fault::tls_client_cert_tls12: return "tls12_client_cert_required";
    case Fault::tls_client_cert_tls13: return "tls13_client_cert_required";
    case Fault::http_1xx_forever: return "http_1xx_forever";
    case Fault::http_redirect_loop: return "http_redirect_loop";
  }
  return "?";
}

std::string_view name(Where w) {
  if (w == Where::r1) return "r1";
  if (w == Where::r2) return "r2";
  return "server";
}

std::string_view name(Family f) { return f == Family::v4 ? "v4" : "v6"; }

std::string_view name(Proto p) {
  if (p == Proto::tls) return "tls";
  if (p == Proto::http) return "http";
  if (p == Proto::https) return "https";
  return "tcp";
}

std::vector<IcmpKind> icmp_kinds(Family family) {
  if (family == Family::v4) {
    return {{family, 0, "net-unreachable"},  {family, 1, "host-unreachable"},
            {family, 2, "prot-unreachable"}, {family, 3, "port-unreachable"},
            {family, 9, "net-prohibited"},   {family, 10, "host-prohibited"},
            {family, 13, "admin-prohibited"}};
  }
  return {{family, 0, "no-route"},         {family, 1, "admin-prohibited"},
          {family, 3, "addr-unreachable"}, {family, 4, "port-unreachable"},
          {family, 5, "policy-fail"},      {family, 6, "reject-route"}};
}

namespace {

bool is_tls(Proto p) { return p == Proto::tls || p == Proto::https; }
bool is_http(Proto p) { return p == Proto::http || p == Proto::https; }

Expectation fail(std::string stage, std::string id) { return {"fail", std::move(stage), std::move(id)}; }

// What the kernel makes of an unreachable kind (tcp_v4_err / tcp_v6_err abort the SYN_SENT
// socket for all of them) and how connscope names it (src/probe/icmp_error.cpp): the port or
// protocol is closed; an administrative refusal; the network could not deliver.
std::string icmp_finding(const IcmpKind& k) {
  if (k.family == Family::v4) {
    if (k.code == 2 || k.code == 3) return "tcp.rejected_icmp";
    if (k.code == 9 || k.code == 10 || k.code == 13) return "net.admin_prohibited";
    return "net.host_unreachable";
  }
  if (k.code == 4) return "tcp.rejected_icmp";
  if (k.code == 1 || k.code == 5 || k.code == 6) return "net.admin_prohibited";
  return "net.host_unreachable";
}

}  // namespace

std::optional<Expectation> expect(Fault fault, Where where, Family family, Proto proto,
                                  const std::optional<IcmpKind>& icmp) {
  const bool at_server = where == Where::server;
  if ((fault == Fault::reject_icmp) != icmp.has_value()) return std::nullopt;
  if (icmp && icmp->family != family) return std::nullopt;
  switch (fault) {
    // The control, once per family and protocol.
    case Fault::none:
      if (!at_server) return std::nullopt;
      return Expectation{"ok", "", ""};
    // Path faults: the server's input chain, or a router's forward chain (a middlebox). The
    // handshake is what they hit, whatever the protocol.
    case Fault::drop: return fail("connect", "tcp.filtered");
    case Fault::reject_reset: return fail("connect", "tcp.refused");
    case Fault::reject_icmp: return fail("connect", icmp_finding(*icmp));
    case Fault::reject_rate_limited: return fail("connect", "tcp.rejected_icmp");
    case Fault::loss: return Expectation{"warn", "connect", "tcp.handshake_loss"};
    // A delay is a router's link here (the TUN delayer forwards; a host does not).
    case Fault::delay:
      if (at_server) return std::nullopt;
      return Expectation{"ok", "", ""};
    // Every protocol's reply is made larger than the hole (a 3000-byte banner, a 3500-byte
    // body); the TLS handshakes stay small, so the reply is what stalls.
    case Fault::mtu_blackhole: return fail("talk", "path.mtu_blackhole");
    // Server behaviours: only the server host has them.
    case Fault::close_after_accept:
      if (!at_server) return std::nullopt;
      // Before the ClientHello is answered, the close is the handshake's.
      return fail(is_tls(proto) ? "secure" : "talk", "tcp.closed_after_accept");
    case Fault::reset_after_accept:
      if (!at_server) return std::nullopt;
      return fail(is_tls(proto) ? "secure" : "talk", "tcp.reset_after_accept");
    // A full accept queue drops the SYN: silence, as a filter.
    case Fault::never_accept:
      if (!at_server) return std::nullopt;
      return fail("connect", "tcp.filtered");
    // The lab has slow servers for a greeting (plain) and for HTTP (serve slow-first-byte, also
    // over TLS); none for a greeting after a TLS handshake.
    case Fault::slow_first_byte:
      if (!at_server || proto == Proto::tls) return std::nullopt;
      return Expectation{"warn", "talk", "app.slow_first_byte"};
    case Fault::tls_no_shared_cipher:
      if (!at_server || !is_tls(proto)) return std::nullopt;
      return fail("secure", "tls.alert");
    case Fault::tls_client_cert_tls12:
    case Fault::tls_client_cert_tls13:
      if (!at_server || !is_tls(proto)) return std::nullopt;
      return fail("secure", "tls.client_cert_required");
    case Fault::http_1xx_forever:
      if (!at_server || !is_http(proto)) return std::nullopt;
      return fail("talk", "http.no_final_response");
    case Fault::http_redirect_loop:
      if (!at_server || !is_http(proto)) return std::nullopt;
      return fail("talk", "http.redirect_loop");
  }
  return std::nullopt;
}

std::string Cell::name() const {
  std::string n = std::string(matrix::name(family)) + "_" + std::string(matrix::name(proto)) + "_" +
                  std::string(matrix::name(where)) + "_" + std::string(matrix::name(fault));
  if (icmp) {
    n += "_";
    for (char c : icmp->nft) n += c == '-' ? '_' : c;
  }
  return n;
}

namespace {

// The ids CONTRACT.md adds (issue 12 parts 1-2); cells expecting them fail until it is merged.
bool awaits_contract(const Expectation& e) {
  return e.finding == "tls.client_cert_required" || e.finding == "http.no_final_response" ||
         e.finding == "http.redirect_loop";
}

std::chrono::milliseconds timeout_for(Fault f) {
  // Behind the rate limit the answer comes to the 2nd or 3rd SYN (1 s apart; doctor's trace
  // takes tokens too); a lost SYN is resent after 1 s; every round trip takes 300 ms more; the
  // first byte comes after 1.5 s.
  if (f == Fault::reject_rate_limited) return 5000ms;
  if (f == Fault::loss || f == Fault::delay || f == Fault::slow_first_byte) return 3000ms;
  return 1000ms;
}

}  // namespace

std::vector<Cell> cells() {
  std::vector<Cell> out;
  for (const Family family : kFamilies) {
    for (const Proto proto : kProtos) {
      for (const Where where : kWheres) {
        for (const Fault fault : kFaults) {
          std::vector<std::optional<IcmpKind>> variants{std::nullopt};
          if (fault == Fault::reject_icmp) {
            variants.clear();
            for (const auto& k : icmp_kinds(family)) variants.emplace_back(k);
          }
          for (const auto& icmp : variants) {
            const auto e = expect(fault, where, family, proto, icmp);
            if (!e) continue;
            Cell c;
            c.fault = fault;
            c.where = where;
            c.family = family;
            c.proto = proto;
            c.icmp = icmp;
            c.expected = *e;
            c.timeout = timeout_for(fault);
            // Deterministic 30 % SYN loss: 10 handshakes lose 3 SYNs.
            c.repeat = fault == Fault::loss ? 10 : 0;
            c.follow = fault == Fault::http_redirect_loop;
            c.awaits_contract = awaits_contract(*e);
            out.push_back(std::move(c));
          }
        }
      }
    }
  }
  return out;
}

// ---- judgements ----

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool has(const std::string& hay, std::string_view needle) { return hay.find(needle) != std::string::npos; }

// The cause class of an error text (curl's stderr, Go's error strings): the socket errno texts
// and TLS alert names they share. `stage` is where the text says it happened.
std::optional<Judgement> judge_error_text(const std::string& t, const std::string& stage) {
  if (has(t, "certificate required")) return Judgement{"secure", "client_cert"};
  if (has(t, "alert") || has(t, "remote error: tls")) return Judgement{"secure", "tls_alert"};
  if (has(t, "connection refused")) return Judgement{"connect", "refused"};
  if (has(t, "no route to host") || has(t, "network is unreachable") || has(t, "host is unreachable")) {
    return Judgement{"connect", "unreachable"};
  }
  if (has(t, "permission denied")) return Judgement{"connect", "prohibited"};
  if (has(t, "protocol not available")) return Judgement{"connect", "icmp_rejected"};
  if (has(t, "connection reset")) return Judgement{stage, "reset"};
  return std::nullopt;
}

}  // namespace

Judgement judge_finding(std::string_view stage, std::string_view id) {
  if (id.empty()) return {"", "ok"};
  const std::string s(stage);
  if (id == "tcp.filtered" || id == "app.no_response") return {s, "timeout"};
  if (id == "tcp.refused") return {s, "refused"};
  if (id == "tcp.rejected_icmp") return {s, "icmp_rejected"};
  if (id == "net.host_unreachable") return {s, "unreachable"};
  if (id == "net.admin_prohibited") return {s, "prohibited"};
  if (id == "tcp.handshake_loss" || id == "tcp.slow_handshake") return {s, "loss"};
  if (id == "path.mtu_blackhole") return {s, "mtu"};
  if (id == "tcp.closed_after_accept") return {s, "closed"};
  if (id == "tcp.reset_after_accept") return {s, "reset"};
  if (id == "app.slow_first_byte") return {s, "slow"};
  if (id == "tls.alert") return {s, "tls_alert"};
  if (id == "tls.client_cert_required") return {s, "client_cert"};
  if (id == "http.no_final_response") return {s, "no_final_response"};
  if (id == "http.redirect_loop" || id == "http.too_many_redirects") return {s, "redirect_loop"};
  return {s, std::string(id)};
}

Judgement truth(const Cell& cell) { return judge_finding(cell.expected.stage, cell.expected.finding); }

Judgement judge_nmap(std::string_view output) {
  // "8080/tcp open  http-proxy syn-ack" / "closed ... conn-refused" / "filtered ... no-response"
  static const std::regex line(R"((\d+)/tcp\s+(\S+)\s+\S+\s+(\S+))");
  const std::string text(output);
  std::smatch m;
  if (!std::regex_search(text, m, line)) return {"connect", "no_answer"};
  const std::string state = m[2];
  const std::string reason = m[3];
  if (state == "open") return {"", "ok"};
  if (reason == "conn-refused" || reason == "reset") return {"connect", "refused"};
  if (reason == "no-response") return {"connect", "timeout"};
  if (reason == "host-unreach" || reason == "net-unreach" || reason == "host-unknown") {
    return {"connect", "unreachable"};
  }
  if (reason == "admin-prohibited" || reason == "host-prohibited" || reason == "net-prohibited") {
    return {"connect", "prohibited"};
  }
  if (reason == "port-unreach" || reason == "proto-unreach") return {"connect", "icmp_rejected"};
  return {"connect", state + "/" + reason};
}

std::optional<Judgement> judge_curl(Proto proto, int exit_code, std::string_view http_code,
                                    std::string_view stderr_text) {
  if (!is_http(proto)) return std::nullopt;
  // The final "curl: (N) ..." line says what failed; with -v, a failed connect() also has a
  // "* connect to ADDR port N failed: <errno text>" line (7.88's final line has no errno text).
  std::string err;
  std::string connect_lines;
  for (std::size_t at = 0; at < stderr_text.size();) {
    const auto end = std::min(stderr_text.find('\n', at), stderr_text.size());
    const std::string line = lower(stderr_text.substr(at, end - at));
    if (line.rfind("curl: (", 0) == 0) err += line + "\n";
    if (line.find("connect to ") != std::string::npos && line.find(" failed: ") != std::string::npos) {
      connect_lines += line + "\n";
    }
    at = end + 1;
  }
  if (exit_code == 0) {
    const int code = http_code.empty() ? 0 : std::atoi(std::string(http_code).c_str());
    if (code >= 200 && code < 400) return Judgement{"", "ok"};
    if (code >= 400) return Judgement{"talk", "http_" + std::to_string(code / 100) + "xx"};
    return Judgement{"talk", "no_final_response"};
  }
  // 35: the TLS handshake (SSL_connect); 7: connect(); 52/56: the reply.
  if (exit_code == 35) {
    if (auto j = judge_error_text(err, "secure")) return j;
    if (has(err, "eof") || has(err, "ssl_error_syscall")) return Judgement{"secure", "closed"};
    return Judgement{"secure", "other"};
  }
  if (exit_code == 7) {
    if (auto j = judge_error_text(connect_lines + err, "connect")) return j;
    return Judgement{"connect", "other"};
  }
  if (exit_code == 28) {
    if (has(err, "connection timed out") || has(err, "connection timeout")) return Judgement{"connect", "timeout"};
    if (has(err, "ssl connection timeout")) return Judgement{"secure", "timeout"};
    return Judgement{"talk", "timeout"};
  }
  if (exit_code == 52) return Judgement{"talk", "closed"};
  if (exit_code == 56) {
    if (auto j = judge_error_text(err, "talk")) return j;
    return Judgement{"talk", "other"};
  }
  if (exit_code == 47) return Judgement{"talk", "redirect_loop"};
  if (exit_code == 60) return Judgement{"secure", "certificate"};
  return Judgement{"talk", "curl_exit_" + std::to_string(exit_code)};
}

Judgement judge_blackbox(Proto proto, std::string_view debug_page) {
  const std::string page = lower(debug_page);
  if (has(page, "\nprobe_success 1")) return {"", "ok"};
  // The log lines that say why: "err=" values of the failing step.
  std::string errors;
  // Quoted (err="dial tcp ...") or a bare word (err=EOF).
  static const std::regex err_re(R"re(err=(?:"((?:[^"\\]|\\.)*)"|(\S+)))re");
  for (auto it = std::sregex_iterator(page.begin(), page.end(), err_re); it != std::sregex_iterator(); ++it) {
    errors += (*it)[1].str() + (*it)[2].str() + "\n";
  }
  // Where it stopped: the tcp prober logs the failing step; the http prober's last "Response
  // timings" line has a zero time for each phase it never finished.
  std::string stage = is_tls(proto) ? "secure" : "talk";
  // The tcp prober's "dialing" includes its TLS handshake: only a connect() error (or a dial
  // that timed out) is the connect stage's; a read, an EOF or an alert there is the handshake's.
  const bool connect_error = has(errors, "connect: ") || (has(errors, "dial tcp") && has(errors, "i/o timeout"));
  if (connect_error) {
    stage = "connect";
  } else if (has(page, "error dialing tcp")) {
    stage = proto == Proto::tls ? "secure" : "connect";
  } else if (has(page, "tls handshake")) {
    stage = "secure";
  } else if (const auto at = page.rfind("response timings"); at != std::string::npos) {
    const std::string timings = page.substr(at, page.find('\n', at) - at);
    // (Go stamps tlsDone even when the handshake failed; gotConn only for a usable connection.)
    const bool no_connect = has(timings, "connectdone=0001-01-01");
    const bool no_conn = has(timings, "gotconn=0001-01-01");
    const bool tls_started = !has(timings, "tlsstart=0001-01-01");
    stage = no_connect ? "connect" : (no_conn && tls_started) ? "secure" : no_conn ? "connect" : "talk";
  }
  // With follow_redirects (its default) the prober gives up after 10 and says so.
  if ((has(errors, "stopped after") && has(errors, "redirects")) || has(page, "not following redirect")) {
    return {"talk", "redirect_loop"};
  }
  if (has(errors, "too many 1xx")) return {"talk", "no_final_response"};
  if (auto j = judge_error_text(errors, stage)) return *j;
  if (has(errors, "i/o timeout") || has(errors, "deadline exceeded") || has(errors, "timeout")) return {stage, "timeout"};
  if (has(errors, "eof") || has(errors, "server closed")) return {stage, "closed"};
  if (has(page, "invalid http response status code")) return {"talk", "http_status"};
  if (has(page, "probe_success 0")) return {stage, "other"};
  return {"", "unknown"};
}

}  // namespace connscope::lab::matrix
