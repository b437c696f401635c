#include "watch/format.h"

#include "core/display_width.h"
#include "core/json_writer.h"

#include <ctime>
#include <netinet/in.h>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "watch/reasons.h"

namespace connscope::watch {

namespace {

using std::chrono::system_clock;

const char* kind_colour(EventKind k) {
  if (k == EventKind::drop || k == EventKind::reset_sent || k == EventKind::reset_received) return "31";
  if (k == EventKind::accept_overflow || k == EventKind::syn_queue_drop) return "1;31";
  if (k == EventKind::retransmit || k == EventKind::synack_retransmit) return "33";
  return "2";
}

std::string protocol_text(int protocol) {
  if (protocol == IPPROTO_TCP) return "tcp";
  if (protocol == IPPROTO_UDP) return "udp";
  if (protocol == IPPROTO_ICMP) return "icmp";
  if (protocol == IPPROTO_ICMPV6) return "icmpv6";
  if (protocol == 0) return "-";
  return std::to_string(protocol);
}

// Ports only where the protocol has them (an ICMP packet's would read ":0").
std::string end_text(const std::optional<Endpoint>& e, int protocol) {
  if (!e) return "-";
  if (protocol == IPPROTO_TCP || protocol == IPPROTO_UDP) return e->to_string();
  return e->address;
}

// Whether a line carries the explanation's meaning after "—" (retransmits only in verbose mode:
// they are routine and the line's count says enough).
bool meaning_on_line(EventKind k) {
  return k == EventKind::drop || k == EventKind::reset_sent || k == EventKind::reset_received ||
         k == EventKind::accept_overflow || k == EventKind::syn_queue_drop;
}

// The longest prefix of `text` that fits `budget` columns, cut at a space when one is near, with
// "…" appended when anything was cut.
std::string fit(std::string_view text, std::size_t budget) {
  if (columns(text) <= budget) return std::string(text);
  if (budget < 2) return {};
  std::size_t used = 0;
  std::size_t i = 0;
  std::size_t last_space = std::string_view::npos;
  while (i < text.size()) {
    std::size_t j = i;
    const char32_t c = next_code_point(text, j);
    const std::size_t w = code_point_width(c);
    if (used + w > budget - 1) break;  // room for the "…"
    if (c == U' ') last_space = i;
    used += w;
    i = j;
  }
  // A cut in the middle of a word reads worse than a slightly shorter line.
  if (last_space != std::string_view::npos && last_space + 20 >= i) i = last_space;
  return std::string(text.substr(0, i)) + "…";
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    if (b0 < 0x80) {
      out += (b0 < 0x20 || b0 == 0x7F) ? '?' : static_cast<char>(b0);
      ++i;
      continue;
    }
    // A well-formed multi-byte sequence is kept whole; anything else becomes U+FFFD.
    std::size_t len = 0;  // 0x80-0xC1 and 0xF5-0xFF never start a sequence
    if (b0 >= 0xC2 && b0 <= 0xDF) len = 2;
    if (b0 >= 0xE0 && b0 <= 0xEF) len = 3;
    if (b0 >= 0xF0 && b0 <= 0xF4) len = 4;
    bool ok = len != 0 && i + len <= text.size();
    for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(text[i + k]) & 0xC0u) == 0x80u;
    std::size_t j = i;
    // Overlong forms, surrogates and C1 controls are not printable either.
    const char32_t c = ok ? next_code_point(text, j) : 0;
    ok = ok && !(len == 3 && c < 0x800) && !(len == 4 && (c < 0x10000 || c > 0x10FFFF)) &&
         !(c >= 0xD800 && c <= 0xDFFF) && !(c >= 0x80 && c < 0xA0);
    if (ok) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += "\uFFFD";
      ++i;
    }
  }
  return out;
}

std::string paint(bool on, std::string_view code, std::string_view s) {
  if (!on || s.empty()) return std::string(s);
  return fmt::format("\x1b[{}m{}\x1b[0m", code, s);
}

std::size_t columns(std::string_view text) { return display_width(text); }

std::string clock_time(system_clock::time_point t) {
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - secs).count();
  const std::time_t tt = system_clock::to_time_t(secs);
  std::tm tm{};
  localtime_r(&tt, &tm);
  return fmt::format("{:02}:{:02}:{:02}.{:03}", tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

std::string rfc3339_ms(system_clock::time_point t) {
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - secs).count();
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", secs, ms);
}

std::string format_line(const Event& e, Lang lang, const LineOptions& o) {
  // The parts before the explanation, plain, to measure; colour is added to the same parts.
  const std::string time = clock_time(e.time);
  const std::string kind = fmt::format("{:<17}", kind_name(e.kind));
  // An overflow names its listener only: the kernel's count does not say whose packets it was.
  const bool overflow = e.kind == EventKind::accept_overflow || e.kind == EventKind::syn_queue_drop;
  std::string middle = !overflow || e.destination ? fmt::format(" {} {} → {}", protocol_text(e.protocol),
                                                   end_text(e.source, e.protocol), end_text(e.destination, e.protocol))
                                     : fmt::format(" {} {}", protocol_text(e.protocol), end_text(e.source, e.protocol));
  if (e.kind == EventKind::state) middle += fmt::format(" {} → {}", e.old_state, e.new_state);
  if (e.pid) middle += e.comm.empty() ? fmt::format(" pid {}", *e.pid) : fmt::format(" {}/{}", printable(e.comm), *e.pid);
  std::string reason;
  if (!e.reason.empty()) reason = " " + e.reason;

  const auto text = event_text(lang, e);
  std::string explanation;
  if (text && meaning_on_line(e.kind)) {
    const std::size_t used = columns(time) + 1 + columns(kind) + columns(middle) + columns(reason) + 3;
    const std::size_t budget = used < kLineColumns ? kLineColumns - used : 0;
    explanation = fit(text->meaning, budget);
  }

  std::string line = fmt::format("{} {}{}", time, paint(o.colour, kind_colour(e.kind), kind), middle);
  if (!reason.empty()) line += fmt::format(" {}", paint(o.colour, "1", e.reason));
  if (!explanation.empty()) line += fmt::format(" — {}", explanation);
  if (o.verbose && text) {
    if (!meaning_on_line(e.kind)) {
      line += fmt::format("\n{}", tr(lang, Msg::watch_line_meaning, fmt::arg("meaning", text->meaning)));
    }
    line += fmt::format("\n{}", paint(o.colour, "2", tr(lang, Msg::watch_line_fix, fmt::arg("fix", text->fix))));
  }
  return line;
}

void write_event_json(std::string& out, const Event& e, Lang lang) {
  JsonWriter w(out);
  const auto end = [&](std::string_view k, const std::optional<Endpoint>& p) {
    w.key(k);
    if (!p) return w.null();
    w.begin_object();
    w.member("address", p->address);
    w.member("port", p->port);
    w.end_object();
  };
  const bool overflow = e.kind == EventKind::accept_overflow || e.kind == EventKind::syn_queue_drop;
  // Keys in sorted order (JsonWriter's contract).
  w.begin_object();
  if (overflow) w.member("backlog", e.backlog);
  if (e.pid && !e.comm.empty()) {
    w.member("comm", printable(e.comm));
  } else {
    w.null_member("comm");
  }
  if (overflow) w.member("count", e.count);
  end("destination", e.destination);
  if (const auto text = event_text(lang, e)) {
    w.key("explanation");
    w.begin_object();
    w.member("fix", text->fix);
    w.member("meaning", text->meaning);
    w.end_object();
  } else {
    w.null_member("explanation");
  }
  w.member("group", group_name(group_of(e.kind)));
  w.member("ifindex", e.ifindex);
  w.member("kind", kind_name(e.kind));
  if (e.location != 0) {
    w.member("location", fmt::format("{:#x}", e.location));
  } else {
    w.null_member("location");
  }
  if (overflow) w.member("max_backlog", e.max_backlog);
  if (e.kind == EventKind::state) {
    w.member("new_state", e.new_state);
    w.member("old_state", e.old_state);
  }
  w.member("packet", e.packet);
  if (e.pid) {
    w.member("pid", *e.pid);
  } else {
    w.null_member("pid");
  }
  w.key("protocol");
  if (e.protocol == IPPROTO_TCP) {
    w.value("tcp");
  } else if (e.protocol == IPPROTO_UDP) {
    w.value("udp");
  } else if (e.protocol == 0) {
    w.null();
  } else {
    w.value(e.protocol);
  }
  if (e.reason.empty()) {
    w.null_member("reason");
  } else {
    w.member("reason", e.reason);
  }
  if (e.reason_code) {
    w.member("reason_code", *e.reason_code);
  } else {
    w.null_member("reason_code");
  }
  end("source", e.source);
  w.member("time", rfc3339_ms(e.time));
  w.end_object();
}

nlohmann::json event_json(const Event& e, Lang lang) {
  std::string line;
  write_event_json(line, e, lang);
  return nlohmann::json::parse(line);
}

}  // namespace connscope::watch
