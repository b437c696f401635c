#include "bpf/kernel_btf.h"

#include "core/error_text.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <cerrno>
#include <string>

namespace connscope::bpf {

void KernelBtf::Free::operator()(struct btf* b) const { btf__free(b); }

Result<KernelBtf> KernelBtf::load(std::string_view path) {
  const std::string p(path);
  if (::access(p.c_str(), R_OK) != 0) {
    const int e = errno;
    return fail_text(p, e == ENOENT ? Msg::err_no_btf : Msg::err_read, {}, e);
  }
  struct btf* b = btf__parse(p.c_str(), nullptr);
  if (b == nullptr) return fail_text(p, Msg::err_parse_btf, {}, errno);
  return KernelBtf(b);
}

std::map<std::uint32_t, std::string> KernelBtf::enum_names(std::string_view enum_name,
                                                           std::string_view prefix) const {
  std::map<std::uint32_t, std::string> out;
  const std::string name(enum_name);
  const int id = btf__find_by_name_kind(btf_.get(), name.c_str(), BTF_KIND_ENUM);
  if (id <= 0) return out;
  const struct btf_type* t = btf__type_by_id(btf_.get(), static_cast<__u32>(id));
  const struct btf_enum* e = btf_enum(t);
  for (unsigned i = 0; i < btf_vlen(t); ++i, ++e) {
    std::string_view n = btf__name_by_offset(btf_.get(), e->name_off);
    if (n.starts_with(prefix)) n.remove_prefix(prefix.size());
    out.emplace(static_cast<std::uint32_t>(e->val), std::string(n));
  }
  return out;
}

int KernelBtf::tracepoint_args(std::string_view name) const {
  const std::string typedef_name = "btf_trace_" + std::string(name);
  const int id = btf__find_by_name_kind(btf_.get(), typedef_name.c_str(), BTF_KIND_TYPEDEF);
  if (id <= 0) return -1;
  const struct btf_type* t = btf__type_by_id(btf_.get(), static_cast<__u32>(id));
  t = btf__type_by_id(btf_.get(), t->type);  // the pointer
  if (t == nullptr || !btf_is_ptr(t)) return -1;
  t = btf__type_by_id(btf_.get(), t->type);  // the prototype
  if (t == nullptr || !btf_is_func_proto(t)) return -1;
  return static_cast<int>(btf_vlen(t)) - 1;  // the first argument is the tracepoint's context
}

Result<void> check_privilege() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) return fail_errno("capget", errno);
  const auto has = [&](int cap) { return (data[cap / 32].effective & (1u << (cap % 32))) != 0; };
#ifndef CAP_BPF
  constexpr int CAP_BPF = 39;
  constexpr int CAP_PERFMON = 38;
#endif
  if (has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))) return {};
  return fail_text("bpf", Msg::err_bpf_privilege, {}, EPERM);

}

}  // namespace connscope::bpf
