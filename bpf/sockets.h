/* Server-side connections and requests: per-connection state (sockets.bpf.c, plus accept and
 * listen handling at syscall exit in syscalls.bpf.c), per-replica socket counters, and the one
 * record per recorded request streamed to userspace through the ring buffer (its first bytes
 * travel in it: one ring-buffer reservation per request, the costly part of the path, hence
 * the sampling above a rate). */
#ifndef LOADSCOPE_BPF_SOCKETS_H
#define LOADSCOPE_BPF_SOCKETS_H

#include "common.h"

#define HEAD_CAPTURE 512 /* request bytes copied from the worker's first read */
/* A span record carries only the head bytes it needs, in one of two sizes: a GET with a few
 * headers fits the small one. Every byte of a record is a cache line the worker's CPU writes
 * and the reader's CPU then pulls over: a full record cost ~1 us per recorded request. */
#define HEAD_SMALL 128

/* Span sampling: a record per request costs the most (ring buffer, userspace), so above a
 * rate only a random 1 in N requests is recorded, N set every slot from the request rate of
 * the slot before; per-replica counters and histograms still count every request. */
#define SPAN_SLOT_NS 100000000ULL /* 100 ms */
#define SPAN_MAX_PERIOD 4096

enum conn_phase {
    PHASE_IDLE = 0,  /* no request in progress (new or kept-alive connection) */
    PHASE_READING,   /* a request is being read: first read seen, no response byte yet */
    PHASE_RESPONDING, /* response bytes sent; ends at the next request or close */
    /* the socket hooks were paused (their duty cycle): this connection may be inside a
     * request whose start was not seen; its next response ends that, then it is idle */
    PHASE_RESYNC
};

/* Why a span ended (server_span.end_reason). */
enum span_end {
    END_NEXT_ARRIVAL = 1, /* the next request arrived (runs of older versions) */
    END_NEXT_READ,        /* the worker read the next request */
    END_CLOSE,            /* the connection left ESTABLISHED (close by either side) */
    END_EOF,              /* the worker read end-of-file */
    END_FLUSH,            /* the session stopped (flushed from userspace) */
    END_PAUSED            /* the socket hooks paused (duty cycle): ended at the last send seen */
};

/* span flags */
#define SPAN_F_ARRIVAL_UNKNOWN 0x1 /* bytes arrived before we saw them: arrival = first read */
#define SPAN_F_NEW_CONN 0x2        /* first request on the connection: accept times valid */
#define SPAN_F_HANDOFF 0x4         /* read and response in different threads: no CPU split */
#define SPAN_F_NO_RESPONSE 0x8     /* ended without a response byte */

struct conn_tuple {
    __u8 family; /* AF_INET or AF_INET6 */
    __u8 pad;
    __u16 server_port; /* host order */
    __u16 client_port; /* host order: the client's local port (CURLINFO_LOCAL_PORT) */
    __u16 pad2;
    __u8 server_addr[16]; /* IPv4 in the first 4 bytes */
    __u8 client_addr[16];
};

struct conn_state {
    struct conn_tuple tuple;
    __u32 replica;
    __u32 seq;            /* requests started on this connection */
    __u8 phase;           /* enum conn_phase */
    __u8 flags;           /* SPAN_F_* for the current span */
    __u8 pad[2];
    __u32 tgid;           /* worker that read the current request */
    __u32 tid;
    __u32 send_tid;       /* thread that sent its response */
    __u64 established_ns; /* handshake done (0 when before tracing) */
    __u64 accept_ns;      /* accept() returned it (0 when unknown) */
    __u64 arrival_ns;
    __u64 first_read_ns;
    __u64 response_start_ns;
    __u64 last_send_ns;
    __u64 bytes_in;
    __u64 bytes_out;
    __u64 snap_start[ACC_COUNT]; /* worker thread's accounting at the first read */
    __u64 snap_end[ACC_COUNT];   /* ... and at the last send */
    __u32 head_len;              /* bytes of the current request captured at its first read */
    __u32 weight;                /* requests the current span stands for; 0: not recorded */
    __u32 epoch;                 /* socket hooks' on-stretch it was last seen in (sock_epoch) */
    __u32 pad3;
    __u8 head[HEAD_CAPTURE];
};

/* When the next request's bytes began to arrive on a connection. Written only by
 * sk_data_ready, which runs on the client's CPU (loopback and most NICs deliver in the
 * sender's or the interrupt's softirq), read once by the worker at its first read; kept out
 * of conn_state, which the worker's CPU writes, because a line both CPUs write moves between
 * them twice per request (~100 ns each in this VM). The padding keeps the written words off
 * the hash element's header line and off its neighbours' (elements are contiguous). */
struct conn_arrival {
    __u8 pad_front[56];
    __u64 arrival_ns;  /* first bytes after the reader had caught up */
    __u32 start_seq;   /* the reader's position (copied_seq) then: where those bytes start */
    __u32 seen_rcv_nxt; /* rcv_nxt at the last data_ready: what had arrived by then */
    __u32 epoch;       /* socket hooks' on-stretch of seen_rcv_nxt (sock_epoch) */
    __u8 pad_back[52];
};

/* Per replica, per CPU: cumulative socket counters (userspace takes differences). */
struct sock_acc {
    __u64 accepts;
    __u64 accept_wait_ns;     /* sum of handshake-done -> accept() return */
    __u64 accept_wait_hist[LOG2_SLOTS];
    __u64 backlog_samples;    /* accept-queue depth sampled when a connection is queued */
    __u64 backlog_sum;
    __u64 requests;           /* spans started (while the socket hooks ran: their duty cycle,
                               * userspace/trace/socket_duty.h) */
    __u64 recvq_wait_ns;      /* sum of bytes arrived -> first read; above the span rate,
                               * of the recorded requests, each counted `weight` times */
    __u64 recvq_hist[LOG2_SLOTS]; /* same weighting */
    __u64 bytes_in;           /* client connections */
    __u64 bytes_out;
    __u64 down_bytes_in;      /* other sockets of the replica's threads (downstream) */
    __u64 down_bytes_out;
    __u64 retransmits;
    __u64 resets_sent;
    __u64 resets_received;
    __s64 open_spans;         /* spans started minus ended (a gauge, summed over CPUs) */
    __u64 spans_skipped;      /* requests started that the span sampler did not record */
};

enum event_type { EV_SPAN = 2 };

/* One request, sent when it ends: SPAN_EVENT_SIZE(HEAD_SMALL) bytes when its head fits,
 * else the whole struct. */
struct span_event {
    __u32 type; /* EV_SPAN */
    __u32 seq;
    __u64 conn;
    struct conn_tuple tuple;
    __u32 replica;
    __u32 tgid;
    __u32 tid;
    __u8 flags;
    __u8 end_reason;
    __u8 pad[2];
    __u64 established_ns;
    __u64 accept_ns;
    __u64 arrival_ns;
    __u64 first_read_ns;
    __u64 response_start_ns;
    __u64 response_end_ns;
    __u64 bytes_in;
    __u64 bytes_out;
    __u64 acc_ns[ACC_COUNT]; /* worker's time inside the span, per accounting state */
    __u32 head_len;          /* valid bytes in head (0: not captured) */
    __u32 weight;            /* requests this record stands for (the sampler's period) */
    __u8 head[HEAD_CAPTURE]; /* the first bytes the worker read for this request */
};

#define SPAN_EVENT_SIZE(head_room) (__builtin_offsetof(struct span_event, head) + (head_room))

#endif
