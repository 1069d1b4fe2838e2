/* Server-side connection state helpers shared by sockets.bpf.c (handshake, data, close) and
 * syscalls.bpf.c (accept, listen at syscall exit). */
#ifndef LOADSCOPE_BPF_CONN_BPF_H
#define LOADSCOPE_BPF_CONN_BPF_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "fd.bpf.h"
#include "maps.bpf.h"

/* A zero value, never written, to create entries without a large stack frame. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct conn_state);
} conn_zero SEC(".maps");

/* task-context writers only: plain adds (maps.bpf.h) */
static __always_inline struct sock_acc *sock_acc_task(__u32 replica)
{
    return bpf_map_lookup_elem(&sock_accs, &replica);
}

/* any context: atomic adds */
static __always_inline struct sock_acc *sock_acc_any(__u32 replica)
{
    return bpf_map_lookup_elem(&sock_accs_any, &replica);
}

static __always_inline void tuple_of(const struct sock *sk, struct conn_tuple *t)
{
    __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
    t->family = (__u8)family;
    t->server_port = BPF_CORE_READ(sk, __sk_common.skc_num);
    t->client_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
    if (family == LS_AF_INET6) {
        BPF_CORE_READ_INTO(&t->server_addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
        BPF_CORE_READ_INTO(&t->client_addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
    } else {
        BPF_CORE_READ_INTO((__u32 *)t->server_addr, sk, __sk_common.skc_rcv_saddr);
        BPF_CORE_READ_INTO((__u32 *)t->client_addr, sk, __sk_common.skc_daddr);
    }
}

/* The reader's position in the byte stream (tcp_sock.copied_seq) and the end of what has
 * arrived (rcv_nxt). */
static __always_inline __u32 tcp_copied_seq(const struct sock *sk)
{
    return BPF_CORE_READ((const struct tcp_sock *)sk, copied_seq);
}

static __always_inline __u32 tcp_rcv_nxt(const struct sock *sk)
{
    return BPF_CORE_READ((const struct tcp_sock *)sk, rcv_nxt);
}

/* Starts tracking a server-side connection. */
static __always_inline struct conn_state *conn_create(const struct sock *sk, __u32 replica,
                                                      __u64 established_ns)
{
    __u32 zero = 0;
    __u64 key = (__u64)sk;
    struct conn_state *z = bpf_map_lookup_elem(&conn_zero, &zero);
    if (!z)
        return 0;
    if (bpf_map_update_elem(&conns, &key, z, BPF_ANY)) {
        count_event(CNT_CONN_MAP_FULL);
        return 0;
    }
    struct conn_state *c = bpf_map_lookup_elem(&conns, &key);
    if (!c)
        return 0;
    /* nothing unread yet counts as an arrival: the next bytes start a request */
    struct conn_arrival a = {};
    a.seen_rcv_nxt = tcp_copied_seq(sk);
    if (bpf_map_update_elem(&conn_arrivals, &key, &a, BPF_ANY))
        count_event(CNT_CONN_MAP_FULL);
    tuple_of(sk, &c->tuple);
    c->replica = replica;
    c->established_ns = established_ns;
    return c;
}

#endif
