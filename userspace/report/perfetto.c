#include "report/perfetto.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json_writer.h"
#include "store/client_table.h"
#include "store/matches.h"
#include "store/server_tables.h"

#define CLIENT_PID 1
#define COUNTER_PID_BASE 2000000000 /* one synthetic process per replica for its counters */

/* Names already announced (metadata events): pids and pid:tid pairs. */
struct seen_set {
    uint64_t *keys;
    size_t cap, used;
};

static bool seen_add(struct seen_set *s, uint64_t key)
{
    key++; /* 0 marks an empty slot */
    if (s->used * 2 >= s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        uint64_t *keys = calloc(cap, sizeof(*keys));
        if (!keys)
            return false;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->keys[i])
                continue;
            size_t j = (s->keys[i] * 0x9E3779B97F4A7C15ULL) & (cap - 1);
            while (keys[j])
                j = (j + 1) & (cap - 1);
            keys[j] = s->keys[i];
        }
        free(s->keys);
        s->keys = keys;
        s->cap = cap;
    }
    size_t j = (key * 0x9E3779B97F4A7C15ULL) & (s->cap - 1);
    while (s->keys[j]) {
        if (s->keys[j] == key)
            return false;
        j = (j + 1) & (s->cap - 1);
    }
    s->keys[j] = key;
    s->used++;
    return true;
}

struct writer {
    struct json_writer w;
    uint64_t start_ns;
    uint64_t keep_every; /* thinning: 1 keeps every request */
    const struct analysis *a;
    const char **endpoint_names;
    size_t endpoint_count;
    struct seen_set seen;
};

static double us(const struct writer *p, uint64_t ns)
{
    return ns > p->start_ns ? (double)(ns - p->start_ns) / 1e3 : 0;
}

static bool keep(const struct writer *p, uint64_t key)
{
    return p->keep_every <= 1 || (key * 0x9E3779B97F4A7C15ULL) % p->keep_every == 0;
}

static void metadata(struct writer *p, const char *what, int64_t pid, int64_t tid,
                     const char *name, int64_t sort)
{
    struct json_writer *w = &p->w;
    json_object_begin(w);
    json_kv_string(w, "ph", "M");
    json_kv_string(w, "name", what);
    json_kv_int(w, "pid", pid);
    if (tid >= 0)
        json_kv_int(w, "tid", tid);
    json_key(w, "args");
    json_object_begin(w);
    if (name)
        json_kv_string(w, "name", name);
    else
        json_kv_int(w, "sort_index", sort);
    json_object_end(w);
    json_object_end(w);
}

static void announce_thread(struct writer *p, int64_t pid, int64_t tid, const char *pname,
                            const char *tname)
{
    if (seen_add(&p->seen, (uint64_t)pid << 32 | 0xFFFFFFFFu)) {
        metadata(p, "process_name", pid, -1, pname, 0);
        metadata(p, "process_sort_index", pid, -1, NULL, pid == CLIENT_PID ? 0 : pid);
    }
    if (tname && seen_add(&p->seen, (uint64_t)pid << 32 | (uint32_t)tid))
        metadata(p, "thread_name", pid, tid, tname, 0);
}

static void slice_begin(struct writer *p, const char *name, const char *cat, int64_t pid,
                        int64_t tid, uint64_t from, uint64_t to)
{
    struct json_writer *w = &p->w;
    json_object_begin(w);
    json_kv_string(w, "ph", "X");
    json_kv_string(w, "name", name);
    json_kv_string(w, "cat", cat);
    json_kv_int(w, "pid", pid);
    json_kv_int(w, "tid", tid);
    json_kv_double(w, "ts", us(p, from));
    json_kv_double(w, "dur", to > from ? (double)(to - from) / 1e3 : 0);
}

static void slice(struct writer *p, const char *name, const char *cat, int64_t pid, int64_t tid,
                  uint64_t from, uint64_t to)
{
    if (to <= from)
        return;
    slice_begin(p, name, cat, pid, tid, from, to);
    json_object_end(&p->w);
}

static void flow(struct writer *p, const char *ph, uint64_t id, int64_t pid, int64_t tid,
                 uint64_t at)
{
    struct json_writer *w = &p->w;
    json_object_begin(w);
    json_kv_string(w, "ph", ph);
    json_kv_string(w, "name", "request");
    json_kv_string(w, "cat", "flow");
    json_kv_uint(w, "id", id);
    json_kv_int(w, "pid", pid);
    json_kv_int(w, "tid", tid);
    json_kv_double(w, "ts", us(p, at));
    if (ph[0] == 'f')
        json_kv_string(w, "bp", "e");
    json_object_end(w);
}

static void counter(struct writer *p, int64_t pid, const char *name, double ts_us,
                    const char *key, double value)
{
    if (!isfinite(value))
        return;
    struct json_writer *w = &p->w;
    json_object_begin(w);
    json_kv_string(w, "ph", "C");
    json_kv_string(w, "name", name);
    json_kv_int(w, "pid", pid);
    json_kv_double(w, "ts", ts_us);
    json_key(w, "args");
    json_object_begin(w);
    json_kv_double(w, key, value);
    json_object_end(w);
    json_object_end(w);
}

/* ---- client ---------------------------------------------------------------------------------- */

static const char *endpoint_name(const struct writer *p, uint16_t e)
{
    return e < p->endpoint_count ? p->endpoint_names[e] : "request";
}

static int client_request(void *ctx, const struct client_record *c)
{
    struct writer *p = ctx;
    if (!keep(p, c->request_id))
        return 0;
    char tname[32];
    snprintf(tname, sizeof(tname), "connection :%u", c->local_port);
    announce_thread(p, CLIENT_PID, c->local_port, "loadscope client", tname);
    slice_begin(p, endpoint_name(p, c->endpoint), "client", CLIENT_PID, c->local_port,
                c->start_ns, c->end_ns);
    struct json_writer *w = &p->w;
    char id[24];
    snprintf(id, sizeof(id), "%016llx", (unsigned long long)c->request_id);
    json_key(w, "args");
    json_object_begin(w);
    json_kv_uint(w, "status", c->status);
    json_kv_double(w, "latency_ms", (double)(c->end_ns - c->intended_ns) / 1e6);
    json_kv_string(w, "request_id", id);
    json_kv_uint(w, "failure", c->failure);
    json_kv_uint(w, "bytes_in", c->bytes_in);
    if (c->start_ns > c->intended_ns)
        json_kv_double(w, "sent_late_ms", (double)(c->start_ns - c->intended_ns) / 1e6);
    json_object_end(w);
    json_object_end(w);
    return 0;
}

/* ---- server ---------------------------------------------------------------------------------- */

static const char *replica_name(const struct writer *p, uint32_t r)
{
    return p->a && r < p->a->timeline.replica_count ? p->a->timeline.replicas[r].name : "replica";
}

static void span_slices(struct writer *p, const struct server_span *sp)
{
    char pname[96], tname[32], name[SPAN_METHOD_LEN + SPAN_PATH_LEN + 2];
    snprintf(pname, sizeof(pname), "%s (pid %u)", replica_name(p, sp->replica), sp->tgid);
    snprintf(tname, sizeof(tname), "thread %u", sp->tid);
    announce_thread(p, sp->tgid, sp->tid, pname, tname);
    if (sp->method[0])
        snprintf(name, sizeof(name), "%s %s", sp->method, sp->path);
    else
        snprintf(name, sizeof(name), "request");
    uint64_t from = sp->arrival_ns && sp->arrival_ns < sp->first_read_ns ? sp->arrival_ns
                                                                         : sp->first_read_ns;
    if ((sp->flags & SPAN_NEW_CONN) && sp->established_ns && sp->established_ns < from)
        from = sp->established_ns;
    uint64_t end = sp->response_end_ns > sp->first_read_ns ? sp->response_end_ns
                                                           : sp->first_read_ns;
    int64_t pid = sp->tgid, tid = sp->tid;
    slice_begin(p, name, "server", pid, tid, from, end);
    struct json_writer *w = &p->w;
    json_key(w, "args");
    json_object_begin(w);
    json_kv_uint(w, "span_id", sp->span_id);
    json_kv_string(w, "request_id", sp->request_id_text);
    json_kv_uint(w, "client_port", sp->client_port);
    json_kv_uint(w, "server_port", sp->server_port);
    json_kv_double(w, "on_cpu_ms", (double)sp->oncpu_ns / 1e6);
    json_kv_double(w, "run_queue_ms", (double)sp->runq_ns / 1e6);
    for (int r = 0; r < OFF_REASONS; r++) {
        char key[48];
        snprintf(key, sizeof(key), "off_cpu_%s_ms", off_reason_name((enum off_reason)r));
        json_kv_double(w, key, (double)sp->offcpu_ns[r] / 1e6);
    }
    json_object_end(w);
    json_object_end(w);

    if (sp->flags & SPAN_NEW_CONN)
        slice(p, "accept queue", "phase", pid, tid, sp->established_ns, sp->accept_ns);
    uint64_t ready = sp->arrival_ns;
    if ((sp->flags & SPAN_NEW_CONN) && sp->accept_ns > ready)
        ready = sp->accept_ns;
    if (!(sp->flags & SPAN_ARRIVAL_UNKNOWN))
        slice(p, "receive queue", "phase", pid, tid, ready, sp->first_read_ns);
    uint64_t respond = sp->response_start_ns ? sp->response_start_ns : end;
    slice(p, "processing", "phase", pid, tid, sp->first_read_ns, respond);
    slice(p, "send", "phase", pid, tid, respond, end);

    /* the thread's time within the span, laid end to end inside processing */
    uint64_t parts[2 + OFF_REASONS] = {sp->oncpu_ns, sp->runq_ns};
    const char *labels[2 + OFF_REASONS] = {"on-CPU", "run queue"};
    char off_labels[OFF_REASONS][40];
    for (int r = 0; r < OFF_REASONS; r++) {
        parts[2 + r] = sp->offcpu_ns[r];
        snprintf(off_labels[r], sizeof(off_labels[r]), "off-CPU: %s",
                 off_reason_name((enum off_reason)r));
        labels[2 + r] = off_labels[r];
    }
    uint64_t total = 0;
    for (int i = 0; i < 2 + OFF_REASONS; i++)
        total += parts[i];
    uint64_t span = respond > sp->first_read_ns ? respond - sp->first_read_ns : 0;
    double scale = total > span && total ? (double)span / (double)total : 1.0;
    uint64_t at = sp->first_read_ns;
    for (int i = 0; i < 2 + OFF_REASONS; i++) {
        uint64_t len = (uint64_t)((double)parts[i] * scale);
        slice(p, labels[i], "cpu", pid, tid, at, at + len);
        at += len;
    }
}

static int matched(void *ctx, const struct client_record *c, const struct server_span *sp,
                   enum match_method method)
{
    (void)method;
    struct writer *p = ctx;
    if (!keep(p, c->request_id))
        return 0;
    span_slices(p, sp);
    flow(p, "s", c->request_id, CLIENT_PID, c->local_port, c->start_ns);
    flow(p, "f", c->request_id, sp->tgid, sp->tid, sp->first_read_ns);
    return 0;
}

static int unmatched_span(void *ctx, const struct server_span *sp)
{
    struct writer *p = ctx;
    if (keep(p, sp->span_id))
        span_slices(p, sp);
    return 0;
}

/* ---- counters -------------------------------------------------------------------------------- */

static void client_counters(struct writer *p, struct store *s)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(store_db(s),
                           "SELECT (end_ns - ?1) / 1000000000 AS sec, count(*), sum(failure != 0),"
                           " max(users) FROM client_requests WHERE end_ns >= ?1"
                           " GROUP BY sec ORDER BY sec",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)p->start_ns);
    while (sqlite3_step(st) == SQLITE_ROW) {
        double ts = (double)sqlite3_column_int64(st, 0) * 1e6;
        counter(p, CLIENT_PID, "RPS", ts, "requests/s", sqlite3_column_double(st, 1));
        counter(p, CLIENT_PID, "Failures/s", ts, "failures/s", sqlite3_column_double(st, 2));
        counter(p, CLIENT_PID, "Users", ts, "users", sqlite3_column_double(st, 3));
    }
    sqlite3_finalize(st);
}

static void replica_counters(struct writer *p)
{
    const struct timeline *tl = &p->a->timeline;
    for (unsigned r = 0; r < tl->replica_count; r++) {
        int64_t pid = COUNTER_PID_BASE + r;
        char name[96];
        snprintf(name, sizeof(name), "%s (replica counters)", tl->replicas[r].name);
        announce_thread(p, pid, 0, name, NULL);
        for (size_t t = 0; t < tl->seconds; t++) {
            const struct replica_second *row = timeline_row(tl, t, r);
            if (!row->traced)
                continue;
            double ts = (double)t * 1e6, len = timeline_second_s(tl, t);
            counter(p, pid, "CPU cores", ts, "cores", row->cpu_cores / len);
            counter(p, pid, "Busy workers", ts, "workers", row->busy_workers / len);
            counter(p, pid, "Accept queue (max)", ts, "connections",
                    (double)row->accept_queue_max);
            counter(p, pid, "Run queue", ts, "ms/s", row->runq_ms / len);
            counter(p, pid, "Queue wait", ts, "ms", row->accept_wait_ms + row->recv_wait_ms);
        }
    }
}

/* ---- the file -------------------------------------------------------------------------------- */

static int64_t count_of(struct store *s, const char *sql)
{
    sqlite3_stmt *st;
    int64_t n = 0;
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static int load_endpoints(struct store *s, struct writer *p)
{
    p->endpoint_count = (size_t)count_of(s, "SELECT count(*) FROM endpoints");
    p->endpoint_names = calloc(p->endpoint_count + 1, sizeof(char *));
    if (!p->endpoint_names)
        return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(store_db(s),
                           "SELECT endpoint, method || ' ' || name FROM endpoints", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int e = sqlite3_column_int(st, 0);
        if (e >= 0 && (size_t)e < p->endpoint_count && !p->endpoint_names[e])
            p->endpoint_names[e] = strdup((const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    return 0;
}

int perfetto_write(FILE *out, struct store *s, const struct analysis *a, struct error *err)
{
    struct writer p;
    memset(&p, 0, sizeof(p));
    p.a = a;
    struct analysis_params params;
    if (analysis_read_params(s, &params, err) != 0)
        return -1;
    p.start_ns = params.start_ns;
    int64_t requests = count_of(s, "SELECT count(*) FROM client_requests");
    p.keep_every = (uint64_t)(requests + PERFETTO_MAX_REQUESTS - 1) / PERFETTO_MAX_REQUESTS;
    if (p.keep_every < 1)
        p.keep_every = 1;
    if (load_endpoints(s, &p) != 0) {
        error_set(err, "perfetto: cannot read the endpoints: %s", sqlite3_errmsg(store_db(s)));
        goto fail;
    }
    json_init(&p.w, out, false);
    json_object_begin(&p.w);
    json_kv_string(&p.w, "displayTimeUnit", "ms");
    json_key(&p.w, "metadata");
    json_object_begin(&p.w);
    json_kv_string(&p.w, "tool", "loadscope");
    json_kv_uint(&p.w, "requests", (uint64_t)requests);
    json_kv_uint(&p.w, "keep_one_request_in", p.keep_every);
    json_kv_string(&p.w, "time_origin", "the run's start (ts 0)");
    json_object_end(&p.w);
    json_key(&p.w, "traceEvents");
    json_array_begin(&p.w);
    announce_thread(&p, CLIENT_PID, 0, "loadscope client", NULL);
    if (client_table_each(s, client_request, &p, err) != 0)
        goto fail;
    client_counters(&p, s);
    if (a && a->params.traced) {
        if (matches_each(s, matched, &p, err) != 0 ||
            server_tables_each_span_where(
                s, "span_id NOT IN (SELECT span_id FROM request_matches)", unmatched_span, &p,
                err) != 0)
            goto fail;
        replica_counters(&p);
    }
    json_array_end(&p.w);
    json_object_end(&p.w);
    for (size_t i = 0; i < p.endpoint_count; i++)
        free((char *)p.endpoint_names[i]);
    free(p.endpoint_names);
    free(p.seen.keys);
    if (ferror(out))
        return error_set(err, "cannot write the trace: %s", strerror(errno));
    return 0;
fail:
    for (size_t i = 0; i < p.endpoint_count && p.endpoint_names; i++)
        free((char *)p.endpoint_names[i]);
    free(p.endpoint_names);
    free(p.seen.keys);
    return -1;
}

int perfetto_write_file(const char *path, struct store *s, const struct analysis *a,
                        struct error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return error_set(err, "cannot write '%s': %s", path, strerror(errno));
    int rc = perfetto_write(f, s, a, err);
    if (fclose(f) != 0 && rc == 0)
        rc = error_set(err, "cannot write '%s': %s", path, strerror(errno));
    return rc;
}
