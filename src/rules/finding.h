#pragma once
// A finding: what connscope concluded, with the numbers that support it, why it happens and what
// to do. Ids are API (JSON, metrics, docs/findings.md).

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace connscope::rules {

enum class Severity { info, warning, critical };

std::string_view severity_name(Severity s);
// The severity a name gives ("warning"); nullopt for any other text.
std::optional<Severity> severity_from_name(std::string_view name);

struct Finding {
  std::string id;  // "listen.accept_queue_full"
  Severity severity = Severity::warning;
  std::map<std::string, std::string> evidence;  // the numbers, as text, by name
  std::string summary;                          // one line: what we saw
  std::string cause;                            // why it happens
  std::string fix;                              // what to do: commands and settings
};

}  // namespace connscope::rules
