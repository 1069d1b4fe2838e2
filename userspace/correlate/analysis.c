#include "correlate/analysis.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

/* ---- parameters in run_info ----------------------------------------------------------------- */

int analysis_write_params(struct store *s, const struct analysis_params *p, struct error *err)
{
    char buf[256];
    char ports[ANALYSIS_MAX_PORTS * 7 + 1] = "";
    for (unsigned i = 0; i < p->target_port_count; i++) {
        size_t len = strlen(ports);
        snprintf(ports + len, sizeof(ports) - len, "%s%u", i ? "," : "", p->target_ports[i]);
    }
#define PUT(key, fmt, value)                                                                  \
    do {                                                                                      \
        snprintf(buf, sizeof(buf), fmt, value);                                              \
        if (store_set_info(s, key, buf, err) != 0)                                           \
            return -1;                                                                        \
    } while (0)
    PUT("start_ns", "%" PRIu64, p->start_ns);
    PUT("duration_ns", "%" PRIu64, p->duration_ns);
    PUT("open_loop", "%d", p->open_loop);
    PUT("traced", "%d", p->traced);
    PUT("generator_threads", "%u", p->generator_threads);
    PUT("host_cores", "%g", p->host_cores);
    PUT("target_ports", "%s", ports);
#undef PUT
    return 0;
}

int analysis_read_params(struct store *s, struct analysis_params *p, struct error *err)
{
    memset(p, 0, sizeof(*p));
    char buf[256];
    if (store_get_info(s, "start_ns", buf, sizeof(buf)) != 0)
        return error_set(err, "the run store has no start time (run_info start_ns): its run "
                              "ended before it began, or died before it could finish (its "
                              "rows can still be queried in run.db)");
    p->start_ns = strtoull(buf, NULL, 10);
    if (store_get_info(s, "duration_ns", buf, sizeof(buf)) == 0)
        p->duration_ns = strtoull(buf, NULL, 10);
    if (store_get_info(s, "open_loop", buf, sizeof(buf)) == 0)
        p->open_loop = atoi(buf) != 0;
    if (store_get_info(s, "traced", buf, sizeof(buf)) == 0)
        p->traced = atoi(buf) != 0;
    if (store_get_info(s, "generator_threads", buf, sizeof(buf)) == 0)
        p->generator_threads = (unsigned)atoi(buf);
    if (store_get_info(s, "host_cores", buf, sizeof(buf)) == 0)
        p->host_cores = strtod(buf, NULL);
    if (store_get_info(s, "target_ports", buf, sizeof(buf)) == 0) {
        for (char *tok = strtok(buf, ","); tok && p->target_port_count < ANALYSIS_MAX_PORTS;
             tok = strtok(NULL, ","))
            p->target_ports[p->target_port_count++] = (uint16_t)atoi(tok);
    }
    if (p->host_cores <= 0)
        p->host_cores = 1;
    return 0;
}

/* ---- client seconds ------------------------------------------------------------------------- */

static int load_client_seconds(struct store *s, struct analysis *a, struct error *err)
{
    size_t n = a->timeline.seconds;
    a->client = calloc(n, sizeof(*a->client));
    if (!a->client)
        return error_set(err, "out of memory");
    sqlite3 *db = store_db(s);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT (end_ns - ?1) / 1000000000, count(*), sum(failure != 0),"
                           " max(users) FROM client_requests WHERE end_ns >= ?1 GROUP BY 1",
                           -1, &st, NULL) != SQLITE_OK)
        return error_set(err, "sqlite: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, (sqlite3_int64)a->params.start_ns);
    while (sqlite3_step(st) == SQLITE_ROW) {
        sqlite3_int64 sec = sqlite3_column_int64(st, 0);
        if (sec < 0 || (size_t)sec >= n)
            continue;
        a->client[sec].requests = (uint64_t)sqlite3_column_int64(st, 1);
        a->client[sec].failures = (uint64_t)sqlite3_column_int64(st, 2);
        a->client[sec].users = (uint32_t)sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    return 0;
}

/* The part of the run the verdict describes: at full load. Closed loop: the seconds with at
 * least 90% of the most users; open loop (or too short a plateau): the loaded seconds after
 * the first tenth. */
static void pick_steady(struct analysis *a)
{
    size_t n = a->timeline.seconds, first = n, last = 0;
    uint32_t max_users = 0;
    for (size_t t = 0; t < n; t++)
        if (a->client[t].users > max_users)
            max_users = a->client[t].users;
    if (!a->params.open_loop && max_users > 0) {
        for (size_t t = 0; t < n; t++) {
            if (a->client[t].requests && a->client[t].users * 10 >= max_users * 9) {
                if (first == n)
                    first = t;
                last = t;
            }
        }
        if (first < n && last - first + 1 >= 3) {
            a->steady_from = first;
            a->steady_to = last + 1;
            return;
        }
    }
    first = n;
    for (size_t t = 0; t < n; t++)
        if (a->client[t].requests) {
            if (first == n)
                first = t;
            last = t;
        }
    if (first == n) {
        a->steady_from = 0;
        a->steady_to = n;
        return;
    }
    a->steady_from = first + (last - first + 1) / 10;
    a->steady_to = last + 1;
}

/* ---- verdict inputs ------------------------------------------------------------------------- */

static int client_failures(struct store *s, struct verdict_input *in, struct error *err)
{
    sqlite3 *db = store_db(s);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT failure, count(*), sum(status >= 500), sum(status >= 400 AND"
                           " status < 500) FROM client_requests GROUP BY failure",
                           -1, &st, NULL) != SQLITE_OK)
        return error_set(err, "sqlite: %s", sqlite3_errmsg(db));
    while (sqlite3_step(st) == SQLITE_ROW) {
        int kind = sqlite3_column_int(st, 0);
        uint64_t count = (uint64_t)sqlite3_column_int64(st, 1);
        in->requests += count;
        if (kind <= FAILURE_NONE || kind >= FAILURE_KIND_COUNT)
            continue;
        in->failures += count;
        in->failures_by_kind[kind] += count;
        if (kind == FAILURE_HTTP_STATUS) {
            in->http_5xx += (uint64_t)sqlite3_column_int64(st, 2);
            in->http_4xx += (uint64_t)sqlite3_column_int64(st, 3);
        }
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db,
                           "SELECT status, count(*) AS n FROM client_requests WHERE failure = ?"
                           " GROUP BY status ORDER BY n DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return error_set(err, "sqlite: %s", sqlite3_errmsg(db));
    sqlite3_bind_int(st, 1, FAILURE_HTTP_STATUS);
    if (sqlite3_step(st) == SQLITE_ROW) {
        in->top_status = (uint16_t)sqlite3_column_int(st, 0);
        in->top_status_count = (uint64_t)sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return 0;
}

/* Per-second series of one scope (a replica, or every replica when replica < 0). */
struct series_arrays {
    uint32_t *users;
    double *requests, *failures, *generator_busy, *late_fraction;
    double *cpu_util, *worker_util, *runq_share, *wait_ms, *blocked_share;
};

static void series_free(struct series_arrays *s)
{
    free(s->users);
    free(s->requests);
    free(s->failures);
    free(s->generator_busy);
    free(s->late_fraction);
    free(s->cpu_util);
    free(s->worker_util);
    free(s->runq_share);
    free(s->wait_ms);
    free(s->blocked_share);
}

static int series_alloc(struct series_arrays *s, size_t n)
{
    memset(s, 0, sizeof(*s));
    s->users = calloc(n, sizeof(uint32_t));
    double **d[] = {&s->requests,    &s->failures,   &s->generator_busy, &s->late_fraction,
                    &s->cpu_util,    &s->worker_util, &s->runq_share,    &s->wait_ms,
                    &s->blocked_share};
    bool ok = s->users != NULL;
    for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
        ok &= (*d[i] = calloc(n, sizeof(double))) != NULL;
    return ok ? 0 : -1;
}

struct scope_sums {
    double cpu, span_cpu, busy, runq_ms, workers, cores;
    uint64_t overflows, resets, retransmits;
};

/* Sums one second's replica rows of a scope. */
static void sum_second(const struct analysis *a, size_t t, int replica, struct scope_sums *out,
                       double *wait_ms, double *downstream_ms)
{
    const struct timeline *tl = &a->timeline;
    double wait_sum = 0, wait_weight = 0;
    for (unsigned r = 0; r < tl->replica_count; r++) {
        if (replica >= 0 && (unsigned)replica != r)
            continue;
        const struct replica_second *row = timeline_row(tl, t, r);
        out->cpu += row->cpu_cores;
        out->span_cpu += row->span_cpu_cores;
        out->busy += row->busy_workers;
        out->runq_ms += row->runq_ms;
        out->overflows += row->listen_overflows;
        out->resets += row->resets;
        out->retransmits += row->retransmits;
        *downstream_ms += row->offcpu_ms[OFF_DOWNSTREAM];
        double req = (double)(row->requests ? row->requests : row->accepts);
        wait_sum += (row->accept_wait_ms + row->recv_wait_ms) * req;
        wait_weight += req;
    }
    *wait_ms = wait_weight > 0 ? wait_sum / wait_weight : 0;
}

/* Turns a second's amounts (CPU-seconds, worker-seconds, run-queue ms) into per-second rates. */
static void scope_sums_per_second(struct scope_sums *s, double len)
{
    s->cpu /= len;
    s->span_cpu /= len;
    s->busy /= len;
    s->runq_ms /= len;
}

static void scope_capacity(const struct analysis *a, int replica, double *workers, double *cores)
{
    const struct timeline *tl = &a->timeline;
    *workers = 0;
    *cores = 0;
    for (unsigned r = 0; r < tl->replica_count; r++) {
        if (replica >= 0 && (unsigned)replica != r)
            continue;
        *workers += tl->replicas[r].workers;
        *cores += tl->replicas[r].cores > 0 ? tl->replicas[r].cores : a->params.host_cores;
    }
    /* replicas share the host: together they cannot use more than its cores */
    if (*cores > a->params.host_cores || *cores <= 0)
        *cores = a->params.host_cores;
}

static void fill_input(const struct analysis *a, int replica, const struct breakdown_band *all,
                       const struct breakdown_band *slow, const struct verdict_input *client,
                       struct series_arrays *se, struct verdict_input *in)
{
    *in = *client;
    in->all = *all;
    in->slow = *slow;
    in->traced = a->params.traced && a->timeline.replica_count > 0;
    in->matched_fraction = join_matched_fraction(&a->join);
    in->host_cores = a->params.host_cores;
    scope_capacity(a, replica, &in->workers, &in->cores_available);

    size_t n = a->timeline.seconds;
    double steady = 0; /* seconds of the steady window (its last one may be partial) */
    struct scope_sums total = {0};
    double host_cpu = 0, traced_cpu = 0, self_cpu = 0, outside_cpu = 0;
    for (size_t t = 0; t < n; t++) {
        struct scope_sums sec = {0}, host = {0};
        double wait = 0, down = 0, ignore_wait, ignore_down;
        sum_second(a, t, replica, &sec, &wait, &down);
        sum_second(a, t, -1, &host, &ignore_wait, &ignore_down);
        /* from amounts in the second to rates: the last second is usually partial, and read
         * as a full one a fully busy core there would look idle */
        double len = timeline_second_s(&a->timeline, t);
        scope_sums_per_second(&sec, len);
        scope_sums_per_second(&host, len);
        down /= len;
        se->users[t] = a->client[t].users;
        se->requests[t] = (double)a->client[t].requests / len;
        se->failures[t] = (double)a->client[t].failures / len;
        const struct generator_second *g = &a->timeline.generator[t];
        se->generator_busy[t] = g->busy;
        se->late_fraction[t] = g->sends ? (double)g->late_sends / (double)g->sends : 0;
        se->cpu_util[t] = in->cores_available > 0 ? sec.cpu / in->cores_available : 0;
        se->worker_util[t] = in->workers > 0 ? sec.busy / in->workers : 0;
        double cpu_ms = sec.cpu * 1000;
        se->runq_share[t] = sec.runq_ms + cpu_ms > 0 ? sec.runq_ms / (sec.runq_ms + cpu_ms) : 0;
        se->wait_ms[t] = wait;
        se->blocked_share[t] = sec.busy > 0 ? down / (sec.busy * 1000) : 0;
        total.overflows += sec.overflows;
        total.resets += sec.resets;
        total.retransmits += sec.retransmits;
        if (t >= a->steady_from && t < a->steady_to) {
            /* means over time: each second weighs its length */
            steady += len;
            total.cpu += sec.cpu * len;
            total.span_cpu += sec.span_cpu * len;
            total.busy += sec.busy * len;
            /* the host's own count includes processes nobody traced (and the generator) */
            host_cpu += (g->present && g->host_cpu_cores > host.cpu ? g->host_cpu_cores : host.cpu) * len;
            traced_cpu += host.cpu * len;
            self_cpu += (g->present ? g->self_cpu_cores : 0) * len;
            outside_cpu += (host.cpu > host.span_cpu ? host.cpu - host.span_cpu : 0) * len;
            if (g->busy > in->generator_busy_max)
                in->generator_busy_max = g->busy;
        }
    }
    if (steady > 0) {
        in->cpu_cores = total.cpu / steady;
        in->span_cpu_cores = total.span_cpu / steady;
        in->busy_workers = total.busy / steady;
        in->host_cpu_cores = host_cpu / steady;
        in->traced_cpu_cores = traced_cpu / steady;
        in->self_cpu_cores = self_cpu / steady;
        in->outside_cpu_cores = outside_cpu / steady;
    }
    in->listen_overflows = total.overflows;
    in->resets = total.resets;
    in->retransmits = total.retransmits;
    in->series = (struct verdict_series){
        .seconds = n,
        .users = se->users,
        .requests = se->requests,
        .failures = se->failures,
        .generator_busy = se->generator_busy,
        .late_fraction = se->late_fraction,
        .cpu_util = in->traced ? se->cpu_util : NULL,
        .worker_util = in->traced ? se->worker_util : NULL,
        .runq_share = in->traced ? se->runq_share : NULL,
        .wait_ms = in->traced ? se->wait_ms : NULL,
        .blocked_share = in->traced ? se->blocked_share : NULL,
    };
}

static const struct breakdown_band *slowest_band(const struct breakdown *b)
{
    for (int i = BAND_P99_100; i > BAND_ALL; i--)
        if (b->bands[i].requests)
            return &b->bands[i];
    return &b->bands[BAND_ALL];
}

static int decide_all(struct store *s, struct analysis *a, struct error *err)
{
    struct verdict_input client;
    memset(&client, 0, sizeof(client));
    if (client_failures(s, &client, err) != 0)
        return -1;
    client.duration_s = (double)a->params.duration_ns / 1e9;
    client.open_loop = a->params.open_loop;
    client.generator_threads = a->params.generator_threads;
    for (size_t t = 0; t < a->timeline.seconds; t++) {
        client.sends += a->timeline.generator[t].sends;
        client.late_sends += a->timeline.generator[t].late_sends;
    }

    struct series_arrays se;
    if (series_alloc(&se, a->timeline.seconds) != 0) {
        series_free(&se);
        return error_set(err, "out of memory");
    }
    client.scope = "the run";
    fill_input(a, -1, &a->steady.bands[BAND_ALL], slowest_band(&a->steady), &client, &se,
               &a->run_input);
    verdict_decide(&a->run_input, &a->run);
    /* the run's input keeps pointing at arrays freed below: forget them */
    memset(&a->run_input.series, 0, sizeof(a->run_input.series));

    for (unsigned r = 0; r < a->timeline.replica_count; r++) {
        struct verdict_input in;
        client.scope = a->timeline.replicas[r].name;
        const struct breakdown_band *band = r < a->steady.replica_count
                                                ? &a->steady.replicas[r]
                                                : &a->steady.bands[BAND_ALL];
        fill_input(a, (int)r, band, band, &client, &se, &in);
        verdict_decide(&in, &a->replicas[r]);
    }
    series_free(&se);
    return 0;
}

int analysis_run(struct store *s, struct analysis *out, struct error *err)
{
    memset(out, 0, sizeof(*out));
    if (analysis_read_params(s, &out->params, err) != 0)
        return -1;
    if (join_requests(s, out->params.target_ports, out->params.target_port_count, &out->join,
                      err) != 0 ||
        timeline_build(s, out->params.start_ns, out->params.duration_ns, &out->timeline, err) !=
            0 ||
        load_client_seconds(s, out, err) != 0)
        goto fail;
    pick_steady(out);
    uint64_t from = out->params.start_ns + out->steady_from * NS_PER_SEC;
    uint64_t to = out->params.start_ns + out->steady_to * NS_PER_SEC;
    if (breakdown_compute(s, 0, UINT64_MAX, &out->breakdown, err) != 0 ||
        breakdown_compute(s, from, to, &out->steady, err) != 0 || decide_all(s, out, err) != 0)
        goto fail;
    return 0;
fail:
    analysis_free(out);
    return -1;
}

void analysis_free(struct analysis *a)
{
    timeline_free(&a->timeline);
    free(a->client);
    a->client = NULL;
}
