#include "probe/stage.h"

#include <array>
#include <utility>

namespace connscope::probe {

namespace {
constexpr std::array<std::pair<StageId, std::string_view>, 7> kStages{{
    {StageId::resolve, "resolve"},
    {StageId::route, "route"},
    {StageId::reach, "reach"},
    {StageId::connect, "connect"},
    {StageId::secure, "secure"},
    {StageId::talk, "talk"},
    {StageId::close, "close"},
}};
}  // namespace

std::string_view stage_name(StageId id) {
  for (const auto& [s, name] : kStages) {
    if (s == id) return name;
  }
  return "unknown";
}

std::string_view status_name(StageStatus status) {
  if (status == StageStatus::ok) return "ok";
  if (status == StageStatus::warn) return "warn";
  if (status == StageStatus::fail) return "fail";
  return "skipped";
}

std::optional<StageId> parse_stage_name(std::string_view name) {
  for (const auto& [s, n] : kStages) {
    if (n == name) return s;
  }
  return std::nullopt;
}

}  // namespace connscope::probe
