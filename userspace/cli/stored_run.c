#include "cli/stored_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/client_table.h"

struct labels {
    size_t endpoints, hosts;
    char **methods, **names, **urls;
};

static void labels_free(struct labels *l)
{
    for (size_t i = 0; i < l->endpoints; i++) {
        free(l->methods[i]);
        free(l->names[i]);
    }
    for (size_t i = 0; i < l->hosts; i++)
        free(l->urls[i]);
    free(l->methods);
    free(l->names);
    free(l->urls);
}

static char *column_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return strdup(t ? (const char *)t : "");
}

/* Endpoint and host names by index, as the records refer to them. */
static int read_labels(struct store *s, struct labels *l, struct error *err)
{
    memset(l, 0, sizeof(*l));
    sqlite3 *db = store_db(s);
    sqlite3_stmt *st;
    l->methods = calloc(SCENARIO_MAX_ENDPOINTS, sizeof(char *));
    l->names = calloc(SCENARIO_MAX_ENDPOINTS, sizeof(char *));
    l->urls = calloc(SCENARIO_MAX_HOSTS, sizeof(char *));
    if (!l->methods || !l->names || !l->urls)
        return error_set(err, "out of memory");
    if (sqlite3_prepare_v2(db, "SELECT method, name FROM endpoints ORDER BY endpoint", -1, &st,
                           NULL) != SQLITE_OK)
        return error_set(err, "sqlite: %s", sqlite3_errmsg(db));
    while (sqlite3_step(st) == SQLITE_ROW && l->endpoints < SCENARIO_MAX_ENDPOINTS) {
        l->methods[l->endpoints] = column_dup(st, 0);
        l->names[l->endpoints++] = column_dup(st, 1);
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "SELECT url FROM hosts ORDER BY host", -1, &st, NULL) != SQLITE_OK)
        return error_set(err, "sqlite: %s", sqlite3_errmsg(db));
    while (sqlite3_step(st) == SQLITE_ROW && l->hosts < SCENARIO_MAX_HOSTS)
        l->urls[l->hosts++] = column_dup(st, 0);
    sqlite3_finalize(st);
    return 0; /* no endpoints: the server side alone was traced (loadscope trace) */
}

static int add_record(void *ctx, const struct client_record *r)
{
    stats_add(ctx, r);
    return 0;
}

static int load_thresholds(struct store *s, struct stored_run *r, struct error *err)
{
    char text[8192];
    r->thresholds_passed = true;
    if (store_get_info(s, RUN_INFO_THRESHOLDS, text, sizeof(text)) != 0)
        return 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save);
         line && r->threshold_count < SCENARIO_MAX_THRESHOLDS; line = strtok_r(NULL, "\n", &save)) {
        struct threshold *t = &r->thresholds[r->threshold_count];
        if (threshold_parse(line, t, err) < 0 || threshold_bind(t, r->stats, err) < 0)
            return -1;
        threshold_eval(t, r->stats, r->duration_ns, &r->threshold_results[r->threshold_count]);
        r->thresholds_passed &= r->threshold_results[r->threshold_count].passed;
        r->threshold_count++;
    }
    return 0;
}

int stored_run_load(struct store *s, struct stored_run *out, struct error *err)
{
    memset(out, 0, sizeof(*out));
    out->store = s;
    struct analysis_params params;
    if (analysis_read_params(s, &params, err) != 0)
        return -1;
    out->duration_ns = params.duration_ns;
    char buf[64];
    double start_wall = store_get_info(s, RUN_INFO_START_WALL, buf, sizeof(buf)) == 0
                            ? strtod(buf, NULL)
                            : 0;
    struct labels l;
    if (read_labels(s, &l, err) != 0) {
        labels_free(&l);
        return -1;
    }
    struct stats_labels labels = {l.endpoints, (const char *const *)l.methods,
                                  (const char *const *)l.names, l.hosts,
                                  (const char *const *)l.urls, params.open_loop};
    out->stats = stats_create(&labels, params.start_ns, start_wall);
    labels_free(&l);
    if (!out->stats)
        return error_set(err, "out of memory");
    if (client_table_each(s, add_record, out->stats, err) != 0 ||
        (stats_close_seconds(out->stats, UINT64_MAX), load_thresholds(s, out, err)) != 0) {
        stored_run_free(out);
        return -1;
    }
    struct error aerr = {{0}};
    if (analysis_run(s, &out->analysis, &aerr) == 0)
        out->analysed = true;
    else
        snprintf(out->analysis_error, sizeof(out->analysis_error), "%s", aerr.msg);
    return 0;
}

void stored_run_free(struct stored_run *r)
{
    if (r->analysed)
        analysis_free(&r->analysis);
    stats_destroy(r->stats);
    r->stats = NULL;
    r->analysed = false;
}
