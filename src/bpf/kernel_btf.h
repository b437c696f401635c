#pragma once
// What the running kernel offers the BPF programs, read from its own BTF
// (/sys/kernel/btf/vmlinux): the names of its enums (drop and reset reasons change between
// kernels), which tracepoints exist, and how many arguments a tracepoint passes.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"

struct btf;

namespace connscope::bpf {

inline constexpr std::string_view kVmlinuxBtf = "/sys/kernel/btf/vmlinux";

class KernelBtf {
 public:
  // Error (op names the file) when the kernel has no BTF.
  static Result<KernelBtf> load(std::string_view path = kVmlinuxBtf);

  // value -> name of `enum enum_name`, with `prefix` taken off each name. Empty when the kernel
  // has no such enum.
  [[nodiscard]] std::map<std::uint32_t, std::string> enum_names(std::string_view enum_name,
                                                                std::string_view prefix) const;
  // The arguments a BTF tracepoint passes (its btf_trace_<name> prototype, less the context);
  // -1 when the kernel has no such tracepoint.
  [[nodiscard]] int tracepoint_args(std::string_view name) const;

 private:
  struct Free {
    void operator()(struct btf* b) const;
  };
  explicit KernelBtf(struct btf* b) : btf_(b) {}
  std::unique_ptr<struct btf, Free> btf_;
};

// Whether this process may load and attach tracing programs: root, or CAP_BPF with
// CAP_PERFMON. The error names what is missing.
Result<void> check_privilege();

}  // namespace connscope::bpf
