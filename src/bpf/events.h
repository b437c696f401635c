/* The records and maps' keys the kernel programs (connscope.bpf.c) and user space share.
 * C, fixed-width fields only: this header is compiled by clang -target bpf (with vmlinux.h) and by
 * g++ (with linux/types.h). Change a layout only together with both sides. */
#ifndef CONNSCOPE_BPF_EVENTS_H
#define CONNSCOPE_BPF_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum cs_event_kind {
  CS_EV_STATE = 1,             /* sock:inet_sock_set_state */
  CS_EV_RESET_SENT = 2,        /* tcp:tcp_send_reset */
  CS_EV_RESET_RECEIVED = 3,    /* tcp:tcp_receive_reset */
  CS_EV_RETRANSMIT = 4,        /* tcp:tcp_retransmit_skb */
  CS_EV_SYNACK_RETRANSMIT = 5, /* tcp:tcp_retransmit_synack */
  CS_EV_DROP = 6,              /* skb:kfree_skb */
  /* Made in user space from the listeners' drop counters (src/watch/listener_drops.h): */
  CS_EV_ACCEPT_OVERFLOW = 7,   /* SYNs or handshake ACKs dropped: accept queue full */
  CS_EV_SYN_QUEUE_DROP = 8,    /* SYNs dropped: SYN queue full and no syncookies */
  CS_EV_KIND_MAX = 9,
};

/* The bits of cs_config.event_mask: 1 << kind. */
#define CS_EVENT_BIT(kind) (1u << (kind))

/* cs_event.flags */
#define CS_F_PACKET 0x1       /* the addresses are a packet's (src → dst), not a socket's */
#define CS_F_HAS_REASON 0x4   /* reason is the kernel's (drop reason, reset reason) */

/* One event, one ring-buffer record. For a socket's event, saddr/sport is the local end and
 * daddr/dport the remote one; for a packet's (CS_F_PACKET), the packet's source and destination.
 * Ports are in host byte order; addresses in network byte order (IPv4 in the first 4 bytes). */
struct cs_event {
  __u64 ts_ns;        /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
  __u64 location;     /* drops: the kernel address that freed the packet */
  __u32 kind;         /* enum cs_event_kind */
  __u32 pid;          /* 0: not known (softirq, no socket owner recorded) */
  __u32 reason;       /* drop: enum skb_drop_reason; reset sent: enum sk_rst_reason */
  __u32 flags;        /* CS_F_* */
  __u32 ifindex;      /* drops: the packet's device, 0 when none */
  __u16 family;       /* AF_INET, AF_INET6, 0 for a packet that is not IP */
  __u16 protocol;     /* IPPROTO_TCP, IPPROTO_UDP, ... (0 when not known) */
  __u16 sport;
  __u16 dport;
  __u16 old_state;    /* state changes: TCP_* of the kernel (1 ESTABLISHED ... 12 NEW_SYN_RECV) */
  __u16 new_state;
  __u8 saddr[16];
  __u8 daddr[16];
  char comm[16];      /* with pid */
};

/* The one entry of the cs_config array map: what user space wants. Filters apply to events, not
 * to the counters (those are host-wide, for the agent). */
struct cs_config {
  __u32 event_mask;   /* CS_EVENT_BIT(kind) for each kind to stream; 0: no events at all */
  __u32 pid;          /* 0: any process */
  __u16 port;         /* 0: any; else the local or the remote port (a packet's source or dest) */
  __u16 peer_family;  /* 0: any peer; AF_INET/AF_INET6: peer must equal one end's address */
  __u8 peer[16];
  /* 0: every event that passes is a record. Else at most this many records a second on each CPU;
   * the events past it are counted in cs_held by kind (a terminal shows no more lines than that,
   * so the rest need not cross the ring buffer). */
  __u32 records_per_sec;
  /* Kinds that are counted in the kernel after the filters instead of streamed (watch --summary):
   * cs_matched, and cs_matched_transitions for state changes. */
  __u32 aggregate_mask;
  /* 1: keep the process behind each socket (cs_owners): streamed events show it, --pid needs it. */
  __u32 owners;
};

/* cs_budget: one CPU's window of records_per_sec. */
struct cs_budget {
  __u64 window_start_ns;
  __u64 used;
};

/* cs_matched: events counted instead of streamed (aggregate_mask), by kind, reason, local port
 * and remote address (IPv4 in the first 4 bytes). A state change is counted only when it opens a
 * connection (a connect's SYN_SENT, a listener's new SYN_RECV child), with port 0: its
 * transitions are in cs_matched_transitions. */
struct cs_match_key {
  __u32 kind;
  __u32 reason;   /* with CS_F_HAS_REASON in flags */
  __u32 flags;    /* CS_F_HAS_REASON or 0 */
  __u16 port;     /* the local port (a packet's destination) when something listens on it (cs_listening), else 0 */
  __u16 family;   /* of peer; 0 when the event has no address */
  __u8 peer[16];
};

/* Counter keys (per-CPU maps; user space sums the CPUs). */
#define CS_TCP_STATES 16 /* TCP states index 0..15; transitions are from * 16 + to */

enum cs_counter {
  CS_C_RESET_SENT = 0,
  CS_C_RESET_RECEIVED = 1,
  CS_C_RETRANSMIT = 2,
  CS_C_SYNACK_RETRANSMIT = 3,
  CS_C_RING_LOST = 4,       /* events that did not fit the ring buffer */
  CS_C_MAX = 5,
};

/* The process behind a socket (cs_owners, the socket's local storage) or a listening port
 * (cs_listen_owners, by cs_listen_key). */
struct cs_owner {
  __u32 pid;
  char comm[16];
};

/* A listening port in one network namespace (its inode number); pad is 0. */
struct cs_listen_key {
  __u32 netns;
  __u16 port;
  __u16 pad;
};

struct cs_drop_key {
  __u32 reason;   /* enum skb_drop_reason */
  __u16 port;     /* TCP: the local port (the socket's, else the packet's destination) when
                   * cs_listening holds it, else 0; 0 for any other protocol */
  __u16 protocol; /* IPPROTO_*; 0 when not IP */
};

#endif
