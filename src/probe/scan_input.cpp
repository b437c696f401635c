#include "probe/scan_input.h"
#include "core/error_text.h"

#include <charconv>
#include <string>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>

namespace connscope::probe {

namespace {

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

// A whole decimal number within 1-65535; the error says what the item is.
Result<std::uint16_t> port_number(std::string_view item, const std::string& op) {
  unsigned value = 0;
  const auto* end = item.data() + item.size();
  const auto [ptr, ec] = std::from_chars(item.data(), end, value);
  if (item.empty() || ec == std::errc::invalid_argument || ptr != end) {
    return fail_text(op, Msg::in_not_port_number, {{"item", std::string(item)}});
  }
  if (ec == std::errc::result_out_of_range || value == 0 || value > 65535) {
    return fail_text(op, Msg::in_item_not_port, {{"item", std::string(item)}});
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

Result<std::vector<std::uint16_t>> parse_port_list(std::string_view text) {
  const std::string op = fmt::format("--ports \"{}\"", text);
  if (trim(text).empty()) return fail_text(op, Msg::in_empty_port_list);
  std::vector<std::uint16_t> ports;
  std::vector<bool> seen(65536, false);
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const auto raw = text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    const auto item = trim(raw);
    if (item.empty()) return fail_text(op, Msg::in_empty_item);
    std::uint16_t lo = 0;
    std::uint16_t hi = 0;
    if (const auto dash = item.find('-'); dash != std::string_view::npos) {
      auto a = port_number(trim(item.substr(0, dash)), op);
      if (!a) return std::unexpected(a.error());
      auto b = port_number(trim(item.substr(dash + 1)), op);
      if (!b) return std::unexpected(b.error());
      if (*b < *a) return fail_text(op, Msg::in_range_backwards, {{"item", std::string(item)}});
      lo = *a;
      hi = *b;
    } else {
      auto p = port_number(item, op);
      if (!p) return std::unexpected(p.error());
      lo = hi = *p;
    }
    for (unsigned p = lo; p <= hi; ++p) {
      if (!seen[p]) {
        seen[p] = true;
        ports.push_back(static_cast<std::uint16_t>(p));
      }
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return ports;
}

Result<ScanTarget> parse_scan_target(std::string_view text) {
  const auto trimmed = trim(text);
  auto t = parse_target(trimmed);
  if (!t) return std::unexpected(t.error());
  return ScanTarget{std::string(trimmed), std::move(*t), 0};
}

Result<std::vector<ScanTarget>> parse_targets_file(std::string_view content,
                                                   std::string_view file_name) {
  std::vector<ScanTarget> out;
  std::size_t line_no = 0;
  std::size_t start = 0;
  while (start < content.size()) {
    const auto nl = content.find('\n', start);
    std::string_view line =
        content.substr(start, nl == std::string_view::npos ? content.npos : nl - start);
    start = nl == std::string_view::npos ? content.size() : nl + 1;
    ++line_no;
    // A comment starts at '#' first on the line or after a space; inside a word it is a URL's
    // fragment and belongs to the target.
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
        line = line.substr(0, i);
        break;
      }
    }
    line = trim(line);
    if (line.empty()) continue;
    auto t = parse_target(line);
    if (!t) {
      // The target's own error, said after the line it is on.
      t.error().op = fmt::format("{} line {}: \"{}\"", file_name, line_no, line);
      return std::unexpected(t.error());
    }
    out.push_back(ScanTarget{std::string(line), std::move(*t), line_no});
  }
  if (out.empty()) return fail_text(std::string(file_name), Msg::in_no_targets_in_file);
  return out;
}

Result<std::vector<ScanItem>> expand_targets(std::span<const ScanTarget> targets,
                                             std::span<const std::uint16_t> ports,
                                             std::string_view no_port_detail,
                                             std::string_view file_name) {
  std::vector<ScanItem> items;
  std::unordered_set<std::string> seen;
  auto add = [&](std::size_t index, std::uint16_t port) {
    std::string key = targets[index].target.host;
    key.push_back('\0');
    key.append(std::to_string(port));
    if (seen.insert(std::move(key)).second) items.push_back(ScanItem{index, port});
  };
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto& t = targets[i];
    if (t.target.port) {
      add(i, *t.target.port);
      continue;
    }
    if (ports.empty()) {
      const std::string op = t.line > 0 ? fmt::format("{} line {}", file_name, t.line)
                                        : fmt::format("target \"{}\"", t.text);
      return fail(op, t.line > 0 ? fmt::format("\"{}\": {}", t.text, no_port_detail)
                                 : std::string(no_port_detail));
    }
    for (const auto port : ports) add(i, port);
  }
  return items;
}

}  // namespace connscope::probe
