#pragma once
// `connscope inspect`'s output: the report for a person (render_inspect_text, pure) and the JSON
// of docs/json.md written as it is rendered into a JsonStream (a --all listing of 200,000
// sockets is never held whole). The golden files of tests/fixtures/inspect_replay check both.

#include <string>
#include <vector>

#include "cli/context.h"
#include "cli/json_stream.h"
#include "core/text.h"
#include "inspect/collect.h"
#include "rules/finding.h"

namespace connscope::cli {

// Every line ends in a newline; `listen_only` (--listen) leaves out the connection tables.
std::string render_inspect_text(const inspect::Collected& c, const std::vector<rules::Finding>& findings,
                                bool listen_only, const Style& style, Lang lang);

void write_inspect_json(JsonStream& w, const inspect::Collected& c, const std::vector<rules::Finding>& findings);

}  // namespace connscope::cli
