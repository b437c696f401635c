#pragma once
// `connscope probe`'s output: what one run found (ProbeResult: a row per endpoint asked, and how
// the scan went), and the pure renderers: the table with its summary in the reader's language
// (render_text), CSV (render_csv, render_summary), JSON Lines (render_json; docs/json.md). The
// golden tests (tests/unit/cli/render_golden_test.cpp) feed recorded results through them.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/context.h"
#include "core/endpoint.h"
#include "core/target.h"
#include "core/text.h"
#include "probe/scan.h"

namespace connscope::cli {

// One endpoint as asked, and what became of it.
struct ProbeRow {
  std::string text;  // the target as given
  Target target;
  std::uint16_t port = 0;
  std::optional<Endpoint> remote;  // absent when the name did not resolve
  probe::ScanResult result;
  std::string dns_failure;  // dns_failure_name, set when the name did not resolve
};

struct ProbeResult {
  std::vector<ProbeRow> rows;  // in the order asked
  probe::ScanStats stats;
  std::size_t endpoints = 0;  // connected to: the rows with an address
  std::chrono::milliseconds timeout{3000};
  std::size_t concurrency = 0;            // used
  std::size_t concurrency_requested = 0;  // --concurrency
  std::uint64_t fd_limit = 0;
  std::optional<double> rate;  // --rate
  // What to show: --failed (the endpoints that are not open), --tls and --talk columns.
  bool failed_only = false;
  bool tls_column = false;
  bool talk_column = false;

  [[nodiscard]] std::size_t count(probe::ScanState state) const;
  [[nodiscard]] bool all_open() const { return count(probe::ScanState::open) == rows.size(); }
};

// The table (a header and a row per endpoint shown, or "every endpoint is open" with --failed),
// then render_summary's lines.
std::string render_text(const ProbeResult& result, Lang lang, const Style& style);
// "N endpoints in T (R/s): …", and the back-pressure line when the fd limit held connects back.
std::string render_summary(const ProbeResult& result, Lang lang);
// A header line, then one line per endpoint shown (no summary: it goes to stderr).
std::string render_csv(const ProbeResult& result);
// JSON Lines: one "endpoint" object per endpoint shown, then the "summary" object.
std::string render_json(const ProbeResult& result);

}  // namespace connscope::cli
