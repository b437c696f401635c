#include "agent/prometheus.h"

#include "core/error_text.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <system_error>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>

namespace connscope::agent::prom {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool ends_with_total(std::string_view name) { return name.ends_with("_total"); }

// The length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 when it is not one.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  std::size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;  // the allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return len;
}

// Appends `v` escaped: backslash and newline always, the double quote when `quote` is set.
// Runs of plain ASCII (almost every byte of a label value) are appended in one piece.
void append_escaped(std::string& out, std::string_view v, bool quote) {
  std::size_t i = 0;
  while (i < v.size()) {
    std::size_t run = i;
    while (run < v.size()) {
      const auto c = static_cast<unsigned char>(v[run]);
      if (c >= 0x80 || c == '\\' || c == '\n' || (c == '"' && quote)) break;
      ++run;
    }
    out.append(v.data() + i, run - i);
    i = run;
    if (i == v.size()) break;
    const char c = v[i];
    if (c == '\\') {
      out.append("\\\\");
      ++i;
    } else if (c == '\n') {
      out.append("\\n");
      ++i;
    } else if (c == '"') {
      out.append("\\\"");
      ++i;
    } else {
      const std::size_t n = utf8_sequence(v, i);
      if (n == 0) {
        out.append(kReplacement);
        ++i;
      } else {
        out.append(v.data() + i, n);
        i += n;
      }
    }
  }
}

void append_value(std::string& out, double v) {
  if (std::isnan(v)) {
    out.append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out.append(v > 0 ? "+Inf" : "-Inf");
    return;
  }
  char buf[64];
  std::to_chars_result r{};
  // Up to 2^53 every integer is exact in a double: write it as one, never as 1e+06.
  if (v == std::trunc(v) && std::fabs(v) <= 9007199254740992.0) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(v));
  } else {
    r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  }
  out.append(buf, r.ptr);
}

std::string labels_text(const std::vector<Label>& labels) {
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append(labels[i].name).append("=\"");
    append_escaped(out, labels[i].value, true);
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

// A hash of a sample's label set that does not depend on the order of its labels (a sum of
// per-label hashes), so duplicates are found without sorting or copying labels.
std::uint64_t label_set_hash(const std::vector<Label>& labels) {
  std::uint64_t h = labels.size();
  for (const auto& l : labels) {
    const std::uint64_t name = std::hash<std::string_view>{}(l.name);
    const std::uint64_t value = std::hash<std::string_view>{}(l.value);
    std::uint64_t x = name * 0x9E3779B97F4A7C15ULL ^ value;
    x ^= x >> 31;  // spread the bits so that sums of different sets rarely meet
    x *= 0xBF58476D1CE4E5B9ULL;
    h += x ^ (x >> 29);
  }
  return h;
}

// Label names are unique within a sample (checked before this is called).
bool same_label_set(const std::vector<Label>& a, const std::vector<Label>& b) {
  if (a.size() != b.size()) return false;
  return std::all_of(a.begin(), a.end(), [&](const Label& la) {
    return std::any_of(b.begin(), b.end(), [&](const Label& lb) {
      return lb.name == la.name && lb.value == la.value;
    });
  });
}

Result<void> check_family(const MetricFamily& f) {
  const std::string op = fmt::format("metric {}", f.name);
  if (!valid_metric_name(f.name)) {
    return fail_text(op, Msg::err_metric_name);
  }
  if (f.help.empty()) return fail_text(op, Msg::err_metric_no_help);
  if (f.type == MetricType::counter && !ends_with_total(f.name)) {
    return fail_text(op, Msg::err_counter_total);
  }
  if (f.type != MetricType::counter && ends_with_total(f.name)) {
    return fail_text(op, Msg::err_only_counter_total);
  }
  std::vector<std::pair<std::uint64_t, std::size_t>> hashes;  // label set hash, sample index
  hashes.reserve(f.samples.size());
  for (const auto& s : f.samples) {
    for (std::size_t i = 0; i < s.labels.size(); ++i) {
      const auto& name = s.labels[i].name;
      if (!valid_label_name(name)) {
        return fail_text(op, Msg::err_label_name, {{"name", std::string(name)}});
      }
      for (std::size_t k = 0; k < i; ++k) {
        if (s.labels[k].name == name) {
          return fail_text(op, Msg::err_label_twice, {{"name", std::string(name)}});
        }
      }
    }
    if (f.type == MetricType::counter && s.value < 0) {
      return fail_text(op, Msg::err_counter_negative,
                       {{"labels", labels_text(s.labels)}, {"value", format_value(s.value)}});
    }
    hashes.emplace_back(label_set_hash(s.labels), hashes.size());
  }
  std::sort(hashes.begin(), hashes.end());
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    for (std::size_t k = i + 1; k < hashes.size() && hashes[k].first == hashes[i].first; ++k) {
      const auto& a = f.samples[hashes[i].second].labels;
      if (same_label_set(a, f.samples[hashes[k].second].labels)) {
        return fail_text(op, Msg::err_samples_same_labels, {{"labels", labels_text(a)}});
      }
    }
  }
  return {};
}

}  // namespace

std::string_view type_name(MetricType t) {
  if (t == MetricType::counter) return "counter";
  if (t == MetricType::gauge) return "gauge";
  return "untyped";
}

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  const auto lower_or_underscore = [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; };
  if (!lower_or_underscore(name.front())) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) {
    return lower_or_underscore(c) || (c >= '0' && c <= '9');
  });
}

bool valid_label_name(std::string_view name) {
  return valid_metric_name(name) && !name.starts_with("__");
}

std::string format_value(double v) {
  std::string out;
  append_value(out, v);
  return out;
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  append_escaped(out, v, true);
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  append_escaped(out, help, false);
  return out;
}

Result<std::string> render(const std::vector<MetricFamily>& families) {
  std::unordered_set<std::string_view> names;
  std::size_t estimate = 0;
  for (const auto& f : families) {
    if (auto ok = check_family(f); !ok) return std::unexpected(std::move(ok.error()));
    if (!names.insert(f.name).second) {
      return fail_text(fmt::format("metric {}", f.name), Msg::err_metric_twice);

    }
    estimate += 32 + 2 * f.name.size() + f.help.size();
    for (const auto& s : f.samples) {
      estimate += f.name.size() + 24;
      for (const auto& l : s.labels) estimate += l.name.size() + l.value.size() + 4;
    }
  }

  std::string out;
  out.reserve(estimate);
  for (const auto& f : families) {
    out.append("# HELP ").append(f.name).push_back(' ');
    append_escaped(out, f.help, false);
    out.append("\n# TYPE ").append(f.name).push_back(' ');
    out.append(type_name(f.type)).push_back('\n');
    for (const auto& s : f.samples) {
      out.append(f.name);
      if (!s.labels.empty()) {
        out.push_back('{');
        for (std::size_t i = 0; i < s.labels.size(); ++i) {
          if (i > 0) out.push_back(',');
          out.append(s.labels[i].name).append("=\"");
          append_escaped(out, s.labels[i].value, true);
          out.push_back('"');
        }
        out.push_back('}');
      }
      out.push_back(' ');
      append_value(out, s.value);
      out.push_back('\n');
    }
  }
  return out;
}

}  // namespace connscope::agent::prom
