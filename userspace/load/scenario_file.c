/* scenario_load_file (load/scenario.h): a YAML scenario, read with libyaml. JSON is YAML's flow
 * syntax, so the same reader takes .json files. Every error names the file and line:
 * "scenario.yaml:12: unknown key 'wieght' (did you mean 'weight'?)".
 *
 *   host: http://127.0.0.1:8000          # or hosts: [URL, {url: URL, weight: 2}]
 *   users: 50                            # every command-line option by its long name,
 *   spawn_rate: 10                       # '-' or '_' alike
 *   wait: between:0.5s,2s
 *   run_time: 1m
 *   stages: [30s:100, {duration: 1m, target: 100}]
 *   thresholds: [p95<200ms, fail<1%]
 *   endpoints:
 *     - GET /health weight=1             # the -e syntax, or a mapping:
 *     - method: POST
 *       path: /predict
 *       name: predict
 *       weight: 3
 *       headers: {Authorization: Bearer x}
 *       upload: {field: image, file: cat.jpg, type: image/jpeg}   # or body: TEXT / body_file
 *       timeout: 5s
 * Relative file paths are relative to the scenario file. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "load/scenario.h"

struct loader {
    struct scenario *sc;
    yaml_document_t *doc;
    const char *file;
    char *dir;
    struct error *err;
};

static int fail_at(struct loader *l, const yaml_node_t *n, const char *fmt, const char *a,
                   const char *b)
{
    char msg[400];
    snprintf(msg, sizeof(msg), fmt, a, b);
    return error_set(l->err, "%s:%zu: %s", l->file, n ? n->start_mark.line + 1 : 0, msg);
}

static int fail_prefix(struct loader *l, const yaml_node_t *n)
{
    return error_prefix(l->err, "%s:%zu", l->file, n->start_mark.line + 1);
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *node(struct loader *l, yaml_node_item_t i)
{
    return yaml_document_get_node(l->doc, i);
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 30 || lb > 30)
        return 99;
    size_t d[32][32];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

static int unknown_key(struct loader *l, const yaml_node_t *n, const char *key,
                       const char *const *known)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; known[i]; i++) {
        size_t d = edit_distance(key, known[i]);
        if (d < best_d) {
            best_d = d;
            best = known[i];
        }
    }
    if (best)
        return error_set(l->err, "%s:%zu: unknown key '%s' (did you mean '%s'?)", l->file,
                         n->start_mark.line + 1, key, best);
    return fail_at(l, n, "unknown key '%s'%s", key, "");
}

/* Relative paths in a file are relative to the file. */
static char *path_in_dir(struct loader *l, const char *path)
{
    char *out;
    if (path[0] == '/' || !l->dir || asprintf(&out, "%s/%s", l->dir, path) < 0)
        return strdup(path);
    return out;
}

static int set_key(struct loader *l, const yaml_node_t *n, const char *key, const char *value)
{
    if (!value)
        return fail_at(l, n, "'%s' needs a single value%s", key, "");
    if (scenario_set(l->sc, key, value, l->err) < 0)
        return fail_prefix(l, n);
    return 0;
}

static void absolutize_endpoint(struct loader *l, struct scenario_endpoint *e)
{
    if (e->body_file) {
        char *p = path_in_dir(l, e->body_file);
        free(e->body_file);
        e->body_file = p;
    }
    for (size_t i = 0; i < e->upload_count; i++) {
        char *p = path_in_dir(l, e->uploads[i].path);
        free(e->uploads[i].path);
        e->uploads[i].path = p;
    }
}

static int endpoint_headers(struct loader *l, struct scenario_endpoint *e, yaml_node_t *v)
{
    if (v->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
            yaml_node_t *k = node(l, p->key), *val = node(l, p->value);
            if (!scalar(k) || !scalar(val))
                return fail_at(l, k, "headers: expected 'Name: value' pairs%s%s", "", "");
            char kv[8192];
            snprintf(kv, sizeof(kv), "%s:%s", scalar(k), scalar(val));
            if (scenario_endpoint_option(e, "header", kv, l->err) < 0)
                return fail_prefix(l, k);
        }
        return 0;
    }
    if (v->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
            yaml_node_t *item = node(l, *i);
            if (!scalar(item) || scenario_endpoint_option(e, "header", scalar(item), l->err) < 0)
                return scalar(item) ? fail_prefix(l, item)
                                    : fail_at(l, item, "headers: expected 'Name: value'%s%s", "", "");
        }
        return 0;
    }
    return fail_at(l, v, "headers: expected a mapping%s%s", "", "");
}

static int endpoint_upload(struct loader *l, struct scenario_endpoint *e, yaml_node_t *v)
{
    if (v->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++)
            if (endpoint_upload(l, e, node(l, *i)) < 0)
                return -1;
        return 0;
    }
    if (scalar(v)) { /* FIELD=@file;type=T */
        if (scenario_endpoint_option(e, "upload", scalar(v), l->err) < 0)
            return fail_prefix(l, v);
        return 0;
    }
    if (v->type != YAML_MAPPING_NODE)
        return fail_at(l, v, "upload: expected {field, file, type}%s%s", "", "");
    const char *field = NULL, *file = NULL, *type = NULL;
    static const char *const known[] = {"field", "file", "type", NULL};
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(l, p->key), *val = node(l, p->value);
        const char *key = scalar(k);
        if (!key || !scalar(val))
            return fail_at(l, k, "upload: expected scalar values%s%s", "", "");
        if (!strcmp(key, "field"))
            field = scalar(val);
        else if (!strcmp(key, "file"))
            file = scalar(val);
        else if (!strcmp(key, "type") || !strcmp(key, "content_type"))
            type = scalar(val);
        else
            return unknown_key(l, k, key, known);
    }
    if (!field || !file)
        return fail_at(l, v, "upload: needs 'field' and 'file'%s%s", "", "");
    char spec[8192];
    snprintf(spec, sizeof(spec), "%s=@%s%s%s", field, file, type ? ";type=" : "", type ? type : "");
    if (scenario_endpoint_option(e, "upload", spec, l->err) < 0)
        return fail_prefix(l, v);
    return 0;
}

static int endpoint_mapping(struct loader *l, yaml_node_t *v)
{
    static const char *const known[] = {"method", "path", "name", "weight", "headers", "header",
                                        "body", "body_file", "upload", "timeout", NULL};
    const char *method = "GET", *path = NULL;
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        const char *key = scalar(node(l, p->key));
        if (key && !strcmp(key, "method"))
            method = scalar(node(l, p->value));
        else if (key && !strcmp(key, "path"))
            path = scalar(node(l, p->value));
    }
    if (!path || !method)
        return fail_at(l, v, "endpoint: needs 'path' (and 'method', default GET)%s%s", "", "");
    if (scenario_endpoint_begin(l->sc, method, path, l->err) < 0)
        return fail_prefix(l, v);
    struct scenario_endpoint *e = &l->sc->endpoints[l->sc->endpoint_count - 1];
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(l, p->key), *val = node(l, p->value);
        const char *key = scalar(k);
        if (!key)
            return fail_at(l, k, "expected a key%s%s", "", "");
        if (!strcmp(key, "method") || !strcmp(key, "path"))
            continue;
        if (!strcmp(key, "headers") || !strcmp(key, "header")) {
            if (scalar(val) ? scenario_endpoint_option(e, "header", scalar(val), l->err) < 0 &&
                                  fail_prefix(l, val)
                            : endpoint_headers(l, e, val) < 0)
                return -1;
        } else if (!strcmp(key, "upload")) {
            if (endpoint_upload(l, e, val) < 0)
                return -1;
        } else if (!strcmp(key, "body_file")) {
            if (!scalar(val))
                return fail_at(l, val, "body_file: expected a path%s%s", "", "");
            char spec[8192];
            snprintf(spec, sizeof(spec), "@%s", scalar(val));
            if (scenario_endpoint_option(e, "body", spec, l->err) < 0)
                return fail_prefix(l, val);
        } else if (!strcmp(key, "name") || !strcmp(key, "weight") || !strcmp(key, "body") ||
                   !strcmp(key, "timeout")) {
            if (!scalar(val))
                return fail_at(l, val, "'%s' needs a single value%s", key, "");
            if (scenario_endpoint_option(e, key, scalar(val), l->err) < 0)
                return fail_prefix(l, val);
        } else {
            return unknown_key(l, k, key, known);
        }
    }
    absolutize_endpoint(l, e);
    return 0;
}

static int endpoints(struct loader *l, yaml_node_t *v)
{
    if (v->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++)
            if (endpoints(l, node(l, *i)) < 0)
                return -1;
        return 0;
    }
    if (v->type == YAML_MAPPING_NODE)
        return endpoint_mapping(l, v);
    if (scenario_add_endpoint(l->sc, scalar(v), l->err) < 0)
        return fail_prefix(l, v);
    absolutize_endpoint(l, &l->sc->endpoints[l->sc->endpoint_count - 1]);
    return 0;
}

static int hosts(struct loader *l, yaml_node_t *v)
{
    if (v->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++)
            if (hosts(l, node(l, *i)) < 0)
                return -1;
        return 0;
    }
    if (v->type == YAML_MAPPING_NODE) {
        const char *url = NULL, *weight = NULL;
        static const char *const known[] = {"url", "weight", NULL};
        for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
            yaml_node_t *k = node(l, p->key);
            const char *key = scalar(k);
            if (key && !strcmp(key, "url"))
                url = scalar(node(l, p->value));
            else if (key && !strcmp(key, "weight"))
                weight = scalar(node(l, p->value));
            else
                return unknown_key(l, k, key ? key : "?", known);
        }
        if (!url)
            return fail_at(l, v, "host: needs 'url'%s%s", "", "");
        char spec[4096];
        snprintf(spec, sizeof(spec), "%s%s%s", url, weight ? "=" : "", weight ? weight : "");
        return set_key(l, v, "host", spec);
    }
    return set_key(l, v, "host", scalar(v));
}

static int stages(struct loader *l, yaml_node_t *v)
{
    if (v->type != YAML_SEQUENCE_NODE)
        return fail_at(l, v, "stages: expected a list%s%s", "", "");
    for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
        yaml_node_t *item = node(l, *i);
        if (item->type != YAML_MAPPING_NODE) {
            if (set_key(l, item, "stage", scalar(item)) < 0)
                return -1;
            continue;
        }
        const char *duration = NULL, *target = NULL;
        static const char *const known[] = {"duration", "target", NULL};
        for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top; p++) {
            yaml_node_t *k = node(l, p->key);
            const char *key = scalar(k);
            if (key && !strcmp(key, "duration"))
                duration = scalar(node(l, p->value));
            else if (key && (!strcmp(key, "target") || !strcmp(key, "users") || !strcmp(key, "rate")))
                target = scalar(node(l, p->value));
            else
                return unknown_key(l, k, key ? key : "?", known);
        }
        if (!duration || !target)
            return fail_at(l, item, "stage: needs 'duration' and 'target'%s%s", "", "");
        char spec[256];
        snprintf(spec, sizeof(spec), "%s:%s", duration, target);
        if (set_key(l, item, "stage", spec) < 0)
            return -1;
    }
    return 0;
}

static int list_of_scalars(struct loader *l, yaml_node_t *v, const char *key)
{
    if (v->type != YAML_SEQUENCE_NODE)
        return set_key(l, v, key, scalar(v));
    for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++)
        if (set_key(l, node(l, *i), key, scalar(node(l, *i))) < 0)
            return -1;
    return 0;
}

static int top_level(struct loader *l, yaml_node_t *root)
{
    static const char *const known[] = {
        "host", "hosts", "endpoint", "endpoints", "stage", "stages", "threshold", "thresholds",
        "users", "spawn_rate", "wait", "run_time", "rate", "connections", "threads",
        "max_requests", "timeout", "stop_timeout", "check", "csv", "json", "engine", NULL};
    static const char *const scalars[] = {"users", "spawn_rate", "wait", "run_time", "rate",
                                          "connections", "threads", "max_requests", "timeout",
                                          "stop_timeout", "check", "csv", "json", "engine", NULL};
    if (!root || root->type != YAML_MAPPING_NODE)
        return fail_at(l, root, "expected a mapping of options (host:, users:, endpoints: ...)%s%s",
                       "", "");
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(l, p->key), *v = node(l, p->value);
        const char *raw = scalar(k);
        if (!raw)
            return fail_at(l, k, "expected a key%s%s", "", "");
        char key[64];
        size_t n;
        for (n = 0; raw[n] && n + 1 < sizeof(key); n++)
            key[n] = raw[n] == '-' ? '_' : raw[n];
        key[n] = 0;
        int rc;
        if (!strcmp(key, "host") || !strcmp(key, "hosts"))
            rc = hosts(l, v);
        else if (!strcmp(key, "endpoint") || !strcmp(key, "endpoints"))
            rc = endpoints(l, v);
        else if (!strcmp(key, "stage") || !strcmp(key, "stages"))
            rc = stages(l, v);
        else if (!strcmp(key, "threshold") || !strcmp(key, "thresholds"))
            rc = list_of_scalars(l, v, "threshold");
        else {
            bool ok = false;
            for (size_t i = 0; scalars[i] && !ok; i++)
                ok = !strcmp(key, scalars[i]);
            if (!ok)
                return unknown_key(l, k, raw, known);
            rc = set_key(l, v, key, scalar(v));
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

int scenario_load_file(struct scenario *sc, const char *path, struct error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return error_set(err, "cannot read scenario '%s': %m", path);
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    int rc = -1;
    if (!yaml_parser_load(&parser, &doc)) {
        error_set(err, "%s:%zu: %s%s%s", path, parser.problem_mark.line + 1,
                  parser.problem ? parser.problem : "bad YAML",
                  parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        fclose(f);
        return -1;
    }
    char *copy = strdup(path);
    struct loader l = {sc, &doc, path, copy ? strdup(dirname(copy)) : NULL, err};
    free(copy);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root)
        error_set(err, "%s: empty scenario file", path);
    else
        rc = top_level(&l, root);
    free(sc->file);
    sc->file = strdup(path);
    free(l.dir);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}
