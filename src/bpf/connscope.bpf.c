// SPDX-License-Identifier: GPL-2.0
/* connscope's kernel programs: TCP state changes, resets, retransmissions, packet drops with the
 * kernel's reason, and accept/SYN queue overflows attributed to their listener.
 *
 * Each hook does two things: it adds to per-CPU counters (host-wide within one network
 * namespace; the agent reads them every second at a cost that does not depend on the number of
 * sockets), and, when user space asked for that kind and the event passes its filters, it writes
 * one record to the ring buffer (connscope watch). Built CO-RE against the build machine's
 * vmlinux.h; the attach points are BTF tracepoints (tp_btf), which need no tracefs. On the hot
 * paths the kernel's structures are read by direct, BTF-typed loads (relocated by CO-RE like
 * BPF_CORE_READ, but without a helper call per field: a fault reads as 0). Arguments a kernel
 * may lack (the reset reason) are read only when user space, having looked at the running
 * kernel's BTF, says they exist (has_reset_reason).
 *
 * Only tracepoints: fentry/kprobes would see the SYNs a full accept queue drops, but need BPF
 * trampolines or kprobes, which kernels (this project's CI among them) may lack. Those drops are
 * counted per listener by the kernel itself (sk_drops, read through sock_diag: src/watch). */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "events.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_FIN_WAIT1 4
#define TCP_CLOSE 7
#define TCP_LAST_ACK 9
#define TCP_LISTEN 10

/* Set by user space before load from the running kernel's BTF. */
const volatile bool has_reset_reason = false;

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct cs_config);
} cs_config_map SEC(".maps");

/* Only this network namespace (inode number of its net ns; 0: every namespace). Kept apart from
 * cs_config so that the agent, which streams no events, sets it alone. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} cs_netns_map SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4 * 1024 * 1024); /* user space may change it before load */
} cs_events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, CS_TCP_STATES * CS_TCP_STATES);
  __type(key, __u32);
  __type(value, __u64);
} cs_transitions SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, CS_C_MAX);
  __type(key, __u32);
  __type(value, __u64);
} cs_counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 4096);
  __type(key, struct cs_drop_key);
  __type(value, __u64);
} cs_drops SEC(".maps");

/* The process behind a socket, recorded where the kernel runs in its context (connect, listen,
 * close), because most state changes happen in softirq where "current" is whoever ran; an
 * accepted connection's is its listener's (cs_listen_owners). In the socket's own local storage,
 * which the kernel frees with the socket: no shared hash to lock and evict under a storm, and no
 * stale entry for a later socket at the same address. */
struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct cs_owner);
} cs_owners SEC(".maps");

/* A listener's process by (network namespace, port), for the connections it accepts: their
 * sockets are born in softirq (LISTEN -> SYN_RECV, with no link to the listener left in the
 * child) and accept() has no tracepoint, so a child takes the owner of its port's listener.
 * Several processes on one port (SO_REUSEPORT): the last to listen. User space adds the
 * listeners that were there before the programs were attached (Tracer::remember_listener); a
 * listen() without bind() has no port yet when it changes state, so its children stay unknown. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, struct cs_listen_key);
  __type(value, struct cs_owner);
} cs_listen_owners SEC(".maps");

/* records_per_sec: each CPU's current one-second window, and the events it held back by kind. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct cs_budget);
} cs_budget SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, CS_EV_KIND_MAX);
  __type(key, __u32);
  __type(value, __u64);
} cs_held SEC(".maps");

/* aggregate_mask: the events that passed the filters, counted by cs_match_key (past max_entries,
 * by kind only, in cs_matched_other), and the state changes by transition. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 16384);
  __type(key, struct cs_match_key);
  __type(value, __u64);
} cs_matched SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, CS_EV_KIND_MAX);
  __type(key, __u32);
  __type(value, __u64);
} cs_matched_other SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, CS_TCP_STATES * CS_TCP_STATES);
  __type(key, __u32);
  __type(value, __u64);
} cs_matched_transitions SEC(".maps");

/* The local ports something listens on (user space keeps it current, once a second): a counted
 * event and a drop (cs_drops) keep their local port only when it is one of them, so that the
 * packets to clients' ephemeral ports (every connection of a storm ends with some) make one key,
 * not one each. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, __u8);
} cs_listening SEC(".maps");

/* Set on a CPU once cs_matched refused a key (full): further new keys go to cs_matched_other at
 * once, without a failed insert each. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} cs_matched_full SEC(".maps");

/* When the reader was last woken (ns, bpf_ktime_get_ns). */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} cs_last_wakeup SEC(".maps");

/* The reader is woken at most once a millisecond: a reader that keeps up would otherwise be woken
 * for every record (the ring buffer wakes it when it has caught up), which under a connection
 * storm costs more than the programs themselves. It also polls with a timeout of at most 200 ms,
 * so a record submitted without a wake-up waits no longer than that. */
static __always_inline __u64 wakeup_flag(void) {
  __u32 zero = 0;
  __u64 *last = bpf_map_lookup_elem(&cs_last_wakeup, &zero);
  if (!last) return 0;
  __u64 now = bpf_ktime_get_ns();
  if (now - *last < 1000000) return BPF_RB_NO_WAKEUP;
  *last = now;
  return BPF_RB_FORCE_WAKEUP;
}

static __always_inline void count(__u32 index) {
  __u64 *v = bpf_map_lookup_elem(&cs_counters, &index);
  if (v) *v += 1;
}

static __always_inline __u32 netns_of_sock(const struct sock *sk) {
  return sk->__sk_common.skc_net.net->ns.inum;
}

static __always_inline bool netns_wanted(__u32 inum) {
  __u32 zero = 0;
  __u32 *want = bpf_map_lookup_elem(&cs_netns_map, &zero);
  return !want || *want == 0 || *want == inum;
}

static __always_inline struct cs_config *config_for(__u32 kind) {
  __u32 zero = 0;
  struct cs_config *cfg = bpf_map_lookup_elem(&cs_config_map, &zero);
  if (!cfg || !(cfg->event_mask & CS_EVENT_BIT(kind))) return 0;
  return cfg;
}

static __always_inline bool same16(const __u8 *a, const __u8 *b, __u16 family) {
  int n = family == AF_INET ? 4 : 16;
#pragma unroll
  for (int i = 0; i < 16; i++) {
    if (i < n && a[i] != b[i]) return false;
  }
  return true;
}

/* One end's address is the --peer: the same family, or an IPv4 peer as a dual-stack (IPv6) socket
 * sees it, ::ffff:a.b.c.d. */
static __always_inline bool is_peer(const struct cs_config *cfg, const __u8 *a, __u16 family) {
  if (family == cfg->peer_family) return same16(cfg->peer, a, family);
  if (cfg->peer_family != AF_INET || family != AF_INET6) return false;
#pragma unroll
  for (int i = 0; i < 10; i++) {
    if (a[i] != 0) return false;
  }
  return a[10] == 0xff && a[11] == 0xff && a[12] == cfg->peer[0] && a[13] == cfg->peer[1] &&
         a[14] == cfg->peer[2] && a[15] == cfg->peer[3];
}

static __always_inline bool passes(const struct cs_config *cfg, const struct cs_event *e) {
  if (cfg->port && cfg->port != e->sport && cfg->port != e->dport) return false;
  if (cfg->pid && cfg->pid != e->pid) return false;
  if (cfg->peer_family && !is_peer(cfg, e->saddr, e->family) && !is_peer(cfg, e->daddr, e->family)) return false;
  return true;
}

/* Fills addresses and ports from a socket (local = s, remote = d). Works for full, request and
 * timewait sockets: all begin with struct sock_common. Direct loads (the pointer is BTF-typed). */
static __always_inline void from_sock_common(struct cs_event *e, const struct sock_common *c) {
  e->family = c->skc_family;
  e->sport = c->skc_num;
  e->dport = bpf_ntohs(c->skc_dport);
  if (e->family == AF_INET) {
    __u32 s = c->skc_rcv_saddr;
    __u32 d = c->skc_daddr;
    __builtin_memcpy(e->saddr, &s, 4);
    __builtin_memcpy(e->daddr, &d, 4);
  } else if (e->family == AF_INET6) {
    __builtin_memcpy(e->saddr, c->skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
    __builtin_memcpy(e->daddr, c->skc_v6_daddr.in6_u.u6_addr8, 16);
  }
}

/* A full socket. The kernel unhashes a socket on its way to CLOSE (skc_num is then 0) but keeps
 * its port in inet_sport, which lies past struct sock and so is read by a helper, only then. */
static __always_inline void from_sock(struct cs_event *e, const struct sock *sk) {
  from_sock_common(e, &sk->__sk_common);
  if (e->sport == 0) e->sport = bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
}

/* The helper returns NULL for a socket that is not a full one (a request or timewait socket). */
static __always_inline void owner_into(struct cs_event *e, const struct sock *sk) {
  struct cs_owner *o = bpf_sk_storage_get(&cs_owners, (struct sock *)sk, 0, 0);
  if (o) {
    e->pid = o->pid;
    __builtin_memcpy(e->comm, o->comm, sizeof(e->comm));
  }
}

static __always_inline void remember_owner(const struct sock *sk) {
  struct cs_owner *o = bpf_sk_storage_get(&cs_owners, (struct sock *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
  if (!o) return;
  o->pid = bpf_get_current_pid_tgid() >> 32;
  bpf_get_current_comm(&o->comm, sizeof(o->comm));
}

/* Reads the IP and TCP/UDP headers of a packet into e (src = s, dst = d). */
static __always_inline void from_packet(struct cs_event *e, const struct sk_buff *skb) {
  e->flags |= CS_F_PACKET;
  unsigned char *head = skb->head;
  __u16 nh = skb->network_header;
  __u16 proto = bpf_ntohs(skb->protocol);
  __u8 *l4 = 0;
  if (proto == ETH_P_IP) {
    struct iphdr ip;
    if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh) || ip.version != 4) return;
    e->family = AF_INET;
    e->protocol = ip.protocol;
    __builtin_memcpy(e->saddr, &ip.saddr, 4);
    __builtin_memcpy(e->daddr, &ip.daddr, 4);
    l4 = head + nh + ip.ihl * 4;
  } else if (proto == ETH_P_IPV6) {
    struct ipv6hdr ip6;
    if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh) || ip6.version != 6) return;
    e->family = AF_INET6;
    e->protocol = ip6.nexthdr;
    __builtin_memcpy(e->saddr, &ip6.saddr, 16);
    __builtin_memcpy(e->daddr, &ip6.daddr, 16);
    l4 = head + nh + sizeof(ip6);
  } else {
    return;
  }
  if (e->protocol == IPPROTO_TCP || e->protocol == IPPROTO_UDP) {
    __be16 ports[2];
    if (!bpf_probe_read_kernel(ports, sizeof(ports), l4)) {
      e->sport = bpf_ntohs(ports[0]);
      e->dport = bpf_ntohs(ports[1]);
    }
  }
}

static __always_inline void stamp(struct cs_event *e, __u32 kind) {
  e->ts_ns = bpf_ktime_get_ns();
  e->kind = kind;
}

/* This CPU's budget of records_per_sec, its window restarted when a second is over; NULL when
 * there is no budget (every record may go). */
static __always_inline struct cs_budget *current_budget(const struct cs_config *cfg) {
  if (!cfg->records_per_sec) return 0;
  __u32 zero = 0;
  struct cs_budget *b = bpf_map_lookup_elem(&cs_budget, &zero);
  if (!b) return 0;
  /* (bpf_ktime_get_coarse_ns would be cheaper, but tracing programs may not call it.) */
  __u64 now = bpf_ktime_get_ns();
  if (now - b->window_start_ns >= 1000000000ULL) {
    b->window_start_ns = now;
    b->used = 0;
  }
  return b;
}

/* Whether this CPU could send a record now (records_per_sec not used up this second). */
static __always_inline bool budget_left(const struct cs_config *cfg) {
  struct cs_budget *b = current_budget(cfg);
  return !b || b->used < cfg->records_per_sec;
}

/* Whether this CPU may send one more record of `kind` this second; if not, the event is counted
 * as held back. */
static __always_inline bool within_budget(const struct cs_config *cfg, __u32 kind) {
  struct cs_budget *b = current_budget(cfg);
  if (!b) return true;
  if (b->used < cfg->records_per_sec) {
    b->used += 1;
    return true;
  }
  __u64 *held = bpf_map_lookup_elem(&cs_held, &kind);
  if (held) *held += 1;
  return false;
}

static __always_inline bool filtered(const struct cs_config *cfg) {
  return cfg->port || cfg->pid || cfg->peer_family;
}

static __always_inline void send(const struct cs_event *e) {
  struct cs_event *out = bpf_ringbuf_reserve(&cs_events, sizeof(*out), 0);
  if (!out) {
    count(CS_C_RING_LOST);
    return;
  }
  __builtin_memcpy(out, e, sizeof(*out));
  bpf_ringbuf_submit(out, wakeup_flag());
}

/* One event counted instead of streamed (aggregate_mask). */
static __always_inline void count_matched(const struct cs_event *e) {
  struct cs_match_key k = {.kind = e->kind, .family = e->family};
  if (e->flags & CS_F_HAS_REASON) {
    k.reason = e->reason;
    k.flags = CS_F_HAS_REASON;
  }
  /* A packet's remote end is its source; a socket's, its destination. */
  __u32 port;
  if (e->flags & CS_F_PACKET) {
    port = e->dport;
    __builtin_memcpy(k.peer, e->saddr, sizeof(k.peer));
  } else {
    port = e->kind == CS_EV_STATE ? 0 : e->sport;
    __builtin_memcpy(k.peer, e->daddr, sizeof(k.peer));
  }
  if (port && bpf_map_lookup_elem(&cs_listening, &port)) k.port = port;
  __u64 *n = bpf_map_lookup_elem(&cs_matched, &k);
  if (n) {
    *n += 1;
    return;
  }
  __u32 zero = 0;
  __u32 *full = bpf_map_lookup_elem(&cs_matched_full, &zero);
  if (full && !*full) {
    __u64 one = 1;
    if (bpf_map_update_elem(&cs_matched, &k, &one, BPF_NOEXIST) == 0) return;
    *full = 1;
  }
  __u32 kind = e->kind;
  n = bpf_map_lookup_elem(&cs_matched_other, &kind);
  if (n) *n += 1;
}

static __always_inline void submit(const struct cs_config *cfg, const struct cs_event *e) {
  if (!passes(cfg, e)) return;
  if (cfg->aggregate_mask & CS_EVENT_BIT(e->kind))
    count_matched(e);
  else if (within_budget(cfg, e->kind))
    send(e);
}

/* Events are built on the stack (a struct cs_event is 112 bytes, well inside the 512-byte
 * limit) so that filters can look at them before the ring buffer is touched. */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(cs_state, const struct sock *sk, const int oldstate, const int newstate) {
  if (sk->sk_protocol != IPPROTO_TCP) return 0;
  if (!netns_wanted(netns_of_sock(sk))) return 0;
  __u32 from = oldstate & (CS_TCP_STATES - 1), to = newstate & (CS_TCP_STATES - 1);
  __u32 index = from * CS_TCP_STATES + to;
  __u64 *v = bpf_map_lookup_elem(&cs_transitions, &index);
  if (v) *v += 1;

  /* Owners are for streamed events and --pid: without them (the agent's counters, a --summary
   * of all processes) no socket storage is touched, which keeps a state change at two lookups. */
  __u32 zero = 0;
  struct cs_config *cfg = bpf_map_lookup_elem(&cs_config_map, &zero);
  if (!cfg || !cfg->event_mask) return 0;
  const bool wanted = cfg->event_mask & CS_EVENT_BIT(CS_EV_STATE);
  const bool aggregated = cfg->aggregate_mask & CS_EVENT_BIT(CS_EV_STATE);
  const bool opens = newstate == TCP_SYN_SENT || (oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV);

  /* A display's budget (records_per_sec), without filters: this event takes its place in it, or
   * is held back here, before anything else is done for it. */
  bool room = true;
  if (cfg->records_per_sec && !filtered(cfg))
    room = wanted && !aggregated ? within_budget(cfg, CS_EV_STATE) : budget_left(cfg);

  /* With the budget used up on this CPU, no owner is recorded until it has room again: a line
   * shown later may lack the process of a connection that began meanwhile, which costs less than
   * a socket storage for every connection of a storm. --pid (a filter) keeps them all. */
  if (cfg->owners && room) {
    /* These changes are made by the socket's own process (connect, listen, close). */
    if (newstate == TCP_SYN_SENT || newstate == TCP_LISTEN || newstate == TCP_FIN_WAIT1 ||
        newstate == TCP_LAST_ACK)
      remember_owner(sk);
    if (newstate == TCP_LISTEN) {
      struct cs_listen_key lk = {.netns = netns_of_sock(sk), .port = sk->__sk_common.skc_num};
      struct cs_owner *o = bpf_sk_storage_get(&cs_owners, (struct sock *)sk, 0, 0);
      if (o) bpf_map_update_elem(&cs_listen_owners, &lk, o, BPF_ANY);
    } else if (oldstate == TCP_LISTEN && newstate == TCP_SYN_RECV) {
      /* A new child: its own storage is empty; it takes its listener's process. */
      struct cs_listen_key lk = {.netns = netns_of_sock(sk), .port = sk->__sk_common.skc_num};
      struct cs_owner *lo = bpf_map_lookup_elem(&cs_listen_owners, &lk);
      if (lo) {
        struct cs_owner *o = bpf_sk_storage_get(&cs_owners, (struct sock *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
        if (o) *o = *lo;
      }
    }
  }
  if (!wanted || !room) return 0;

  struct cs_event e = {};
  /* Without filters, what is only counted needs no event. */
  if (aggregated && !filtered(cfg)) {
    v = bpf_map_lookup_elem(&cs_matched_transitions, &index);
    if (v) *v += 1;
    if (opens) {
      e.kind = CS_EV_STATE;
      from_sock_common(&e, &sk->__sk_common);
      count_matched(&e);
    }
    return 0;
  }
  stamp(&e, CS_EV_STATE);
  e.protocol = IPPROTO_TCP;
  e.old_state = oldstate;
  e.new_state = newstate;
  from_sock(&e, sk);
  if (cfg->owners) owner_into(&e, sk);
  if (!passes(cfg, &e)) return 0;
  if (aggregated) {
    v = bpf_map_lookup_elem(&cs_matched_transitions, &index);
    if (v) *v += 1;
    if (opens) count_matched(&e);
    return 0;
  }
  /* Unfiltered, the budget was taken above. */
  if (!filtered(cfg) || within_budget(cfg, CS_EV_STATE)) send(&e);
  return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(cs_reset_sent, const struct sock *sk, const struct sk_buff *skb) {
  /* With no socket (nothing listens), the reset answers the packet in skb. */
  if (sk) {
    if (!netns_wanted(netns_of_sock(sk))) return 0;
  } else if (skb) {
    if (!netns_wanted(skb->dev->nd_net.net->ns.inum)) return 0;
  }
  count(CS_C_RESET_SENT);
  struct cs_config *cfg = config_for(CS_EV_RESET_SENT);
  if (!cfg) return 0;
  struct cs_event e = {};
  stamp(&e, CS_EV_RESET_SENT);
  e.protocol = IPPROTO_TCP;
  if (sk) {
    from_sock(&e, sk);
    if (cfg->owners && BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_LISTEN) owner_into(&e, sk);
  } else if (skb) {
    from_packet(&e, skb);
  }
  if (has_reset_reason) {
    e.reason = (__u32)ctx[2];
    e.flags |= CS_F_HAS_REASON;
  }
  submit(cfg, &e);
  return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(cs_reset_received, struct sock *sk) {
  if (!netns_wanted(netns_of_sock(sk))) return 0;
  count(CS_C_RESET_RECEIVED);
  struct cs_config *cfg = config_for(CS_EV_RESET_RECEIVED);
  if (!cfg) return 0;
  struct cs_event e = {};
  stamp(&e, CS_EV_RESET_RECEIVED);
  e.protocol = IPPROTO_TCP;
  e.old_state = BPF_CORE_READ(sk, __sk_common.skc_state);
  from_sock(&e, sk);
  if (cfg->owners) owner_into(&e, sk);
  submit(cfg, &e);
  return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(cs_retransmit, const struct sock *sk, const struct sk_buff *skb) {
  if (!netns_wanted(netns_of_sock(sk))) return 0;
  count(CS_C_RETRANSMIT);
  struct cs_config *cfg = config_for(CS_EV_RETRANSMIT);
  if (!cfg) return 0;
  struct cs_event e = {};
  stamp(&e, CS_EV_RETRANSMIT);
  e.protocol = IPPROTO_TCP;
  e.old_state = BPF_CORE_READ(sk, __sk_common.skc_state);
  from_sock(&e, sk);
  if (cfg->owners) owner_into(&e, sk);
  submit(cfg, &e);
  return 0;
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(cs_synack_retransmit, const struct sock *sk, const struct request_sock *req) {
  if (!netns_wanted(netns_of_sock(sk))) return 0;
  count(CS_C_SYNACK_RETRANSMIT);
  struct cs_config *cfg = config_for(CS_EV_SYNACK_RETRANSMIT);
  if (!cfg) return 0;
  struct cs_event e = {};
  stamp(&e, CS_EV_SYNACK_RETRANSMIT);
  e.protocol = IPPROTO_TCP;
  from_sock_common(&e, &req->__req_common);
  if (cfg->owners) owner_into(&e, sk); /* the listener's process */
  if (cfg->owners && e.pid == 0) { /* a listener older than the programs: the one user space told of */
    struct cs_listen_key lk = {.netns = netns_of_sock(sk), .port = BPF_CORE_READ(sk, __sk_common.skc_num)};
    struct cs_owner *o = bpf_map_lookup_elem(&cs_listen_owners, &lk);
    if (o) {
      e.pid = o->pid;
      __builtin_memcpy(e.comm, o->comm, sizeof(e.comm));
    }
  }
  submit(cfg, &e);
  return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(cs_drop, struct sk_buff *skb, void *location, enum skb_drop_reason reason) {
  /* Not a drop: the values move between kernels (SKB_CONSUMED came in 6.1; before it every
   * reason was a drop), so the running kernel's value is relocated, not the build machine's. */
  if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_CONSUMED)) {
    if (reason <= bpf_core_enum_value(enum skb_drop_reason, SKB_CONSUMED)) return 0;
  }
  struct sock *sk = skb->sk;
  struct net_device *dev = skb->dev;
  __u32 inum = dev ? dev->nd_net.net->ns.inum : (sk ? netns_of_sock(sk) : 0);
  if (!netns_wanted(inum)) return 0;

  struct cs_event e = {};
  from_packet(&e, skb);
  struct cs_drop_key key = {.reason = reason, .protocol = e.protocol};
  /* The local port only when something listens on it (cs_listening): the drops at clients'
   * ephemeral ports (a reply that comes after an abortive close, a late segment to a closed
   * connection) count under port 0. Keyed by every port, churn adds a key per ephemeral port,
   * each read by the agent every second, until the map (4096 keys) is full and drops under a new
   * key, a listener's too, go uncounted. UDP: no listeners are kept for it, port 0. */
  if (e.protocol == IPPROTO_TCP) {
    __u32 port = sk ? sk->__sk_common.skc_num : e.dport;
    if (port && bpf_map_lookup_elem(&cs_listening, &port)) key.port = (__u16)port;
  }
  __u64 *v = bpf_map_lookup_elem(&cs_drops, &key);
  if (v) {
    *v += 1;
  } else {
    __u64 one = 1;
    if (bpf_map_update_elem(&cs_drops, &key, &one, BPF_NOEXIST) != 0 && key.port) {
      /* Full (more listeners than keys): counted under its reason without the port. */
      key.port = 0;
      v = bpf_map_lookup_elem(&cs_drops, &key);
      if (v)
        *v += 1;
      else
        bpf_map_update_elem(&cs_drops, &key, &one, BPF_NOEXIST);
    }
  }

  struct cs_config *cfg = config_for(CS_EV_DROP);
  if (!cfg) return 0;
  stamp(&e, CS_EV_DROP);
  e.reason = reason;
  e.flags |= CS_F_HAS_REASON;
  e.location = (__u64)location;
  e.ifindex = dev ? dev->ifindex : 0;
  if (sk && cfg->owners) owner_into(&e, sk);
  submit(cfg, &e);
  return 0;
}
