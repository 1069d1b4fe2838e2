/* The ring-buffer reader: request heads (first bytes read) and span records from the kernel
 * (bpf/sockets.h), joined by (connection, request number) into struct server_span. */
#ifndef LOADSCOPE_TRACE_SPANS_H
#define LOADSCOPE_TRACE_SPANS_H

#include <stdint.h>

#include "common/error.h"
#include "trace/http_head.h"
#include "trace/trace.h"

#define SPAN_HEAD_SLOTS 4096 /* heads waiting for their span (a span ends after its head) */

struct head_slot {
    uint64_t conn;
    uint32_t seq;
    uint32_t used;
    struct http_head head;
};

struct span_reader {
    struct ring_buffer *rb;
    const struct trace_sinks *sinks;
    struct head_slot *heads;
    uint64_t next_span_id;
    uint64_t spans;
    uint64_t without_head;
    uint64_t heads_overwritten;
};

int span_reader_init(struct span_reader *r, int events_fd, const struct trace_sinks *sinks,
                     struct error *err);
/* Reads every record available now. Returns the number consumed. */
int span_reader_poll(struct span_reader *r, int timeout_ms);
/* After detach: ends every request still open in the conns map (END_FLUSH). */
void span_reader_flush_open(struct span_reader *r, int conns_fd, uint64_t now_ns);
void span_reader_free(struct span_reader *r);

#endif
