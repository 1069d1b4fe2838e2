/* The Markdown report: the values of the sample document land in the right places (the
 * template users fill by hand has no [FILL left), hostile strings stay text when GitHub's
 * renderer (cmark-gfm, raw HTML allowed) turns the report into HTML, '|' in a name does not
 * split a table cell, and client-only, empty and bad documents are handled. */
#include <criterion/criterion.h>
#include <cJSON.h>
#include <libxml/HTMLparser.h>
#include <libxml/xpath.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report/markdown.h"
#include "support/run_cmd.h"
#include "support/tmpdir.h"

static char *read_file(const char *path, size_t *len)
{
    char *text = file_read_all(path, len);
    cr_assert_not_null(text, "%s", path);
    return text;
}

static char *render_json(const char *json, size_t len)
{
    char *md = NULL;
    size_t mdlen = 0;
    FILE *f = open_memstream(&md, &mdlen);
    struct error err = {{0}};
    cr_assert_eq(markdown_write(f, json, len, &err), 0, "%s", err.msg);
    fclose(f);
    return md;
}

static char *render_fixture(const char *name)
{
    char path[256];
    size_t len;
    snprintf(path, sizeof(path), "tests/fixtures/%s", name);
    char *json = read_file(path, &len);
    char *md = render_json(json, len);
    free(json);
    return md;
}

static void expect_has(const char *md, const char *needle)
{
    cr_expect(strstr(md, needle) != NULL, "missing: %s", needle);
}

/* Pipes that end cells: not preceded by a backslash. */
static int cell_pipes(const char *line, size_t len)
{
    int n = 0;
    for (size_t i = 0; i < len; i++)
        if (line[i] == '|' && (i == 0 || line[i - 1] != '\\'))
            n++;
    return n;
}

/* Every row of every table has as many cell separators as its header. */
static void expect_tables_consistent(const char *md)
{
    int header = -1, tables = 0;
    for (const char *line = md; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len > 0 && line[0] == '|') {
            int pipes = cell_pipes(line, len);
            if (header < 0) {
                header = pipes;
                tables++;
            } else {
                cr_expect_eq(pipes, header, "row with %d separators, header %d: %.*s", pipes,
                             header, (int)len, line);
            }
        } else {
            header = -1;
        }
        line = nl ? nl + 1 : line + len;
    }
    cr_expect_gt(tables, 0);
}

/* md without its code spans (whose content CommonMark shows literally). */
static char *outside_code(const char *md)
{
    char *out = strdup(md), *o = out;
    for (const char *p = md; *p;) {
        if (p[0] == '\\' && p[1]) { /* an escaped character, backtick or not */
            *o++ = *p++;
            *o++ = *p++;
            continue;
        }
        size_t run = strspn(p, "`");
        if (run == 0) {
            *o++ = *p++;
            continue;
        }
        /* the closing fence is the next run of exactly as many backticks */
        const char *q = p + run;
        for (;;) {
            q = strchr(q, '`');
            if (!q || strspn(q, "`") == run)
                break;
            q += strspn(q, "`");
        }
        cr_assert_not_null(q, "unclosed code span: %.40s", p);
        p = q + run;
    }
    *o = '\0';
    return out;
}

/* No raw HTML and no unfilled template placeholder. */
static void expect_no_markup(const char *md)
{
    char *text = outside_code(md);
    cr_expect_null(strstr(md, "[FILL"));
    cr_expect_null(strstr(text, "<script"), "raw <script> in the Markdown");
    cr_expect_null(strstr(text, "<img"), "raw <img> in the Markdown");
    cr_expect_null(strchr(text, '<'), "raw '<' outside code: %s", strchr(text, '<'));
    free(text);
}

Test(report_markdown, fills_the_template_from_the_sample)
{
    char *md = render_fixture("report-sample.json");
    expect_no_markup(md);
    expect_tables_consistent(md);
    /* environment */
    expect_has(md, "- **CPU**: Intel(R) Xeon(R) CPU @ 2.20GHz (2 cores)\n");
    expect_has(md, "- **RAM**: 24.0 GiB\n");
    expect_has(md, "- **Kernel**: 6.18.44\n");
    expect_has(md, "- **OS**: Debian GNU/Linux 12 (bookworm)\n");
    /* configuration */
    expect_has(md, "closed loop, 50 users, spawn rate 5/s, wait `constant:0s`");
    expect_has(md, "- **Duration**: 30.0 s\n");
    /* results: the template's columns, one row per endpoint and a total */
    expect_has(md, "| Endpoint | Requests | Failures | Median (ms) | 95th (ms) | 99th (ms) "
                   "| Avg (ms) | RPS |\n");
    expect_has(md, "| POST /predict | 1000 | 3 | 41.2 | 78.3 | 107.1 | 49.4 | 33.33 |\n");
    expect_has(md, "| 300 | 0 | 1.10 | 2.09 | 2.86 | 1.32 | 10.00 |\n");
    expect_has(md, "| **Total** | 1300 | 3 | 35.0 | 66.5 | 91.0 | 42.0 | 43.33 |\n");
    expect_has(md, "| 3 | 12.5 | 28 |\n");
    /* the analysis: verdict, its numbers, evidence and onset */
    expect_has(md, "**Primary cause: inference (model compute)**");
    expect_has(md, "82% of server time on-CPU in the model; CPU 1.97 of 2 cores");
    expect_has(md, "(score 0.91)");
    expect_has(md, "(onset: t = 9 s at 50 users)");
    expect_has(md, "   - run-queue p99 0.4 ms\n");
    /* breakdown: zero-only components are left out; the dominant part is named */
    expect_has(md, "| p99 | 150.2 | 0.40 | 110.0 | 1.20 | 35.0 | 0.50 | 0.10 | 0.30 "
                   "| Accept queue (75%) |\n");
    cr_expect_null(strstr(md, "| Disk |"));
    /* timeline highlights */
    expect_has(md, "**Peak throughput**: 48.46 req/s at t = 25 s (50 users)");
    expect_has(md, "**Latency started climbing** at t = 8 s (45 users): p95 went from 36.5 ms");
    expect_has(md, "CPU peaked at 1.97 of 2 cores (t = 9 s); all 2 workers busy from t = 9 s");
    /* recommendations and thresholds */
    expect_has(md, "1. Add CPU: each replica is CPU-bound\n");
    expect_has(md, "| p95&lt;200ms | Aggregated | 80.3 | pass |\n");
    expect_has(md, "| fail&lt;0.1% | Aggregated | 0.23 | **FAIL** |\n");
    expect_has(md, "- **Thresholds**: 1 of 2 broken\n");
    expect_has(md, "on, 1300 request spans, 0 lost events");
    free(md);
}

/* cmark-gfm (GitHub's renderer) with raw HTML allowed, as the most permissive reader. */
static htmlDocPtr render_gfm(const char *md, const char *dir)
{
    char in[300], out[300], cmd[800];
    snprintf(in, sizeof(in), "%s/report.md", dir);
    snprintf(out, sizeof(out), "%s/report.html", dir);
    FILE *f = fopen(in, "w");
    cr_assert_not_null(f);
    fputs(md, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "cmark-gfm -e table -e autolink --unsafe --to html %s > %s", in,
             out);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    size_t len;
    char *html = read_file(out, &len);
    htmlDocPtr doc = htmlReadMemory(html, (int)len, "report.html", "UTF-8",
                                    HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING);
    free(html);
    cr_assert_not_null(doc);
    return doc;
}

static int xpath_count(htmlDocPtr doc, const char *expr)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    cr_assert_not_null(o, "%s", expr);
    int n = o->type == XPATH_NUMBER ? (int)o->floatval
            : o->nodesetval ? o->nodesetval->nodeNr : 0;
    xmlXPathFreeObject(o);
    xmlXPathFreeContext(ctx);
    return n;
}

static bool gfm_available(void)
{
    return system("command -v cmark-gfm >/dev/null 2>&1") == 0;
}

Test(report_markdown, hostile_strings_stay_text_in_a_real_renderer)
{
    if (!gfm_available())
        cr_skip_test("cmark-gfm not installed (tools/install-deps.sh installs it)");
    const char *fixtures[] = {"report-sample.json", "report-client-only.json",
                              "report-hostile.json"};
    for (size_t i = 0; i < 3; i++) {
        char dir[256];
        tmpdir_make("markdown", dir, sizeof(dir));
        char *md = render_fixture(fixtures[i]);
        htmlDocPtr doc = render_gfm(md, dir);
        cr_expect_eq(xpath_count(doc, "//script | //img | //iframe | //a[starts-with("
                                      "normalize-space(@href), 'javascript')]"), 0,
                     "%s: injected markup", fixtures[i]);
        cr_expect_eq(xpath_count(doc, "//@*[starts-with(name(), 'on')]"), 0);
        /* each body row has as many cells as its table's header */
        cr_expect_eq(xpath_count(doc, "count(//table[count(thead/tr/th) != count(tbody/tr[1]/td)"
                                      " or tbody/tr[count(td) != count(../../thead/tr/th)]])"),
                     0, "%s: a table row with the wrong number of cells", fixtures[i]);
        cr_expect_gt(xpath_count(doc, "//table"), 1);
        if (i == 2)
            cr_expect_gt(xpath_count(doc, "//td[contains(., concat('<img src=x onerror=alert(1)>"
                                          "</script><script>alert(2)</script>\"', \"'|`*_\"))]"),
                         4, "the payload is shown whole, as text");
        else if (i == 0) {
            cr_expect_eq(xpath_count(doc, "//td[text()='GET /health<script>alert(\"x\")"
                                          "</script><img src=x onerror=alert(1)>']"), 1,
                         "the endpoint name is shown as text");
            cr_expect_eq(xpath_count(doc, "//li[contains(., 'Make the model cheaper "
                                          "<script>alert(\"x\")</script>')]"), 1);
        } else {
            cr_expect_eq(xpath_count(doc, "//td[text()='GET /predict|fast `x` *y* _z_ "
                                          "[l](javascript:alert(1))']"), 1,
                         "the name with | ` * _ [ ] stays one cell of plain text");
            cr_expect_eq(xpath_count(doc, "//em | //td/code"), 0);
        }
        xmlFreeDoc(doc);
        free(md);
        tmpdir_remove(dir);
    }
}

Test(report_markdown, uses_what_the_correlator_adds)
{
    char *md = render_fixture("report-full.json");
    expect_no_markup(md);
    expect_tables_consistent(md);
    /* the document's own component names, the requests per band, the per-replica split */
    expect_has(md, "| Band | Requests | Latency | Network + client | Accept queue | Receive queue "
                   "| On CPU | Run queue (waiting for a core) | Other off-CPU | Event loop wait "
                   "| Sending the response | Largest part |\n");
    expect_has(md, "| p99 | 52 | 150.2 | 0.40 | 110.0 | 1.20 | 35.0 | 0.50 | 0.10 | 0.25 | 0.30 "
                   "| Accept queue (74%) |\n");
    expect_has(md, "| demo | 1295 | 44.9 | 0.40 | 20.0 |");
    /* thresholds as the correlator shows them, per endpoint, with no data said */
    expect_has(md, "| p95&lt;200ms | Aggregated | 80.3 ms | pass |\n");
    expect_has(md, "| POST /predict:fail&lt;0.1% | POST /predict | 0.30% | **FAIL** |\n");
    expect_has(md, "| GET /missing:p99&lt;1s | GET /missing | no data | **FAIL** |\n");
    expect_has(md, "- **Thresholds**: 2 of 3 broken\n");
    free(md);
}

Test(report_markdown, client_only_run_says_why_there_is_no_server_side)
{
    char *md = render_fixture("report-client-only.json");
    expect_no_markup(md);
    expect_tables_consistent(md);
    expect_has(md, "- **Server tracing**: off (not root: tracing needs CAP\\_BPF and "
                   "CAP\\_PERFMON): client-side numbers only.\n");
    expect_has(md, "No per-request breakdown: it needs server tracing");
    expect_has(md, "**Primary cause: no bottleneck found**");
    expect_has(md, "open loop (arrivals on schedule, coordinated-omission corrected), 20 req/s, "
                   "8 connections");
    expect_has(md, "- **Stages**: ramp to 10 over 5 s, then to 20 over 5 s\n");
    expect_has(md, "- **Late sends** (the generator could not keep the schedule): 12\n");
    expect_has(md, "p99 95.5 ms");
    expect_has(md, "| GET /predict\\|fast \\`x\\` \\*y\\* \\_z\\_ \\[l\\](javascript:alert(1)) "
                   "| 200 | 0 |");
    expect_has(md, "- **Warning**: load generator CPU reached 93%: latencies may include "
                   "client delay &lt;b&gt;\n");
    expect_has(md, "- **Load generator CPU** (peak): 93%\n");
    cr_expect_null(strstr(md, "Server replica"));
    free(md);
}

Test(report_markdown, empty_run_renders_without_numbers_it_does_not_have)
{
    char *md = render_fixture("report-empty.json");
    expect_no_markup(md);
    expect_has(md, "**Interrupted run**");
    expect_has(md, "- **Requests**: none completed\n");
    expect_has(md, "| **Total** | 0 | 0 | — | — | — | — | 0.00 |\n");
    expect_has(md, "No verdict: this run's data has no correlated analysis.");
    expect_has(md, "No per-second timeline was recorded.");
    expect_has(md, "- **CPU**: —\n");
    expect_has(md, "(the run ended before tracing started)");
    free(md);

    md = render_json("{\"schema\":1}", 12);
    expect_has(md, "# Load test report");
    expect_has(md, "No requests were completed.");
    free(md);
}

Test(report_markdown, invalid_utf8_and_control_characters_are_replaced)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "schema", 1);
    cJSON *run = cJSON_AddObjectToObject(doc, "run");
    cJSON_AddStringToObject(run, "command", "run ``x`` \xff\nnext");
    cJSON *recs = cJSON_AddArrayToObject(cJSON_AddObjectToObject(
        cJSON_AddObjectToObject(doc, "verdict"), "run"), "recommendations");
    cJSON_AddItemToArray(recs, cJSON_CreateString("bad \xc3\x28 byte\r\n# heading"));
    char *json = cJSON_PrintUnformatted(doc);
    char *md = render_json(json, strlen(json));
    expect_has(md, "- **Command**: ```run ``x`` \xef\xbf\xbd next```\n");
    expect_has(md, "1. bad \xef\xbf\xbd( byte  \\# heading\n");
    free(md);
    free(json);
    cJSON_Delete(doc);
}

Test(report_markdown, says_what_the_store_could_not_keep)
{
    const char *doc = "{\"schema\":1,\"store_losses\":{\"client_requests\":0,"
                      "\"server_spans\":216994,\"replica_windows\":0}}";
    char *md = render_json(doc, strlen(doc));
    expect_has(md, "- **Not stored**: 216994 server\\_spans rows (the store's writer fell "
                   "behind: the stored tables and this report undercount)\n");
    cr_expect_null(strstr(md, "client\\_requests rows"), "a stream that lost nothing");
    free(md);
}

Test(report_markdown, rejects_what_is_not_a_report_document)
{
    const char *bad[][2] = {
        {"", "not valid JSON"},
        {"{\"schema\":1", "not valid JSON"},
        {"[1,2]", "not a JSON object"},
        {"{\"run\":{}}", "no schema version"},
        {"{\"schema\":2}", "unknown schema version"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        struct error err = {{0}};
        cr_expect_eq(markdown_write(f, bad[i][0], strlen(bad[i][0]), &err), -1, "%s", bad[i][0]);
        cr_expect(strstr(err.msg, bad[i][1]) != NULL, "'%s' -> '%s'", bad[i][0], err.msg);
        fclose(f);
        free(out);
    }
    struct error err = {{0}};
    cr_expect_eq(markdown_report_write("/nonexistent-dir/r.md", "{\"schema\":1}", 12, &err), -1);
    cr_expect(strstr(err.msg, "/nonexistent-dir/r.md") != NULL, "%s", err.msg);
}

Test(report_markdown, writes_a_file)
{
    char dir[256], path[300];
    tmpdir_make("markdown", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/report.md", dir);
    size_t len;
    char *json = read_file("tests/fixtures/report-sample.json", &len);
    struct error err = {{0}};
    cr_assert_eq(markdown_report_write(path, json, len, &err), 0, "%s", err.msg);
    char *md = read_file(path, &len);
    char *direct = render_json(json, strlen(json));
    cr_expect_str_eq(md, direct);
    free(direct);
    free(md);
    free(json);
    tmpdir_remove(dir);
}
