#include "correlate/timeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "store/server_tables.h"

uint64_t log2_hist_percentile(const uint32_t *slots, unsigned n, double p)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += slots[i];
    if (!total)
        return 0;
    double want = p / 100.0 * (double)total;
    uint64_t seen = 0;
    for (unsigned i = 0; i < n; i++) {
        seen += slots[i];
        if ((double)seen >= want)
            return i == 0 ? 0 : (1ULL << i) - 1;
    }
    return (1ULL << (n - 1)) - 1;
}

struct builder {
    struct timeline *t;
    /* per (second, replica): sums to turn into averages */
    double *accept_wait_sum, *recv_wait_sum;
    /* distinct worker threads per replica (open addressing) */
    uint32_t *tids[TIMELINE_MAX_REPLICAS];
    size_t tid_cap;
};

/* Calls fn(second, fraction of [from, to) inside that second) for each second it covers. */
static void spread(const struct timeline *t, uint64_t from, uint64_t to,
                   void (*fn)(void *, size_t, double), void *ctx)
{
    if (to <= from || to <= t->start_ns)
        return;
    uint64_t lo = from > t->start_ns ? from - t->start_ns : 0;
    uint64_t hi = to - t->start_ns;
    double len = (double)(to - from);
    for (uint64_t sec = lo / NS_PER_SEC; sec < t->seconds && sec * NS_PER_SEC < hi; sec++) {
        uint64_t a = sec * NS_PER_SEC > lo ? sec * NS_PER_SEC : lo;
        uint64_t b = (sec + 1) * NS_PER_SEC < hi ? (sec + 1) * NS_PER_SEC : hi;
        if (b > a)
            fn(ctx, (size_t)sec, (double)(b - a) / len);
    }
}

struct window_share {
    struct builder *b;
    const struct replica_window *w;
};

static void add_window_share(void *ctx, size_t sec, double f)
{
    struct window_share *ws = ctx;
    const struct replica_window *w = ws->w;
    struct builder *b = ws->b;
    struct replica_second *row = timeline_row(b->t, sec, w->replica);
    size_t idx = sec * b->t->replica_count + w->replica;
    row->traced = true;
    row->cpu_cores += (double)w->oncpu_ns * f / 1e9;
    row->runq_ms += (double)w->runq_ns * f / 1e6;
    for (int r = 0; r < OFF_REASONS; r++)
        row->offcpu_ms[r] += (double)w->offcpu_ns[r] * f / 1e6;
    row->accepts += (uint64_t)llround((double)w->accepts * f);
    b->accept_wait_sum[idx] += (double)w->accept_wait_ns * f;
    row->requests += (uint64_t)llround((double)w->requests * f);
    b->recv_wait_sum[idx] += (double)w->recvq_wait_ns * f;
    if (w->accept_queue_max > row->accept_queue_max)
        row->accept_queue_max = w->accept_queue_max;
    double p99 = (double)log2_hist_percentile(w->runq_hist, WINDOW_HIST_SLOTS, 99) / 1e6;
    if (p99 > row->runq_p99_ms)
        row->runq_p99_ms = p99;
    if (w->threads > row->threads)
        row->threads = w->threads;
    row->retransmits += (uint64_t)llround((double)w->retransmits * f);
    row->resets += (uint64_t)llround((double)(w->resets_sent + w->resets_received) * f);
    row->listen_overflows += (uint64_t)llround((double)w->host_listen_overflows * f);
    row->listen_drops += (uint64_t)llround((double)w->host_listen_drops * f);
}

static int on_window(void *ctx, const struct replica_window *w)
{
    struct builder *b = ctx;
    if (w->replica >= b->t->replica_count)
        return 0;
    struct window_share ws = {b, w};
    spread(b->t, w->start_ns, w->end_ns, add_window_share, &ws);
    b->t->lost_spans += w->lost_spans;
    b->t->lost_heads += w->lost_heads;
    b->t->lost_other += w->lost_other;
    return 0;
}

struct span_share {
    struct builder *b;
    const struct server_span *sp;
    double duration_s;
};

static void add_span_share(void *ctx, size_t sec, double f)
{
    struct span_share *ss = ctx;
    struct replica_second *row = timeline_row(ss->b->t, sec, ss->sp->replica);
    /* a sampled span stands for sample_weight requests like it */
    double w = (double)span_sample_weight(ss->sp) * f;
    row->busy_workers += ss->duration_s * w;
    row->span_cpu_cores += (double)ss->sp->oncpu_ns * w / 1e9;
}

static void count_worker(struct builder *b, uint32_t replica, uint32_t tid)
{
    uint32_t *set = b->tids[replica];
    size_t i = (tid * 2654435761u) & (b->tid_cap - 1);
    while (set[i] && set[i] != tid)
        i = (i + 1) & (b->tid_cap - 1);
    if (set[i])
        return;
    /* keep the table at most half full; beyond that, workers are counted but not stored */
    if (b->t->replicas[replica].workers < b->tid_cap / 2)
        set[i] = tid;
    b->t->replicas[replica].workers++;
}

static int on_span(void *ctx, const struct server_span *sp)
{
    struct builder *b = ctx;
    if (sp->replica >= b->t->replica_count)
        return 0;
    b->t->replicas[sp->replica].spans++;
    if (sp->tid)
        count_worker(b, sp->replica, sp->tid);
    uint64_t end = sp->response_end_ns ? sp->response_end_ns : sp->first_read_ns;
    struct span_share ss = {b, sp, (double)(end - sp->first_read_ns) / 1e9};
    if (end > sp->first_read_ns && sp->first_read_ns)
        spread(b->t, sp->first_read_ns, end, add_span_share, &ss);
    return 0;
}

static int load_replicas(struct store *s, struct timeline *t, struct error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(store_db(s), "SELECT replica, name, spec, cores FROM replicas"
                           " ORDER BY replica", -1, &st, NULL) != SQLITE_OK)
        return error_set(err, "sqlite: %s", sqlite3_errmsg(store_db(s)));
    while (sqlite3_step(st) == SQLITE_ROW) {
        int idx = sqlite3_column_int(st, 0);
        if (idx < 0 || idx >= TIMELINE_MAX_REPLICAS)
            continue;
        struct replica_info *ri = &t->replicas[idx];
        snprintf(ri->name, sizeof(ri->name), "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(ri->spec, sizeof(ri->spec), "%s", (const char *)sqlite3_column_text(st, 2));
        ri->cores = sqlite3_column_double(st, 3);
        if ((unsigned)idx + 1 > t->replica_count)
            t->replica_count = (unsigned)idx + 1;
    }
    sqlite3_finalize(st);
    return 0;
}

static int load_generator(struct store *s, struct timeline *t, struct error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(store_db(s), "SELECT second, busy, sends, late_sends,"
                           " host_cpu_cores, self_cpu_cores FROM generator_seconds", -1, &st, NULL) != SQLITE_OK)
        return error_set(err, "sqlite: %s", sqlite3_errmsg(store_db(s)));
    while (sqlite3_step(st) == SQLITE_ROW) {
        sqlite3_int64 sec = sqlite3_column_int64(st, 0);
        if (sec < 0 || (size_t)sec >= t->seconds)
            continue;
        struct generator_second *g = &t->generator[sec];
        g->present = true;
        g->busy = sqlite3_column_double(st, 1);
        g->sends = (uint64_t)sqlite3_column_int64(st, 2);
        g->late_sends = (uint64_t)sqlite3_column_int64(st, 3);
        g->host_cpu_cores = sqlite3_column_double(st, 4);
        g->self_cpu_cores = sqlite3_column_double(st, 5);
    }
    sqlite3_finalize(st);
    return 0;
}

int timeline_build(struct store *s, uint64_t start_ns, uint64_t duration_ns, struct timeline *out,
                   struct error *err)
{
    memset(out, 0, sizeof(*out));
    out->start_ns = start_ns;
    out->seconds = (size_t)((duration_ns + NS_PER_SEC - 1) / NS_PER_SEC);
    if (out->seconds == 0)
        out->seconds = 1;
    out->last_second_s = run_second_length(duration_ns, out->seconds - 1);
    if (load_replicas(s, out, err) != 0)
        return -1;
    size_t cells = out->seconds * (out->replica_count ? out->replica_count : 1);
    out->rows = calloc(cells, sizeof(*out->rows));
    out->generator = calloc(out->seconds, sizeof(*out->generator));
    struct builder b = {out, calloc(cells, sizeof(double)), calloc(cells, sizeof(double)), {0},
                        4096};
    int rc = -1;
    if (!out->rows || !out->generator || !b.accept_wait_sum || !b.recv_wait_sum) {
        error_set(err, "out of memory");
        goto done;
    }
    for (unsigned r = 0; r < out->replica_count; r++)
        if (!(b.tids[r] = calloc(b.tid_cap, sizeof(uint32_t)))) {
            error_set(err, "out of memory");
            goto done;
        }
    if (load_generator(s, out, err) != 0)
        goto done;
    if (out->replica_count) {
        if (server_tables_each_window(s, on_window, &b, err) != 0 ||
            server_tables_each_span(s, on_span, &b, err) != 0)
            goto done;
        for (size_t i = 0; i < cells; i++) {
            struct replica_second *row = &out->rows[i];
            if (row->accepts)
                row->accept_wait_ms = b.accept_wait_sum[i] / (double)row->accepts / 1e6;
            if (row->requests)
                row->recv_wait_ms = b.recv_wait_sum[i] / (double)row->requests / 1e6;
        }
    }
    rc = 0;
done:
    free(b.accept_wait_sum);
    free(b.recv_wait_sum);
    for (unsigned r = 0; r < TIMELINE_MAX_REPLICAS; r++)
        free(b.tids[r]);
    if (rc != 0)
        timeline_free(out);
    return rc;
}

void timeline_free(struct timeline *t)
{
    free(t->rows);
    free(t->generator);
    t->rows = NULL;
    t->generator = NULL;
}
