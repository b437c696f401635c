#include "sys/sysctl.h"

#include <charconv>

#include "core/error_text.h"
#include "sys/proc_net.h"

namespace connscope::sys {

std::string sysctl_path(std::string_view name, std::string_view proc_root) {
  std::string path(proc_root);
  path += "/sys/";
  for (char c : name) path += c == '.' ? '/' : c;
  return path;
}

Result<std::string> read_sysctl(std::string_view name, std::string_view proc_root) {
  auto text = read_file(sysctl_path(name, proc_root));
  if (!text) return std::unexpected(text.error());
  while (!text->empty() && (text->back() == '\n' || text->back() == ' ')) text->pop_back();
  return *text;
}

std::optional<std::pair<std::uint16_t, std::uint16_t>> parse_port_range(std::string_view text) {
  unsigned values[2] = {0, 0};
  std::size_t i = 0;
  for (unsigned& v : values) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + text.size(), v);
    if (ec != std::errc{}) return std::nullopt;
    i = static_cast<std::size_t>(ptr - text.data());
  }
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
  if (i != text.size() || values[0] > values[1] || values[1] > 65535) return std::nullopt;
  return std::pair{static_cast<std::uint16_t>(values[0]), static_cast<std::uint16_t>(values[1])};
}

Result<std::int64_t> read_sysctl_int(std::string_view name, std::string_view proc_root) {
  auto text = read_sysctl(name, proc_root);
  if (!text) return std::unexpected(text.error());
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc{} || ptr != text->data() + text->size()) {
    return fail_text("sysctl " + std::string(name), Msg::err_not_whole_number, {{"value", *text}});

  }
  return v;
}

}  // namespace connscope::sys
