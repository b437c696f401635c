#include "watch/reasons.h"

#include <algorithm>
#include <array>

#include "watch/ends.h"

namespace connscope::watch {

namespace {

struct Entry {
  std::string_view name;
  Msg meaning;
  Msg fix;
};

// enum skb_drop_reason, in the kernel's order; several reasons share a fix.
constexpr std::array kDrop{
    Entry{"NO_SOCKET", Msg::wd_no_socket_m, Msg::wd_no_socket_f},
    Entry{"SOCKET_CLOSE", Msg::wd_socket_close_m, Msg::wd_socket_close_f},
    Entry{"SOCKET_FILTER", Msg::wd_socket_filter_m, Msg::wd_socket_filter_f},
    Entry{"SOCKET_RCVBUFF", Msg::wd_socket_rcvbuff_m, Msg::wd_socket_rcvbuff_f},
    Entry{"PKT_TOO_SMALL", Msg::wd_pkt_too_small_m, Msg::wd_pkt_too_small_f},
    Entry{"TCP_CSUM", Msg::wd_csum_m, Msg::wd_csum_f},
    Entry{"UDP_CSUM", Msg::wd_csum_m, Msg::wd_csum_f},
    Entry{"NETFILTER_DROP", Msg::wd_netfilter_drop_m, Msg::wd_netfilter_drop_f},
    Entry{"OTHERHOST", Msg::wd_otherhost_m, Msg::wd_otherhost_f},
    Entry{"IP_CSUM", Msg::wd_csum_m, Msg::wd_csum_f},
    Entry{"IP_RPFILTER", Msg::wd_ip_rpfilter_m, Msg::wd_ip_rpfilter_f},
    Entry{"XFRM_POLICY", Msg::wd_xfrm_policy_m, Msg::wd_xfrm_policy_f},
    Entry{"IP_NOPROTO", Msg::wd_ip_noproto_m, Msg::wd_ip_noproto_f},
    Entry{"PROTO_MEM", Msg::wd_proto_mem_m, Msg::wd_proto_mem_f},
    Entry{"TCP_AUTH_HDR", Msg::wd_tcp_auth_hdr_m, Msg::wd_tcp_auth_f},
    Entry{"TCP_MD5NOTFOUND", Msg::wd_tcp_md5_m, Msg::wd_tcp_auth_f},
    Entry{"TCP_MD5UNEXPECTED", Msg::wd_tcp_md5_m, Msg::wd_tcp_auth_f},
    Entry{"TCP_MD5FAILURE", Msg::wd_tcp_md5_m, Msg::wd_tcp_auth_f},
    Entry{"TCP_AONOTFOUND", Msg::wd_tcp_ao_m, Msg::wd_tcp_auth_f},
    Entry{"TCP_AOUNEXPECTED", Msg::wd_tcp_ao_m, Msg::wd_tcp_auth_f},
    Entry{"TCP_AOKEYNOTFOUND", Msg::wd_tcp_ao_m, Msg::wd_tcp_auth_f},
    Entry{"TCP_AOFAILURE", Msg::wd_tcp_ao_m, Msg::wd_tcp_auth_f},
    Entry{"SOCKET_BACKLOG", Msg::wd_socket_backlog_m, Msg::wd_socket_backlog_f},
    Entry{"TCP_FLAGS", Msg::wd_tcp_flags_m, Msg::wd_tcp_flags_f},
    Entry{"TCP_ABORT_ON_DATA", Msg::wd_tcp_abort_on_data_m, Msg::wd_tcp_abort_on_data_f},
    Entry{"TCP_ZEROWINDOW", Msg::wd_tcp_zerowindow_m, Msg::wd_tcp_zerowindow_f},
    Entry{"TCP_OLD_DATA", Msg::wd_tcp_old_data_m, Msg::wd_dup_f},
    Entry{"TCP_OVERWINDOW", Msg::wd_tcp_overwindow_m, Msg::wd_tcp_overwindow_f},
    Entry{"TCP_OFOMERGE", Msg::wd_tcp_ofomerge_m, Msg::wd_dup_f},
    Entry{"TCP_RFC7323_PAWS", Msg::wd_tcp_paws_m, Msg::wd_tcp_paws_f},
    Entry{"TCP_RFC7323_PAWS_ACK", Msg::wd_tcp_paws_ack_m, Msg::wd_tcp_paws_f},
    Entry{"TCP_RFC7323_TW_PAWS", Msg::wd_tcp_tw_paws_m, Msg::wd_tcp_paws_f},
    Entry{"TCP_RFC7323_TSECR", Msg::wd_tcp_tsecr_m, Msg::wd_tcp_tsecr_f},
    Entry{"TCP_LISTEN_OVERFLOW", Msg::wd_tcp_listen_overflow_m, Msg::wd_accept_f},
    Entry{"TCP_OLD_SEQUENCE", Msg::wd_tcp_old_sequence_m, Msg::wd_dup_f},
    Entry{"TCP_INVALID_SEQUENCE", Msg::wd_tcp_invalid_sequence_m, Msg::wd_desync_f},
    Entry{"TCP_INVALID_ACK_SEQUENCE", Msg::wd_tcp_invalid_ack_m, Msg::wd_desync_f},
    Entry{"TCP_RESET", Msg::wd_tcp_reset_m, Msg::wd_tcp_reset_f},
    Entry{"TCP_INVALID_SYN", Msg::wd_tcp_invalid_syn_m, Msg::wd_tcp_invalid_syn_f},
    Entry{"TCP_CLOSE", Msg::wd_tcp_close_m, Msg::wd_tcp_close_f},
    Entry{"TCP_FASTOPEN", Msg::wd_tcp_fastopen_m, Msg::wd_tcp_fastopen_f},
    Entry{"TCP_OLD_ACK", Msg::wd_tcp_old_ack_m, Msg::wd_dup_f},
    Entry{"TCP_TOO_OLD_ACK", Msg::wd_tcp_too_old_ack_m, Msg::wd_desync_f},
    Entry{"TCP_ACK_UNSENT_DATA", Msg::wd_tcp_ack_unsent_m, Msg::wd_tcp_ack_unsent_f},
    Entry{"TCP_OFO_QUEUE_PRUNE", Msg::wd_tcp_ofo_prune_m, Msg::wd_tcp_ofo_f},
    Entry{"TCP_OFO_DROP", Msg::wd_tcp_ofo_drop_m, Msg::wd_tcp_ofo_f},
    Entry{"IP_OUTNOROUTES", Msg::wd_ip_outnoroutes_m, Msg::wd_ip_outnoroutes_f},
    Entry{"BPF_CGROUP_EGRESS", Msg::wd_bpf_cgroup_egress_m, Msg::wd_bpf_cgroup_egress_f},
    Entry{"IPV6DISABLED", Msg::wd_ipv6disabled_m, Msg::wd_ipv6disabled_f},
    Entry{"NEIGH_CREATEFAIL", Msg::wd_neigh_m, Msg::wd_neigh_f},
    Entry{"NEIGH_FAILED", Msg::wd_neigh_m, Msg::wd_neigh_f},
    Entry{"NEIGH_QUEUEFULL", Msg::wd_neigh_queuefull_m, Msg::wd_neigh_f},
    Entry{"NEIGH_DEAD", Msg::wd_neigh_m, Msg::wd_neigh_f},
    Entry{"NEIGH_HH_FILLFAIL", Msg::wd_neigh_m, Msg::wd_neigh_f},
    Entry{"TC_EGRESS", Msg::wd_tc_egress_m, Msg::wd_tc_f},
    Entry{"SECURITY_HOOK", Msg::wd_security_hook_m, Msg::wd_security_hook_f},
    Entry{"QDISC_DROP", Msg::wd_qdisc_m, Msg::wd_qdisc_f},
    Entry{"QDISC_OVERLIMIT", Msg::wd_qdisc_m, Msg::wd_qdisc_f},
    Entry{"CPU_BACKLOG", Msg::wd_cpu_backlog_m, Msg::wd_cpu_backlog_f},
    Entry{"XDP", Msg::wd_xdp_m, Msg::wd_xdp_f},
    Entry{"TC_INGRESS", Msg::wd_tc_ingress_m, Msg::wd_tc_f},
    Entry{"FULL_RING", Msg::wd_full_ring_m, Msg::wd_full_ring_f},
    Entry{"NOMEM", Msg::wd_nomem_m, Msg::wd_nomem_f},
    Entry{"IP_INADDRERRORS", Msg::wd_ip_inaddrerrors_m, Msg::wd_ip_inaddrerrors_f},
    Entry{"IP_INNOROUTES", Msg::wd_ip_innoroutes_m, Msg::wd_ip_innoroutes_f},
    Entry{"IP_LOCAL_SOURCE", Msg::wd_ip_local_source_m, Msg::wd_ip_source_f},
    Entry{"IP_INVALID_SOURCE", Msg::wd_ip_invalid_source_m, Msg::wd_ip_source_f},
    Entry{"PKT_TOO_BIG", Msg::wd_pkt_too_big_m, Msg::wd_pkt_too_big_f},
    Entry{"TCP_MINTTL", Msg::wd_tcp_minttl_m, Msg::wd_tcp_minttl_f},
    Entry{"QUEUE_PURGE", Msg::wd_queue_purge_m, Msg::wd_socket_close_f},
};

// enum sk_rst_reason: why this host sent a reset.
constexpr std::array kReset{
    Entry{"NO_SOCKET", Msg::wr_no_socket_m, Msg::wr_no_socket_f},
    Entry{"TCP_INVALID_ACK_SEQUENCE", Msg::wr_invalid_ack_m, Msg::wr_desync_f},
    Entry{"TCP_RFC7323_PAWS", Msg::wr_paws_m, Msg::wd_tcp_paws_f},
    Entry{"TCP_TOO_OLD_ACK", Msg::wr_too_old_ack_m, Msg::wr_desync_f},
    Entry{"TCP_ACK_UNSENT_DATA", Msg::wr_ack_unsent_m, Msg::wr_desync_f},
    Entry{"TCP_FLAGS", Msg::wr_flags_m, Msg::wr_desync_f},
    Entry{"TCP_OLD_ACK", Msg::wr_old_ack_m, Msg::wr_desync_f},
    Entry{"TCP_ABORT_ON_DATA", Msg::wr_abort_on_data_m, Msg::wr_abort_data_f},
    Entry{"TCP_TIMEWAIT_SOCKET", Msg::wr_timewait_m, Msg::wr_timewait_f},
    Entry{"INVALID_SYN", Msg::wr_invalid_syn_m, Msg::wr_invalid_syn_f},
    Entry{"TCP_ABORT_ON_CLOSE", Msg::wr_abort_on_close_m, Msg::wr_abort_data_f},
    Entry{"TCP_ABORT_ON_LINGER", Msg::wr_abort_on_linger_m, Msg::wr_abort_on_linger_f},
    Entry{"TCP_ABORT_ON_MEMORY", Msg::wr_abort_on_memory_m, Msg::wr_abort_on_memory_f},
    Entry{"TCP_STATE", Msg::wr_tcp_state_m, Msg::wr_tcp_state_f},
    Entry{"TCP_KEEPALIVE_TIMEOUT", Msg::wr_keepalive_m, Msg::wr_keepalive_f},
    Entry{"TCP_DISCONNECT_WITH_DATA", Msg::wr_disconnect_data_m, Msg::wr_abort_data_f},
    Entry{"ERROR", Msg::wr_error_m, Msg::wr_error_f},
};

}  // namespace

bool is_teardown_drop(std::string_view name) {
  return name == "SOCKET_CLOSE" || name == "TCP_CLOSE" || name == "QUEUE_PURGE";
}

namespace {

template <std::size_t N>
constexpr std::array<std::string_view, N> names_of(const std::array<Entry, N>& table) {
  std::array<std::string_view, N> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = table[i].name;
  return out;
}

constexpr auto kDropNames = names_of(kDrop);
constexpr auto kResetNames = names_of(kReset);

ReasonText render(Lang lang, Msg meaning, Msg fix, const ReasonArgs& a) {
  return {tr(lang, meaning, fmt::arg("port", a.port), fmt::arg("peer", a.peer)),
          tr(lang, fix, fmt::arg("port", a.port), fmt::arg("peer", a.peer))};
}

template <std::size_t N>
std::optional<ReasonText> lookup(const std::array<Entry, N>& table, Lang lang, std::string_view name,
                                 const ReasonArgs& args) {
  const auto it = std::find_if(table.begin(), table.end(), [&](const Entry& e) { return e.name == name; });
  if (it == table.end()) return std::nullopt;
  return render(lang, it->meaning, it->fix, args);
}

std::string overflow_text(Lang lang, Msg id, const Event& e) {
  return tr(lang, id, fmt::arg("backlog", e.backlog), fmt::arg("max_backlog", e.max_backlog), fmt::arg("count", e.count));
}

}  // namespace

std::optional<ReasonText> drop_reason_text(Lang lang, std::string_view name, const ReasonArgs& args) {
  return lookup(kDrop, lang, name, args);
}

std::optional<ReasonText> reset_reason_text(Lang lang, std::string_view name, const ReasonArgs& args) {
  return lookup(kReset, lang, name, args);
}

std::span<const std::string_view> known_drop_reasons() { return kDropNames; }
std::span<const std::string_view> known_reset_reasons() { return kResetNames; }

ReasonArgs reason_args(const Event& e) {
  ReasonArgs a;
  if (const auto port = local_port(e); port != 0) a.port = std::to_string(port);
  if (auto peer = remote_address(e); !peer.empty()) a.peer = std::move(peer);
  return a;
}

std::optional<ReasonText> event_text(Lang lang, const Event& e) {
  const ReasonArgs a = reason_args(e);
  if (e.kind == EventKind::drop) return drop_reason_text(lang, e.reason, a);
  if (e.kind == EventKind::reset_sent) {
    // NOT_SPECIFIED is the kernel saying it has no reason, like an older kernel's silence.
    if (!e.reason.empty() && e.reason != "NOT_SPECIFIED") {
      if (auto t = reset_reason_text(lang, e.reason, a)) return t;
      return std::nullopt;
    }
    return render(lang, Msg::wr_none_m, Msg::wr_none_f, a);
  }
  if (e.kind == EventKind::reset_received) return render(lang, Msg::we_reset_received_m, Msg::we_reset_received_f, a);
  if (e.kind == EventKind::retransmit) return render(lang, Msg::we_retransmit_m, Msg::we_retransmit_f, a);
  if (e.kind == EventKind::synack_retransmit) {
    return render(lang, Msg::we_synack_retransmit_m, Msg::we_synack_retransmit_f, a);
  }
  if (e.kind == EventKind::accept_overflow) {
    return ReasonText{overflow_text(lang, Msg::we_accept_overflow_m, e),
                      tr(lang, Msg::wd_accept_f, fmt::arg("port", a.port), fmt::arg("peer", a.peer))};
  }
  if (e.kind == EventKind::syn_queue_drop) {
    return ReasonText{overflow_text(lang, Msg::we_syn_queue_drop_m, e),
                      tr(lang, Msg::we_syn_queue_drop_f, fmt::arg("port", a.port), fmt::arg("peer", a.peer))};
  }
  return std::nullopt;
}

}  // namespace connscope::watch
