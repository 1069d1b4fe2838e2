// SPDX-License-Identifier: GPL-2.0
/* Server-side requests, one span per request, from socket tracepoints that run in the right
 * context without kprobes:
 *   inet_sock_set_state SYN_RECV->ESTABLISHED on a replica's listening port: a new client
 *       connection (its 4-tuple, handshake time); leaving ESTABLISHED ends the open span,
 *       TCP_CLOSE forgets the connection;
 *   sk_data_ready (softirq): request bytes arrived after the worker had read all before them
 *       (the span's arrival, in conn_arrivals); on a listener, a connection was queued:
 *       sample the accept-queue depth. It runs on the client's CPU, so it touches nothing the
 *       worker's CPU writes (sockets.h: conn_arrival) and leaves the previous span to the
 *       worker's next read (sending it from here cost ~200 ns per request in cross-CPU cache
 *       misses);
 *   sock_recv_length (the worker's read): the first read of a request starts the span: the
 *       worker's accounting snapshot, the receive-queue wait, and the first bytes it read
 *       (copied from the user buffer the read syscall was given: maps.bpf.h inflight_syscall);
 *   sock_send_length (the worker's write): response start, then the last send so far and the
 *       worker's snapshot at it (the span's end if no more bytes follow);
 *   tcp_retransmit_skb, tcp_send_reset, tcp_receive_reset: per-replica counters.
 * A span is sent (ring buffer) when the next request is read, or at close (above
 * a rate, a random sample of them: span_weight); spans still open when tracing stops are
 * flushed by userspace. HTTP/1.1 without pipelining: requests and responses alternate on a
 * connection.
 * Above a cost budget the read, send and data-ready hooks run only part of each window (their
 * duty cycle, userspace/trace/socket_duty.h): sock_hooks_on says whether they run now. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "conn.bpf.h"
#include "syscall_nr.h"

#define LS_TCP_ESTABLISHED 1
#define LS_TCP_SYN_RECV 3
#define LS_TCP_CLOSE 7
#define LS_TCP_LISTEN 10
#define LS_MSG_PEEK 2

char LICENSE[] SEC("license") = "GPL";

/* Wake the reader only when the ring is filling up; otherwise it polls every few ms, which
 * saves a wakeup per request. The fill level is checked every 32nd record of a CPU only: the
 * query reads the consumer position, a cache line the reader's CPU writes. */
const volatile __u64 cfg_wakeup_bytes = 1 << 20;

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} submits SEC(".maps");

static __always_inline __u64 submit_flags(void)
{
    __u32 zero = 0;
    __u64 *n = bpf_map_lookup_elem(&submits, &zero);
    if (n && (++*n & 31))
        return BPF_RB_NO_WAKEUP;
    return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > cfg_wakeup_bytes ? BPF_RB_FORCE_WAKEUP
                                                                              : BPF_RB_NO_WAKEUP;
}

/* The socket hooks' duty cycle, set by userspace (the reader thread). The programs stay attached
 * and return at once while off: detaching takes an RCU grace period per hook (tens of ms), and
 * the three would go off one after the other, mid-request. sock_epoch grows at each on-stretch:
 * a connection last seen in an earlier one may be anywhere in a request (resync). Each request
 * recorded while the hooks run 1/N of the time stands for N (sock_duty_weight). */
volatile __u32 sock_hooks_on = 1;
volatile __u32 sock_epoch = 1;
volatile __u32 sock_duty_weight = 1;

/* Requests recorded per SPAN_SLOT_NS, all replicas, before the sampler starts (0: every
 * request). */
const volatile __u64 cfg_span_slot_limit = 0;

struct span_sampler {
    __u64 slot_start_ns;
    __u64 started; /* requests started in the slot */
    __u64 period;  /* 1 in period recorded in the slot */
    __u64 rng;     /* xorshift state, reseeded from the helper at each slot */
};

/* One for all CPUs (a per-CPU limit would record less when the load sits on one CPU); the
 * slot rollover may race between CPUs, which at worst miscounts one slot. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct span_sampler);
} span_sampler SEC(".maps");

/* The weight of the request starting now: 1 below the rate limit; above it, the period N for
 * a random 1 in N requests and 0 for the others (not recorded). */
static __always_inline __u32 span_weight(__u64 now)
{
    __u32 zero = 0;
    struct span_sampler *s;
    if (!cfg_span_slot_limit || !(s = bpf_map_lookup_elem(&span_sampler, &zero)))
        return 1;
    __u64 start = s->slot_start_ns;
    if (now - start >= SPAN_SLOT_NS) {
        /* the slot that ended sets the period; after a longer gap the rate was lower */
        __u64 n = s->started, period = 1;
        if (now - start < 2 * SPAN_SLOT_NS && n > cfg_span_slot_limit)
            period = (n + cfg_span_slot_limit - 1) / cfg_span_slot_limit;
        s->period = period < SPAN_MAX_PERIOD ? period : SPAN_MAX_PERIOD;
        s->slot_start_ns = now;
        s->started = 0;
        s->rng = ((__u64)bpf_get_prandom_u32() << 32) | bpf_get_prandom_u32() | 1;
    }
    __sync_fetch_and_add(&s->started, 1);
    __u32 period = (__u32)s->period;
    if (period <= 1)
        return 1;
    /* per request, a few ALU operations rather than a helper call (~20 ns here); CPUs may
     * race on the state, which at worst repeats a draw */
    __u64 x = s->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s->rng = x;
    return (__u32)(x >> 32) % period == 0 ? period : 0;
}

/* The span record, with head_room bytes of the request's head (a constant: the ring buffer
 * reserves a fixed size). */
static __always_inline void emit_record(const struct conn_state *c, __u64 key, __u8 reason,
                                        __u32 head_room)
{
    struct span_event *e = bpf_ringbuf_reserve(&events, SPAN_EVENT_SIZE(head_room), 0);
    if (!e) {
        count_event(CNT_RB_LOST_SPAN);
        return;
    }
    e->type = EV_SPAN;
    e->seq = c->seq;
    e->conn = key;
    e->tuple = c->tuple;
    e->replica = c->replica;
    e->tgid = c->tgid;
    e->tid = c->tid;
    e->flags = c->flags;
    e->end_reason = reason;
    e->established_ns = c->established_ns;
    e->accept_ns = c->accept_ns;
    e->arrival_ns = c->arrival_ns;
    e->first_read_ns = c->first_read_ns;
    e->response_start_ns = c->response_start_ns;
    e->response_end_ns = c->last_send_ns;
    e->bytes_in = c->bytes_in;
    e->bytes_out = c->bytes_out;
    if (!c->response_start_ns)
        e->flags |= SPAN_F_NO_RESPONSE;
    if (c->send_tid && c->send_tid != c->tid)
        e->flags |= SPAN_F_HANDOFF;
#pragma unroll
    for (int i = 0; i < ACC_COUNT; i++)
        e->acc_ns[i] = (e->flags & SPAN_F_HANDOFF) || c->snap_end[i] < c->snap_start[i]
                           ? 0
                           : c->snap_end[i] - c->snap_start[i];
    e->head_len = c->head_len < head_room ? c->head_len : head_room;
    e->weight = c->weight;
    __builtin_memcpy(e->head, c->head, head_room);
    bpf_ringbuf_submit(e, submit_flags());
}

/* Ends the connection's current span (recorded if its weight says so). task_acc: the reading
 * thread's counters when called for its own read (plain adds, maps.bpf.h: sock_accs); 0 from
 * any other context. */
static __always_inline void emit_span(struct conn_state *c, __u64 key, __u8 reason,
                                      struct sock_acc *task_acc)
{
    if (task_acc) {
        task_acc->open_spans--;
    } else {
        struct sock_acc *a = sock_acc_any(c->replica);
        if (a)
            __sync_fetch_and_add(&a->open_spans, -1);
    }
    c->phase = PHASE_IDLE;
    if (!c->weight)
        return;
    if (c->head_len <= HEAD_SMALL)
        emit_record(c, key, reason, HEAD_SMALL);
    else
        emit_record(c, key, reason, HEAD_CAPTURE);
}

/* Address and length of the first buffer of the read in flight (read, recvfrom, readv,
 * recvmsg), or 0. */
static __always_inline __u64 read_buffer(__u64 *len)
{
    struct {
        __u64 base;
        __u64 len;
    } iov = {};
    __u64 iovp = 0, a0, a1;
    switch (inflight_syscall(bpf_get_current_task_btf(), &a0, &a1)) {
    case NR_read:
    case NR_recvfrom:
        return a1;
    case NR_readv:
        iovp = a1;
        break;
    case NR_recvmsg:
        /* struct user_msghdr: msg_iov at offset 16 on 64-bit */
        bpf_probe_read_user(&iovp, sizeof(iovp), (void *)(a1 + 16));
        break;
    default:
        return 0;
    }
    if (!iovp || bpf_probe_read_user(&iov, sizeof(iov), (void *)iovp))
        return 0;
    if (iov.len < *len)
        *len = iov.len;
    return iov.base;
}

/* The first bytes of the request, from the buffer of the read in flight, into the connection
 * (they leave with the span record). */
static __always_inline void capture_head(struct conn_state *c, long ret)
{
    __u64 len = ret < HEAD_CAPTURE ? (__u64)ret : HEAD_CAPTURE;
    __u64 buf = read_buffer(&len);
    c->head_len = 0;
    if (!buf || !len)
        return;
    if (len > HEAD_CAPTURE)
        len = HEAD_CAPTURE;
    if (bpf_probe_read_user(c->head, len, (void *)buf) == 0)
        c->head_len = (__u32)len;
}

/* a: the reading thread's counters (sock_acc_task), or 0 */
static __always_inline void start_span(struct thread_state *t, const struct sock *sk,
                                       struct conn_state *c, struct sock_acc *a, __u64 key,
                                       long ret, __u64 now)
{
    c->seq++;
    c->phase = PHASE_READING;
    c->flags = c->seq == 1 ? SPAN_F_NEW_CONN : 0;
    c->send_tid = 0;
    c->first_read_ns = now;
    c->response_start_ns = 0;
    c->last_send_ns = 0;
    c->bytes_in = ret;
    c->bytes_out = 0;
    __u32 weight = span_weight(now);
    c->weight = weight * sock_duty_weight;
    if (a) {
        a->requests++;
        a->open_spans++;
        if (!weight)
            a->spans_skipped++;
    }
    if (!c->weight) {
        /* not recorded: nor is its receive-queue wait, whose arrival stamp is a cache line
         * the client's CPU wrote (~1% of nginx's throughput); the recorded requests' waits,
         * weighted, stand for them */
        c->arrival_ns = now;
        c->flags |= SPAN_F_ARRIVAL_UNKNOWN;
    } else {
        /* the arrival stamped from the client's CPU, if it is this request's: its bytes
         * start where this read started (what this read returned is already past
         * copied_seq) */
        struct conn_arrival *ar = bpf_map_lookup_elem(&conn_arrivals, &key);
        __u32 read_from = tcp_copied_seq(sk) - (__u32)ret;
        if (ar && ar->arrival_ns && ar->arrival_ns <= now &&
            (__s32)(ar->start_seq - read_from) >= 0) {
            c->arrival_ns = ar->arrival_ns;
        } else {
            c->arrival_ns = now;
            c->flags |= SPAN_F_ARRIVAL_UNKNOWN;
        }
        __u64 wait = now - c->arrival_ns;
        __u32 slot = log2_slot(wait);
        if (a) { /* per-window counters: userspace scales them to the hooks' duty cycle */
            a->recvq_wait_ns += wait * weight;
            if (slot < LOG2_SLOTS)
                a->recvq_hist[slot] += weight;
        }
    }
    mark_busy(t, now);
    if (!c->weight) /* not recorded: no CPU split, no request bytes, no thread */
        return;
    c->tgid = t->tgid;
    c->tid = (__u32)bpf_get_current_pid_tgid();
    thread_snapshot(t, now, c->snap_start);
    __builtin_memcpy(c->snap_end, c->snap_start, sizeof(c->snap_end));
    capture_head(c, ret);
}

/* The connection's first event in this on-stretch of the socket hooks. One never used is
 * adopted as it is; otherwise what happened while they were off is unknown: the span they cut
 * is sent (ended at its last send seen) and the connection waits for a response to pass
 * before its next read starts a request (that request was already under way: not counted). */
static __always_inline void resync(struct conn_state *c, __u64 key)
{
    __u32 epoch = sock_epoch;
    if (c->epoch == epoch)
        return;
    if (c->phase == PHASE_READING || c->phase == PHASE_RESPONDING)
        emit_span(c, key, END_PAUSED, 0);
    c->phase = c->seq == 0 && c->phase == PHASE_IDLE ? PHASE_IDLE : PHASE_RESYNC;
    c->epoch = epoch;
}

static __always_inline void on_recv(struct sock *sk, long ret, int flags)
{
    if (ret < 0 || !sock_hooks_on) /* EAGAIN of non-blocking servers: nothing was read */
        return;
    struct thread_state *t = thread_of(bpf_get_current_task_btf());
    if (!t)
        return;
    __u64 key = (__u64)sk;
    struct conn_state *c = bpf_map_lookup_elem(&conns, &key);
    if (!c && ret > 0) {
        /* A client connection established before tracing started (kept alive by Locust
         * users, say): adopt it at its first read. Its earlier requests are unknown, so it is
         * not a new connection (seq starts past 1). Downstream sockets never match: their
         * local port is an ephemeral one, not a replica's listening port. */
        __u32 r = port_replica(BPF_CORE_READ(sk, __sk_common.skc_num));
        if (r != REPLICA_NONE &&
            BPF_CORE_READ(sk, __sk_common.skc_state) == LS_TCP_ESTABLISHED) {
            c = conn_create(sk, r, 0);
            if (c) {
                c->seq = 1;
                c->epoch = sock_epoch;
            }
        }
    }
    if (!c) {
        struct sock_acc *a = sock_acc_task(t->replica);
        if (a && ret > 0)
            a->down_bytes_in += ret;
        return;
    }
    if (flags & LS_MSG_PEEK)
        return;
    resync(c, key);
    struct sock_acc *a = sock_acc_task(c->replica);
    if (c->phase == PHASE_RESYNC) {
        if (a)
            a->bytes_in += ret;
        return;
    }
    if (ret == 0) {
        if (c->phase != PHASE_IDLE)
            emit_span(c, key, END_EOF, a);
        return;
    }
    if (a)
        a->bytes_in += ret;
    if (c->phase == PHASE_READING) {
        c->bytes_in += ret;
        return;
    }
    __u64 now = bpf_ktime_get_ns();
    if (c->phase == PHASE_RESPONDING)
        emit_span(c, key, END_NEXT_READ, a);
    start_span(t, sk, c, a, key, ret, now);
}

static __always_inline void on_send(struct sock *sk, long ret)
{
    struct task_struct *cur = bpf_get_current_task_btf();
    if (ret <= 0 || !sock_hooks_on || !may_be_traced(cur))
        return;
    __u64 key = (__u64)sk;
    struct conn_state *c = bpf_map_lookup_elem(&conns, &key);
    struct thread_state *t;
    if (!c) {
        if (!(t = thread_of(cur)))
            return;
        struct sock_acc *a = sock_acc_task(t->replica);
        if (a)
            a->down_bytes_out += ret;
        return;
    }
    resync(c, key);
    struct sock_acc *a = sock_acc_task(c->replica);
    if (a)
        a->bytes_out += ret;
    if (c->phase == PHASE_RESYNC) /* the response of a request not seen: idle after it */
        c->phase = PHASE_IDLE;
    if (c->phase == PHASE_IDLE)
        return;
    bool first = c->phase == PHASE_READING;
    c->phase = PHASE_RESPONDING;
    c->bytes_out += ret;
    /* the thread's state only for a recorded request's CPU split: on a request that is not
     * recorded, the task-storage call would be half of this hook's cost */
    if (!c->weight || !(t = thread_of(cur))) /* not recorded: its times would never leave */
        return;
    __u64 now = bpf_ktime_get_ns();
    if (first) {
        c->response_start_ns = now;
        c->send_tid = (__u32)bpf_get_current_pid_tgid();
    }
    c->last_send_ns = now;
    thread_snapshot(t, now, c->snap_end);
}

/* port: the socket's local port, read by the caller (tp_btf: a plain load; the other modes
 * need a helper call) */
static __always_inline void on_data_ready(const struct sock *sk, __u16 port)
{
    /* every socket on the host comes here: first the cheap filter, a replica's local port */
    __u32 r = port_replica(port);
    if (r == REPLICA_NONE || !sock_hooks_on)
        return;
    __u64 key = (__u64)sk;
    struct conn_arrival *ar = bpf_map_lookup_elem(&conn_arrivals, &key);
    if (ar) {
        __u32 seen_in = ar->epoch;
        if (seen_in != sock_epoch) {
            /* bytes may have come and gone while the hooks were off: these are not known to
             * start a request; from here on the comparison holds again. (Epoch 0: a
             * connection created since, whose first bytes these are.) */
            ar->epoch = sock_epoch;
            if (seen_in) {
                ar->arrival_ns = 0;
                ar->seen_rcv_nxt = tcp_rcv_nxt(sk);
                return;
            }
        }
        /* the reader had caught up with all that had arrived by the last data_ready: these
         * bytes start the next request (HTTP/1.1: requests and responses alternate) */
        __u32 copied = tcp_copied_seq(sk);
        if ((__s32)(copied - ar->seen_rcv_nxt) >= 0) {
            ar->arrival_ns = bpf_ktime_get_ns();
            ar->start_seq = copied;
        }
        ar->seen_rcv_nxt = tcp_rcv_nxt(sk);
        return;
    }
    if (BPF_CORE_READ(sk, __sk_common.skc_state) != LS_TCP_LISTEN)
        return;
    __u64 backlog = BPF_CORE_READ(sk, sk_ack_backlog);
    struct sock_acc *a = sock_acc_any(r);
    if (a) {
        __sync_fetch_and_add(&a->backlog_samples, 1);
        __sync_fetch_and_add(&a->backlog_sum, backlog);
    }
    __s32 k = window_slot_key(r, bpf_ktime_get_ns());
    if (k < 0)
        return;
    __u32 key32 = (__u32)k;
    struct window_slot *ws = bpf_map_lookup_elem(&window_slots, &key32);
    if (ws && backlog > ws->backlog_max)
        ws->backlog_max = backlog;
}

static __always_inline void on_state(const struct sock *sk, int oldstate, int newstate)
{
    __u64 key = (__u64)sk;
    if (newstate == LS_TCP_ESTABLISHED) {
        if (oldstate != LS_TCP_SYN_RECV)
            return;
        __u32 r = port_replica(BPF_CORE_READ(sk, __sk_common.skc_num));
        struct conn_state *c = r != REPLICA_NONE ? conn_create(sk, r, bpf_ktime_get_ns()) : 0;
        if (c)
            c->epoch = sock_epoch;
        return;
    }
    if (oldstate != LS_TCP_ESTABLISHED && newstate != LS_TCP_CLOSE)
        return;
    struct conn_state *c = bpf_map_lookup_elem(&conns, &key);
    if (!c)
        return;
    if (c->phase == PHASE_READING || c->phase == PHASE_RESPONDING)
        emit_span(c, key, END_CLOSE, 0);
    if (newstate == LS_TCP_CLOSE) {
        bpf_map_delete_elem(&conns, &key);
        bpf_map_delete_elem(&conn_arrivals, &key);
    }
}

static __always_inline void count_tcp(const struct sock *sk, int which)
{
    if (!sk || port_replica(BPF_CORE_READ(sk, __sk_common.skc_num)) == REPLICA_NONE)
        return;
    __u64 key = (__u64)sk;
    struct conn_state *c = bpf_map_lookup_elem(&conns, &key);
    if (!c)
        return;
    struct sock_acc *a = sock_acc_any(c->replica);
    if (!a)
        return;
    if (which == 0)
        __sync_fetch_and_add(&a->retransmits, 1);
    else if (which == 1)
        __sync_fetch_and_add(&a->resets_sent, 1);
    else
        __sync_fetch_and_add(&a->resets_received, 1);
}

/* ---- tp_btf ---------------------------------------------------------------------------- */

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv_btf, struct sock *sk, int ret, int flags)
{
    on_recv(sk, ret, flags);
    return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send_btf, struct sock *sk, int ret, int flags)
{
    on_send(sk, ret);
    return 0;
}

SEC("tp_btf/sk_data_ready")
int BPF_PROG(sk_data_ready_btf, const struct sock *sk)
{
    on_data_ready(sk, sk->__sk_common.skc_num);
    return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(inet_sock_set_state_btf, const struct sock *sk, const int oldstate, const int newstate)
{
    on_state(sk, oldstate, newstate);
    return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tcp_retransmit_btf, const struct sock *sk)
{
    count_tcp(sk, 0);
    return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(tcp_send_reset_btf, const struct sock *sk)
{
    count_tcp(sk, 1);
    return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(tcp_receive_reset_btf, struct sock *sk)
{
    count_tcp(sk, 2);
    return 0;
}

/* ---- raw_tp (same arguments, untyped) -------------------------------------------------- */

SEC("raw_tp/sock_recv_length")
int BPF_PROG(sock_recv_raw, struct sock *sk, int ret, int flags)
{
    on_recv(sk, ret, flags);
    return 0;
}

SEC("raw_tp/sock_send_length")
int BPF_PROG(sock_send_raw, struct sock *sk, int ret, int flags)
{
    on_send(sk, ret);
    return 0;
}

SEC("raw_tp/sk_data_ready")
int BPF_PROG(sk_data_ready_raw, const struct sock *sk)
{
    on_data_ready(sk, BPF_CORE_READ(sk, __sk_common.skc_num));
    return 0;
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(inet_sock_set_state_raw, const struct sock *sk, int oldstate, int newstate)
{
    on_state(sk, oldstate, newstate);
    return 0;
}

SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(tcp_retransmit_raw, const struct sock *sk)
{
    count_tcp(sk, 0);
    return 0;
}

SEC("raw_tp/tcp_send_reset")
int BPF_PROG(tcp_send_reset_raw, const struct sock *sk)
{
    count_tcp(sk, 1);
    return 0;
}

SEC("raw_tp/tcp_receive_reset")
int BPF_PROG(tcp_receive_reset_raw, struct sock *sk)
{
    count_tcp(sk, 2);
    return 0;
}

/* ---- classic tracepoints (the records carry the socket address) ------------------------ */

SEC("tp/sock/sock_recv_length")
int sock_recv_tp(struct trace_event_raw_sock_msg_length *ctx)
{
    on_recv((struct sock *)ctx->sk, ctx->ret, ctx->flags);
    return 0;
}

SEC("tp/sock/sock_send_length")
int sock_send_tp(struct trace_event_raw_sock_msg_length *ctx)
{
    on_send((struct sock *)ctx->sk, ctx->ret);
    return 0;
}

SEC("tp/sock/sk_data_ready")
int sk_data_ready_tp(struct trace_event_raw_sk_data_ready *ctx)
{
    const struct sock *sk = (const struct sock *)ctx->skaddr;
    on_data_ready(sk, BPF_CORE_READ(sk, __sk_common.skc_num));
    return 0;
}

SEC("tp/sock/inet_sock_set_state")
int inet_sock_set_state_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
    on_state((const struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate);
    return 0;
}

SEC("tp/tcp/tcp_retransmit_skb")
int tcp_retransmit_tp(struct trace_event_raw_tcp_retransmit_skb *ctx)
{
    count_tcp((const struct sock *)ctx->skaddr, 0);
    return 0;
}

SEC("tp/tcp/tcp_send_reset")
int tcp_send_reset_tp(struct trace_event_raw_tcp_send_reset *ctx)
{
    count_tcp((const struct sock *)ctx->skaddr, 1);
    return 0;
}

SEC("tp/tcp/tcp_receive_reset")
int tcp_receive_reset_tp(struct trace_event_raw_tcp_event_sk *ctx)
{
    count_tcp((const struct sock *)ctx->skaddr, 2);
    return 0;
}
