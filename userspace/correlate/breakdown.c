#include "correlate/breakdown.h"

#include <stdlib.h>
#include <string.h>

#include "common/histogram.h"
#include "store/matches.h"
#include "store/server_tables.h"

static const struct {
    const char *key, *label;
} components[COMP_COUNT] = {
    [COMP_SEND_LAG] = {"send_lag", "sent late by the generator"},
    [COMP_CONNECT] = {"connect", "TCP connect"},
    [COMP_NETWORK_CLIENT] = {"network_client", "network + client"},
    [COMP_ACCEPT_QUEUE] = {"accept_queue", "accept queue"},
    [COMP_RECEIVE_QUEUE] = {"receive_queue", "receive queue"},
    [COMP_ON_CPU] = {"on_cpu", "on CPU"},
    [COMP_RUN_QUEUE] = {"run_queue", "run queue (waiting for a core)"},
    [COMP_LOCK] = {"lock", "lock / futex"},
    [COMP_DOWNSTREAM] = {"downstream", "downstream socket"},
    [COMP_DISK] = {"disk", "disk I/O"},
    [COMP_SLEEP] = {"sleep", "sleep"},
    [COMP_EVENT_WAIT] = {"event_wait", "event loop wait"},
    [COMP_OTHER_OFFCPU] = {"other_offcpu", "other off-CPU"},
    [COMP_SEND] = {"send", "sending the response"},
};

const char *component_key(enum component c) { return components[c].key; }
const char *component_label(enum component c) { return components[c].label; }

static uint64_t span_gap(uint64_t from, uint64_t to)
{
    return (from && to > from) ? to - from : 0;
}

/* The worker's CPU accounting, mapped onto components. */
static const enum component off_component[OFF_REASONS] = {
    [OFF_LOCK] = COMP_LOCK,   [OFF_DOWNSTREAM] = COMP_DOWNSTREAM, [OFF_DISK] = COMP_DISK,
    [OFF_SLEEP] = COMP_SLEEP, [OFF_IDLE] = COMP_EVENT_WAIT,       [OFF_OTHER] = COMP_OTHER_OFFCPU,
};

void breakdown_of(const struct client_record *c, const struct server_span *sp,
                  struct request_breakdown *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t latency = c->end_ns > c->intended_ns ? c->end_ns - c->intended_ns : 0;
    out->latency_ns = latency;
    uint64_t *part = out->part_ns;

    part[COMP_SEND_LAG] = c->start_ns > c->intended_ns ? c->start_ns - c->intended_ns : 0;
    if (!c->reused)
        part[COMP_CONNECT] = (uint64_t)c->connect_us * 1000;

    bool new_conn = (sp->flags & SPAN_NEW_CONN) && sp->accept_ns;
    if (new_conn)
        part[COMP_ACCEPT_QUEUE] = span_gap(sp->established_ns, sp->accept_ns);
    /* bytes that arrived before the accept waited in the accept queue, not for a reader */
    uint64_t ready = sp->arrival_ns;
    if (new_conn && sp->accept_ns > ready)
        ready = sp->accept_ns;
    if (!(sp->flags & SPAN_ARRIVAL_UNKNOWN))
        part[COMP_RECEIVE_QUEUE] = span_gap(ready, sp->first_read_ns);

    uint64_t service = span_gap(sp->first_read_ns, sp->response_end_ns);
    uint64_t respond = sp->response_start_ns ? sp->response_start_ns : sp->response_end_ns;
    uint64_t processing = span_gap(sp->first_read_ns, respond);
    part[COMP_SEND] = service > processing ? service - processing : 0;

    /* The thread-time split covers first read -> last send; scale it to the processing part
     * (the send was measured directly). What it does not cover (a hand-off to another thread,
     * time not seen) stays "other". */
    uint64_t split[COMP_COUNT] = {0};
    split[COMP_ON_CPU] = sp->oncpu_ns;
    split[COMP_RUN_QUEUE] = sp->runq_ns;
    for (int r = 0; r < OFF_REASONS; r++)
        split[off_component[r]] += sp->offcpu_ns[r];
    uint64_t split_sum = 0;
    for (int k = 0; k < COMP_COUNT; k++)
        split_sum += split[k];
    if (split_sum > service)
        service = split_sum; /* thread time cannot exceed the interval; trust the split */
    double scale = service ? (double)processing / (double)service : 0;
    uint64_t assigned = 0;
    for (int k = 0; k < COMP_COUNT; k++) {
        if (!split[k])
            continue;
        uint64_t v = (uint64_t)((double)split[k] * scale);
        part[k] += v;
        assigned += v;
    }
    if (processing > assigned)
        part[COMP_OTHER_OFFCPU] += processing - assigned;

    uint64_t known = 0;
    for (int k = 0; k < COMP_COUNT; k++)
        known += part[k];
    if (latency > known) {
        part[COMP_NETWORK_CLIENT] = latency - known;
    } else if (known > latency && known) {
        /* server intervals and client clock readings disagree by a little (they are taken at
         * different points of the same exchange): shrink proportionally so parts sum up */
        double shrink = (double)latency / (double)known;
        uint64_t total = 0;
        for (int k = 0; k < COMP_COUNT; k++) {
            part[k] = (uint64_t)((double)part[k] * shrink);
            total += part[k];
        }
        part[COMP_NETWORK_CLIENT] += latency - total;
    }
}

#define MAX_REPLICA_BANDS (sizeof(((struct breakdown *)0)->replicas) / sizeof(struct breakdown_band))

struct pass {
    struct histogram *latency;
    struct histogram *downstream; /* [0]: all, [1 + r]: replica r */
    struct breakdown *out;
    int phase;
    uint64_t from_ns, to_ns;
};

static void add_to(struct breakdown_band *b, const struct request_breakdown *r)
{
    b->requests++;
    b->latency_ns += (double)r->latency_ns;
    for (int k = 0; k < COMP_COUNT; k++)
        b->part_ns[k] += (double)r->part_ns[k];
}

static int visit(void *ctx, const struct client_record *c, const struct server_span *sp,
                 enum match_method method)
{
    (void)method;
    struct pass *p = ctx;
    if (c->end_ns < p->from_ns || c->end_ns >= p->to_ns)
        return 0;
    struct request_breakdown r;
    breakdown_of(c, sp, &r);
    if (p->phase == 0) {
        hist_record(p->latency, r.latency_ns);
        return 0;
    }
    struct breakdown *b = p->out;
    add_to(&b->bands[BAND_ALL], &r);
    enum band band = r.latency_ns <= b->cut_ns[0]   ? BAND_P0_50
                     : r.latency_ns <= b->cut_ns[1] ? BAND_P50_90
                     : r.latency_ns <= b->cut_ns[2] ? BAND_P90_99
                                                    : BAND_P99_100;
    add_to(&b->bands[band], &r);
    uint64_t down = r.part_ns[COMP_DOWNSTREAM];
    if (down)
        hist_record(&p->downstream[0], down);
    if (sp->replica < MAX_REPLICA_BANDS) {
        add_to(&b->replicas[sp->replica], &r);
        if (down)
            hist_record(&p->downstream[1 + sp->replica], down);
        if (sp->replica + 1 > b->replica_count)
            b->replica_count = sp->replica + 1;
    }
    return 0;
}

/* Without client records (`loadscope trace`), a span stands for its request: its latency is
 * the server time, from the handshake (or the bytes' arrival) to the last response byte. */
static struct client_record client_of_span(const struct server_span *sp)
{
    struct client_record c = {0};
    uint64_t from = sp->arrival_ns ? sp->arrival_ns : sp->first_read_ns;
    if ((sp->flags & SPAN_NEW_CONN) && sp->established_ns && sp->established_ns < from)
        from = sp->established_ns;
    c.intended_ns = c.start_ns = from;
    c.end_ns = sp->response_end_ns > from ? sp->response_end_ns : from;
    c.reused = !(sp->flags & SPAN_NEW_CONN);
    return c;
}

static int visit_span(void *ctx, const struct server_span *sp)
{
    struct client_record c = client_of_span(sp);
    return visit(ctx, &c, sp, MATCH_FOUR_TUPLE);
}

static int count_matches(struct store *s, uint64_t *n)
{
    sqlite3_stmt *st;
    *n = 0;
    if (sqlite3_prepare_v2(store_db(s), "SELECT count(*) FROM request_matches", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        *n = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

/* One pass over the requests: the joined pairs, or the spans alone when nothing was joined
 * (no client records: the server side traced without load). */
static int each_request(struct store *s, bool spans_only, struct pass *p, struct error *err)
{
    return spans_only ? server_tables_each_span(s, visit_span, p, err)
                      : matches_each(s, visit, p, err);
}

static void downstream_spread(struct breakdown_band *b, const struct histogram *h)
{
    b->downstream_requests = h->count;
    b->downstream_p10_ns = hist_percentile(h, 10);
    b->downstream_p50_ns = hist_percentile(h, 50);
}

static void finish(struct breakdown_band *b)
{
    if (!b->requests)
        return;
    b->latency_ns /= (double)b->requests;
    for (int k = 0; k < COMP_COUNT; k++)
        b->part_ns[k] /= (double)b->requests;
}

int breakdown_compute(struct store *s, uint64_t from_ns, uint64_t to_ns, struct breakdown *out,
                      struct error *err)
{
    static const char *labels[BAND_COUNT] = {"all", "p0-50", "p50-90", "p90-99", "p99-100"};
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < BAND_COUNT; i++)
        out->bands[i].label = labels[i];
    struct histogram *latency = malloc(sizeof(*latency));
    struct histogram *downstream = malloc((1 + MAX_REPLICA_BANDS) * sizeof(*downstream));
    if (!latency || !downstream) {
        free(latency);
        free(downstream);
        return error_set(err, "out of memory");
    }
    hist_reset(latency);
    for (size_t i = 0; i < 1 + MAX_REPLICA_BANDS; i++)
        hist_reset(&downstream[i]);
    struct pass p = {latency, downstream, out, 0, from_ns, to_ns};
    uint64_t matched = 0;
    count_matches(s, &matched);
    out->server_only = matched == 0;
    int rc = each_request(s, out->server_only, &p, err);
    if (rc == 0) {
        out->matched = latency->count;
        /* exact cut points are not needed: a request at a band's edge may land on either side */
        out->cut_ns[0] = hist_percentile(latency, 50);
        out->cut_ns[1] = hist_percentile(latency, 90);
        out->cut_ns[2] = hist_percentile(latency, 99);
        p.phase = 1;
        rc = each_request(s, out->server_only, &p, err);
    }
    if (rc == 0) {
        downstream_spread(&out->bands[BAND_ALL], &downstream[0]);
        for (unsigned i = 0; i < out->replica_count; i++)
            downstream_spread(&out->replicas[i], &downstream[1 + i]);
    }
    free(latency);
    free(downstream);
    if (rc != 0)
        return -1;
    for (int i = 0; i < BAND_COUNT; i++)
        finish(&out->bands[i]);
    for (unsigned i = 0; i < out->replica_count; i++) {
        out->replicas[i].label = "replica";
        finish(&out->replicas[i]);
    }
    return 0;
}
