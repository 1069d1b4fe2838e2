#include "report/html.h"

#include <cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/escape.h"
#include "common/json_writer.h"
#include "report/flamegraph.h"
#include "report/html_page.h"

#define REPORT_SCHEMA 1
/* The JSON writer tracks JSON_MAX_DEPTH levels; deeper documents are refused, not mangled. */
#define MAX_DOCUMENT_DEPTH (JSON_MAX_DEPTH - 2)

/* html_assets.S */
extern const char html_asset_template[];
extern const char html_asset_css[];
extern const char html_asset_js[];
extern const char html_asset_chartjs[];

static const cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

/* ---- the document ------------------------------------------------------------------------- */

static int depth_of(const cJSON *item)
{
    int deepest = 0;
    for (const cJSON *c = item->child; c; c = c->next) {
        int d = depth_of(c);
        if (d > deepest)
            deepest = d;
        if (deepest > MAX_DOCUMENT_DEPTH)
            break;
    }
    return (cJSON_IsArray(item) || cJSON_IsObject(item)) ? deepest + 1 : 0;
}

static cJSON *parse_document(const char *json, size_t len, struct error *err)
{
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(json, len, &end, false);
    const cJSON *schema = get(doc, "schema");
    const char *problem = NULL;
    if (!doc) {
        error_set(err, "report document: not valid JSON (at byte %zu)",
                  end ? (size_t)(end - json) : (size_t)0);
        return NULL;
    }
    if (!cJSON_IsObject(doc))
        problem = "not a JSON object";
    else if (!schema)
        problem = "no schema version";
    else if (!cJSON_IsNumber(schema) || schema->valuedouble < 1 ||
             schema->valuedouble > REPORT_SCHEMA)
        problem = "unknown schema version";
    else if (depth_of(doc) > MAX_DOCUMENT_DEPTH)
        problem = "nested too deeply";
    if (problem) {
        error_set(err, "report document: %s (this loadscope reads schema %d)", problem,
                  REPORT_SCHEMA);
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

/* Re-serializes the parsed document with the JSON writer, which escapes '<', '>', '&' and
 * U+2028/9 and replaces invalid UTF-8: whatever the input text was, the output cannot end the
 * <script> block it sits in. */
static void emit_json(struct json_writer *w, const cJSON *item)
{
    const cJSON *c;
    if (cJSON_IsObject(item)) {
        json_object_begin(w);
        for (c = item->child; c; c = c->next) {
            json_key(w, c->string ? c->string : "");
            emit_json(w, c);
        }
        json_object_end(w);
    } else if (cJSON_IsArray(item)) {
        json_array_begin(w);
        for (c = item->child; c; c = c->next)
            emit_json(w, c);
        json_array_end(w);
    } else if (cJSON_IsString(item)) {
        json_string(w, item->valuestring);
    } else if (cJSON_IsNumber(item)) {
        json_double(w, item->valuedouble);
    } else if (cJSON_IsBool(item)) {
        json_bool(w, cJSON_IsTrue(item));
    } else {
        json_null(w);
    }
}

/* ---- flame graphs ------------------------------------------------------------------------- */

/* The profile's "folded" pairs as stacks; malformed pairs (and counts beyond 2^53, which JSON
 * cannot carry exactly) are counted, not drawn. */
static struct folded_stack *profile_stacks(const cJSON *folded, size_t *n, size_t *bad)
{
    int total = cJSON_IsArray(folded) ? cJSON_GetArraySize(folded) : 0;
    struct folded_stack *stacks = malloc((size_t)(total > 0 ? total : 1) * sizeof(*stacks));
    *n = *bad = 0;
    if (!stacks)
        return NULL;
    const cJSON *pair, *list = total > 0 ? folded : NULL;
    cJSON_ArrayForEach(pair, list) {
        const cJSON *stack = cJSON_GetArrayItem(pair, 0), *count = cJSON_GetArrayItem(pair, 1);
        if (!cJSON_IsArray(pair) || !cJSON_IsString(stack) || !cJSON_IsNumber(count) ||
            !(count->valuedouble >= 0 && count->valuedouble <= 9007199254740992.0)) {
            (*bad)++;
            continue;
        }
        stacks[(*n)++] = (struct folded_stack){stack->valuestring, (uint64_t)count->valuedouble};
    }
    return stacks;
}

static int write_flamegraph(FILE *out, const cJSON *profile, const char *nonce,
                            struct error *err)
{
    const cJSON *replica = get(profile, "replica"), *samples = get(profile, "samples");
    const char *name = cJSON_IsString(replica) ? replica->valuestring : "?";
    size_t n, bad;
    struct folded_stack *stacks = profile_stacks(get(profile, "folded"), &n, &bad);
    if (!stacks)
        return error_set(err, "HTML report: out of memory");
    uint64_t in_stacks = 0;
    for (size_t i = 0; i < n; i++)
        in_stacks += stacks[i].count;
    fputs("<figure class=\"flame\"><figcaption>Replica ", out);
    escape_html(out, name);
    /* samples taken but not in a stack (lost, unsymbolized) are said, not hidden */
    if (cJSON_IsNumber(samples) && samples->valuedouble != (double)in_stacks)
        fprintf(out, " \xC2\xB7 %.0f samples taken, %" PRIu64 " with a stack",
                samples->valuedouble, in_stacks);
    if (bad)
        fprintf(out, " \xC2\xB7 %zu malformed stack%s ignored", bad, bad == 1 ? "" : "s");
    fputs("</figcaption>\n", out);
    char title[300];
    snprintf(title, sizeof(title), "CPU profile: %s", name);
    struct flamegraph_options opts = {.inline_html = true, .script_nonce = nonce};
    int rc = flamegraph_svg_write(out, title, stacks, n, &opts, err);
    fputs("</figure>\n", out);
    free(stacks);
    return rc;
}

static int write_flamegraphs(FILE *out, const cJSON *doc, const char *nonce, struct error *err)
{
    const cJSON *profiles = get(doc, "profiles"), *p;
    if (!cJSON_IsArray(profiles))
        return 0;
    cJSON_ArrayForEach(p, profiles)
        if (cJSON_IsObject(p) && write_flamegraph(out, p, nonce, err) != 0)
            return -1;
    return 0;
}

/* ---- the page ----------------------------------------------------------------------------- */

static void write_title(FILE *out, const cJSON *doc)
{
    const cJSON *id = get(get(doc, "run"), "id");
    fputs("loadscope report \xE2\x80\x94 ", out);
    escape_html(out, cJSON_IsString(id) ? id->valuestring : "run");
}

static int write_marker(FILE *out, const char *name, size_t len, const char *nonce,
                        const void *ctx, struct error *err)
{
    const cJSON *doc = ctx;
#define IS(m) (len == sizeof(m) - 1 && memcmp(name, m, len) == 0)
    if (IS("NONCE")) {
        fputs(nonce, out);
    } else if (IS("TITLE")) {
        write_title(out, doc);
    } else if (IS("CSS")) {
        fputs(html_asset_css, out);
    } else if (IS("CHARTJS")) {
        fputs(html_asset_chartjs, out);
    } else if (IS("REPORT_JS")) {
        fputs(html_asset_js, out);
    } else if (IS("DATA")) {
        struct json_writer w;
        json_init(&w, out, false);
        emit_json(&w, doc);
    } else if (IS("FLAMEGRAPHS")) {
        return write_flamegraphs(out, doc, nonce, err);
    } else {
        return error_set(err, "HTML report template: unknown marker {{%.*s}}", (int)len, name);
    }
    return 0;
#undef IS
}

int html_write(FILE *out, const char *document_json, size_t len, struct error *err)
{
    cJSON *doc = parse_document(document_json, len, err);
    if (!doc)
        return -1;
    const char *const scripts[] = {html_asset_chartjs, html_asset_js, NULL};
    int rc = html_page_write(out, "HTML report", html_asset_template, scripts, write_marker, doc,
                             err);
    cJSON_Delete(doc);
    if (rc == 0 && (fflush(out) != 0 || ferror(out)))
        rc = error_set(err, "writing the HTML report: %s", strerror(errno));
    return rc;
}

int html_report_write(const char *path, const char *document_json, size_t len,
                      struct error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return error_set(err, "cannot create %s: %s", path, strerror(errno));
    int rc = html_write(f, document_json, len, err);
    if (rc != 0)
        error_prefix(err, "%s", path);
    if (fclose(f) != 0 && rc == 0)
        rc = error_set(err, "writing %s: %s", path, strerror(errno));
    return rc;
}
