/* Ground truth for per-request spans (bpf/sockets.bpf.c): a real pre-fork HTTP server on
 * loopback, a real client that knows its local port and the request ids it sent. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "support/trace_collect.h"
#include "support/trace_procs.h"
#include "trace/trace.h"

/* Skips the test without root; starts the test server and an empty collector. */
static void serve(struct trace_server *srv, const struct trace_server_opts *o,
                  struct trace_collect *c)
{
    if (!trace_test_can_trace())
        cr_skip_test("needs root");
    cr_assert_eq(trace_server_start(srv, o), 0);
    trace_test_sleep_ms(100);
    trace_collect_init(c);
}

/* The replica spec that names the test server. */
static void replica_of(const struct trace_server *srv, char *spec, size_t len)
{
    snprintf(spec, len, "srv=port:%d", srv->port);
}

static struct trace_session *trace_server(struct trace_server *srv, struct trace_collect *c,
                                          uint32_t ring_bytes)
{
    char spec[64];
    replica_of(srv, spec, sizeof(spec));
    struct trace_session *s = trace_test_start(spec, 0, ring_bytes, c);
    cr_assert_not_null(s, "tracing must start");
    return s;
}

static void finish(struct trace_session *s, struct trace_collect *c, struct trace_server *srv)
{
    trace_destroy(s);
    trace_collect_free(c);
    trace_server_stop(srv);
}

static const struct server_span *span_with_id(struct trace_collect *c, uint64_t id)
{
    for (size_t i = 0; i < c->nspans; i++)
        if (c->spans[i].has_request_id && c->spans[i].request_id == id)
            return &c->spans[i];
    return NULL;
}

Test(trace_spans, sleeping_worker_spans_show_100ms_sleep_4_tuple_and_request_id)
{
    struct trace_server srv;
    struct trace_server_opts o = {.workers = 1, .sleep_ms = 100};
    struct trace_collect c;
    serve(&srv, &o, &c);
    struct trace_session *s = trace_server(&srv, &c, 0);
    uint16_t ports[4];
    int fd = -1;
    for (int i = 0; i < 4; i++) { /* keep-alive: one connection, four requests */
        fd = trace_client_get(srv.port, fd, "/predict?x=1", 0xabc0000000000000ULL + i, &ports[i]);
        cr_assert(fd >= 0, "request %d", i);
    }
    close(fd);
    trace_test_sleep_ms(100);
    struct trace_totals t;
    trace_stop(s, &t);
    cr_expect_eq(c.nspans, 4, "4 spans, got %zu", c.nspans);
    for (int i = 0; i < 4; i++) {
        const struct server_span *sp = span_with_id(&c, 0xabc0000000000000ULL + i);
        cr_assert_not_null(sp, "span with the request id %d", i);
        double sleep_ms = (double)sp->offcpu_ns[OFF_SLEEP] / 1e6;
        double service_ms = (double)(sp->response_end_ns - sp->first_read_ns) / 1e6;
        cr_expect(sleep_ms >= 95 && sleep_ms <= 115, "off-CPU sleep %.1f ms", sleep_ms);
        cr_expect(service_ms >= 100 && service_ms <= 130, "service %.1f ms", service_ms);
        cr_expect_eq(sp->client_port, ports[i], "client port %u vs %u", sp->client_port, ports[i]);
        cr_expect_eq(sp->server_port, srv.port);
        cr_expect_eq(sp->family, 4);
        cr_expect(sp->client_addr[0] == 127 && sp->server_addr[0] == 127);
        cr_expect_str_eq(sp->method, "GET");
        cr_expect_str_eq(sp->path, "/predict?x=1");
        cr_expect_eq(sp->seq, (uint32_t)i + 1, "request number on the connection");
        cr_expect(sp->arrival_ns <= sp->first_read_ns && sp->first_read_ns <= sp->response_start_ns &&
                  sp->response_start_ns <= sp->response_end_ns, "phases in order");
        cr_expect(sp->tgid != (uint32_t)srv.master, "served by a worker, not the master");
    }
    cr_expect(t.replica[0].requests == 4, "window requests %llu",
              (unsigned long long)t.replica[0].requests);
    cr_expect(t.replica[0].offcpu_ns[OFF_SLEEP] >= 380 * 1000000ULL);
    finish(s, &c, &srv);
}

struct client_arg {
    int port;
    uint64_t id;
    int ok;
};

static void *one_request(void *p)
{
    struct client_arg *a = p;
    int fd = trace_client_get(a->port, -1, "/", a->id, NULL);
    a->ok = fd >= 0;
    if (fd >= 0)
        close(fd);
    return NULL;
}

Test(trace_spans, more_requests_than_workers_shows_queue_waits)
{
    struct trace_server srv;
    struct trace_server_opts o = {.workers = 1, .sleep_ms = 100};
    struct trace_collect c;
    serve(&srv, &o, &c);
    struct trace_session *s = trace_server(&srv, &c, 0);
    struct client_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct client_arg){srv.port, 0x100 + (uint64_t)i, 0};
        pthread_create(&th[i], NULL, one_request, &args[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    trace_test_sleep_ms(100);
    struct trace_totals t;
    trace_stop(s, &t);
    cr_assert_eq(c.nspans, 4);
    /* one worker, 100 ms each: connections wait ~0, 100, 200, 300 ms before a worker takes
     * them (accept queue), their bytes as long in the receive queue */
    uint64_t accept_wait = 0, recv_wait = 0, max_accept = 0;
    for (size_t i = 0; i < c.nspans; i++) {
        const struct server_span *sp = &c.spans[i];
        cr_expect(sp->flags & SPAN_NEW_CONN);
        cr_expect(sp->established_ns && sp->accept_ns >= sp->established_ns);
        uint64_t aw = sp->accept_ns - sp->established_ns;
        accept_wait += aw;
        max_accept = aw > max_accept ? aw : max_accept;
        recv_wait += sp->first_read_ns - sp->arrival_ns;
    }
    cr_expect(accept_wait >= 500 * 1000000ULL, "accept waits sum %.1f ms (want ~600)",
              (double)accept_wait / 1e6);
    cr_expect(max_accept >= 250 * 1000000ULL, "longest accept wait %.1f ms (want ~300)",
              (double)max_accept / 1e6);
    cr_expect(recv_wait >= 500 * 1000000ULL, "receive-queue waits sum %.1f ms",
              (double)recv_wait / 1e6);
    cr_expect(t.replica[0].accepts == 4);
    cr_expect(t.replica[0].accept_wait_ns >= 500 * 1000000ULL);
    cr_expect(t.replica[0].recvq_wait_ns >= 500 * 1000000ULL);
    cr_expect(t.replica[0].accept_queue_max >= 1, "accept queue depth seen");
    finish(s, &c, &srv);
}

Test(trace_spans, workers_forked_after_tracing_started_are_traced)
{
    struct trace_server srv;
    struct trace_server_opts o = {.workers = 2, .fork_late = true};
    struct trace_collect c;
    serve(&srv, &o, &c);
    struct trace_session *s = trace_server(&srv, &c, 0);
    trace_server_fork_workers(&srv);
    trace_test_sleep_ms(100);
    for (int i = 0; i < 6; i++) {
        int fd = trace_client_get(srv.port, -1, "/late", 0x200 + (uint64_t)i, NULL);
        cr_assert(fd >= 0);
        close(fd);
    }
    trace_test_sleep_ms(100);
    struct trace_totals t;
    trace_stop(s, &t);
    cr_expect_eq(c.nspans, 6, "every request of the late workers traced (%zu)", c.nspans);
    for (size_t i = 0; i < c.nspans; i++)
        cr_expect(c.spans[i].tgid != (uint32_t)srv.master && c.spans[i].tgid != 0);
    cr_expect(t.replica[0].forks >= 2, "forks seen: %llu", (unsigned long long)t.replica[0].forks);
    cr_expect(t.replica[0].processes >= 3, "master + 2 workers: %u", t.replica[0].processes);
    finish(s, &c, &srv);
}

Test(trace_spans, a_full_ring_buffer_counts_every_lost_record)
{
    struct trace_server srv;
    struct trace_server_opts o = {.workers = 1};
    struct trace_collect c;
    serve(&srv, &o, &c);
    struct trace_session *s = trace_server(&srv, &c, 4096); /* ~4 records */
    enum { N = 300 };
    int fd = -1;
    for (int i = 0; i < N; i++) {
        fd = trace_client_get(srv.port, fd, "/", (uint64_t)i + 1, NULL);
        cr_assert(fd >= 0);
    }
    close(fd);
    trace_test_sleep_ms(100);
    struct trace_totals t;
    trace_stop(s, &t);
    cr_expect(t.lost_spans > 0, "losses counted: %llu spans", (unsigned long long)t.lost_spans);
    cr_expect_eq(c.nspans + t.lost_spans, N, "delivered %zu + lost %llu = %d", c.nspans,
                 (unsigned long long)t.lost_spans, N);
    uint64_t window_lost = 0;
    for (size_t i = 0; i < c.nwindows; i++)
        window_lost += c.windows[i].lost_spans;
    cr_expect_eq(window_lost, t.lost_spans, "windows report the losses too");
    finish(s, &c, &srv);
}

Test(trace_spans, without_syscall_hooks_spans_keep_reasons_and_request_ids)
{
    struct trace_server srv;
    struct trace_server_opts o = {.workers = 1, .sleep_ms = 100};
    struct trace_collect c;
    serve(&srv, &o, &c);
    char spec[64];
    replica_of(&srv, spec, sizeof(spec));
    struct trace_session *s = trace_test_start_no_syscalls(spec, &c);
    cr_assert_not_null(s);
    uint16_t port;
    int fd = trace_client_get(srv.port, -1, "/nosys", 0x5151, &port);
    cr_assert(fd >= 0);
    close(fd);
    trace_test_sleep_ms(100);
    struct trace_totals t;
    trace_stop(s, &t);
    cr_assert_eq(c.nspans, 1);
    const struct server_span *sp = &c.spans[0];
    cr_expect(sp->has_request_id && sp->request_id == 0x5151, "request id from the read buffer");
    cr_expect_str_eq(sp->path, "/nosys");
    cr_expect_eq(sp->client_port, port);
    double sleep_ms = (double)sp->offcpu_ns[OFF_SLEEP] / 1e6;
    cr_expect(sleep_ms >= 95 && sleep_ms <= 115, "sleep %.1f ms named from the registers",
              sleep_ms);
    cr_expect_eq(t.replica[0].syscalls, 0, "no syscall table");
    cr_expect_eq(t.syscall_hooks_ns, 0);
    cr_expect_eq(t.syscall_period, 0);
    /* accept has its own tracepoint: the accept-queue wait does not need the hooks */
    cr_expect_eq(t.replica[0].accepts, 1);
    cr_expect(sp->accept_ns >= sp->established_ns && sp->established_ns > 0,
              "accepted at %llu, established at %llu", (unsigned long long)sp->accept_ns,
              (unsigned long long)sp->established_ns);
    finish(s, &c, &srv);
}

/* A one-worker test server, an empty collector and the replica spec naming the server. */
static void serve_one_worker(struct trace_server *srv, struct trace_collect *c, char *spec,
                             size_t len)
{
    struct trace_server_opts o = {.workers = 1};
    serve(srv, &o, c);
    replica_of(srv, spec, len);
}

/* Requests one after the other on one kept-alive connection for `ns` (at most `max`), ids
 * 1, 2, ...; then waits 100 ms for the last span. Returns how many were sent. */
static uint64_t back_to_back(int port, const char *path, uint64_t ns, uint64_t max)
{
    uint64_t sent = 0, end = clock_now_ns() + ns;
    int fd = -1;
    while (clock_now_ns() < end && sent < max) {
        fd = trace_client_get(port, fd, path, sent + 1, NULL);
        cr_assert(fd >= 0, "request %llu", (unsigned long long)sent);
        sent++;
    }
    close(fd);
    trace_test_sleep_ms(100);
    return sent;
}

Test(trace_spans, above_the_span_rate_a_weighted_sample_stands_for_every_request, .timeout = 60)
{
    struct trace_server srv;
    struct trace_collect c;
    char spec[64];
    serve_one_worker(&srv, &c, spec, sizeof(spec));
    /* 200 spans/s: 20 per 100 ms slot, far below what one keep-alive client sends */
    struct trace_session *s = trace_test_start_span_rate(spec, 200, &c);
    cr_assert_not_null(s);
    /* one second of back-to-back requests on one connection */
    uint64_t sent = back_to_back(srv.port, "/sampled", NS_PER_SEC, 200000);
    struct trace_totals t;
    trace_stop(s, &t);
    cr_assert(sent >= 1000, "the client sent %llu requests in 1 s", (unsigned long long)sent);
    cr_expect_eq(t.lost_spans, 0);
    /* the kernel counted every request; each one either got a span or was skipped */
    cr_expect_eq(t.replica[0].requests, sent, "server-side requests %llu of %llu",
                 (unsigned long long)t.replica[0].requests, (unsigned long long)sent);
    cr_expect_eq(c.nspans + t.spans_skipped, sent, "%zu spans + %llu skipped = %llu", c.nspans,
                 (unsigned long long)t.spans_skipped, (unsigned long long)sent);
    uint64_t window_skipped = 0;
    for (size_t i = 0; i < c.nwindows; i++)
        window_skipped += c.windows[i].spans_skipped;
    cr_expect_eq(window_skipped, t.spans_skipped, "windows report the skipped requests");
    cr_expect(c.nspans < sent / 2, "a sample: %zu spans of %llu requests", c.nspans,
              (unsigned long long)sent);
    /* each span stands for its weight in requests: their sum estimates the total */
    uint64_t weights = 0, heavy = 0;
    for (size_t i = 0; i < c.nspans; i++) {
        const struct server_span *sp = &c.spans[i];
        weights += span_sample_weight(sp);
        heavy += sp->sample_weight > 1;
        cr_expect(sp->has_request_id && sp->request_id >= 1 && sp->request_id <= sent,
                  "a recorded span keeps its request bytes");
        cr_expect_str_eq(sp->path, "/sampled");
    }
    cr_expect(heavy > 0, "spans recorded by the sampler weigh more than one request");
    /* the receive-queue wait is the recorded requests', each counted its weight times */
    uint64_t waits = 0, waits_counted = 0;
    for (size_t i = 0; i < c.nspans; i++)
        waits += (c.spans[i].first_read_ns - c.spans[i].arrival_ns) *
                 span_sample_weight(&c.spans[i]);
    for (int i = 0; i < WINDOW_HIST_SLOTS; i++)
        waits_counted += t.replica[0].recvq_hist[i];
    cr_expect_eq(waits_counted, weights, "receive-queue waits counted %llu, span weights %llu",
                 (unsigned long long)waits_counted, (unsigned long long)weights);
    cr_expect_eq(t.replica[0].recvq_wait_ns, waits, "receive-queue wait %llu ns, spans' %llu ns",
                 (unsigned long long)t.replica[0].recvq_wait_ns, (unsigned long long)waits);
    double ratio = (double)weights / (double)sent;
    cr_expect(ratio > 0.75 && ratio < 1.25, "weights sum to %llu for %llu requests",
              (unsigned long long)weights, (unsigned long long)sent);
    cr_log_info("span sampling: %llu requests, %zu spans (%llu weighted), %llu skipped",
                (unsigned long long)sent, c.nspans, (unsigned long long)weights,
                (unsigned long long)t.spans_skipped);
    finish(s, &c, &srv);
}

Test(trace_spans, above_the_socket_budget_a_stretch_of_each_window_stands_for_all_of_it,
     .timeout = 60)
{
    struct trace_server srv;
    struct trace_collect c;
    char spec[64];
    serve_one_worker(&srv, &c, spec, sizeof(spec));
    struct trace_session *s = trace_test_start_socket_budget(spec, 0.001, &c);
    cr_assert_not_null(s);
    /* 3.5 s of back-to-back requests on one connection (bounded in count too): thousands a
     * second, the socket hooks' estimated cost above a 0.1% budget after the first window */
    uint64_t sent = back_to_back(srv.port, "/duty", 3500 * NS_PER_MS, 500000);
    struct trace_totals t;
    trace_stop(s, &t);
    uint64_t run = t.end_ns - t.start_ns;
    cr_assert(sent >= 5000, "the client sent %llu requests", (unsigned long long)sent);
    cr_expect(t.socket_period >= 2, "period %u (estimated cost %.1f%%)", t.socket_period,
              t.socket_cost_share * 100);
    cr_expect(t.socket_hooks_ns < run * 8 / 10, "the hooks ran %llu of %llu ns",
              (unsigned long long)t.socket_hooks_ns, (unsigned long long)run);
    int partial = 0;
    for (size_t i = 0; i < c.nwindows; i++) {
        const struct replica_window *w = &c.windows[i];
        uint64_t len = w->end_ns - w->start_ns;
        if (w->socket_hooks_ns && w->socket_hooks_ns * 10 < len * 9 && w->requests)
            partial++;
    }
    cr_expect(partial >= 1, "windows with the hooks on part of the time and requests: %d",
              partial);
    /* the counts scaled from the stretches estimate what the client sent */
    double ratio = (double)t.replica[0].requests / (double)sent;
    cr_expect(ratio > 0.7 && ratio < 1.3, "estimated %llu requests for %llu sent",
              (unsigned long long)t.replica[0].requests, (unsigned long long)sent);
    /* every span is one real request, even across the pauses (a connection resyncs before
     * its next span), and stands for 1/period of the requests; a pause may cut one before its
     * response: it is sent as it was, said so */
    uint64_t weights = 0, paused = 0, unanswered = 0;
    for (size_t i = 0; i < c.nspans; i++) {
        const struct server_span *sp = &c.spans[i];
        bool answered = !(sp->flags & SPAN_NO_RESPONSE);
        weights += span_sample_weight(sp);
        paused += sp->end_reason == SPAN_END_PAUSED;
        unanswered += !answered;
        cr_expect(sp->has_request_id && sp->request_id >= 1 && sp->request_id <= sent,
                  "span %zu carries a request id the client sent", i);
        cr_expect_str_eq(sp->path, "/duty");
        if (!answered)
            cr_expect(sp->end_reason == SPAN_END_PAUSED && sp->response_end_ns == 0,
                      "span %zu without a response ended by %d", i, sp->end_reason);
        else
            cr_expect(sp->response_end_ns >= sp->response_start_ns &&
                          sp->response_start_ns >= sp->first_read_ns,
                      "span %zu: read %llu, response %llu..%llu", i,
                      (unsigned long long)sp->first_read_ns,
                      (unsigned long long)sp->response_start_ns,
                      (unsigned long long)sp->response_end_ns);
    }
    cr_expect(c.nspans < sent * 3 / 4, "%zu spans of %llu requests", c.nspans,
              (unsigned long long)sent);
    cr_expect(paused >= 1, "spans cut by a pause are sent when the hooks come back");
    double wratio = (double)weights / (double)sent;
    cr_expect(wratio > 0.6 && wratio < 1.4, "span weights sum to %llu for %llu requests",
              (unsigned long long)weights, (unsigned long long)sent);
    cr_log_info("socket duty: %llu requests, estimated %llu, %zu spans weighing %llu "
                "(%llu cut by a pause, %llu of them before the response), "
                "period %u, hooks %.0f%% of the run",
                (unsigned long long)sent, (unsigned long long)t.replica[0].requests, c.nspans,
                (unsigned long long)weights, (unsigned long long)paused,
                (unsigned long long)unanswered, t.socket_period,
                100.0 * (double)t.socket_hooks_ns / (double)run);
    finish(s, &c, &srv);
}
