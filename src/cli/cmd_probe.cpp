// `connscope probe TARGET... | -f FILE | HOST --ports LIST`: parses the targets (probe/scan_input.h),
// resolves each name once, sizes the concurrency to the fd limit, runs the bulk scheduler
// (probe/scan.h) and renders a table, JSON Lines or CSV, with a progress line on a terminal.

#include "cli/cmd_probe.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/App.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/display_width.h"
#include "core/duration.h"
#include "probe/dns.h"
#include "probe/scan.h"
#include "probe/scan_input.h"
#include "sys/limits.h"
#include "sys/proc_net.h"

namespace connscope::cli {

namespace {

namespace asio = boost::asio;
using nlohmann::json;
using probe::ScanResult;
using probe::ScanState;

constexpr std::size_t kMaxConcurrency = 1'000'000;
constexpr std::size_t kResolveWorkers = 64;

struct ProbeFlags {
  std::vector<std::string> targets;
  std::string file;
  std::string ports;
  long long concurrency = 1000;
  std::optional<double> rate;
  bool failed = false;
  bool csv = false;
  bool tls = false;
  bool talk = false;
  std::string ca_file;
  std::string cert;
  std::string key;
  bool v4 = false;
  bool v6 = false;
};

// Where a name led: an address, or why not.
struct Resolved {
  std::optional<std::string> address;
  int family = AF_INET;
  std::string failure;  // dns_failure_name, or "no_address" for the asked family
  std::string detail;
};

// One output row: the endpoint as asked and what became of it.
struct Row {
  const probe::ScanTarget* target = nullptr;
  std::uint16_t port = 0;
  std::optional<Endpoint> remote;  // absent when the name did not resolve
  ScanResult result;
  std::string dns_failure;  // set when the name did not resolve
};

double ms(std::chrono::microseconds d) { return std::chrono::duration<double, std::milli>(d).count(); }
std::string dur(std::chrono::nanoseconds d) { return format_elapsed(d); }

std::string csv_field(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

// Names resolved once each, at most kResolveWorkers at a time, on one io_context.
std::map<std::string, Resolved> resolve_names(const std::vector<std::string>& names,
                                              probe::DnsFamily family,
                                              std::chrono::milliseconds timeout) {
  std::map<std::string, Resolved> out;
  if (names.empty()) return out;
  asio::io_context io(1);
  std::size_t next = 0;
  auto worker = [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    while (next < names.size()) {
      const std::string name = names[next++];
      probe::DnsOptions o;
      o.family = family;
      o.timeout = timeout;
      const probe::DnsResult d = co_await probe::resolve(ex, name, o);
      Resolved r;
      if (d.ok() && !d.addresses.empty()) {
        r.address = d.addresses.front().address;
        r.family = d.addresses.front().family;
      } else {
        r.failure = std::string(probe::dns_failure_name(d.ok() ? probe::DnsFailure::no_address : d.failure));
        r.detail = d.detail;
      }
      out[name] = std::move(r);
    }
  };
  for (std::size_t i = 0; i < std::min(kResolveWorkers, names.size()); ++i) {
    asio::co_spawn(io, worker(), asio::detached);
  }
  io.run();
  return out;
}

std::string reason_text(const GlobalOptions& g, const Row& row) {
  const ScanResult& r = row.result;
  if (!row.dns_failure.empty()) return "dns " + row.dns_failure;
  if (r.queued && r.queued->offender &&
      (r.queued->origin == probe::ErrOrigin::icmp || r.queued->origin == probe::ErrOrigin::icmp6)) {
    return tr(g.lang, Msg::probe_reason_icmp, fmt::arg("what", r.reason),
              fmt::arg("from", *r.queued->offender));
  }
  if (r.state == ScanState::error && r.error != 0) {
    return tr(g.lang, Msg::probe_reason_errno, fmt::arg("what", r.reason),
              fmt::arg("op", r.failed_op.empty() ? "connect" : r.failed_op),
              fmt::arg("error", std::strerror(r.error)));
  }
  return std::string(r.reason);
}

std::string endpoint_text(const Row& row) {
  const Target& t = row.target->target;
  const std::string host = t.kind == HostKind::ipv6 ? "[" + t.host + "]" : t.host;
  std::string out = fmt::format("{}:{}", host, row.port);
  if (t.kind == HostKind::name && row.remote) out += " (" + row.remote->address + ")";
  return out;
}

json row_json(const Row& row) {
  const ScanResult& r = row.result;
  json j;
  j["type"] = "endpoint";
  j["target"] = row.target->text;
  j["host"] = row.target->target.host;
  j["address"] = row.remote ? json(row.remote->address) : json(nullptr);
  j["port"] = row.port;
  j["state"] = probe::scan_state_name(r.state);
  j["reason"] = row.dns_failure.empty() ? json(r.reason) : json("dns-" + row.dns_failure);
  j["from"] = r.queued && r.queued->offender ? json(*r.queued->offender) : json(nullptr);
  j["icmp"] = r.queued && (r.queued->origin == probe::ErrOrigin::icmp ||
                           r.queued->origin == probe::ErrOrigin::icmp6)
                  ? json{{"origin", probe::origin_name(r.queued->origin)},
                         {"type", r.queued->type},
                         {"code", r.queued->code}}
                  : json(nullptr);
  j["failure"] = probe::connect_failure_name(r.failure);
  const auto finding = probe::finding_id(r.failure);
  j["finding"] = finding ? json(*finding) : json(nullptr);
  j["errno"] = r.error != 0 ? json(r.error) : json(nullptr);
  j["failed_op"] = r.failed_op.empty() ? json(nullptr) : json(r.failed_op);
  j["timed_out"] = r.timed_out;
  const bool started = row.remote && (r.failed_op.empty() || r.failed_op == "connect");
  j["start_ms"] = started ? json(ms(r.start)) : json(nullptr);
  j["time_ms"] = started ? json(ms(r.elapsed)) : json(nullptr);
  if (r.stages) {
    const auto& st = *r.stages;
    if (st.tls) {
      j["tls"] = {{"outcome", probe::outcome_name(*st.tls)},
                  {"version", st.tls_version.empty() ? json(nullptr) : json(st.tls_version)},
                  {"verified", st.tls_verified},
                  {"days_to_expiry", st.days_to_expiry ? json(*st.days_to_expiry) : json(nullptr)}};
    }
    if (st.talk) {
      j["talk"] = {{"protocol", protocol_name(st.protocol)},
                   {"outcome", probe::outcome_name(*st.talk)},
                   {"reply", st.reply.empty() ? json(nullptr) : json(st.reply)},
                   {"http_status", st.http_status ? json(*st.http_status) : json(nullptr)}};
    }
  }
  return j;
}

std::string tls_text(const GlobalOptions& g, const Row& row) {
  if (!row.result.stages || !row.result.stages->tls) return "";
  const auto& st = *row.result.stages;
  if (st.days_to_expiry) {
    return tr(g.lang, Msg::probe_tls_days, fmt::arg("version", st.tls_version),
              fmt::arg("days", *st.days_to_expiry));
  }
  return std::string(probe::outcome_name(*st.tls));
}

std::string talk_text(const Row& row) {
  if (!row.result.stages || !row.result.stages->talk) return "";
  const auto& st = *row.result.stages;
  if (!st.reply.empty()) return st.reply;
  return std::string(probe::outcome_name(*st.talk));
}

struct Counts {
  std::size_t by_state[5] = {0, 0, 0, 0, 0};
  [[nodiscard]] std::size_t of(ScanState s) const { return by_state[static_cast<int>(s)]; }
};

int run_probe_cmd(const GlobalOptions& g, const ProbeFlags& f) {
  const auto usage = [&](const Error& e) { return report(g, e, ExitCode::usage); };
  if (f.csv && g.json) return usage(Error{"--csv and --json", 0, tr(g.lang, Msg::probe_choose_one)});
  if (f.v4 && f.v6) return usage(Error{"-4 and -6", 0, tr(g.lang, Msg::probe_choose_one)});
  if (f.concurrency < 1 || f.concurrency > static_cast<long long>(kMaxConcurrency)) {
    return usage(Error{fmt::format("--concurrency \"{}\"", f.concurrency), 0,
                       fmt::format("must be 1 to {}", kMaxConcurrency)});
  }
  if (f.rate && !(*f.rate > 0 && *f.rate <= 1e7)) {
    return usage(Error{fmt::format("--rate \"{}\"", *f.rate), 0, "must be more than 0 (at most 10000000)"});
  }
  probe::StageOptions stages{f.tls, f.talk, std::nullopt, std::nullopt};
  if (f.cert.empty() != f.key.empty()) {
    return usage(Error{f.cert.empty() ? "--key" : "--cert", 0, "needs --cert and --key together"});
  }
  if (!f.ca_file.empty()) stages.ca_file = f.ca_file;
  if (!f.cert.empty()) stages.client_cert = probe::ClientCertificate{f.cert, f.key};
  if (stages.ca_file || stages.client_cert) {
    if (!f.tls && !f.talk) return usage(Error{"--ca-file, --cert and --key", 0, "go with --tls or --talk"});
    // Loaded once here so that a wrong file is a usage error naming it.
    if (auto ok = probe::check_tls_files(stages.ca_file, stages.client_cert); !ok) return usage(ok.error());
  }

  // Targets: the command line's, then the file's, in order.
  std::vector<probe::ScanTarget> targets;
  for (const auto& text : f.targets) {
    auto t = probe::parse_scan_target(text);
    if (!t) return usage(t.error());
    targets.push_back(std::move(*t));
  }
  if (!f.file.empty()) {
    auto content = sys::read_file(f.file);
    if (!content) return usage(Error{"-f \"" + f.file + "\"", content.error().code, ""});
    auto parsed = probe::parse_targets_file(*content, f.file);
    if (!parsed) return usage(parsed.error());
    for (auto& t : *parsed) targets.push_back(std::move(t));
  }
  if (targets.empty()) return usage(Error{"probe", 0, tr(g.lang, Msg::probe_no_targets)});
  std::vector<std::uint16_t> ports;
  if (!f.ports.empty()) {
    auto p = probe::parse_port_list(f.ports);
    if (!p) return usage(p.error());
    ports = std::move(*p);
  }
  for (const auto& t : targets) {
    if ((t.target.kind == HostKind::ipv4 && f.v6) || (t.target.kind == HostKind::ipv6 && f.v4)) {
      return usage(Error{"target \"" + t.text + "\"", 0,
                         f.v6 ? "an IPv4 address with -6" : "an IPv6 address with -4"});
    }
  }
  auto items = probe::expand_targets(targets, ports, tr(g.lang, Msg::probe_no_port), f.file);
  if (!items) return usage(items.error());

  const auto timeout = std::max(std::chrono::milliseconds(1),
                                std::chrono::duration_cast<std::chrono::milliseconds>(g.timeout));

  // Names, once each, before any connect.
  std::vector<std::string> names;
  for (const auto& t : targets) {
    if (t.target.kind == HostKind::name &&
        std::find(names.begin(), names.end(), t.target.host) == names.end()) {
      names.push_back(t.target.host);
    }
  }
  const auto family = f.v4 ? probe::DnsFamily::v4 : f.v6 ? probe::DnsFamily::v6 : probe::DnsFamily::any;
  const auto resolved = resolve_names(names, family, timeout);

  std::vector<Row> rows;
  rows.reserve(items->size());
  std::vector<Endpoint> endpoints;
  std::vector<Target> endpoint_targets;
  std::vector<std::size_t> row_of;  // endpoint index → row index
  for (const auto& item : *items) {
    Row row;
    row.target = &targets[item.target];
    row.port = item.port;
    const Target& t = row.target->target;
    if (t.kind == HostKind::name) {
      const Resolved& r = resolved.at(t.host);
      if (!r.address) {
        row.dns_failure = r.failure;
        row.result = probe::setup_failure("resolve " + t.host, 0);
        rows.push_back(std::move(row));
        continue;
      }
      row.remote = Endpoint{r.family, *r.address, item.port};
    } else {
      row.remote = Endpoint{t.kind == HostKind::ipv6 ? AF_INET6 : AF_INET, t.host, item.port};
    }
    row_of.push_back(rows.size());
    endpoints.push_back(*row.remote);
    endpoint_targets.push_back(t);
    rows.push_back(std::move(row));
  }

  // The fd limit: raised to its hard limit, then the concurrency fits under it.
  const auto limit = sys::raise_fd_limit();
  if (!limit) return report(g, limit.error(), ExitCode::could_not_run);
  const auto open_fds = sys::count_open_fds();
  const std::uint64_t open_now = open_fds ? *open_fds : 3;
  const auto wanted = static_cast<std::size_t>(f.concurrency);
  const std::size_t concurrency = probe::concurrency_for_fd_limit(wanted, limit->soft, open_now);
  if (concurrency == 0) {
    return report(g, Error{"RLIMIT_NOFILE", EMFILE,
                           tr(g.lang, Msg::probe_fd_limit_too_low, fmt::arg("limit", limit->soft),
                              fmt::arg("open", open_now))},
                  ExitCode::could_not_run);
  }
  if (concurrency < wanted && concurrency < endpoints.size()) {
    fmt::print(stderr, "connscope: {}\n",
               tr(g.lang, Msg::probe_concurrency_lowered, fmt::arg("wanted", wanted),
                  fmt::arg("used", concurrency), fmt::arg("limit", limit->soft),
                  fmt::arg("open", open_now)));
  }

  probe::ScanOptions so;
  so.timeout = timeout;
  so.concurrency = concurrency;
  so.rate = f.rate;
  const bool progress = ::isatty(STDERR_FILENO) == 1;
  if (progress) {
    so.progress = [&g](const probe::ScanProgress& p) {
      fmt::print(stderr, "\r\x1b[K{}",
                 tr(g.lang, Msg::probe_progress, fmt::arg("done", p.done), fmt::arg("total", p.total),
                    fmt::arg("open", p.open), fmt::arg("elapsed", dur(p.elapsed))));
      std::fflush(stderr);
    };
  }
  const auto scanned = f.tls || f.talk
                           ? probe::scan_with_stages(endpoints, endpoint_targets, so,
                                                     stages)
                           : probe::scan_endpoints(endpoints, so);
  if (progress) fmt::print(stderr, "\r\x1b[K");
  if (!scanned) return report(g, scanned.error(), ExitCode::could_not_run);
  for (std::size_t i = 0; i < row_of.size(); ++i) rows[row_of[i]].result = scanned->results[i];

  Counts counts;
  for (const auto& row : rows) ++counts.by_state[static_cast<int>(row.result.state)];
  const auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(scanned->stats.elapsed);
  const double seconds = std::max(1e-9, std::chrono::duration<double>(elapsed).count());
  const double per_second = static_cast<double>(endpoints.size()) / seconds;
  const bool all_open = counts.of(ScanState::open) == rows.size();
  const auto shown = [&](const Row& row) { return !f.failed || row.result.state != ScanState::open; };

  if (g.json) {
    for (const auto& row : rows) {
      if (shown(row)) fmt::print("{}\n", row_json(row).dump());
    }
    json s{{"type", "summary"},
           {"total", rows.size()},
           {"open", counts.of(ScanState::open)},
           {"closed", counts.of(ScanState::closed)},
           {"filtered", counts.of(ScanState::filtered)},
           {"unreachable", counts.of(ScanState::unreachable)},
           {"error", counts.of(ScanState::error)},
           {"duration_ms", std::chrono::duration<double, std::milli>(elapsed).count()},
           {"endpoints_per_second", per_second},
           {"timeout_ms", timeout.count()},
           {"concurrency", concurrency},
           {"concurrency_requested", wanted},
           {"fd_limit", limit->soft},
           {"max_in_flight", scanned->stats.max_in_flight},
           {"shards", scanned->stats.shards},
           {"fd_waits", scanned->stats.fd_waits},
           {"rate_limit", f.rate ? json(*f.rate) : json(nullptr)}};
    fmt::print("{}\n", s.dump());
  } else if (f.csv) {
    fmt::print("target,host,address,port,state,reason,from,time_ms,errno,tls_version,days_to_expiry,talk\n");
    for (const auto& row : rows) {
      if (!shown(row)) continue;
      const auto& r = row.result;
      const bool started = row.remote && (r.failed_op.empty() || r.failed_op == "connect");
      const std::string reason = row.dns_failure.empty() ? std::string(r.reason) : "dns-" + row.dns_failure;
      std::string line;
      line.append(csv_field(row.target->text)).append(",");
      line.append(csv_field(row.target->target.host)).append(",");
      line.append(csv_field(row.remote ? row.remote->address : "")).append(",");
      line.append(std::to_string(row.port)).append(",");
      line.append(csv_field(probe::scan_state_name(r.state))).append(",");
      line.append(csv_field(reason)).append(",");
      line.append(csv_field(r.queued && r.queued->offender ? *r.queued->offender : "")).append(",");
      line.append(started ? fmt::format("{:.3f}", ms(r.elapsed)) : "").append(",");
      line.append(r.error != 0 ? std::to_string(r.error) : "").append(",");
      const bool has_tls = r.stages && r.stages->tls;
      line.append(csv_field(has_tls ? r.stages->tls_version : "")).append(",");
      line.append(has_tls && r.stages->days_to_expiry ? std::to_string(*r.stages->days_to_expiry) : "").append(",");
      line.append(csv_field(talk_text(row)));
      fmt::print("{}\n", line);
    }
  } else {
    const Style st{g.color};
    std::vector<std::vector<std::string>> cells;
    std::vector<ScanState> states;
    const bool tls_col = f.tls;
    const bool talk_col = f.talk;
    std::vector<std::string> head{tr(g.lang, Msg::probe_col_endpoint), tr(g.lang, Msg::probe_col_state),
                                  tr(g.lang, Msg::probe_col_time), tr(g.lang, Msg::probe_col_reason)};
    if (tls_col) head.push_back(tr(g.lang, Msg::probe_col_tls));
    if (talk_col) head.push_back(tr(g.lang, Msg::probe_col_talk));
    for (const auto& row : rows) {
      if (!shown(row)) continue;
      const auto& r = row.result;
      const bool started = row.remote && (r.failed_op.empty() || r.failed_op == "connect");
      std::vector<std::string> c{endpoint_text(row), std::string(probe::scan_state_name(r.state)),
                                 started ? dur(r.elapsed) : "", reason_text(g, row)};
      if (tls_col) c.push_back(tls_text(g, row));
      if (talk_col) c.push_back(talk_text(row));
      cells.push_back(std::move(c));
      states.push_back(r.state);
    }
    if (cells.empty()) {
      if (f.failed) fmt::print("{}\n", st.green(tr(g.lang, Msg::probe_none_failed)));
    } else {
      std::vector<std::size_t> width(head.size(), 0);
      for (std::size_t k = 0; k < head.size(); ++k) width[k] = display_width(head[k]);
      for (const auto& c : cells) {
        for (std::size_t k = 0; k < c.size(); ++k) width[k] = std::max(width[k], display_width(c[k]));
      }
      auto print_row = [&](const std::vector<std::string>& c, std::optional<ScanState> state) {
        std::string line;
        for (std::size_t k = 0; k < c.size(); ++k) {
          // Padded before colouring, so the escape codes do not shift the columns.
          std::string cell = k + 1 == c.size() ? c[k] : pad_right(c[k], width[k]);
          if (k == 1 && state) {
            if (*state == ScanState::open) cell = st.green(cell);
            else if (*state == ScanState::closed || *state == ScanState::filtered) cell = st.yellow(cell);
            else cell = st.red(cell);
          }
          if (k > 0) line.append("  ");
          line.append(cell);
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        fmt::print("{}\n", line);
      };
      print_row(head, std::nullopt);
      for (std::size_t i = 0; i < cells.size(); ++i) print_row(cells[i], states[i]);
    }
  }
  if (!g.json) {
    const std::string summary =
        tr(g.lang, Msg::probe_summary, fmt::arg("total", rows.size()), fmt::arg("elapsed", dur(elapsed)),
           fmt::arg("rate", static_cast<long long>(per_second)), fmt::arg("open", counts.of(ScanState::open)),
           fmt::arg("closed", counts.of(ScanState::closed)), fmt::arg("filtered", counts.of(ScanState::filtered)),
           fmt::arg("unreachable", counts.of(ScanState::unreachable)),
           fmt::arg("error", counts.of(ScanState::error)));
    // CSV keeps stdout to its rows; the table ends with the summary.
    std::FILE* out = f.csv ? stderr : stdout;
    fmt::print(out, "{}\n", summary);
    if (scanned->stats.fd_waits > 0) {
      fmt::print(out, "{}\n", tr(g.lang, Msg::probe_backpressure, fmt::arg("waits", scanned->stats.fd_waits)));
    }
  }
  return static_cast<int>(all_open ? ExitCode::healthy : ExitCode::problems);
}

}  // namespace

std::function<int()> register_probe(CLI::App& app, const GlobalOptions& global) {
  auto flags = std::make_shared<ProbeFlags>();
  const Lang lang = global.lang;
  auto* cmd = app.add_subcommand("probe", tr(lang, Msg::help_probe));
  cmd->footer(tr(lang, Msg::help_probe_footer));
  cmd->add_option("targets", flags->targets, tr(lang, Msg::help_probe_targets))->type_name("TARGET");
  cmd->add_option("-f,--file", flags->file, tr(lang, Msg::help_probe_file))->type_name("FILE");
  cmd->add_option("--ports", flags->ports, tr(lang, Msg::help_probe_ports))->type_name("LIST");
  cmd->add_option("--concurrency", flags->concurrency, tr(lang, Msg::help_probe_concurrency))->type_name("N");
  cmd->add_option("--rate", flags->rate, tr(lang, Msg::help_probe_rate))->type_name("PER_SECOND");
  cmd->add_flag("--failed", flags->failed, tr(lang, Msg::help_probe_failed));
  cmd->add_flag("--csv", flags->csv, tr(lang, Msg::help_probe_csv));
  cmd->add_flag("--tls", flags->tls, tr(lang, Msg::help_probe_tls));
  cmd->add_flag("--talk", flags->talk, tr(lang, Msg::help_probe_talk));
  cmd->add_option("--ca-file", flags->ca_file, tr(lang, Msg::help_doctor_ca_file))->type_name("FILE");
  cmd->add_option("--cert", flags->cert, tr(lang, Msg::help_doctor_cert))->type_name("FILE");
  cmd->add_option("--key", flags->key, tr(lang, Msg::help_doctor_key))->type_name("FILE");
  cmd->add_flag("-4", flags->v4, tr(lang, Msg::help_probe_v4));
  cmd->add_flag("-6", flags->v6, tr(lang, Msg::help_probe_v6));
  return [cmd, flags, &global]() -> int {
    if (!cmd->parsed()) return -1;
    return run_probe_cmd(global, *flags);
  };
}

}  // namespace connscope::cli
