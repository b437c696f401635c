// `connscope probe TARGET... | -f FILE | HOST --ports LIST`: parses the targets (probe/scan_input.h),
// resolves each name once (probe/resolve_names.h), sizes the concurrency to the fd limit, runs the
// bulk scheduler (probe/scan.h) and renders the ProbeResult (cli/probe_render.h): a table, JSON
// Lines or CSV, with a progress line on a terminal.

#include "cli/cmd_probe.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/App.hpp>
#include <fmt/format.h>

#include "cli/probe_render.h"
#include "core/duration.h"
#include "core/error_text.h"
#include "probe/dns_result.h"
#include "probe/resolve_names.h"
#include "probe/scan.h"
#include "probe/scan_input.h"
#include "sys/limits.h"
#include "sys/proc_net.h"

namespace connscope::cli {

namespace {

using probe::ScanState;

constexpr std::size_t kMaxConcurrency = 1'000'000;

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

int run_probe_cmd(const GlobalOptions& g, const ProbeFlags& f) {
  const auto usage = [&](const Error& e) { return report(g, e, ExitCode::usage); };
  if (f.csv && g.json) return usage(error_text("--csv and --json", Msg::probe_choose_one));
  if (f.v4 && f.v6) return usage(error_text("-4 and -6", Msg::probe_choose_one));
  if (f.concurrency < 1 || f.concurrency > static_cast<long long>(kMaxConcurrency)) {
    return usage(error_text(fmt::format("--concurrency \"{}\"", f.concurrency), Msg::opt_range,
                            {{"min", "1"}, {"max", std::to_string(kMaxConcurrency)}}));
  }
  if (f.rate && !(*f.rate > 0 && *f.rate <= 1e7)) {
    return usage(error_text(fmt::format("--rate \"{}\"", *f.rate), Msg::probe_rate_range, {{"max", "10000000"}}));
  }
  probe::StageOptions stages{f.tls, f.talk, std::nullopt, std::nullopt};
  if (f.cert.empty() != f.key.empty()) {
    return usage(error_text(f.cert.empty() ? "--key" : "--cert", Msg::opt_cert_and_key));
  }
  if (!f.ca_file.empty()) stages.ca_file = f.ca_file;
  if (!f.cert.empty()) stages.client_cert = probe::ClientCertificate{f.cert, f.key};
  if (stages.ca_file || stages.client_cert) {
    if (!f.tls && !f.talk) return usage(error_text("--ca-file, --cert and --key", Msg::probe_tls_files_need_stage));
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
  if (targets.empty()) return usage(error_text("probe", Msg::probe_no_targets));
  std::vector<std::uint16_t> ports;
  if (!f.ports.empty()) {
    auto p = probe::parse_port_list(f.ports);
    if (!p) return usage(p.error());
    ports = std::move(*p);
  }
  for (const auto& t : targets) {
    if ((t.target.kind == HostKind::ipv4 && f.v6) || (t.target.kind == HostKind::ipv6 && f.v4)) {
      return usage(error_text("target \"" + t.text + "\"", f.v6 ? Msg::opt_ipv4_with_v6 : Msg::opt_ipv6_with_v4));
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
  const auto resolved = probe::resolve_names(names, family, timeout);

  ProbeResult result;
  auto& rows = result.rows;
  rows.reserve(items->size());
  std::vector<Endpoint> endpoints;
  std::vector<Target> endpoint_targets;
  std::vector<std::size_t> row_of;  // endpoint index → row index
  for (const auto& item : *items) {
    ProbeRow row;
    row.text = targets[item.target].text;
    row.target = targets[item.target].target;
    row.port = item.port;
    const Target& t = row.target;
    if (t.kind == HostKind::name) {
      const probe::NameResolution& r = resolved.at(t.host);
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
                    fmt::arg("open", p.open), fmt::arg("elapsed", format_elapsed(std::chrono::duration_cast<std::chrono::nanoseconds>(p.elapsed)))));
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
  result.stats = scanned->stats;
  result.endpoints = endpoints.size();
  result.timeout = timeout;
  result.concurrency = concurrency;
  result.concurrency_requested = wanted;
  result.fd_limit = limit->soft;
  result.rate = f.rate;
  result.failed_only = f.failed;
  result.tls_column = f.tls;
  result.talk_column = f.talk;

  if (g.json) {
    fmt::print("{}", render_json(result));
  } else if (f.csv) {
    // CSV keeps stdout to its rows; the summary goes to stderr.
    fmt::print("{}", render_csv(result));
    fmt::print(stderr, "{}", render_summary(result, g.lang));
  } else {
    fmt::print("{}", render_text(result, g.lang, Style{g.color}));
  }
  return static_cast<int>(result.all_open() ? ExitCode::healthy : ExitCode::problems);
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
