#pragma once
// The client-side stage model (DESIGN.md): resolve → route → reach → connect → secure → talk →
// close. Each stage module (dns.h, tcp_connect.h, tls_probe.h, ...) returns its own typed result;
// the doctor turns those into stage rows and findings. This header holds only what they share.

#include <chrono>
#include <optional>
#include <string_view>

namespace connscope::probe {

enum class StageId { resolve, route, reach, connect, secure, talk, close };
enum class StageStatus { ok, warn, fail, skipped };

// "resolve", "route", ... and "ok", "warn", "fail", "skipped": the names in JSON and output.
std::string_view stage_name(StageId id);
std::string_view status_name(StageStatus status);
std::optional<StageId> parse_stage_name(std::string_view name);

// Every stage measures its own wall time with this clock.
using Clock = std::chrono::steady_clock;

}  // namespace connscope::probe
