#include "sys/proc_counters.h"

#include <cerrno>
#include <charconv>
#include <initializer_list>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/error_text.h"
#include "sys/proc_net.h"

namespace connscope::sys {

namespace {

// The op is where, as editors and compilers say it: "PATH:LINE" or "PATH".
Error line_error(std::string_view source, std::size_t line_no, Msg id, TextArgs args = {}) {
  return error_text(fmt::format("{}:{}", source, line_no), id, std::move(args));
}

Error file_error(std::string_view source, Msg id, TextArgs args = {}) {
  return error_text(std::string(source), id, std::move(args));
}

std::string str(std::string_view s) { return std::string(s); }

// Calls f(line_no, line) for every line, numbered from 1 as an editor shows them; stops at the
// first error f returns. The kernel ends every line with '\n', so a last line without one is a
// file cut short (a partial read or copy): its last number may be missing digits, which no
// other check could see.
template <class F>
std::optional<Error> for_each_line(std::string_view text, std::string_view source, F&& f) {
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto end = text.find('\n', pos);
    ++line_no;
    if (end == std::string_view::npos) {
      return line_error(source, line_no, Msg::err_no_final_newline);
    }
    if (auto err = f(line_no, text.substr(pos, end - pos))) return err;
    pos = end + 1;
  }
  return std::nullopt;
}

// snmp6 pads names with spaces and a tab, so both separate fields.
std::vector<std::string_view> split_ws(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    const std::size_t start = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

bool is_blank(std::string_view line) { return split_ws(line).empty(); }

bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Counter names are identifiers ("InType3", "TCPSynRetrans"). Checking this is what catches a
// value line standing where its header should be (a header lost from the file).
bool is_name(std::string_view s) {
  if (s.empty() || !is_alpha(s.front())) return false;
  for (char c : s) {
    if (!is_alpha(c) && !is_digit(c) && c != '_') return false;
  }
  return true;
}

// The kernel prints unsigned longs, except Tcp.MaxConn (signed, -1): an unsigned value is kept
// as its two's-complement int64 (see Counters in the header).
bool parse_value(std::string_view s, std::int64_t& out) {
  const char* first = s.data();
  const char* last = s.data() + s.size();
  if (!s.empty() && s.front() == '-') {
    auto [ptr, ec] = std::from_chars(first, last, out);
    return ec == std::errc{} && ptr == last;
  }
  std::uint64_t u = 0;
  auto [ptr, ec] = std::from_chars(first, last, u);
  if (ec != std::errc{} || ptr != last) return false;
  out = static_cast<std::int64_t>(u);
  return true;
}

// "TCP: inuse 4 orphan 2" -> group "TCP", pairs; the layout of sockstat and sockstat6.
struct KeyedLine {
  std::size_t line_no = 0;
  std::vector<std::pair<std::string_view, std::int64_t>> fields;
};
using KeyedLines = std::map<std::string_view, KeyedLine, std::less<>>;

Result<KeyedLines> parse_keyed_lines(std::string_view text, std::string_view source) {
  KeyedLines out;
  auto err = for_each_line(
      text, source, [&](std::size_t line_no, std::string_view line) -> std::optional<Error> {
        if (is_blank(line)) return std::nullopt;
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) {
          return line_error(source, line_no, Msg::err_no_group_prefix, {{"prefix", "NAME"}});
        }
        const auto group = line.substr(0, colon);
        const auto f = split_ws(line.substr(colon + 1));
        if (f.size() % 2 != 0) {
          return line_error(source, line_no, Msg::err_name_without_value, {{"group", str(group)}});
        }
        KeyedLine kl;
        kl.line_no = line_no;
        for (std::size_t i = 0; i < f.size(); i += 2) {
          std::int64_t v = 0;
          if (!parse_value(f[i + 1], v)) {
            return line_error(source, line_no, Msg::err_not_a_number,
                              {{"name", fmt::format("{} {}", group, f[i])}, {"value", str(f[i + 1])}});
          }
          kl.fields.emplace_back(f[i], v);
        }
        if (!out.emplace(group, std::move(kl)).second) {
          return line_error(source, line_no, Msg::err_second_line, {{"group", str(group)}});
        }
        return std::nullopt;
      });
  if (err) return std::unexpected(std::move(*err));
  if (out.empty()) return std::unexpected(file_error(source, Msg::err_file_empty));
  return out;
}

struct WantedField {
  std::string_view group;
  std::string_view key;
  std::int64_t* out;
};

std::optional<Error> take_fields(const KeyedLines& lines, std::string_view source,
                                 std::initializer_list<WantedField> wanted) {
  for (const auto& w : wanted) {
    const auto it = lines.find(w.group);
    if (it == lines.end()) return file_error(source, Msg::err_no_line, {{"group", str(w.group)}});
    bool found = false;
    for (const auto& [k, v] : it->second.fields) {
      if (k == w.key) {
        *w.out = v;
        found = true;
        break;
      }
    }
    if (!found) {
      return line_error(source, it->second.line_no, Msg::err_line_without_key,
                        {{"group", str(w.group)}, {"key", str(w.key)}});
    }
  }
  return std::nullopt;
}

std::string counter_key(std::string_view group, std::string_view name) {
  std::string key;
  key.reserve(group.size() + 1 + name.size());
  key.append(group).append(".").append(name);
  return key;
}

constexpr std::array<std::string_view, kRateCounterCount> kRateCounterKeys = {
    "TcpExt.ListenOverflows",  "TcpExt.ListenDrops",
    "TcpExt.TCPReqQFullDrop",  "TcpExt.TCPReqQFullDoCookies",
    "TcpExt.SyncookiesSent",   "TcpExt.SyncookiesRecv",
    "TcpExt.SyncookiesFailed", "Tcp.RetransSegs",
    "TcpExt.TCPSynRetrans",    "Tcp.OutRsts",
    "Tcp.AttemptFails",        "Tcp.EstabResets",
    "TcpExt.TCPTimeouts",      "TcpExt.TCPAbortOnTimeout",
    "TcpExt.TCPAbortOnData",   "TcpExt.TCPAbortOnClose",
};

std::string join_path(std::string_view proc_root, std::string_view rel) {
  std::string path(proc_root);
  path += rel;
  return path;
}

// Adds `more` to `into`; a key in both files would mean one of them is not what it claims.
std::optional<Error> merge_counters(Counters& into, Counters&& more, std::string_view source) {
  for (auto& [k, v] : more) {
    if (!into.emplace(k, v).second) {
      return file_error(source, Msg::err_also_in_earlier_file, {{"name", str(k)}});
    }
  }
  return std::nullopt;
}

}  // namespace

Result<Sockstat> parse_sockstat(std::string_view text, std::string_view source) {
  auto lines = parse_keyed_lines(text, source);
  if (!lines) return std::unexpected(std::move(lines.error()));
  Sockstat s;
  if (auto err = take_fields(*lines, source,
                             {{"sockets", "used", &s.sockets_used},
                              {"TCP", "inuse", &s.tcp_inuse},
                              {"TCP", "orphan", &s.tcp_orphan},
                              {"TCP", "tw", &s.tcp_tw},
                              {"TCP", "alloc", &s.tcp_alloc},
                              {"TCP", "mem", &s.tcp_mem_pages},
                              {"UDP", "inuse", &s.udp_inuse},
                              {"UDP", "mem", &s.udp_mem_pages}})) {
    return std::unexpected(std::move(*err));
  }
  return s;
}

Result<Sockstat6> parse_sockstat6(std::string_view text, std::string_view source) {
  auto lines = parse_keyed_lines(text, source);
  if (!lines) return std::unexpected(std::move(lines.error()));
  Sockstat6 s;
  if (auto err = take_fields(
          *lines, source, {{"TCP6", "inuse", &s.tcp6_inuse}, {"UDP6", "inuse", &s.udp6_inuse}})) {
    return std::unexpected(std::move(*err));
  }
  return s;
}

Result<Counters> parse_counter_table(std::string_view text, std::string_view source) {
  struct Header {
    std::string_view group;
    std::vector<std::string_view> names;
    std::size_t line_no = 0;
  };
  Counters out;
  std::optional<Header> pending;  // a names line waiting for its values line
  bool any_group = false;
  auto err = for_each_line(
      text, source, [&](std::size_t line_no, std::string_view line) -> std::optional<Error> {
        if (is_blank(line)) return std::nullopt;
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) {
          return line_error(source, line_no, Msg::err_no_group_prefix, {{"prefix", "Group"}});
        }
        const auto group = line.substr(0, colon);
        auto fields = split_ws(line.substr(colon + 1));
        if (!pending) {
          for (auto name : fields) {
            if (!is_name(name)) {
              return line_error(
                  source, line_no, Msg::err_values_without_names,
                  {{"group", str(group)}, {"name", str(name)}});
            }
          }
          pending = Header{group, std::move(fields), line_no};
          return std::nullopt;
        }
        if (group != pending->group) {
          return line_error(source, line_no, Msg::err_expected_values,
                            {{"group", str(pending->group)},
                             {"line", std::to_string(pending->line_no)},
                             {"found", str(group)}});
        }
        if (fields.size() != pending->names.size()) {
          return line_error(source, line_no, Msg::err_names_values_mismatch,
                            {{"names", std::to_string(pending->names.size())},
                             {"values", std::to_string(fields.size())}});
        }
        for (std::size_t i = 0; i < fields.size(); ++i) {
          std::int64_t v = 0;
          if (!parse_value(fields[i], v)) {
            return line_error(source, line_no, Msg::err_not_a_number,
                              {{"name", fmt::format("{}.{}", group, pending->names[i])},
                               {"value", str(fields[i])}});
          }
          auto key = counter_key(group, pending->names[i]);
          if (!out.emplace(key, v).second) {
            return line_error(source, line_no, Msg::err_appears_twice, {{"name", str(key)}});
          }
        }
        pending.reset();
        any_group = true;
        return std::nullopt;
      });
  if (err) return std::unexpected(std::move(*err));
  if (pending) {
    return std::unexpected(
        line_error(source, pending->line_no, Msg::err_names_without_values,
                   {{"group", str(pending->group)}}));
  }
  if (!any_group) return std::unexpected(file_error(source, Msg::err_file_empty));
  return out;
}

Result<Counters> parse_snmp6(std::string_view text, std::string_view source) {
  Counters out;
  auto err = for_each_line(
      text, source, [&](std::size_t line_no, std::string_view line) -> std::optional<Error> {
        if (is_blank(line)) return std::nullopt;
        const auto f = split_ws(line);
        if (f.size() != 2) {
          return line_error(source, line_no, Msg::err_expected_name_value,
                            {{"fields", std::to_string(f.size())}});
        }
        if (!is_name(f[0])) {
          return line_error(source, line_no, Msg::err_not_counter_name, {{"name", str(f[0])}});
        }
        std::int64_t v = 0;
        if (!parse_value(f[1], v)) {
          return line_error(source, line_no, Msg::err_not_a_number,
                            {{"name", str(f[0])}, {"value", str(f[1])}});
        }
        // The kernel glues the group to the name ("Icmp6InErrors"); every group ends in its
        // first '6', so split there to get the same "group.name" keys as netstat and snmp.
        const auto six = f[0].find('6');
        auto key = six != std::string_view::npos && six + 1 < f[0].size()
                       ? counter_key(f[0].substr(0, six + 1), f[0].substr(six + 1))
                       : std::string(f[0]);
        if (!out.emplace(key, v).second) {
          return line_error(source, line_no, Msg::err_appears_twice, {{"name", str(key)}});
        }
        return std::nullopt;
      });
  if (err) return std::unexpected(std::move(*err));
  if (out.empty()) return std::unexpected(file_error(source, Msg::err_file_empty));
  return out;
}

Result<SocketSummary> read_socket_summary(std::string_view proc_root) {
  SocketSummary out;
  const auto v4_path = join_path(proc_root, "/net/sockstat");
  auto v4_text = read_file(v4_path);
  if (!v4_text) return std::unexpected(std::move(v4_text.error()));
  auto v4 = parse_sockstat(*v4_text, v4_path);
  if (!v4) return std::unexpected(std::move(v4.error()));
  out.v4 = *v4;

  const auto v6_path = join_path(proc_root, "/net/sockstat6");
  auto v6_text = read_file(v6_path);
  if (!v6_text) {
    if (v6_text.error().code == ENOENT) return out;  // no IPv6 in this kernel
    return std::unexpected(std::move(v6_text.error()));
  }
  auto v6 = parse_sockstat6(*v6_text, v6_path);
  if (!v6) return std::unexpected(std::move(v6.error()));
  out.v6 = *v6;
  return out;
}

Result<Counters> read_counters(std::string_view proc_root) {
  Counters out;
  for (std::string_view rel : {"/net/netstat", "/net/snmp", "/net/snmp6"}) {
    const auto path = join_path(proc_root, rel);
    auto text = read_file(path);
    if (!text) {
      if (rel == "/net/snmp6" && text.error().code == ENOENT) break;  // no IPv6
      return std::unexpected(std::move(text.error()));
    }
    auto parsed = rel == "/net/snmp6" ? parse_snmp6(*text, path) : parse_counter_table(*text, path);
    if (!parsed) return std::unexpected(std::move(parsed.error()));
    if (auto err = merge_counters(out, std::move(*parsed), path)) {
      return std::unexpected(std::move(*err));
    }
  }
  return out;
}

std::string_view rate_counter_key(RateCounter c) {
  return kRateCounterKeys[static_cast<std::size_t>(c)];
}

Result<CounterRates> compute_counter_rates(const Counters& before, const Counters& after,
                                           std::chrono::nanoseconds dt) {
  if (dt <= std::chrono::nanoseconds::zero()) {
    return fail_text("compute_counter_rates", Msg::err_interval_not_positive, {{"ns", std::to_string(dt.count())}});

  }
  const double seconds = std::chrono::duration<double>(dt).count();
  CounterRates out;
  for (std::size_t i = 0; i < kRateCounterCount; ++i) {
    CounterRate& r = out.by_counter[i];
    const auto b = before.find(kRateCounterKeys[i]);
    const auto a = after.find(kRateCounterKeys[i]);
    if (b != before.end()) r.before = b->second;
    if (a != after.end()) r.after = a->second;
    if (b == before.end() || a == after.end()) {
      r.status = RateStatus::missing;
    } else if (a->second < b->second) {
      r.status = RateStatus::went_backwards;
    } else {
      r.status = RateStatus::ok;
      // Unsigned subtraction: exact for any after >= before, even across the int64 range.
      r.delta = static_cast<std::uint64_t>(a->second) - static_cast<std::uint64_t>(b->second);
      r.per_second = static_cast<double>(r.delta) / seconds;
    }
  }
  return out;
}

}  // namespace connscope::sys
