#include "trace/spans.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sockets.h"

/* IPv4-mapped IPv6 (::ffff:a.b.c.d) is reported as IPv4. */
static void copy_tuple(struct server_span *out, const struct conn_tuple *t)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    out->server_port = t->server_port;
    out->client_port = t->client_port;
    if (t->family == 10 && !memcmp(t->server_addr, mapped, 12) &&
        !memcmp(t->client_addr, mapped, 12)) {
        out->family = 4;
        memcpy(out->server_addr, t->server_addr + 12, 4);
        memcpy(out->client_addr, t->client_addr + 12, 4);
        return;
    }
    out->family = t->family == 10 ? 6 : 4;
    memcpy(out->server_addr, t->server_addr, 16);
    memcpy(out->client_addr, t->client_addr, 16);
}

static void fill_head(struct span_reader *r, const struct span_event *e, struct server_span *out)
{
    struct http_head h;
    size_t len = e->head_len < HEAD_CAPTURE ? e->head_len : HEAD_CAPTURE;
    if (!len || !http_head_parse(e->head, len, &h)) {
        out->flags |= SPAN_HEAD_LOST;
        r->without_head++;
        return;
    }
    memcpy(out->method, h.method, sizeof(out->method));
    memcpy(out->path, h.path, sizeof(out->path));
    memcpy(out->request_id_text, h.request_id_text, sizeof(out->request_id_text));
    out->has_request_id = h.has_request_id;
    out->request_id = h.request_id;
    if (h.path_truncated)
        out->flags |= SPAN_PATH_TRUNCATED;
}

static void deliver(struct span_reader *r, const struct span_event *e)
{
    struct server_span out;
    memset(&out, 0, sizeof(out));
    out.span_id = ++r->next_span_id;
    out.conn_id = e->conn;
    out.seq = e->seq;
    out.replica = e->replica;
    out.tgid = e->tgid;
    out.tid = e->tid;
    out.end_reason = e->end_reason;
    out.flags = e->flags;
    copy_tuple(&out, &e->tuple);
    out.established_ns = e->established_ns;
    out.accept_ns = e->accept_ns;
    out.arrival_ns = e->arrival_ns;
    out.first_read_ns = e->first_read_ns;
    out.response_start_ns = e->response_start_ns;
    out.response_end_ns = e->response_end_ns;
    out.oncpu_ns = e->acc_ns[ACC_ONCPU];
    out.runq_ns = e->acc_ns[ACC_RUNQ];
    for (int i = 0; i < OFF_REASONS; i++)
        out.offcpu_ns[i] = e->acc_ns[ACC_OFF_FIRST + i];
    out.bytes_in = e->bytes_in;
    out.bytes_out = e->bytes_out;
    out.sample_weight = e->weight ? e->weight : 1;
    fill_head(r, e, &out);
    r->spans++;
    if (r->sinks && r->sinks->on_span)
        r->sinks->on_span(r->sinks->ctx, &out);
}

static int on_record(void *ctx, void *data, size_t size)
{
    struct span_reader *r = ctx;
    uint32_t type;
    if (size < sizeof(type))
        return 0;
    memcpy(&type, data, sizeof(type));
    if (type != EV_SPAN || size < SPAN_EVENT_SIZE(0))
        return 0;
    /* records carry only the head bytes they need (sockets.h: HEAD_SMALL) */
    struct span_event e;
    size_t n = size < sizeof(e) ? size : sizeof(e);
    memcpy(&e, data, n);
    memset((char *)&e + n, 0, sizeof(e) - n);
    if (e.head_len > n - SPAN_EVENT_SIZE(0))
        e.head_len = (uint32_t)(n - SPAN_EVENT_SIZE(0));
    deliver(r, &e);
    return 0;
}

int span_reader_init(struct span_reader *r, int events_fd, const struct trace_sinks *sinks,
                     struct error *err)
{
    memset(r, 0, sizeof(*r));
    r->sinks = sinks;
    r->rb = ring_buffer__new(events_fd, on_record, r, NULL);
    if (!r->rb)
        return error_set(err, "opening the span ring buffer: %s", strerror(errno));
    return 0;
}

int span_reader_poll(struct span_reader *r, int timeout_ms)
{
    /* the kernel side rarely wakes us (BPF_RB_NO_WAKEUP): poll with a short timeout, then
     * consume whatever is there */
    int n = ring_buffer__poll(r->rb, timeout_ms);
    int m = ring_buffer__consume(r->rb);
    return (n > 0 ? n : 0) + (m > 0 ? m : 0);
}

void span_reader_flush_open(struct span_reader *r, int conns_fd, uint64_t now_ns)
{
    (void)now_ns;
    ring_buffer__consume(r->rb);
    uint64_t key, next;
    struct conn_state c;
    struct span_event e;
    bool first = true;
    while (bpf_map_get_next_key(conns_fd, first ? NULL : &key, &next) == 0) {
        first = false;
        key = next;
        if (bpf_map_lookup_elem(conns_fd, &key, &c) || !c.weight ||
            (c.phase != PHASE_READING && c.phase != PHASE_RESPONDING))
            continue;
        memset(&e, 0, sizeof(e));
        e.type = EV_SPAN;
        e.seq = c.seq;
        e.conn = key;
        e.tuple = c.tuple;
        e.replica = c.replica;
        e.tgid = c.tgid;
        e.tid = c.tid;
        e.flags = c.flags;
        e.end_reason = END_FLUSH;
        e.established_ns = c.established_ns;
        e.accept_ns = c.accept_ns;
        e.arrival_ns = c.arrival_ns;
        e.first_read_ns = c.first_read_ns;
        e.response_start_ns = c.response_start_ns;
        e.response_end_ns = c.last_send_ns;
        e.bytes_in = c.bytes_in;
        e.bytes_out = c.bytes_out;
        if (!c.response_start_ns)
            e.flags |= SPAN_F_NO_RESPONSE;
        if (c.send_tid && c.send_tid != c.tid)
            e.flags |= SPAN_F_HANDOFF;
        for (int i = 0; i < ACC_COUNT; i++)
            e.acc_ns[i] = (e.flags & SPAN_F_HANDOFF) || c.snap_end[i] < c.snap_start[i]
                              ? 0
                              : c.snap_end[i] - c.snap_start[i];
        e.head_len = c.head_len;
        e.weight = c.weight;
        memcpy(e.head, c.head, sizeof(e.head));
        deliver(r, &e);
    }
}

void span_reader_free(struct span_reader *r)
{
    if (r->rb)
        ring_buffer__free(r->rb);
    memset(r, 0, sizeof(*r));
}
