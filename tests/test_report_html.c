/* The HTML report, loaded in headless Chromium (tests/support/browser.h, DevTools protocol):
 * the sample document renders with no console error, no network request and no dialog; the
 * charts are drawn (pixels on every canvas, and the same regions of a full-page screenshot
 * are not blank); no string of the document becomes markup or script (no injected element,
 * attribute or alert, the strings shown as text); client-only and empty documents render
 * with their explanations. Without a browser: the embedded JSON round-trips exactly, bad
 * documents are refused, each file gets its own CSP nonce.
 *
 * Set LOADSCOPE_SCREENSHOT_DIR to keep the screenshots (<fixture>.png) for a look. */
#include <criterion/criterion.h>
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/html.h"
#include "support/browser.h"
#include "support/run_cmd.h"
#include "support/tmpdir.h"

static char *read_file(const char *path, size_t *len)
{
    char *text = file_read_all(path, len);
    cr_assert_not_null(text, "%s", path);
    return text;
}

static char *render(const char *json, size_t len)
{
    char *html = NULL;
    size_t hlen = 0;
    FILE *f = open_memstream(&html, &hlen);
    struct error err = {{0}};
    cr_assert_eq(html_write(f, json, len, &err), 0, "%s", err.msg);
    fclose(f);
    return html;
}

/* The text of the <script type="application/json" id="report-data"> block. */
static char *data_block(const char *html)
{
    const char *open = strstr(html, "<script type=\"application/json\" id=\"report-data\">");
    cr_assert_not_null(open);
    open = strchr(open, '>') + 1;
    const char *close = strstr(open, "</script>");
    cr_assert_not_null(close);
    return strndup(open, (size_t)(close - open));
}

/* ---- without a browser ------------------------------------------------------------------- */

Test(report_html, embeds_the_document_intact_and_safely)
{
    size_t len;
    char *json = read_file("tests/fixtures/report-sample.json", &len);
    char *html = render(json, len);
    char *block = data_block(html);
    cr_expect_null(strchr(block, '<'), "the data block holds no '<' at all");
    cJSON *in = cJSON_Parse(json), *out = cJSON_Parse(block);
    cr_assert_not_null(out, "the embedded data is not JSON");
    cr_expect(cJSON_Compare(in, out, true), "the embedded document differs from the input");
    /* one CSP, scripts only with this file's nonce, nothing fetched from anywhere */
    const char *csp = strstr(html, "script-src 'nonce-");
    cr_assert_not_null(csp);
    char nonce[64];
    cr_assert_eq(sscanf(csp, "script-src 'nonce-%63[0-9a-f]'", nonce), 1);
    cr_expect_eq(strlen(nonce), 32);
    char attr[100];
    snprintf(attr, sizeof(attr), "<script nonce=\"%s\">", nonce);
    int scripts = 0;
    for (const char *p = strstr(html, attr); p; p = strstr(p + 1, attr))
        scripts++;
    cr_expect_eq(scripts, 3, "Chart.js, the page script, the flame graph's zoom script");
    cr_expect_null(strstr(html, "src=\"http"));
    cr_expect_null(strstr(html, "href=\"http"));
    cr_expect(strstr(html, "Chart.js v3.9.1") != NULL, "Chart.js is embedded");
    cr_expect(strstr(html, "<title>loadscope report \xe2\x80\x94 20261129-150102</title>") != NULL);

    char *again = render(json, len);
    cr_expect_null(strstr(again, nonce), "every file gets a fresh nonce");
    free(again);
    cJSON_Delete(in);
    cJSON_Delete(out);
    free(block);
    free(html);
    free(json);
}

Test(report_html, hostile_input_text_cannot_close_the_data_block)
{
    /* raw input text with a script end tag, an HTML comment opener, U+2028 and invalid UTF-8:
     * the page gets the re-serialized, escaped form */
    const char json[] = "{\"schema\":1,\"run\":{\"id\":\"</script><script>alert(1)</script>"
                        "<!--\xe2\x80\xa8\xff\"}}";
    char *html = render(json, sizeof(json) - 1);
    char *block = data_block(html);
    cr_expect_str_eq(block, "{\"schema\":1,\"run\":{\"id\":\"\\u003c/script\\u003e\\u003cscript"
                            "\\u003ealert(1)\\u003c/script\\u003e\\u003c!--\\u2028\\ufffd\"}}");
    cr_expect(strstr(html, "<title>loadscope report \xe2\x80\x94 &lt;/script&gt;&lt;script&gt;"
                           "alert(1)&lt;/script&gt;&lt;!--\xe2\x80\xa8\xef\xbf\xbd</title>") != NULL,
              "the title is escaped");
    free(block);
    free(html);
}

Test(report_html, refuses_what_is_not_a_report_document)
{
    const char *bad[][2] = {
        {"", "not valid JSON"},
        {"{\"schema\":1", "not valid JSON"},
        {"\"text\"", "not a JSON object"},
        {"{\"run\":{}}", "no schema version"},
        {"{\"schema\":\"1\"}", "unknown schema version"},
        {"{\"schema\":7}", "unknown schema version"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        struct error err = {{0}};
        cr_expect_eq(html_write(f, bad[i][0], strlen(bad[i][0]), &err), -1, "%s", bad[i][0]);
        cr_expect(strstr(err.msg, bad[i][1]) != NULL, "'%s' -> '%s'", bad[i][0], err.msg);
        fclose(f);
        free(out);
    }
    /* nesting deeper than the JSON writer tracks is refused rather than mangled */
    char deep[200] = "{\"schema\":1,\"x\":";
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    for (int i = 0; i < 40; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    struct error err = {{0}};
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    cr_expect_eq(html_write(f, deep, strlen(deep), &err), -1);
    cr_expect(strstr(err.msg, "nested too deeply") != NULL, "%s", err.msg);
    fclose(f);
    free(out);
    cr_expect_eq(html_report_write("/nonexistent-dir/r.html", "{\"schema\":1}", 12, &err), -1);
    cr_expect(strstr(err.msg, "/nonexistent-dir/r.html") != NULL, "%s", err.msg);
}

/* ---- in a browser ------------------------------------------------------------------------ */

struct page {
    char dir[256];
    char path[300];
    char url[320];
    char profile[256];
    struct browser *b;
};

/* Writes the report of fixture (or of json when given) and loads it in a fresh browser. */
static void page_open(struct page *p, const char *fixture, const char *json_text)
{
    if (!browser_available())
        cr_skip_test("no Chromium installed (tools/install-deps.sh installs it)");
    tmpdir_make("html", p->dir, sizeof(p->dir));
    snprintf(p->path, sizeof(p->path), "%s/report.html", p->dir);
    snprintf(p->url, sizeof(p->url), "file://%s", p->path);
    size_t len = 0;
    char *json;
    if (fixture) {
        char fpath[256];
        snprintf(fpath, sizeof(fpath), "tests/fixtures/%s", fixture);
        json = read_file(fpath, &len);
    } else {
        json = strdup(json_text);
        len = strlen(json);
    }
    struct error err = {{0}};
    cr_assert_eq(html_report_write(p->path, json, len, &err), 0, "%s", err.msg);
    free(json);
    p->b = browser_start();
    snprintf(p->profile, sizeof(p->profile), "%s", p->b->profile_dir);
    browser_open(p->b, p->url);
    char *rendered = browser_eval_string(p->b, "document.documentElement.getAttribute"
                                               "('data-rendered') || 'no'");
    cr_expect_str_eq(rendered, "yes", "the page script did not finish");
    free(rendered);
}

/* The page loaded cleanly: no console error or warning, no request, no dialog. */
static void expect_clean(struct page *p)
{
    cr_expect_eq(p->b->console_errors, 0, "console errors:\n%s", p->b->log);
    cr_expect_eq(p->b->console_warnings, 0, "console warnings:\n%s", p->b->log);
    cr_expect_eq(p->b->requests, 0, "network requests:\n%s", p->b->log);
    cr_expect_eq(p->b->dialogs, 0, "dialogs (injected script ran):\n%s", p->b->log);
    cr_expect_eq(browser_eval_number(p->b, "document.querySelectorAll('main .warn').length "
                                           "- document.querySelectorAll('#checks .warn').length"),
                 0, "a section failed to draw");
}

static void page_close(struct page *p)
{
    browser_stop(p->b);
    cr_expect_eq(browser_leftover_processes(p->profile), 0, "Chromium processes left behind");
    tmpdir_remove(p->dir);
}

static double eval_num(struct page *p, const char *js)
{
    return browser_eval_number(p->b, js);
}

static void expect_text(struct page *p, const char *selector, const char *want)
{
    char js[600];
    snprintf(js, sizeof(js), "(document.querySelector(\"%s\") || {textContent: '<none>'})"
                             ".textContent.trim()", selector);
    char *got = browser_eval_string(p->b, js);
    cr_expect_str_eq(got, want, "%s", selector);
    free(got);
}

/* Every canvas has drawn pixels (asked of the canvas itself), and its region of a full-page
 * screenshot is not blank (what a person sees). Returns the number of canvases. */
static int expect_charts_drawn(struct page *p, const char *shot_name)
{
    browser_fit_viewport(p->b);
    cJSON *canvases = browser_eval(p->b,
        "[...document.querySelectorAll('canvas')].map(c => {"
        "  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "  let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++;"
        "  const r = c.getBoundingClientRect();"
        "  return {painted: n, area: c.width * c.height, x: r.left + scrollX, y: r.top + scrollY,"
        "          w: r.width, h: r.height, label: c.getAttribute('aria-label')}; })");
    cr_assert(cJSON_IsArray(canvases));
    char png[400] = "";
    const char *keep = getenv("LOADSCOPE_SCREENSHOT_DIR");
    if (keep && keep[0])
        snprintf(png, sizeof(png), "%s/%s.png", keep, shot_name);
    struct image img;
    browser_screenshot(p->b, png[0] ? png : NULL, &img);
    const unsigned char white[3] = {255, 255, 255};
    cr_expect_gt(image_distinct_colours(&img, 0, 0, img.width, img.height, 5000), 200,
                 "the screenshot is (nearly) blank");
    const cJSON *c;
    cJSON_ArrayForEach(c, canvases) {
        const char *label = cJSON_GetObjectItem(c, "label")->valuestring;
        double painted = cJSON_GetObjectItem(c, "painted")->valuedouble;
        double area = cJSON_GetObjectItem(c, "area")->valuedouble;
        unsigned x = (unsigned)cJSON_GetObjectItem(c, "x")->valuedouble;
        unsigned y = (unsigned)cJSON_GetObjectItem(c, "y")->valuedouble;
        unsigned w = (unsigned)cJSON_GetObjectItem(c, "w")->valuedouble;
        unsigned h = (unsigned)cJSON_GetObjectItem(c, "h")->valuedouble;
        cr_expect_gt(w, 200, "%s: canvas %u px wide", label, w);
        cr_expect_gt(h, 150, "%s: canvas %u px high", label, h);
        cr_expect_gt(painted, area * 0.01, "%s: only %.0f of %.0f pixels drawn", label, painted,
                     area);
        uint64_t ink = image_count_unlike(&img, x, y, w, h, white, 24);
        cr_expect_gt(ink, (uint64_t)w * h / 100, "%s: its screenshot region is blank", label);
        cr_expect_gt(image_distinct_colours(&img, x, y, w, h, 64), 8,
                     "%s: a chart has colours", label);
    }
    int n = cJSON_GetArraySize(canvases);
    image_free(&img);
    cJSON_Delete(canvases);
    return n;
}

Test(report_html, sample_renders_every_section_with_charts_and_no_errors, .timeout = 120)
{
    struct page p;
    page_open(&p, "report-sample.json", NULL);
    expect_clean(&p);
    /* 4 over time (throughput, response time, users, generator), 5 for the replica,
     * 1 breakdown */
    cr_expect_eq(expect_charts_drawn(&p, "report-sample"), 10);

    expect_text(&p, "#verdict .badge", "inference (model compute)");
    cr_expect_eq(eval_num(&p, "document.querySelectorAll('#verdict ol.causes > li').length"), 2);
    expect_text(&p, "#verdict ol.causes > li .onset", "\xc2\xb7 onset at t = 9 s, 50 users");
    cr_expect_eq(eval_num(&p, "document.querySelectorAll('#verdict ol.recs > li').length"), 2);
    /* Locust's columns: one row per endpoint and the aggregate */
    cr_expect_eq(eval_num(&p, "document.querySelectorAll('#requests table')[0]"
                              ".querySelectorAll('tbody tr').length"), 3);
    cr_expect_eq(eval_num(&p, "document.querySelectorAll('#requests table')[0]"
                              ".querySelectorAll('thead th').length"), 21);
    expect_text(&p, "#requests tbody tr:nth-child(1) td:nth-child(5)", "41.2");
    expect_text(&p, "#requests tbody tr:nth-child(1) td:nth-child(9)", "61.8");
    expect_text(&p, "#requests tr.total td:nth-child(3)", "1,300");
    expect_text(&p, "#requests tr.total td:nth-child(20)", "43.33");
    expect_text(&p, "#settings .cols > div:nth-child(2) dd:nth-of-type(4)",
                "Intel(R) Xeon(R) CPU @ 2.20GHz (2 cores)");
    expect_text(&p, "#flamegraphs figcaption", "Replica demo \xc2\xb7 1470 samples taken, 1370 "
                                               "with a stack");
    /* the breakdown table: 6 bands; the flame graph: inline, zoomable */
    cr_expect_eq(eval_num(&p, "document.querySelectorAll('#breakdown tbody tr').length"), 6);
    cr_expect_eq(eval_num(&p, "document.querySelectorAll('#flamegraphs svg.lsflame').length"), 1);
    cr_expect_eq(eval_num(&p, "document.querySelectorAll('#flamegraphs g.f').length"), 10);
    browser_exec(p.b, "[...document.querySelectorAll('#flamegraphs g.f')].find(g => g.querySelector"
                      "('title').textContent.startsWith('predict (')).querySelector('rect')"
                      ".dispatchEvent(new MouseEvent('click', {bubbles: true}))");
    cr_expect_float_eq(eval_num(&p, "+[...document.querySelectorAll('#flamegraphs g.f')].find("
                                    "g => g.querySelector('title').textContent.startsWith("
                                    "'predict (')).querySelector('rect').getAttribute('width')"),
                       1180, 0.01, "clicking a frame zooms to it inside the page");
    expect_text(&p, "#checks dl.kv dd:nth-of-type(2)", "1,300");
    expect_clean(&p);
    page_close(&p);
}

/* Every hostile string of the sample is shown as text, and nothing else. */
static void expect_no_injection(struct page *p, int min_shown)
{
    cr_expect_eq(eval_num(p, "document.querySelectorAll('img, iframe, object, embed, frame, "
                             "svg:not(.lsflame) , math, form, base, link, meta[http-equiv=refresh]')"
                             ".length"), 0, "an element came from the data");
    cr_expect_eq(eval_num(p, "[...document.querySelectorAll('*')].filter(e => [...e.attributes]"
                             ".some(a => /^on/i.test(a.name) || /^\\s*javascript:/i.test(a.value)))"
                             ".length"), 0, "an event-handler attribute came from the data");
    /* scripts: the JSON block, and ours, each carrying the nonce */
    cr_expect_eq(eval_num(p, "[...document.scripts].filter(s => !(s.id === 'report-data' && "
                             "s.type === 'application/json') && !s.nonce).length"), 0,
                 "a script without this file's nonce");
    cr_expect_eq(p->b->dialogs, 0, "an injected alert() ran:\n%s", p->b->log);
    cr_expect_geq(eval_num(p, "document.body.innerText.split('<img src=x onerror=alert(1)>')"
                              ".length - 1"), min_shown, "the hostile strings are shown as text");
}

Test(report_html, no_string_from_the_document_injects_markup_or_script, .timeout = 120)
{
    struct page p;
    page_open(&p, "report-sample.json", NULL);
    /* command, target URL, endpoint name in the settings and the requests table, failure
     * error, evidence, recommendation */
    expect_no_injection(&p, 7);
    cr_expect_eq(eval_num(&p, "[...document.querySelectorAll('#flamegraphs title')].filter(t => "
                              "t.textContent.startsWith('<script>alert(\"x\")</script><img')).length"),
                 1, "the hostile frame is a tooltip text");
    page_close(&p);

    /* every string of the sample made hostile (tests/fixtures/report-hostile.json), names
     * used as keys (replicas, components, off-CPU reasons) and enums included: they reach
     * tables, tooltips, chart labels and the flame graph */
    page_open(&p, "report-hostile.json", NULL);
    expect_no_injection(&p, 30);
    cr_expect_eq(p.b->console_errors, 0, "%s", p.b->log);
    cr_expect_eq(p.b->requests, 0, "%s", p.b->log);
    cr_expect_eq(expect_charts_drawn(&p, "report-hostile"), 10);
    page_close(&p);
}

Test(report_html, uses_what_the_correlator_adds, .timeout = 120)
{
    struct page p;
    page_open(&p, "report-full.json", NULL);
    expect_clean(&p);
    cr_expect_eq(expect_charts_drawn(&p, "report-full"), 10);
    expect_text(&p, "#breakdown table thead th:nth-child(2)", "Requests");
    expect_text(&p, "#breakdown table thead th:nth-child(10)", "Event loop wait");
    expect_text(&p, "#breakdown h3", "By replica (all its matched requests, averaged)");
    expect_text(&p, "#breakdown > .body > .table-scroll tbody td:nth-child(1)", "demo");
    expect_text(&p, "#breakdown > .body > .table-scroll tbody td:nth-child(2)", "1,295");
    cr_expect_eq(eval_num(&p, "Chart.getChart(document.querySelector('#breakdown canvas'))"
                              ".data.datasets.length"), 8, "one bar part per non-zero component");
    expect_text(&p, "#verdict table tbody tr:nth-child(2) td:nth-child(3)", "0.30%");
    expect_text(&p, "#verdict table tbody tr:nth-child(3) td:nth-child(3)", "no data");
    expect_text(&p, "#verdict table tbody tr:nth-child(3) td:nth-child(2)", "GET /missing");
    page_close(&p);
}

Test(report_html, client_only_run_explains_what_is_missing, .timeout = 120)
{
    struct page p;
    page_open(&p, "report-client-only.json", NULL);
    expect_clean(&p);
    cr_expect_eq(expect_charts_drawn(&p, "report-client-only"), 3,
                 "throughput, response time, generator: no users in an open-loop run");
    expect_text(&p, "#servers .notice",
                "No server-side timeline: not root: tracing needs CAP_BPF and CAP_PERFMON.");
    expect_text(&p, "#breakdown .notice", "No per-request breakdown: it needs server tracing: "
                                          "not root: tracing needs CAP_BPF and CAP_PERFMON.");
    expect_text(&p, "#flamegraphs .notice", "No CPU profile was recorded: not root: tracing "
                                            "needs CAP_BPF and CAP_PERFMON.");
    expect_text(&p, "#verdict .badge", "no bottleneck found");
    cr_expect_eq(eval_num(&p, "document.querySelectorAll('#checks .warn').length"), 1);
    expect_no_injection(&p, 0);
    page_close(&p);
}

Test(report_html, empty_and_minimal_documents_render, .timeout = 120)
{
    struct page p;
    page_open(&p, "report-empty.json", NULL);
    expect_clean(&p);
    cr_expect_eq(eval_num(&p, "document.querySelectorAll('canvas').length"), 0);
    expect_text(&p, "#timeline .notice", "No per-second timeline was recorded.");
    expect_text(&p, "#verdict .notice", "No verdict: this run has no correlated analysis "
                                        "(server tracing was off).");
    expect_text(&p, "#requests tr.total td:nth-child(3)", "0");
    expect_text(&p, "#requests tr.total td:nth-child(5)", "\xe2\x80\x94");
    page_close(&p);

    page_open(&p, NULL, "{\"schema\":1}");
    expect_clean(&p);
    expect_text(&p, "#requests .notice", "No requests were completed.");
    page_close(&p);
}

/* A one-hour run with four replicas and a large profile: the long-run paths (decimated lines,
 * bucketed bars, thousands of flame-graph frames) draw without errors within the deadline. */
static char *long_run_document(void)
{
    size_t len;
    char *json = read_file("tests/fixtures/report-sample.json", &len);
    cJSON *doc = cJSON_Parse(json);
    free(json);
    cJSON *tl = cJSON_GetObjectItem(doc, "timeline");
    cJSON *proto = cJSON_Duplicate(cJSON_GetArrayItem(tl, cJSON_GetArraySize(tl) - 1), true);
    cJSON *demo = cJSON_GetObjectItem(cJSON_GetObjectItem(proto, "replicas"), "demo");
    cJSON *rows = cJSON_CreateArray(), *replicas = cJSON_CreateArray();
    for (int t = 0; t < 3600; t++) {
        cJSON *row = cJSON_Duplicate(proto, false);
        for (cJSON *f = proto->child; f; f = f->next)
            if (strcmp(f->string, "replicas") != 0)
                cJSON_AddItemToObject(row, f->string, cJSON_Duplicate(f, true));
        cJSON_SetNumberValue(cJSON_GetObjectItem(row, "t"), t);
        double p99 = 200 + t % 97;
        cJSON_SetNumberValue(cJSON_GetObjectItem(row, "p99_ms"), p99);
        cJSON *reps = cJSON_AddObjectToObject(row, "replicas");
        for (int r = 0; r < 4; r++) {
            char name[16];
            snprintf(name, sizeof(name), "r%d", r);
            cJSON *one = cJSON_Duplicate(demo, true);
            double cores = (t * (r + 1)) % 200 / 100.0;
            cJSON_SetNumberValue(cJSON_GetObjectItem(one, "cpu_cores"), cores);
            cJSON_AddItemToObject(reps, name, one);
        }
        cJSON_AddItemToArray(rows, row);
    }
    for (int r = 0; r < 4; r++) {
        cJSON *rep = cJSON_CreateObject();
        char name[16], spec[32];
        snprintf(name, sizeof(name), "r%d", r);
        snprintf(spec, sizeof(spec), "port:%d", 8000 + r);
        cJSON_AddStringToObject(rep, "name", name);
        cJSON_AddStringToObject(rep, "spec", spec);
        cJSON_AddNumberToObject(rep, "workers", 2);
        cJSON_AddNumberToObject(rep, "cores", 2);
        cJSON_AddItemToArray(replicas, rep);
    }
    cJSON *folded = cJSON_CreateArray();
    for (int i = 0; i < 5000; i++) {
        char stack[128];
        snprintf(stack, sizeof(stack), "python3;main;serve;handle%d;predict;layer%d;op%d", i % 40,
                 i % 7, i);
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateString(stack));
        cJSON_AddItemToArray(pair, cJSON_CreateNumber(1 + i % 50));
        cJSON_AddItemToArray(folded, pair);
    }
    cJSON *profile = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "profiles"), 0);
    cJSON_ReplaceItemInObject(profile, "folded", folded);
    cJSON_ReplaceItemInObject(doc, "timeline", rows);
    cJSON_ReplaceItemInObject(doc, "replicas", replicas);
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(doc, "verdict"), "replicas");
    cJSON_Delete(proto);
    char *out = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return out;
}

Test(report_html, one_hour_run_with_four_replicas_renders, .timeout = 180)
{
    char *json = long_run_document();
    struct page p;
    page_open(&p, NULL, json);
    expect_clean(&p);
    cr_expect_eq(expect_charts_drawn(&p, "report-long"), 4 + 4 * 5 + 1);
    expect_text(&p, "#servers .replica:nth-child(1) .chart:nth-child(5) h4",
                "Off-CPU time by reason (average over 12 windows)");
    cr_expect_gt(eval_num(&p, "document.querySelectorAll('#flamegraphs g.f').length"), 1000);
    page_close(&p);
    free(json);
}
