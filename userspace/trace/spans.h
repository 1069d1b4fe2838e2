/* The ring-buffer reader: one record per request from the kernel (bpf/sockets.h), carrying
 * the first bytes the worker read, turned into struct server_span. */
#ifndef LOADSCOPE_TRACE_SPANS_H
#define LOADSCOPE_TRACE_SPANS_H

#include <stdint.h>

#include "common/error.h"
#include "trace/http_head.h"
#include "trace/trace.h"

struct span_reader {
    struct ring_buffer *rb;
    const struct trace_sinks *sinks;
    uint64_t next_span_id;
    uint64_t spans;
    uint64_t without_head;
};

int span_reader_init(struct span_reader *r, int events_fd, const struct trace_sinks *sinks,
                     struct error *err);
/* Reads every record available now. Returns the number consumed. */
int span_reader_poll(struct span_reader *r, int timeout_ms);
/* After detach: ends every request still open in the conns map (END_FLUSH). */
void span_reader_flush_open(struct span_reader *r, int conns_fd, uint64_t now_ns);
void span_reader_free(struct span_reader *r);

#endif
