/* The Perfetto / Chrome trace export: a small deterministic run (built in a run store)
 * against a golden file, and the structure every trace must have (parsed with cJSON): metadata
 * names every track, slices have non-negative durations, each flow start has its end, counters
 * carry numbers. Regenerate the golden file with LOADSCOPE_UPDATE_GOLDEN=1. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlate/analysis.h"
#include "report/perfetto.h"
#include "store/client_table.h"
#include "store/server_tables.h"
#include "support/run_cmd.h"
#include "support/tmpdir.h"

#define MS 1000000ULL
#define T0 (1000 * MS) /* the run's start on the monotonic clock */
#define GOLDEN "tests/fixtures/perfetto-golden.json"

static struct client_record request(uint64_t id, uint16_t port, uint64_t start, uint64_t end)
{
    struct client_record c = {0};
    c.request_id = id;
    c.intended_ns = start;
    c.start_ns = start;
    c.end_ns = end;
    c.local_port = port;
    c.status = 200;
    c.reused = 1;
    c.endpoint = (uint16_t)(id % 2);
    c.bytes_in = 61;
    c.total_us = (uint32_t)((end - start) / 1000);
    c.users = 2;
    return c;
}

static struct server_span served(uint64_t span_id, const struct client_record *c, uint32_t tid)
{
    struct server_span sp;
    memset(&sp, 0, sizeof(sp));
    sp.span_id = span_id;
    sp.conn_id = c->local_port;
    sp.seq = 1;
    sp.tgid = 500;
    sp.tid = tid;
    sp.family = 4;
    sp.server_port = 8000;
    sp.client_port = c->local_port;
    sp.arrival_ns = c->start_ns + 1 * MS;
    sp.first_read_ns = c->start_ns + 3 * MS; /* 2 ms in the receive queue */
    sp.response_start_ns = c->end_ns - 2 * MS;
    sp.response_end_ns = c->end_ns - 1 * MS;
    sp.oncpu_ns = 10 * MS;
    sp.runq_ns = 2 * MS;
    sp.offcpu_ns[OFF_DOWNSTREAM] = 3 * MS;
    sp.has_request_id = 1;
    sp.request_id = c->request_id;
    snprintf(sp.request_id_text, sizeof(sp.request_id_text), "%016llx",
             (unsigned long long)c->request_id);
    snprintf(sp.method, sizeof(sp.method), "POST");
    snprintf(sp.path, sizeof(sp.path), "/predict");
    return sp;
}

/* Four requests on two connections, served by two threads, plus one span nobody asked for. */
static void build_run(const char *dir, struct store **out)
{
    struct error err;
    struct store *s;
    cr_assert_eq(store_create(dir, &s, &err), 0, "%s", err.msg);
    int cs = client_table_add_stream(s, 1, &err);
    struct server_streams ss;
    cr_assert_eq(server_tables_add_streams(s, &ss, &err), 0, "%s", err.msg);
    cr_assert_eq(client_table_add_host(s, 0, "http://127.0.0.1:8000", 1, &err), 0);
    cr_assert_eq(client_table_add_endpoint(s, 0, "POST", "/predict", "/predict", 1, &err), 0);
    cr_assert_eq(client_table_add_endpoint(s, 1, "GET", "<health>", "/health", 1, &err), 0);
    cr_assert_eq(server_tables_add_replica(s, 0, "api", "port:8000", "500", 2, &err), 0);
    struct analysis_params p = {.start_ns = T0, .duration_ns = 2000 * MS, .traced = true,
                                .generator_threads = 1, .host_cores = 2,
                                .target_ports = {8000}, .target_port_count = 1};
    cr_assert_eq(analysis_write_params(s, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(store_writer_start(s, &err), 0);
    struct client_record c[4] = {
        request(1, 40001, T0 + 10 * MS, T0 + 40 * MS),
        request(2, 40002, T0 + 12 * MS, T0 + 50 * MS),
        request(3, 40001, T0 + 1100 * MS, T0 + 1130 * MS),
        request(4, 40002, T0 + 1105 * MS, T0 + 1150 * MS),
    };
    for (int i = 0; i < 4; i++) {
        cr_assert(store_push(s, cs, 0, &c[i]));
        struct server_span sp = served((uint64_t)i + 1, &c[i], 501 + (uint32_t)(i % 2));
        cr_assert(store_push(s, ss.spans, 0, &sp));
    }
    struct client_record other = request(99, 45000, T0 + 500 * MS, T0 + 520 * MS);
    struct server_span stray = served(5, &other, 501);
    stray.has_request_id = 0;
    stray.request_id_text[0] = 0;
    cr_assert(store_push(s, ss.spans, 0, &stray));
    for (uint64_t t = 0; t < 2; t++) {
        struct replica_window w;
        memset(&w, 0, sizeof(w));
        w.replica = 0;
        w.start_ns = T0 + t * 1000 * MS;
        w.end_ns = w.start_ns + 1000 * MS;
        w.oncpu_ns = 400 * MS;
        w.runq_ns = 20 * MS;
        w.requests = 2;
        w.recvq_wait_ns = 4 * MS;
        w.accept_queue_max = 3;
        w.threads = 3;
        cr_assert(store_push(s, ss.windows, 0, &w));
    }
    cr_assert_eq(store_writer_stop(s, &err), 0, "%s", err.msg);
    *out = s;
}

static char *trace_text(struct store *s, const struct analysis *a)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct error err;
    cr_assert_eq(perfetto_write(f, s, a, &err), 0, "%s", err.msg);
    fclose(f);
    return buf;
}

/* Checks what every trace must satisfy; returns the parsed document. */
static cJSON *check_structure(const char *text, int *slices, int *flows, int *counters)
{
    cJSON *doc = cJSON_Parse(text);
    cr_assert_not_null(doc, "the trace is not valid JSON");
    const cJSON *events = cJSON_GetObjectItem(doc, "traceEvents");
    cr_assert(cJSON_IsArray(events));
    int starts = 0, ends = 0;
    *slices = *flows = *counters = 0;
    cJSON *named = cJSON_CreateObject(); /* "pid" or "pid:tid" -> seen in metadata */
    const cJSON *e;
    cJSON_ArrayForEach(e, events)
    {
        const char *ph = cJSON_GetObjectItem(e, "ph")->valuestring;
        const cJSON *pid = cJSON_GetObjectItem(e, "pid");
        cr_assert(cJSON_IsNumber(pid), "an event without pid");
        char key[64];
        if (!strcmp(ph, "M")) {
            const cJSON *tid = cJSON_GetObjectItem(e, "tid");
            if (tid)
                snprintf(key, sizeof(key), "%.0f:%.0f", pid->valuedouble, tid->valuedouble);
            else
                snprintf(key, sizeof(key), "%.0f", pid->valuedouble);
            cJSON_AddTrueToObject(named, key);
            continue;
        }
        const cJSON *ts = cJSON_GetObjectItem(e, "ts");
        cr_assert(cJSON_IsNumber(ts) && ts->valuedouble >= 0, "event with a bad ts");
        snprintf(key, sizeof(key), "%.0f", pid->valuedouble);
        cr_assert(cJSON_GetObjectItem(named, key), "process %s has no name", key);
        if (!strcmp(ph, "X")) {
            const cJSON *dur = cJSON_GetObjectItem(e, "dur");
            cr_assert(cJSON_IsNumber(dur) && dur->valuedouble >= 0, "slice with a bad dur");
            (*slices)++;
        } else if (!strcmp(ph, "s")) {
            starts++;
        } else if (!strcmp(ph, "f")) {
            ends++;
        } else if (!strcmp(ph, "C")) {
            const cJSON *args = cJSON_GetObjectItem(e, "args");
            cr_assert(cJSON_IsNumber(args->child), "counter without a number");
            (*counters)++;
        }
    }
    cr_expect_eq(starts, ends, "%d flow starts but %d ends", starts, ends);
    *flows = starts;
    cJSON_Delete(named);
    return doc;
}

Test(perfetto, small_run_matches_the_golden_file)
{
    char dir[256];
    tmpdir_make("perfetto", dir, sizeof(dir));
    struct store *s;
    build_run(dir, &s);
    struct analysis a;
    struct error err;
    cr_assert_eq(analysis_run(s, &a, &err), 0, "%s", err.msg);
    char *text = trace_text(s, &a);
    int slices, flows, counters;
    cJSON *doc = check_structure(text, &slices, &flows, &counters);
    /* 4 client slices; 5 server spans with their phases and CPU split */
    cr_expect_eq(flows, 4);
    cr_expect_gt(slices, 4 + 5);
    cr_expect_gt(counters, 0);
    cJSON_Delete(doc);
    if (getenv("LOADSCOPE_UPDATE_GOLDEN")) {
        FILE *f = fopen(GOLDEN, "w");
        fputs(text, f);
        fclose(f);
    }
    char *golden = file_read_all(GOLDEN, NULL);
    cr_assert_not_null(golden, "missing %s (run from the project root)", GOLDEN);
    cr_expect_str_eq(text, golden, "the trace differs from %s", GOLDEN);
    free(golden);
    free(text);
    analysis_free(&a);
    store_close(s);
    tmpdir_remove(dir);
}

Test(perfetto, client_only_trace_has_client_tracks_and_counters)
{
    char dir[256];
    tmpdir_make("perfetto-client", dir, sizeof(dir));
    struct store *s;
    build_run(dir, &s);
    char *text = trace_text(s, NULL);
    int slices, flows, counters;
    cJSON *doc = check_structure(text, &slices, &flows, &counters);
    cr_expect_eq(flows, 0);
    cr_expect_eq(slices, 4, "one slice per client request");
    cr_expect_gt(counters, 0);
    cJSON_Delete(doc);
    free(text);
    store_close(s);
    tmpdir_remove(dir);
}
