#include "rules/findings_json.h"

#include <nlohmann/json.hpp>

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

}  // namespace connscope::rules
