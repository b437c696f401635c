#pragma once
// One kernel event as a person reads it (one line) and as a program reads it (one JSON object,
// docs/json.md "connscope watch"). Pure; the colour decision is the caller's (cli's GlobalOptions
// color: a terminal, no NO_COLOR, no --no-color).

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "core/text.h"
#include "watch/event.h"

namespace connscope::watch {

// Lines are cut to this many columns (the explanation is shortened, with "…").
inline constexpr std::size_t kLineColumns = 160;

struct LineOptions {
  bool colour = false;
  bool verbose = false;  // add the explanation's fix (and a retransmit's words) on indented lines
};

// "21:44:02.123 drop              tcp 10.0.0.5:51234 → 192.168.1.10:80 NETFILTER_DROP — a firewall
// rule on this host ... dropped it". Time in local time; no trailing newline; with verbose,
// further lines are joined with "\n".
std::string format_line(const Event& e, Lang lang, const LineOptions& options = {});

// "HH:MM:SS.mmm" in local time.
std::string clock_time(std::chrono::system_clock::time_point t);
// "2026-12-02T21:44:02.123Z" (RFC 3339, UTC, milliseconds).
std::string rfc3339_ms(std::chrono::system_clock::time_point t);

// The event object of docs/json.md, appended to `out` as one compact line (no newline): the
// stream's form, written without a tree. event_json() is the same object as a tree.
void write_event_json(std::string& out, const Event& e, Lang lang);
nlohmann::json event_json(const Event& e, Lang lang);

// A process name as the kernel keeps it (any 15 bytes, cut anywhere) made safe to show and to put
// in JSON: control characters become '?', bytes that are not well-formed UTF-8 become U+FFFD.
std::string printable(std::string_view text);

// `s` in the ANSI style `code` ("1" bold, "31" red, ...) when `on`; as it is otherwise.
std::string paint(bool on, std::string_view code, std::string_view s);

// The number of columns `text` takes on a terminal: code points, ANSI colour sequences excluded.
std::size_t columns(std::string_view text);

}  // namespace connscope::watch
