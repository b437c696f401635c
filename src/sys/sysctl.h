#pragma once
// Kernel settings from /proc/sys, by their sysctl names ("net.core.somaxconn").

#include <cstdint>
#include <optional>
#include <utility>
#include <string>
#include <string_view>

#include "core/error.h"

namespace connscope::sys {

// "net.core.somaxconn" -> "<proc_root>/sys/net/core/somaxconn" (pure).
std::string sysctl_path(std::string_view name, std::string_view proc_root = "/proc");

// The setting's text without the trailing newline.
Result<std::string> read_sysctl(std::string_view name, std::string_view proc_root = "/proc");

// net.ipv4.ip_local_port_range's "LOW HIGH" (tab or spaces) as a pair; nullopt when malformed
// (pure).
std::optional<std::pair<std::uint16_t, std::uint16_t>> parse_port_range(std::string_view text);

// A setting that holds one whole number.
Result<std::int64_t> read_sysctl_int(std::string_view name, std::string_view proc_root = "/proc");

}  // namespace connscope::sys
