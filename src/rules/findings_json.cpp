#include "rules/findings_json.h"

#include <nlohmann/json.hpp>

#include "rules/finding_text.h"

namespace connscope::rules {

nlohmann::json findings_json(const std::vector<rules::Finding>& findings) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : findings) {
    out.push_back({{"id", f.id},
                   {"severity", rules::severity_name(f.severity)},
                   {"summary", f.summary},
                   {"evidence", f.evidence},
                   {"cause", f.cause},
                   {"fix", f.fix}});
  }
  return out;
}

nlohmann::json findings_json(const std::vector<rules::Finding>& findings, Lang lang) {
  std::vector<rules::Finding> rendered;
  rendered.reserve(findings.size());
  for (const auto& f : findings) rendered.push_back(rendered_in(f, lang));
  return findings_json(rendered);
}

}  // namespace connscope::rules
