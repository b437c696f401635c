#include "serve/options.h"

#include <charconv>

#include <fmt/format.h>

#include "core/duration.h"
#include "core/error_text.h"

namespace connscope::serve {

std::string_view mode_name(Mode m) {
  switch (m) {
    case Mode::echo: return "echo";
    case Mode::discard: return "discard";
    case Mode::http: return "http";
    case Mode::banner: return "banner";
    case Mode::never_accept: return "never-accept";
    case Mode::reset_after_accept: return "reset-after-accept";
    case Mode::close_after_accept: return "close-after-accept";
    case Mode::slow_first_byte: return "slow-first-byte";
    case Mode::drip: return "drip";
    case Mode::garbage: return "garbage";
    case Mode::no_close: return "no-close";
  }
  return "?";
}

Result<ModeSpec> parse_mode(std::string_view text) {
  ModeSpec spec;
  std::string_view name = text;
  if (const auto eq = text.find('='); eq != std::string_view::npos) {
    name = text.substr(0, eq);
    spec.argument = std::string(text.substr(eq + 1));
  }
  for (Mode m : kAllModes) {
    if (mode_name(m) == name) {
      spec.mode = m;
      if (spec.argument && m != Mode::banner && m != Mode::slow_first_byte && m != Mode::drip) {
        return fail_text(fmt::format("--mode \"{}\"", text), Msg::serve_err_mode_no_argument,
                         {{"mode", std::string(mode_name(m))}});
      }
      return spec;
    }
  }
  std::string names;
  for (Mode m : kAllModes) {
    if (!names.empty()) names += ", ";
    names += mode_name(m);
  }
  return fail_text(fmt::format("--mode \"{}\"", text), Msg::serve_err_unknown_mode, {{"modes", names}});
}

Result<Keepalive> parse_keepalive(std::string_view text) {
  const std::string op = fmt::format("--keepalive \"{}\"", text);
  const auto c1 = text.find(',');
  const auto c2 = c1 == std::string_view::npos ? c1 : text.find(',', c1 + 1);
  if (c1 == std::string_view::npos || c2 == std::string_view::npos ||
      text.find(',', c2 + 1) != std::string_view::npos) {
    return fail_text(op, Msg::serve_err_keepalive_format);
  }
  Keepalive k;
  auto seconds = [&](std::string_view part, std::string_view name) -> Result<std::chrono::seconds> {
    auto d = parse_duration(part, name);
    if (!d) return fail(op, fmt::format("{}: {}", name, d.error().detail));
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(*d);
    if (s.count() < 1 || s.count() > 32767 || s != *d) {
      return fail_text(op, Msg::serve_err_keepalive_seconds, {{"name", std::string(name)}});
    }
    return s;
  };
  auto idle = seconds(text.substr(0, c1), "IDLE");
  if (!idle) return std::unexpected(idle.error());
  auto intvl = seconds(text.substr(c1 + 1, c2 - c1 - 1), "INTVL");
  if (!intvl) return std::unexpected(intvl.error());
  const auto count_text = text.substr(c2 + 1);
  int count = 0;
  auto [ptr, ec] = std::from_chars(count_text.data(), count_text.data() + count_text.size(), count);
  if (ec != std::errc{} || ptr != count_text.data() + count_text.size() || count < 1 ||
      count > 127) {
    return fail_text(op, Msg::serve_err_keepalive_count);
  }
  k.idle = *idle;
  k.interval = *intvl;
  k.count = count;
  return k;
}

Result<unsigned> parse_http_status(std::string_view text) {
  unsigned v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size() || v < 200 || v > 599) {
    return fail_text(fmt::format("--http-status \"{}\"", text), Msg::serve_err_http_status);
  }
  return v;
}

}  // namespace connscope::serve
