#pragma once
// `connscope load`'s output, pure: the report as people read it (render_load_text) and as JSON
// (render_load_json, docs/json.md). The caller prints.

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/text.h"
#include "load/load.h"

namespace connscope::cli {

// What the report was asked for, as the command line said it.
struct LoadRun {
  std::string target;   // as typed
  std::string address;  // the endpoint connected to, "127.0.0.1:8080"
  load::LoadOptions options;
  std::uint64_t fd_limit = 0;  // the soft RLIMIT_NOFILE the run had
};

std::string render_load_text(const LoadRun& run, const load::LoadReport& r, Lang lang);
nlohmann::json render_load_json(const LoadRun& run, const load::LoadReport& r);

// The progress line (no newline): "3s: 1000/s, 12 in flight, 2990 connected, 0 failed".
std::string render_load_progress(const load::LoadProgress& p, Lang lang);

// 0 when every connection connected at its first SYN, 1 otherwise (a failure, a retransmitted
// SYN, or nothing finished).
int load_exit_code(const load::LoadReport& r);

}  // namespace connscope::cli
