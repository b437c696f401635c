#pragma once
// What a person gives `connscope probe`: port lists ("1-1024,8080"), target lines (HOST:PORT,
// [V6]:PORT, URLs, or a HOST that --ports completes) and targets files (one a line, `#`
// comments, blank lines). Pure parsing on text: names are not resolved, files are read by the
// caller. Target syntax is core/target.h's parse_target, the same as doctor's.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/target.h"

namespace connscope::probe {

// "1-1024,8080": single ports and inclusive ranges, comma-separated, spaces around items allowed.
// Repeats are dropped (first occurrence kept, order kept). Errors name the input as
// `--ports "TEXT"` and say which item is wrong: 0 or above 65535, a range whose end is below its
// start, not a number, an empty item.
Result<std::vector<std::uint16_t>> parse_port_list(std::string_view text);

// One target as given, with where it came from (for errors and output).
struct ScanTarget {
  std::string text;       // as typed (trimmed)
  Target target;          // parsed; target.port may be absent (then --ports applies)
  std::size_t line = 0;   // 1-based line in the targets file; 0 for a command-line target
};

// A command-line target: parse_target's rules and errors (op `target "TEXT"`).
Result<ScanTarget> parse_scan_target(std::string_view text);

// A targets file's content. `#` at the start of a line or after a space starts a comment (a URL's
// fragment, "http://h/#x", is kept); surrounding spaces are trimmed; blank lines skipped. A bad
// line is an error with op `FILE line N` and detail `"TEXT": what is wrong`. A file without any
// target is an error too (op FILE).
Result<std::vector<ScanTarget>> parse_targets_file(std::string_view content,
                                                   std::string_view file_name);

// One endpoint to probe, before name resolution: a target and a port.
struct ScanItem {
  std::size_t target = 0;  // index into the targets
  std::uint16_t port = 0;
};

// Every target that names a port (explicitly, or through its URL scheme) as it is; every target
// without one once per port of `ports`. Without --ports, a target without a port is an error
// naming it (op `target "TEXT"`, or `FILE line N`). Ports given with the target win over --ports.
// Repeated endpoints (same host text and port) are kept once.
Result<std::vector<ScanItem>> expand_targets(std::span<const ScanTarget> targets,
                                             std::span<const std::uint16_t> ports,
                                             std::string_view no_port_detail,
                                             std::string_view file_name = {});

}  // namespace connscope::probe
