#pragma once
// `connscope trace`'s output, as pure functions of the result: the traceroute-style table (an
// mtr-style report with --cycles), the loss notes, the path MTU line and the verdict in the
// reader's language (render_trace_text), and the JSON of docs/json.md (render_trace_json). No I/O;
// unit-tested in tests/unit/cli.

#include <map>
#include <string>

#include "cli/context.h"
#include "core/text.h"
#include "probe/trace_result.h"

namespace connscope::cli {

// The target as the renderers show it.
struct TraceShown {
  std::string typed;        // the TARGET argument as typed: JSON's "target"
  std::string host;         // its host part, for the header
  bool ip_literal = false;  // a name's header also shows the address it resolved to
};

// Every line ends in a newline. `names`: reverse names of addresses (--resolve), may be empty.
std::string render_trace_text(const TraceShown& target, const probe::TraceResult& r, const probe::TraceOptions& o,
                              const std::map<std::string, std::string>& names, const Style& style, Lang lang);

// The JSON document, indented by two, without a final newline.
std::string render_trace_json(const TraceShown& target, const probe::TraceResult& r, const probe::TraceOptions& o,
                              const std::map<std::string, std::string>& names);

}  // namespace connscope::cli
