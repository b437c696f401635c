#include "agent/config.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/duration.h"
#include "probe/tls_result.h"

namespace connscope::agent {

namespace {

using Ms = std::chrono::milliseconds;

constexpr Ms kDay{86'400'000};
constexpr std::size_t kMaxFileSize = 1024 * 1024;

// A value read from the file with the line it is on; `text` is how it was written (durations),
// so that an error quotes the user's spelling rather than ours.
template <class T>
struct Located {
  T value;
  int line = 0;
  std::string text;
};

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out.append(fmt::format("\\x{:02x}", static_cast<unsigned>(static_cast<unsigned char>(c))));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

std::string_view type_phrase(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

int line_of(const toml::source_region& r) { return static_cast<int>(r.begin.line); }

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Reads typed, range-checked values out of toml++ tables; every error names the file and line.
class Reader {
 public:
  explicit Reader(std::string_view file) : file_(file) {}

  [[nodiscard]] std::unexpected<Error> error(int line, std::string detail) const {
    std::string op = line > 0 ? fmt::format("{} line {}", file_, line) : std::string(file_);
    return fail(std::move(op), std::move(detail));
  }

  // Typos must not pass silently: every key of `t` must be one of `known`.
  [[nodiscard]] Result<void> check_keys(const toml::table& t, std::string_view prefix,
                                        std::initializer_list<std::string_view> known) const {
    for (auto&& [key, node] : t) {
      const std::string_view k = key.str();
      if (std::find(known.begin(), known.end(), k) != known.end()) continue;
      std::string hint;
      std::size_t best = 3;  // a suggestion only for one or two typed characters off
      for (const auto candidate : known) {
        const std::size_t d = edit_distance(k, candidate);
        if (d < best) {
          best = d;
          hint = fmt::format(" (did you mean {}{}?)", prefix, candidate);
        }
      }
      if (hint.empty()) {
        hint = " (known: ";
        bool first = true;
        for (const auto candidate : known) {
          if (!first) hint.append(", ");
          hint.append(prefix).append(candidate);
          first = false;
        }
        hint.push_back(')');
      }
      const int line = key.source().begin.line > 0 ? line_of(key.source()) : line_of(node.source());
      return error(line, fmt::format("unknown key {}{}", quoted(fmt::format("{}{}", prefix, k)), hint));
    }
    return {};
  }

  [[nodiscard]] Result<std::optional<Located<std::string>>> string(const toml::table& t,
                                                                   std::string_view key,
                                                                   std::string_view path) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    const int line = line_of(n->source());
    const auto* v = n->as_string();
    if (v == nullptr) {
      return error(line, fmt::format("{}: expected a string, got {}", path, type_phrase(*n)));
    }
    return Located<std::string>{v->get(), line, v->get()};
  }

  [[nodiscard]] Result<std::optional<Located<Ms>>> duration(const toml::table& t,
                                                            std::string_view key,
                                                            std::string_view path, Ms min,
                                                            Ms max) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    const int line = line_of(n->source());
    const auto* v = n->as_string();
    if (v == nullptr) {
      return error(line, fmt::format("{}: expected a duration string such as \"30s\", got {}",
                                     path, type_phrase(*n)));
    }
    const std::string& text = v->get();
    auto d = parse_duration(text, path);
    if (!d) return error(line, fmt::format("{} {}: {}", path, quoted(text), d.error().detail));
    if (*d < min || *d > max) {
      return error(line, fmt::format("{} {}: out of range ({} to {})", path, quoted(text),
                                     format_duration(min), format_duration(max)));
    }
    return Located<Ms>{std::chrono::duration_cast<Ms>(*d), line, text};
  }

  [[nodiscard]] Result<std::optional<Located<std::int64_t>>> integer(
      const toml::table& t, std::string_view key, std::string_view path, std::int64_t min,
      std::int64_t max) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    const int line = line_of(n->source());
    const auto* v = n->as_integer();
    if (v == nullptr) {
      return error(line, fmt::format("{}: expected an integer, got {}", path, type_phrase(*n)));
    }
    const std::int64_t value = v->get();
    if (value < min || value > max) {
      return error(line, fmt::format("{} {}: out of range ({} to {})", path, value, min, max));
    }
    return Located<std::int64_t>{value, line, std::to_string(value)};
  }

  // A float or an integer (TOML keeps them apart; people write 2 as often as 2.0).
  [[nodiscard]] Result<std::optional<Located<double>>> number(const toml::table& t, std::string_view key,
                                                              std::string_view path, double min,
                                                              double max) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    const int line = line_of(n->source());
    double value = 0;
    if (const auto* f = n->as_floating_point()) {
      value = f->get();
    } else if (const auto* i = n->as_integer()) {
      value = static_cast<double>(i->get());
    } else {
      return error(line, fmt::format("{}: expected a number, got {}", path, type_phrase(*n)));
    }
    if (!(value >= min && value <= max)) {
      return error(line, fmt::format("{} {}: out of range ({} to {})", path, value, min, max));
    }
    return Located<double>{value, line, fmt::format("{}", value)};
  }

  [[nodiscard]] Result<std::optional<Located<bool>>> boolean(const toml::table& t,
                                                             std::string_view key,
                                                             std::string_view path) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::nullopt;
    const int line = line_of(n->source());
    const auto* v = n->as_boolean();
    if (v == nullptr) {
      return error(line, fmt::format("{}: expected true or false, got {}", path, type_phrase(*n)));
    }
    return Located<bool>{v->get(), line, v->get() ? "true" : "false"};
  }

  // A sub-table such as [sampling]; absent is fine (defaults), anything else is an error.
  [[nodiscard]] Result<const toml::table*> table(const toml::table& t,
                                                 std::string_view key) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return nullptr;
    const auto* tbl = n->as_table();
    if (tbl == nullptr) {
      return error(line_of(n->source()), fmt::format("{}: expected a table ([{}]), got {}", key,
                                                     key, type_phrase(*n)));
    }
    return tbl;
  }

  // `earlier` must not exceed `later` (e.g. fast_interval <= full_interval). The error points
  // at whichever of the two the file sets, `later` first; when neither is set the defaults hold.
  [[nodiscard]] Result<void> ordered(std::string_view earlier_path, Ms earlier,
                                     const std::optional<Located<Ms>>& earlier_at,
                                     std::string_view later_path, Ms later,
                                     const std::optional<Located<Ms>>& later_at) const {
    if (earlier <= later) return {};
    const auto shown = [](Ms v, const std::optional<Located<Ms>>& at) {
      return at ? quoted(at->text) : fmt::format("{} (the default)", format_duration(v));
    };
    if (later_at) {
      return error(later_at->line,
                   fmt::format("{} {}: shorter than {} {}", later_path, quoted(later_at->text),
                               earlier_path, shown(earlier, earlier_at)));
    }
    return error(earlier_at ? earlier_at->line : 0,
                 fmt::format("{} {}: longer than {} {}", earlier_path,
                             shown(earlier, earlier_at), later_path, shown(later, later_at)));
  }

 private:
  std::string_view file_;
};

// Assigns a present value; propagates an error.
#define CONNSCOPE_TRY(var, expr)                                \
  auto var = (expr);                                            \
  if (!var) return std::unexpected(std::move(var).error())

// `fast_at` receives where fast_interval is set, for history's check against it.
Result<void> read_sampling(const Reader& r, const toml::table* t, SamplingConfig& out,
                           std::optional<Located<Ms>>& fast_at) {
  if (t == nullptr) return {};
  CONNSCOPE_TRY(keys, r.check_keys(*t, "sampling.", {"fast_interval", "full_interval", "full_cpu_budget",
                                                         "check_interval", "bpf"}));
  CONNSCOPE_TRY(budget, r.number(*t, "full_cpu_budget", "sampling.full_cpu_budget", 0.0, 100.0));
  if (*budget) out.full_cpu_budget_percent = (*budget)->value;
  CONNSCOPE_TRY(fast, r.duration(*t, "fast_interval", "sampling.fast_interval", Ms{100},
                                 Ms{60'000}));
  CONNSCOPE_TRY(full, r.duration(*t, "full_interval", "sampling.full_interval", Ms{100},
                                 Ms{3'600'000}));
  if (*fast) out.fast_interval = (*fast)->value;
  fast_at = *fast;
  if (*full) out.full_interval = (*full)->value;
  CONNSCOPE_TRY(check, r.duration(*t, "check_interval", "sampling.check_interval", Ms{1000},
                                  Ms{86'400'000}));
  if (*check) out.check_interval = (*check)->value;
  CONNSCOPE_TRY(bpf, r.boolean(*t, "bpf", "sampling.bpf"));
  if (*bpf) out.bpf = (*bpf)->value;
  CONNSCOPE_TRY(check_order, r.ordered("sampling.fast_interval", out.fast_interval, *fast,
                                       "sampling.check_interval", out.check_interval, *check));
  return r.ordered("sampling.fast_interval", out.fast_interval, *fast, "sampling.full_interval",
                   out.full_interval, *full);
}

Result<void> read_history(const Reader& r, const toml::table* t, const SamplingConfig& sampling,
                          const std::optional<Located<Ms>>& fast_at, HistoryConfig& out) {
  if (t == nullptr) return {};
  CONNSCOPE_TRY(keys, r.check_keys(*t, "history.", {"raw_retention", "rollup_retention",
                                                    "listener_charted_after", "max_charted_listeners"}));
  CONNSCOPE_TRY(after, r.duration(*t, "listener_charted_after", "history.listener_charted_after", Ms{0}, kDay));
  if (*after) out.listener_charted_after = (*after)->value;
  CONNSCOPE_TRY(max_listeners, r.integer(*t, "max_charted_listeners", "history.max_charted_listeners", 0, 100'000));
  if (*max_listeners) out.max_charted_listeners = static_cast<std::size_t>((*max_listeners)->value);

  CONNSCOPE_TRY(raw, r.duration(*t, "raw_retention", "history.raw_retention", Ms{100}, kDay));
  CONNSCOPE_TRY(rollup, r.duration(*t, "rollup_retention", "history.rollup_retention",
                                   Ms{60'000}, 3650 * kDay));
  if (*raw) out.raw_retention = (*raw)->value;
  if (*rollup) out.rollup_retention = (*rollup)->value;
  // A raw history shorter than one sample interval would hold no sample at all.
  if (*raw) {
    CONNSCOPE_TRY(ok, r.ordered("sampling.fast_interval", sampling.fast_interval, fast_at,
                                "history.raw_retention", out.raw_retention, *raw));
  }
  return r.ordered("history.raw_retention", out.raw_retention, *raw, "history.rollup_retention",
                   out.rollup_retention, *rollup);
}

Result<void> read_http(const Reader& r, const toml::table* t, HttpConfig& out) {
  if (t == nullptr) return {};
  CONNSCOPE_TRY(keys, r.check_keys(*t, "http.", {"max_connections", "header_limit",
                                                 "request_deadline", "idle_timeout"}));
  CONNSCOPE_TRY(conns, r.integer(*t, "max_connections", "http.max_connections", 1, 1'000'000));
  CONNSCOPE_TRY(header, r.integer(*t, "header_limit", "http.header_limit", 1024, 65536));
  CONNSCOPE_TRY(deadline, r.duration(*t, "request_deadline", "http.request_deadline", Ms{100},
                                     Ms{300'000}));
  CONNSCOPE_TRY(idle, r.duration(*t, "idle_timeout", "http.idle_timeout", Ms{1000},
                                 Ms{3'600'000}));
  if (*conns) out.max_connections = static_cast<std::size_t>((*conns)->value);
  if (*header) out.header_limit = static_cast<std::size_t>((*header)->value);
  if (*deadline) out.request_deadline = (*deadline)->value;
  if (*idle) out.idle_timeout = (*idle)->value;
  return {};
}

Result<ProbeConfig> read_probe(const Reader& r, const toml::table& t, std::size_t index,
                               const AgentConfig& defaults) {
  const std::string prefix = fmt::format("probes[{}].", index);
  const std::string name = fmt::format("probes[{}]", index);
  CONNSCOPE_TRY(keys, r.check_keys(t, prefix, {"target", "interval", "timeout", "ca_file", "cert", "key"}));
  ProbeConfig p;
  p.line = line_of(t.source());
  CONNSCOPE_TRY(target, r.string(t, "target", prefix + "target"));
  if (!*target) return r.error(p.line, fmt::format("{}: no target (target = \"HOST:PORT\")", name));
  p.target = (*target)->value;
  auto parsed = parse_target(p.target);
  if (!parsed) {
    return r.error((*target)->line, fmt::format("{}target {}: {}", prefix, quoted(p.target),
                                                parsed.error().detail));
  }
  if (!parsed->port) {
    return r.error((*target)->line,
                   fmt::format("{}target {}: no port (write HOST:PORT, or a URL whose scheme "
                               "names one)",
                               prefix, quoted(p.target)));
  }
  p.parsed = std::move(*parsed);

  CONNSCOPE_TRY(interval, r.duration(t, "interval", prefix + "interval", Ms{1000}, kDay));
  CONNSCOPE_TRY(timeout, r.duration(t, "timeout", prefix + "timeout", Ms{1}, Ms{60'000}));
  p.interval = *interval ? (*interval)->value : defaults.probe_interval;
  p.timeout = *timeout ? (*timeout)->value : defaults.probe_timeout;
  // A run must end before the next one is due, or runs of one target pile up. Both inherited
  // cannot clash: probe_timeout <= probe_interval is checked first.
  if (p.timeout > p.interval) {
    const auto shown = [](const std::optional<Located<Ms>>& own, Ms value,
                          std::string_view default_key) {
      return own ? quoted(own->text)
                 : fmt::format("{} (from {})", format_duration(value), default_key);
    };
    const int line = *timeout ? (*timeout)->line : (*interval)->line;
    return r.error(line, fmt::format("{}: timeout {} is longer than the interval {}", name,
                                     shown(*timeout, p.timeout, "probe_timeout"),
                                     shown(*interval, p.interval, "probe_interval")));
  }
  CONNSCOPE_TRY(ca_file, r.string(t, "ca_file", prefix + "ca_file"));
  CONNSCOPE_TRY(cert, r.string(t, "cert", prefix + "cert"));
  CONNSCOPE_TRY(key, r.string(t, "key", prefix + "key"));
  if (*ca_file) p.ca_file = (*ca_file)->value;
  if (*cert) p.cert = (*cert)->value;
  if (*key) p.key = (*key)->value;
  if (p.cert.has_value() != p.key.has_value()) {
    return r.error(p.line, fmt::format("{}: cert and key go together", name));
  }
  if (p.ca_file || p.cert) {
    std::optional<probe::ClientCertificate> client;
    if (p.cert) client = probe::ClientCertificate{*p.cert, *p.key};
    if (auto ctx = probe::make_tls_context(p.ca_file, client); !ctx) {
      const int line = *cert ? (*cert)->line : (*ca_file)->line;
      return r.error(line, fmt::format("{}: {}", name, ctx.error().message()));
    }
  }
  return p;
}

Result<AgentConfig> read_config(const Reader& r, const toml::table& root) {
  AgentConfig c;
  CONNSCOPE_TRY(keys, r.check_keys(root, "", {"listen", "data_dir", "probe_own_listeners",
                                              "probe_interval", "probe_timeout", "sampling",
                                              "history", "http", "probes"}));

  CONNSCOPE_TRY(listen, r.string(root, "listen", "listen"));
  if (*listen) {
    auto ep = parse_endpoint((*listen)->value, "listen", /*allow_zero=*/true);
    if (!ep) {
      return r.error((*listen)->line, fmt::format("listen {}: {}", quoted((*listen)->value),
                                                  ep.error().detail));
    }
    c.listen = std::move(*ep);
  }

  CONNSCOPE_TRY(data_dir, r.string(root, "data_dir", "data_dir"));
  if (*data_dir) {
    const std::string& d = (*data_dir)->value;
    if (d.empty()) return r.error((*data_dir)->line, "data_dir \"\": empty path");
    if (d.find('\0') != std::string::npos) {
      return r.error((*data_dir)->line, fmt::format("data_dir {}: a NUL in a path", quoted(d)));
    }
    c.data_dir = d;
  }

  CONNSCOPE_TRY(own, r.boolean(root, "probe_own_listeners", "probe_own_listeners"));
  if (*own) c.probe_own_listeners = (*own)->value;

  CONNSCOPE_TRY(interval, r.duration(root, "probe_interval", "probe_interval", Ms{1000}, kDay));
  CONNSCOPE_TRY(timeout, r.duration(root, "probe_timeout", "probe_timeout", Ms{1}, Ms{60'000}));
  if (*interval) c.probe_interval = (*interval)->value;
  if (*timeout) c.probe_timeout = (*timeout)->value;
  CONNSCOPE_TRY(probe_order, r.ordered("probe_timeout", c.probe_timeout, *timeout,
                                       "probe_interval", c.probe_interval, *interval));

  CONNSCOPE_TRY(sampling, r.table(root, "sampling"));
  std::optional<Located<Ms>> fast_at;
  CONNSCOPE_TRY(sampling_ok, read_sampling(r, *sampling, c.sampling, fast_at));
  CONNSCOPE_TRY(history, r.table(root, "history"));
  CONNSCOPE_TRY(history_ok, read_history(r, *history, c.sampling, fast_at, c.history));
  CONNSCOPE_TRY(http, r.table(root, "http"));
  CONNSCOPE_TRY(http_ok, read_http(r, *http, c.http));

  if (const toml::node* n = root.get("probes")) {
    const auto* probes = n->as_array();
    if (probes == nullptr) {
      return r.error(line_of(n->source()),
                     fmt::format("probes: expected an array of tables ([[probes]]), got {}",
                                 type_phrase(*n)));
    }
    std::unordered_map<std::string, std::size_t> index_of;  // target -> its probes[] index
    c.probes.reserve(probes->size());
    for (std::size_t i = 0; i < probes->size(); ++i) {
      const toml::node& item = *probes->get(i);
      const auto* t = item.as_table();
      if (t == nullptr) {
        return r.error(line_of(item.source()),
                       fmt::format("probes[{}]: expected a table ([[probes]]), got {}", i,
                                   type_phrase(item)));
      }
      CONNSCOPE_TRY(p, read_probe(r, *t, i, c));
      const auto [first, fresh] = index_of.try_emplace(p->target, i);
      if (!fresh) {
        return r.error(p->line, fmt::format("probes[{}].target {}: already probed by "
                                            "probes[{}] (line {})",
                                            i, quoted(p->target), first->second,
                                            c.probes[first->second].line));
      }
      c.probes.push_back(std::move(*p));
    }
  }
  return c;
}

#undef CONNSCOPE_TRY

}  // namespace

Result<AgentConfig> parse_config(std::string_view text, std::string_view file_name) {
  const Reader r(file_name);
  // toml++ reports a syntax error by throwing (this build enables exceptions); the config is
  // the boundary where an exception becomes an Error.
#if TOML_EXCEPTIONS
  try {
    const toml::table root = toml::parse(text, file_name);
    return read_config(r, root);
  } catch (const toml::parse_error& e) {
    return r.error(line_of(e.source()), fmt::format("{} (column {})", e.description(),
                                                    e.source().begin.column));
  }
#else
  toml::parse_result parsed = toml::parse(text, file_name);
  if (!parsed) {
    const auto& e = parsed.error();
    return r.error(line_of(e.source()), fmt::format("{} (column {})", e.description(),
                                                    e.source().begin.column));
  }
  return read_config(r, parsed.table());
#endif
}

Result<AgentConfig> load_config(const std::string& path) {
  const std::string op = fmt::format("config {}", path);
  std::unique_ptr<std::FILE, decltype(&std::fclose)> f(std::fopen(path.c_str(), "rbe"),
                                                       &std::fclose);
  if (!f) return fail_errno(op, errno);
  std::string text;
  char buf[16 * 1024];
  while (true) {
    const std::size_t n = std::fread(buf, 1, sizeof buf, f.get());
    text.append(buf, n);
    if (text.size() > kMaxFileSize) return fail(op, "larger than 1 MiB: not a configuration");
    if (n < sizeof buf) {
      if (std::ferror(f.get()) != 0) return fail_errno(op, errno);
      break;
    }
  }
  return parse_config(text, path);
}

}  // namespace connscope::agent
