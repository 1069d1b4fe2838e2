#include "report/markdown.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_writer.h"

#define REPORT_SCHEMA 1
#define ABSENT "—"

/* ---- reading the document ----------------------------------------------------------------- */

static const cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static bool num(const cJSON *o, const char *key, double *v)
{
    const cJSON *n = get(o, key);
    if (!cJSON_IsNumber(n) || !isfinite(n->valuedouble))
        return false;
    *v = n->valuedouble;
    return true;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *s = get(o, key);
    return cJSON_IsString(s) ? s->valuestring : NULL;
}

/* o when it is an array, else NULL (cJSON_ArrayForEach over NULL does nothing). */
static const cJSON *items(const cJSON *o)
{
    return cJSON_IsArray(o) ? o : NULL;
}

static int array_size(const cJSON *a)
{
    return cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
}

/* ---- escaping ----------------------------------------------------------------------------- */

/* Writes untrusted text so that Markdown renders it literally: punctuation that starts
 * emphasis, links, code or table cells is backslash-escaped, '<' '>' '&' become entities (no
 * raw HTML), control characters and newlines become spaces, invalid UTF-8 becomes U+FFFD. */
static void md_text(FILE *out, const char *str_)
{
    if (!str_) {
        fputs(ABSENT, out);
        return;
    }
    const unsigned char *s = (const unsigned char *)str_;
    size_t len = strlen(str_);
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        size_t n = json_utf8_sequence(s + i, len - i);
        if (n == 0) {
            fputs("\xEF\xBF\xBD", out);
            i++;
            continue;
        }
        if (c < 0x20 || c == 0x7F)
            fputc(' ', out);
        else if (c == '<')
            fputs("&lt;", out);
        else if (c == '>')
            fputs("&gt;", out);
        else if (c == '&')
            fputs("&amp;", out);
        else if (strchr("\\`*_[]|~#!{}", c))
            fprintf(out, "\\%c", c);
        else
            fwrite(s + i, 1, n, out);
        i += n;
    }
}

/* Writes untrusted text as an inline code span: a fence of backticks longer than any run in
 * the text (CommonMark), newlines and control characters as spaces. Not for table cells. */
static void md_code(FILE *out, const char *str_)
{
    if (!str_) {
        fputs(ABSENT, out);
        return;
    }
    const unsigned char *s = (const unsigned char *)str_;
    size_t len = strlen(str_), run = 0, longest = 0;
    for (size_t i = 0; i < len; i++) {
        run = s[i] == '`' ? run + 1 : 0;
        if (run > longest)
            longest = run;
    }
    bool pad = len == 0 || s[0] == '`' || s[len - 1] == '`' || s[0] == ' ';
    for (size_t k = 0; k <= longest; k++)
        fputc('`', out);
    if (pad)
        fputc(' ', out);
    for (size_t i = 0; i < len;) {
        size_t n = json_utf8_sequence(s + i, len - i);
        if (n == 0)
            fputs("\xEF\xBF\xBD", out);
        else if (s[i] < 0x20 || s[i] == 0x7F)
            fputc(' ', out);
        else
            fwrite(s + i, 1, n, out);
        i += n ? n : 1;
    }
    if (pad)
        fputc(' ', out);
    for (size_t k = 0; k <= longest; k++)
        fputc('`', out);
}

/* ---- numbers ------------------------------------------------------------------------------ */

/* Milliseconds with precision that suits their size: 1.32, 49.4, 3200. */
static void put_ms_value(FILE *out, double v)
{
    double a = fabs(v);
    fprintf(out, a < 10 ? "%.2f" : a < 1000 ? "%.1f" : "%.0f", v);
}

static void put_ms(FILE *out, const cJSON *o, const char *key)
{
    double v;
    if (num(o, key, &v))
        put_ms_value(out, v);
    else
        fputs(ABSENT, out);
}

static void put_rate(FILE *out, const cJSON *o, const char *key)
{
    double v;
    if (num(o, key, &v))
        fprintf(out, fabs(v) < 100 ? "%.2f" : "%.1f", v);
    else
        fputs(ABSENT, out);
}

static void put_count(FILE *out, const cJSON *o, const char *key)
{
    double v;
    if (num(o, key, &v))
        fprintf(out, "%.0f", v);
    else
        fputs(ABSENT, out);
}

/* A plain number as people read it: no trailing zeros ("2", "0.5", "1.97"). */
static void put_plain(FILE *out, double v)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%.3f", v);
    char *dot = strchr(buf, '.');
    if (dot) {
        char *end = buf + strlen(buf) - 1;
        while (end > dot && *end == '0')
            *end-- = '\0';
        if (end == dot)
            *end = '\0';
    }
    fputs(buf, out);
}

static void put_plain_at(FILE *out, const cJSON *o, const char *key)
{
    double v;
    if (num(o, key, &v))
        put_plain(out, v);
    else
        fputs(ABSENT, out);
}

static void put_endpoint(FILE *out, const cJSON *e)
{
    const char *method = str(e, "method");
    if (method && method[0]) {
        md_text(out, method);
        fputc(' ', out);
    }
    md_text(out, str(e, "name"));
}

/* ---- sections ----------------------------------------------------------------------------- */

static const char *cause_label(const char *name)
{
    static const char *names[][2] = {
        {"inference", "inference (model compute)"},
        {"queue", "queueing before the workers"},
        {"workers", "too few workers"},
        {"cpu-contention", "CPU contention"},
        {"load-generator", "the load generator itself"},
        {"network-errors", "network / errors"},
        {"none", "no bottleneck found"},
    };
    for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i][0]) == 0)
            return names[i][1];
    return NULL;
}

static void put_cause(FILE *out, const char *name)
{
    const char *label = cause_label(name);
    if (label)
        fputs(label, out);
    else
        md_text(out, name);
}

static void put_onset(FILE *out, const cJSON *cause)
{
    double t, users;
    if (!num(cause, "onset_s", &t))
        return;
    fputs(" (onset: t = ", out);
    put_plain(out, t);
    fputs(" s", out);
    if (num(cause, "onset_users", &users)) {
        fputs(" at ", out);
        put_plain(out, users);
        fputs(" users", out);
    }
    fputc(')', out);
}

static void write_title(FILE *out, const cJSON *doc)
{
    const cJSON *run = get(doc, "run");
    fputs("# Load test report\n\n", out);
    fputs("Run ", out);
    md_code(out, str(run, "id"));
    fputs(", started ", out);
    md_text(out, str(run, "started_at"));
    fputs(", generated by loadscope ", out);
    md_text(out, str(doc, "loadscope_version"));
    fputs(".\n\n", out);
    if (cJSON_IsTrue(get(run, "interrupted")))
        fputs("> **Interrupted run**: the run was stopped early (Ctrl-C, SIGTERM or the "
              "target died); the results cover the time until it stopped.\n\n", out);
}

static void write_summary(FILE *out, const cJSON *doc)
{
    const cJSON *verdict = get(get(doc, "verdict"), "run");
    const cJSON *agg = get(get(doc, "stats"), "aggregated");
    fputs("## Summary\n\n", out);
    if (verdict) {
        fputs("- **Verdict**: ", out);
        put_cause(out, str(verdict, "primary"));
        if (cJSON_IsTrue(get(verdict, "mixed")))
            fputs(" (mixed: several causes are close, see the analysis)", out);
        if (str(verdict, "summary")) {
            fputs(" — ", out);
            md_text(out, str(verdict, "summary"));
        }
        fputc('\n', out);
    } else {
        fputs("- **Verdict**: none (no verdict in this run's data)\n", out);
    }
    double requests = 0, failures = 0;
    if (agg && num(agg, "requests", &requests) && requests == 0) {
        fputs("- **Requests**: none completed\n", out);
    } else if (agg && num(agg, "requests", &requests)) {
        num(agg, "failures", &failures);
        fputs("- **Requests**: ", out);
        put_count(out, agg, "requests");
        fprintf(out, " (%.0f failed, %.2f%%) at ", failures,
                requests > 0 ? 100.0 * failures / requests : 0.0);
        put_rate(out, agg, "rps");
        fputs(" req/s; median ", out);
        put_ms(out, agg, "median_ms");
        fputs(" ms, 95th ", out);
        put_ms(out, get(agg, "percentiles_ms"), "95");
        fputs(" ms, 99th ", out);
        put_ms(out, get(agg, "percentiles_ms"), "99");
        fputs(" ms\n", out);
    }
    const cJSON *th = get(doc, "thresholds");
    int n = array_size(th), broken = 0;
    for (int i = 0; i < n; i++)
        broken += cJSON_IsFalse(get(cJSON_GetArrayItem(th, i), "ok"));
    if (n > 0 && broken == 0)
        fprintf(out, "- **Thresholds**: all %d passed\n", n);
    else if (n > 0)
        fprintf(out, "- **Thresholds**: %d of %d broken\n", broken, n);
    fputc('\n', out);
}

static void write_environment(FILE *out, const cJSON *doc)
{
    const cJSON *env = get(doc, "environment");
    double v;
    fputs("## Test environment\n\n", out);
    fputs("- **Date**: ", out);
    md_text(out, str(get(doc, "run"), "started_at"));
    fputs("\n- **Host**: ", out);
    md_text(out, str(env, "hostname"));
    fputs("\n- **OS**: ", out);
    md_text(out, str(env, "os"));
    fputs("\n- **Kernel**: ", out);
    md_text(out, str(env, "kernel"));
    fputs("\n- **CPU**: ", out);
    md_text(out, str(env, "cpu_model"));
    if (num(env, "cores", &v))
        fprintf(out, " (%.0f cores)", v);
    fputs("\n- **RAM**: ", out);
    if (num(env, "memory_bytes", &v))
        fprintf(out, "%.1f GiB", v / (1024.0 * 1024 * 1024));
    else
        fputs(ABSENT, out);
    fputc('\n', out);

    const cJSON *replicas = get(doc, "replicas"), *r;
    cJSON_ArrayForEach(r, items(replicas)) {
        fputs("- **Server replica** ", out);
        md_text(out, str(r, "name"));
        fputs(": ", out);
        md_code(out, str(r, "spec"));
        const cJSON *pids = get(r, "pids"), *p;
        if (array_size(pids) > 0) {
            fputs(", pids", out);
            bool first = true;
            cJSON_ArrayForEach(p, pids) {
                if (cJSON_IsNumber(p))
                    fprintf(out, "%s %.0f", first ? "" : ",", p->valuedouble);
                first = false;
            }
        }
        if (num(r, "workers", &v))
            fprintf(out, ", %.0f workers", v);
        if (num(r, "cores", &v))
            fprintf(out, ", %.0f cores", v);
        fputc('\n', out);
    }
    fputc('\n', out);
}

static void write_load_model(FILE *out, const cJSON *load)
{
    double v;
    const char *model = str(load, "model");
    fputs("- **Load model**: ", out);
    if (model && strcmp(model, "open") == 0) {
        fputs("open loop (arrivals on schedule, coordinated-omission corrected)", out);
        if (num(load, "rate", &v)) {
            fputs(", ", out);
            put_plain(out, v);
            fputs(" req/s", out);
        }
        if (num(load, "connections", &v))
            fprintf(out, ", %.0f connections", v);
    } else if (model && strcmp(model, "closed") == 0) {
        fputs("closed loop", out);
        if (num(load, "users", &v))
            fprintf(out, ", %.0f user%s", v, v == 1 ? "" : "s");
        if (num(load, "spawn_rate", &v)) {
            fputs(", spawn rate ", out);
            put_plain(out, v);
            fputs("/s", out);
        }
        if (str(load, "wait")) {
            fputs(", wait ", out);
            md_code(out, str(load, "wait"));
        }
    } else {
        md_text(out, model);
    }
    if (num(load, "threads", &v))
        fprintf(out, ", %.0f generator thread%s", v, v == 1 ? "" : "s");
    if (num(load, "max_requests", &v))
        fprintf(out, ", at most %.0f requests", v);
    fputc('\n', out);
    const cJSON *stages = get(load, "stages"), *s;
    if (array_size(stages) > 0) {
        fputs("- **Stages**:", out);
        bool first = true;
        cJSON_ArrayForEach(s, stages) {
            double d = 0, target = 0;
            num(s, "duration_s", &d);
            num(s, "target", &target);
            fputs(first ? " ramp to " : ", then to ", out);
            put_plain(out, target);
            fputs(" over ", out);
            put_plain(out, d);
            fputs(" s", out);
            first = false;
        }
        fputc('\n', out);
    }
}

static void write_configuration(FILE *out, const cJSON *doc)
{
    const cJSON *run = get(doc, "run"), *h, *e;
    double v;
    fputs("## Configuration\n\n", out);
    cJSON_ArrayForEach(h, items(get(run, "hosts"))) {
        fputs("- **Target**: ", out);
        md_code(out, str(h, "url"));
        if (num(h, "weight", &v) && array_size(get(run, "hosts")) > 1) {
            fputs(" (weight ", out);
            put_plain(out, v);
            fputc(')', out);
        }
        fputc('\n', out);
    }
    if (array_size(get(run, "endpoints")) > 0) {
        fputs("- **Endpoints**:", out);
        bool first = true;
        cJSON_ArrayForEach(e, get(run, "endpoints")) {
            fputs(first ? " " : ", ", out);
            put_endpoint(out, e);
            const char *path = str(e, "path"), *name = str(e, "name");
            if (path && (!name || strcmp(path, name) != 0)) {
                fputs(" (", out);
                md_code(out, path);
                fputc(')', out);
            }
            if (num(e, "weight", &v)) {
                fputs(" ×", out);
                put_plain(out, v);
            }
            first = false;
        }
        fputc('\n', out);
    }
    write_load_model(out, get(run, "load"));
    fputs("- **Duration**: ", out);
    if (num(run, "duration_s", &v))
        fprintf(out, "%.1f s%s", v, cJSON_IsTrue(get(run, "interrupted")) ? " (interrupted)" : "");
    else
        fputs(ABSENT, out);
    fputs("\n- **Command**: ", out);
    md_code(out, str(run, "command"));
    fputs("\n\n", out);
}

static void result_row(FILE *out, const cJSON *e, bool total)
{
    const cJSON *pct = get(e, "percentiles_ms");
    fputs("| ", out);
    if (total)
        fputs("**Total**", out);
    else
        put_endpoint(out, e);
    fputs(" | ", out);
    put_count(out, e, "requests");
    fputs(" | ", out);
    put_count(out, e, "failures");
    fputs(" | ", out);
    put_ms(out, e, "median_ms");
    fputs(" | ", out);
    put_ms(out, pct, "95");
    fputs(" | ", out);
    put_ms(out, pct, "99");
    fputs(" | ", out);
    put_ms(out, e, "avg_ms");
    fputs(" | ", out);
    put_rate(out, e, "rps");
    fputs(" |\n", out);
}

static void write_results(FILE *out, const cJSON *doc)
{
    const cJSON *stats = get(doc, "stats"), *e;
    fputs("## Results\n\n", out);
    if (array_size(get(stats, "endpoints")) == 0 && !get(stats, "aggregated")) {
        fputs("No requests were completed.\n\n", out);
        return;
    }
    fputs("| Endpoint | Requests | Failures | Median (ms) | 95th (ms) | 99th (ms) | Avg (ms) "
          "| RPS |\n", out);
    fputs("|---|--:|--:|--:|--:|--:|--:|--:|\n", out);
    cJSON_ArrayForEach(e, items(get(stats, "endpoints")))
        result_row(out, e, false);
    if (get(stats, "aggregated"))
        result_row(out, get(stats, "aggregated"), true);
    fputs("\nPercentiles are unrounded (Locust rounds them to about two significant digits). "
          "All Locust columns are in the HTML report and the CSV files.\n\n", out);

    const cJSON *f, *failures = get(stats, "failures");
    fputs("### Failures\n\n", out);
    if (array_size(failures) == 0) {
        fputs("No failures.\n\n", out);
    } else {
        fputs("| Endpoint | Error | Occurrences | First seen (s) | Last seen (s) |\n", out);
        fputs("|---|---|--:|--:|--:|\n", out);
        cJSON_ArrayForEach(f, failures) {
            double v;
            fputs("| ", out);
            put_endpoint(out, f);
            fputs(" | ", out);
            md_text(out, str(f, "error"));
            fputs(" | ", out);
            put_count(out, f, "occurrences");
            fputs(" | ", out);
            if (num(f, "first_seen_s", &v))
                put_plain(out, v);
            else
                fputs(ABSENT, out);
            fputs(" | ", out);
            if (num(f, "last_seen_s", &v))
                put_plain(out, v);
            else
                fputs(ABSENT, out);
            fputs(" |\n", out);
        }
        fputc('\n', out);
    }
}

static void write_client_phases(FILE *out, const cJSON *stats)
{
    static const char *phases[][2] = {{"connect", "Connect"}, {"tls", "TLS handshake"},
                                      {"ttfb", "Time to first byte"}, {"total", "Total"}};
    const cJSON *ph = get(stats, "phases_ms");
    if (cJSON_IsObject(ph)) {
        fputs("### Client-side phases (ms)\n\n| Phase | Avg | p50 | p95 | p99 |\n"
              "|---|--:|--:|--:|--:|\n", out);
        for (size_t i = 0; i < 4; i++) {
            const cJSON *p = get(ph, phases[i][0]);
            if (!p)
                continue;
            fprintf(out, "| %s | ", phases[i][1]);
            put_ms(out, p, "avg");
            fputs(" | ", out);
            put_ms(out, p, "p50");
            fputs(" | ", out);
            put_ms(out, p, "p95");
            fputs(" | ", out);
            put_ms(out, p, "p99");
            fputs(" |\n", out);
        }
        fputc('\n', out);
    }
    const cJSON *ol = get(stats, "open_loop");
    if (cJSON_IsObject(ol)) {
        const cJSON *u = get(ol, "uncorrected");
        fputs("### Open loop\n\n- **Late sends** (the generator could not keep the "
              "schedule): ", out);
        put_count(out, ol, "late_sends");
        fputs("\n- **Uncorrected latency** (from the actual send, as tools without "
              "coordinated-omission correction report it): p50 ", out);
        put_ms(out, u, "p50_ms");
        fputs(" ms, p95 ", out);
        put_ms(out, u, "p95_ms");
        fputs(" ms, p99 ", out);
        put_ms(out, u, "p99_ms");
        fputs(" ms\n\n", out);
    }
}

static void write_causes(FILE *out, const cJSON *verdict)
{
    const cJSON *c;
    int i = 0;
    cJSON_ArrayForEach(c, items(get(verdict, "causes"))) {
        double score;
        fprintf(out, "%d. **", ++i);
        put_cause(out, str(c, "name"));
        fputs("**", out);
        if (num(c, "score", &score))
            fprintf(out, " (score %.2f)", score);
        if (str(c, "summary")) {
            fputs(" — ", out);
            md_text(out, str(c, "summary"));
        }
        put_onset(out, c);
        fputc('\n', out);
        const cJSON *ev;
        cJSON_ArrayForEach(ev, items(get(c, "evidence"))) {
            fputs("   - ", out);
            md_text(out, cJSON_IsString(ev) ? ev->valuestring : NULL);
            fputc('\n', out);
        }
    }
    if (i > 0)
        fputc('\n', out);
}

static void write_analysis(FILE *out, const cJSON *doc)
{
    const cJSON *verdicts = get(doc, "verdict"), *run = get(verdicts, "run");
    fputs("## Analysis\n\n", out);
    if (!cJSON_IsObject(run)) {
        fputs("No verdict: this run's data has no correlated analysis.\n\n", out);
        return;
    }
    fputs("**Primary cause: ", out);
    put_cause(out, str(run, "primary"));
    fputs("**", out);
    if (cJSON_IsTrue(get(run, "mixed")))
        fputs(" — mixed: the causes below are close, more than one limits this run", out);
    fputs(".\n\n", out);
    if (str(run, "summary")) {
        md_text(out, str(run, "summary"));
        fputs("\n\n", out);
    }
    if (array_size(get(run, "causes")) > 0) {
        fputs("Causes, most likely first, with their evidence:\n\n", out);
        write_causes(out, run);
    }
    const cJSON *reps = get(verdicts, "replicas"), *r;
    if (cJSON_IsObject(reps) && cJSON_GetArraySize(reps) > 0) {
        fputs("Per replica:\n\n", out);
        cJSON_ArrayForEach(r, reps) {
            fputs("- **", out);
            md_text(out, r->string);
            fputs("**: ", out);
            put_cause(out, str(r, "primary"));
            if (cJSON_IsTrue(get(r, "mixed")))
                fputs(" (mixed)", out);
            if (str(r, "summary")) {
                fputs(" — ", out);
                md_text(out, str(r, "summary"));
            }
            fputc('\n', out);
        }
        fputc('\n', out);
    }
}

static const char *component_label(const char *key)
{
    static const char *labels[][2] = {
        {"connect", "Connect"}, {"network_client", "Network + client"},
        {"accept_queue", "Accept queue"}, {"receive_queue", "Receive queue"},
        {"on_cpu", "On-CPU"}, {"run_queue", "Run queue"}, {"lock", "Lock"},
        {"downstream", "Downstream"}, {"disk", "Disk"}, {"sleep", "Sleep"},
        {"other_offcpu", "Other off-CPU"}, {"send", "Send"},
    };
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
        if (strcmp(key, labels[i][0]) == 0)
            return labels[i][1];
    return NULL;
}

/* The document's own label ("components": {key: label}) first, then ours, then the key. */
static void put_component(FILE *out, const cJSON *labels, const char *key)
{
    const char *label = str(labels, key);
    if (label && label[0] >= 'a' && label[0] <= 'z') { /* a table header: capitalized */
        fputc(label[0] - 'a' + 'A', out);
        md_text(out, label + 1);
    } else if (label)
        md_text(out, label);
    else if ((label = component_label(key)))
        fputs(label, out);
    else
        md_text(out, key);
}

/* Components with a non-zero value in some row: the others only widen the table. */
static bool component_used(const cJSON *rows, const char *key)
{
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        double v;
        if (num(get(row, "components_ms"), key, &v) && v != 0)
            return true;
    }
    return false;
}

struct breakdown_cols {
    const cJSON *keys_row; /* the first row's components_ms: the column order */
    const cJSON *rows;     /* every row, to leave out components that are always zero */
    const cJSON *labels;   /* the document's component labels, if any */
    bool counted;          /* rows carry their number of requests */
};

static void breakdown_row(FILE *out, const char *label, const cJSON *row,
                          const struct breakdown_cols *bc)
{
    const cJSON *comp = get(row, "components_ms"), *k;
    fputs("| ", out);
    md_text(out, label);
    if (bc->counted) {
        fputs(" | ", out);
        put_count(out, row, "requests");
    }
    fputs(" | ", out);
    put_ms(out, row, "latency_ms");
    double sum = 0, best = -1;
    const char *best_key = NULL;
    cJSON_ArrayForEach(k, bc->keys_row) {
        double v;
        if (!component_used(bc->rows, k->string))
            continue;
        fputs(" | ", out);
        put_ms(out, comp, k->string);
        if (num(comp, k->string, &v)) {
            sum += v;
            if (v > best) {
                best = v;
                best_key = k->string;
            }
        }
    }
    fputs(" | ", out);
    if (best_key && sum > 0) {
        put_component(out, bc->labels, best_key);
        fprintf(out, " (%.0f%%)", 100.0 * best / sum);
    } else {
        fputs(ABSENT, out);
    }
    fputs(" |\n", out);
}

static void breakdown_header(FILE *out, const char *first, const struct breakdown_cols *bc)
{
    const cJSON *k;
    size_t cols = 0;
    fprintf(out, "| %s%s | Latency", first, bc->counted ? " | Requests" : "");
    cJSON_ArrayForEach(k, bc->keys_row) {
        if (!component_used(bc->rows, k->string))
            continue;
        fputs(" | ", out);
        put_component(out, bc->labels, k->string);
        cols++;
    }
    fputs(" | Largest part |\n|---|", out);
    if (bc->counted)
        fputs("--:|", out);
    fputs("--:", out);
    for (size_t i = 0; i < cols; i++)
        fputs("|--:", out);
    fputs("|---|\n", out);
}

static void write_breakdown(FILE *out, const cJSON *doc)
{
    const cJSON *bd = get(doc, "breakdown"), *rows = get(bd, "rows");
    fputs("### Where the time went\n\n", out);
    if (array_size(rows) == 0) {
        fputs("No per-request breakdown: it needs server tracing (see Tracing below).\n\n",
              out);
        return;
    }
    double matched, requests, frac, by;
    if (num(bd, "matched", &matched) && num(bd, "requests", &requests)) {
        fprintf(out, "Client requests matched to their server spans: %.0f of %.0f", matched,
                requests);
        if (num(bd, "matched_fraction", &frac))
            fprintf(out, " (%.1f%%)", 100 * frac);
        const cJSON *bm = get(bd, "by_method");
        if (num(bm, "request_id", &by)) {
            fprintf(out, ", %.0f by request id", by);
            if (num(bm, "four_tuple", &by))
                fprintf(out, " and %.0f by 4-tuple", by);
        }
        fputs(". Each row averages the requests in that latency band (ms).\n\n", out);
    }
    struct breakdown_cols bc = {
        .keys_row = get(cJSON_GetArrayItem(rows, 0), "components_ms"),
        .rows = rows,
        .labels = get(bd, "components"),
        .counted = get(cJSON_GetArrayItem(rows, 0), "requests") != NULL,
    };
    const cJSON *row;
    breakdown_header(out, "Band", &bc);
    cJSON_ArrayForEach(row, rows)
        breakdown_row(out, str(row, "label"), row, &bc);
    fputc('\n', out);
    /* the same split per replica, over all its requests, when the document has it */
    const cJSON *reps = get(bd, "replicas");
    if (cJSON_IsObject(reps) && reps->child) {
        fputs("By replica (all its matched requests, averaged):\n\n", out);
        breakdown_header(out, "Replica", &bc);
        cJSON_ArrayForEach(row, reps)
            breakdown_row(out, row->string, row, &bc);
        fputc('\n', out);
    }
}

struct replica_peaks {
    double cpu, cpu_t, busy_t, workers, queue, runq;
    double retransmits, resets;
    bool saw, all_busy;
};

static void replica_highlights(FILE *out, const cJSON *timeline, const char *name,
                               const cJSON *replicas)
{
    struct replica_peaks p = {.cpu = -1, .queue = -1, .runq = -1};
    const cJSON *row, *r;
    cJSON_ArrayForEach(row, timeline) {
        const cJSON *rep = get(get(row, "replicas"), name);
        double t = 0, v, w;
        if (!rep)
            continue;
        p.saw = true;
        num(row, "t", &t);
        if (num(rep, "cpu_cores", &v) && v > p.cpu)
            p.cpu = v, p.cpu_t = t;
        if (num(rep, "accept_queue_max", &v) && v > p.queue)
            p.queue = v;
        if (num(rep, "runq_p99_ms", &v) && v > p.runq)
            p.runq = v;
        if (num(rep, "retransmits", &v))
            p.retransmits += v;
        if (num(rep, "resets", &v))
            p.resets += v;
        if (num(rep, "busy_workers", &v) && num(rep, "workers", &w) && w > 0 &&
            v >= w - 0.05 && !p.all_busy)
            p.all_busy = true, p.busy_t = t, p.workers = w;
    }
    if (!p.saw)
        return;
    double cores = 0;
    cJSON_ArrayForEach(r, replicas)
        if (str(r, "name") && strcmp(str(r, "name"), name) == 0)
            num(r, "cores", &cores);
    fputs("- Replica **", out);
    md_text(out, name);
    fputs("**:", out);
    if (p.cpu >= 0) {
        fprintf(out, " CPU peaked at %.2f", p.cpu);
        if (cores > 0)
            fprintf(out, " of %.0f", cores);
        fputs(" cores (t = ", out);
        put_plain(out, p.cpu_t);
        fputs(" s);", out);
    }
    if (p.all_busy) {
        fprintf(out, " all %.0f workers busy from t = ", p.workers);
        put_plain(out, p.busy_t);
        fputs(" s;", out);
    } else {
        fputs(" never all workers busy;", out);
    }
    if (p.queue >= 0)
        fprintf(out, " accept queue up to %.0f;", p.queue);
    if (p.runq >= 0) {
        fputs(" run-queue p99 up to ", out);
        put_ms_value(out, p.runq);
        fputs(" ms;", out);
    }
    fprintf(out, " %.0f retransmits, %.0f resets.\n", p.retransmits, p.resets);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The p95 of the run's first seconds (median over the first tenth, at least 3 windows) is
 * the baseline; latency "starts climbing" at the first second where p95 exceeds 1.5x the
 * baseline and the next second does too (one slow second is noise). */
static void latency_climb(FILE *out, const cJSON *timeline)
{
    int n = array_size(timeline), k = 0;
    double base_vals[64];
    int want = n / 10 < 3 ? 3 : n / 10 > 64 ? 64 : n / 10;
    const cJSON *row;
    cJSON_ArrayForEach(row, timeline) {
        double v, rps;
        if (k < want && num(row, "p95_ms", &v) && num(row, "rps", &rps) && rps > 0)
            base_vals[k++] = v;
    }
    if (k == 0)
        return;
    qsort(base_vals, (size_t)k, sizeof(double), cmp_double);
    double base = base_vals[k / 2], limit = base * 1.5;
    for (int i = 0; i < n; i++) {
        const cJSON *cur = cJSON_GetArrayItem(timeline, i);
        const cJSON *next = i + 1 < n ? cJSON_GetArrayItem(timeline, i + 1) : NULL;
        double v, vn, t = 0, users;
        if (!num(cur, "p95_ms", &v) || v <= limit)
            continue;
        if (next && num(next, "p95_ms", &vn) && vn <= limit)
            continue;
        num(cur, "t", &t);
        fputs("- **Latency started climbing** at t = ", out);
        put_plain(out, t);
        fputs(" s", out);
        if (num(cur, "users", &users))
            fprintf(out, " (%.0f users)", users);
        fputs(": p95 went from ", out);
        put_ms_value(out, base);
        fputs(" ms in the first seconds to ", out);
        put_ms_value(out, v);
        fputs(" ms.\n", out);
        return;
    }
    fputs("- **Latency stayed flat**: p95 never exceeded 1.5× its first seconds' ", out);
    put_ms_value(out, base);
    fputs(" ms.\n", out);
}

static void write_highlights(FILE *out, const cJSON *doc)
{
    const cJSON *tl = get(doc, "timeline"), *row;
    fputs("### Timeline highlights\n\n", out);
    if (array_size(tl) == 0) {
        fputs("No per-second timeline was recorded.\n\n", out);
        return;
    }
    const cJSON *peak = NULL, *worst = NULL, *first_fail = NULL;
    double best = -1, worst_v = -1, v;
    cJSON_ArrayForEach(row, tl) {
        if (num(row, "rps", &v) && v > best)
            best = v, peak = row;
        if (num(row, "p99_ms", &v) && v > worst_v)
            worst_v = v, worst = row;
        if (!first_fail && num(row, "failures_per_s", &v) && v > 0)
            first_fail = row;
    }
    if (peak) {
        fputs("- **Peak throughput**: ", out);
        put_rate(out, peak, "rps");
        fputs(" req/s at t = ", out);
        put_plain_at(out, peak, "t");
        fputs(" s", out);
        if (num(peak, "users", &v))
            fprintf(out, " (%.0f users)", v);
        fputs(".\n", out);
    }
    latency_climb(out, tl);
    if (worst) {
        fputs("- **Worst p99**: ", out);
        put_ms(out, worst, "p99_ms");
        fputs(" ms at t = ", out);
        put_plain_at(out, worst, "t");
        fputs(" s.\n", out);
    }
    if (first_fail) {
        fputs("- **First failures** at t = ", out);
        put_plain_at(out, first_fail, "t");
        fputs(" s.\n", out);
    }
    /* one line per replica, in the order of the document's replica list */
    const cJSON *replicas = get(doc, "replicas"), *r;
    cJSON_ArrayForEach(r, items(replicas))
        if (str(r, "name"))
            replica_highlights(out, tl, str(r, "name"), replicas);
    fputc('\n', out);
}

static void write_recommendations(FILE *out, const cJSON *doc)
{
    const cJSON *recs = get(get(get(doc, "verdict"), "run"), "recommendations"), *r;
    fputs("## Recommendations\n\n", out);
    if (array_size(recs) == 0) {
        fputs("No recommendation: the verdict names no bottleneck to act on.\n\n", out);
        return;
    }
    int i = 0;
    cJSON_ArrayForEach(r, recs) {
        fprintf(out, "%d. ", ++i);
        md_text(out, cJSON_IsString(r) ? r->valuestring : NULL);
        fputc('\n', out);
    }
    fputc('\n', out);
}

static void write_thresholds(FILE *out, const cJSON *doc)
{
    const cJSON *th = get(doc, "thresholds"), *t;
    if (array_size(th) == 0)
        return;
    fputs("## Thresholds\n\n| Threshold | Endpoint | Value | Result |\n|---|---|--:|---|\n", out);
    cJSON_ArrayForEach(t, th) {
        double v;
        fputs("| ", out);
        md_text(out, str(t, "expr"));
        fputs(" | ", out);
        md_text(out, str(t, "endpoint") ? str(t, "endpoint") : "Aggregated");
        fputs(" | ", out);
        if (cJSON_IsTrue(get(t, "no_data"))) {
            fputs("no data", out);
        } else if (str(t, "shown")) {
            md_text(out, str(t, "shown"));
        } else if (num(t, "value", &v)) {
            put_plain(out, v);
            if (str(t, "unit")) {
                fputc(' ', out);
                md_text(out, str(t, "unit"));
            }
        } else {
            fputs(ABSENT, out);
        }
        fputs(cJSON_IsTrue(get(t, "ok")) ? " | pass |\n" : " | **FAIL** |\n", out);
    }
    fputc('\n', out);
}

static void write_tracing(FILE *out, const cJSON *doc)
{
    const cJSON *tr = get(doc, "tracing");
    double v;
    fputs("## Tracing and self-check\n\n", out);
    if (cJSON_IsTrue(get(tr, "enabled"))) {
        fputs("- **Server tracing**: on, ", out);
        put_count(out, tr, "spans");
        fputs(" request spans, ", out);
        put_count(out, tr, "lost_events");
        fputs(" lost events", out);
        if (num(tr, "window_s", &v)) {
            fputs(", ", out);
            put_plain(out, v);
            fputs(" s windows", out);
        }
        if (num(tr, "lost_events", &v) && v > 0)
            fputs(" (**events were lost**: server-side numbers undercount)", out);
        fputs("\n", out);
    } else {
        fputs("- **Server tracing**: off", out);
        if (str(tr, "reason")) {
            fputs(" (", out);
            md_text(out, str(tr, "reason"));
            fputc(')', out);
        }
        fputs(": client-side numbers only.\n", out);
    }
    const cJSON *sc = get(doc, "self_check"), *w;
    if (num(sc, "generator_cpu_max", &v))
        fprintf(out, "- **Load generator CPU** (peak): %.0f%%\n", 100 * v);
    if (num(sc, "late_sends", &v))
        fprintf(out, "- **Late sends**: %.0f\n", v);
    cJSON_ArrayForEach(w, items(get(sc, "warnings"))) {
        fputs("- **Warning**: ", out);
        md_text(out, cJSON_IsString(w) ? w->valuestring : NULL);
        fputc('\n', out);
    }
    fputc('\n', out);
}

/* ---- entry points ------------------------------------------------------------------------- */

static cJSON *parse_document(const char *json, size_t len, struct error *err)
{
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(json, len, &end, false);
    double schema;
    if (!doc) {
        error_set(err, "report document: not valid JSON (at byte %zu)",
                  end ? (size_t)(end - json) : (size_t)0);
        return NULL;
    }
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        error_set(err, "report document: not a JSON object");
        return NULL;
    }
    if (!num(doc, "schema", &schema) || schema < 1 || schema > REPORT_SCHEMA) {
        bool missing = !get(doc, "schema");
        cJSON_Delete(doc);
        error_set(err, "report document: %s schema version (this loadscope reads %d)",
                  missing ? "no" : "unknown", REPORT_SCHEMA);
        return NULL;
    }
    return doc;
}

int markdown_write(FILE *out, const char *document_json, size_t len, struct error *err)
{
    cJSON *doc = parse_document(document_json, len, err);
    if (!doc)
        return -1;
    write_title(out, doc);
    write_summary(out, doc);
    write_environment(out, doc);
    write_configuration(out, doc);
    write_results(out, doc);
    write_client_phases(out, get(doc, "stats"));
    write_analysis(out, doc);
    write_breakdown(out, doc);
    write_highlights(out, doc);
    write_recommendations(out, doc);
    write_thresholds(out, doc);
    write_tracing(out, doc);
    cJSON_Delete(doc);
    if (fflush(out) != 0 || ferror(out))
        return error_set(err, "writing the Markdown report: %s", strerror(errno));
    return 0;
}

int markdown_report_write(const char *path, const char *document_json, size_t len,
                          struct error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return error_set(err, "cannot create %s: %s", path, strerror(errno));
    int rc = markdown_write(f, document_json, len, err);
    if (rc != 0)
        error_prefix(err, "%s", path);
    if (fclose(f) != 0 && rc == 0)
        rc = error_set(err, "writing %s: %s", path, strerror(errno));
    return rc;
}
