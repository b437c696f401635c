#pragma once
// The Prometheus text exposition format, version 0.0.4: a small model of metric families and a
// pure renderer, so that /metrics is built from data and tested on golden output.
//
// Naming is the caller's: every name arrives whole, with the `connscope_` prefix and, for a
// counter, the `_total` suffix (in format 0.0.4 the family name is the sample name, so there is
// no separate suffix field). render() checks what promtool's linter and Prometheus's parser
// would reject and returns an Error instead of emitting a page a scrape would refuse:
// - metric names `[a-z_][a-z0-9_]*` (snake_case; no colons, which are for recording rules);
// - label names `[a-z_][a-z0-9_]*`, not starting with `__` (reserved), each once per sample;
// - counters end in `_total` and are never negative; gauges and untyped metrics do not end in
//   `_total`;
// - every family has HELP text; no two families share a name; no two samples of a family have
//   the same label set (in any order).
// A bad name or a duplicate is a programming error in the caller, but it is returned rather
// than asserted: the agent then answers 500 with the message instead of dying, and a test can
// show which metric is wrong.
//
// Label values and HELP texts are data (process names, targets, finding texts): any bytes are
// accepted; invalid UTF-8 is replaced by U+FFFD, because Prometheus rejects the whole scrape
// for one invalid label value.

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace connscope::agent::prom {

// The Content-Type of a rendered page.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { counter, gauge, untyped };

struct Label {
  std::string name;
  std::string value;
};

struct Sample {
  std::vector<Label> labels;  // written in this order
  double value = 0;
};

struct MetricFamily {
  std::string name;  // e.g. "connscope_tcp_sockets", "connscope_listen_overflows_total"
  std::string help;
  MetricType type = MetricType::gauge;
  std::vector<Sample> samples;  // written in this order; none: only HELP and TYPE are written
};

// Families in the given order, each as `# HELP`, `# TYPE` and its samples; every line ends in
// '\n'. The error names the family (and the sample's labels) and what is wrong.
Result<std::string> render(const std::vector<MetricFamily>& families);

// The pieces render() uses, public for their tests.
std::string_view type_name(MetricType t);  // "counter", "gauge", "untyped"
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);
// Integers exactly, without exponent, up to 2^53; otherwise the shortest text that reads back
// as the same double ("0.25", "1e+300"); "NaN", "+Inf", "-Inf"; -0 as "0".
std::string format_value(double v);
// Backslash, double quote and newline escaped; invalid UTF-8 replaced by U+FFFD.
std::string escape_label_value(std::string_view v);
// Backslash and newline escaped; invalid UTF-8 replaced by U+FFFD.
std::string escape_help(std::string_view help);

}  // namespace connscope::agent::prom
