#include "load/scenario.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/duration.h"

void scenario_init(struct scenario *sc)
{
    memset(sc, 0, sizeof(*sc));
    sc->users = 1; /* Locust's default */
    sc->connections = 100;
    sc->timeout_ns = 30 * NS_PER_SEC;
    sc->stop_timeout_ns = 5 * NS_PER_SEC;
    sc->threads = 1;
    sc->check = true;
}

static void free_host(struct scenario_host *h)
{
    free(h->url);
    free(h->scheme);
    free(h->hostname);
    free(h->base_path);
    memset(h, 0, sizeof(*h));
}

static void free_endpoint(struct scenario_endpoint *e)
{
    free(e->method);
    free(e->path);
    free(e->name);
    for (size_t i = 0; i < e->header_count; i++)
        free(e->headers[i]);
    free(e->body_text);
    free(e->body_file);
    for (size_t i = 0; i < e->upload_count; i++) {
        free(e->uploads[i].field);
        free(e->uploads[i].path);
        free(e->uploads[i].content_type);
    }
    free(e->body);
    free(e->content_type);
    memset(e, 0, sizeof(*e));
}

void scenario_clear_list(struct scenario *sc, const char *key)
{
    if (!strcmp(key, "host")) {
        for (size_t i = 0; i < sc->host_count; i++)
            free_host(&sc->hosts[i]);
        sc->host_count = 0;
    } else if (!strcmp(key, "endpoint")) {
        for (size_t i = 0; i < sc->endpoint_count; i++)
            free_endpoint(&sc->endpoints[i]);
        sc->endpoint_count = 0;
    } else if (!strcmp(key, "stage")) {
        sc->stage_count = 0;
    } else if (!strcmp(key, "threshold")) {
        for (size_t i = 0; i < sc->threshold_count; i++)
            free(sc->thresholds[i]);
        sc->threshold_count = 0;
    }
}

void scenario_free(struct scenario *sc)
{
    scenario_clear_list(sc, "host");
    scenario_clear_list(sc, "endpoint");
    scenario_clear_list(sc, "threshold");
    free(sc->csv_prefix);
    free(sc->json_path);
    free(sc->file);
    free(sc->file_dir);
    scenario_init(sc);
}

bool scenario_key_is_list(const char *key)
{
    return !strcmp(key, "host") || !strcmp(key, "endpoint") || !strcmp(key, "stage") ||
           !strcmp(key, "threshold");
}

/* ---- small parsers ---------------------------------------------------------------------- */

static int parse_uint(const char *text, const char *what, uint64_t max, uint64_t *out,
                      struct error *err)
{
    char *end;
    errno = 0;
    if (!text || !isdigit((unsigned char)*text))
        return error_set(err, "%s: expected a whole number, got '%s'", what, text ? text : "");
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v > max)
        return error_set(err, "%s: bad number '%s'", what, text);
    *out = v;
    return 0;
}

static int parse_double(const char *text, const char *what, double *out, struct error *err)
{
    char *end;
    if (!text || !*text)
        return error_set(err, "%s: expected a number", what);
    double v = strtod(text, &end);
    if (*end || !isfinite(v) || v < 0)
        return error_set(err, "%s: bad number '%s'", what, text);
    *out = v;
    return 0;
}

static int parse_duration(const char *text, const char *what, uint64_t *out, struct error *err)
{
    if (duration_parse(text, out, err) < 0)
        return error_prefix(err, "%s", what);
    return 0;
}

static int parse_bool(const char *text, const char *what, bool *out, struct error *err)
{
    if (!strcmp(text, "true") || !strcmp(text, "yes") || !strcmp(text, "1") || !strcmp(text, "on"))
        *out = true;
    else if (!strcmp(text, "false") || !strcmp(text, "no") || !strcmp(text, "0") ||
             !strcmp(text, "off"))
        *out = false;
    else
        return error_set(err, "%s: expected true or false, got '%s'", what, text);
    return 0;
}

/* "constant:1s", "between:0.5s,2s", "none", or a bare duration (constant). */
static int parse_wait(const char *text, struct scenario_wait *w, struct error *err)
{
    memset(w, 0, sizeof(*w));
    if (!strcmp(text, "none") || !strcmp(text, "0"))
        return 0;
    if (!strncmp(text, "constant:", 9)) {
        w->kind = WAIT_CONSTANT;
        if (parse_duration(text + 9, "wait", &w->min_ns, err) < 0)
            return -1;
        w->max_ns = w->min_ns;
        return 0;
    }
    if (!strncmp(text, "between:", 8)) {
        const char *comma = strchr(text + 8, ',');
        if (!comma)
            return error_set(err, "wait: expected between:MIN,MAX, got '%s'", text);
        char lo[64];
        size_t n = (size_t)(comma - (text + 8));
        if (n >= sizeof(lo))
            return error_set(err, "wait: bad value '%s'", text);
        memcpy(lo, text + 8, n);
        lo[n] = 0;
        w->kind = WAIT_BETWEEN;
        if (parse_duration(lo, "wait", &w->min_ns, err) < 0 ||
            parse_duration(comma + 1, "wait", &w->max_ns, err) < 0)
            return -1;
        if (w->max_ns < w->min_ns)
            return error_set(err, "wait: between:MIN,MAX needs MIN <= MAX, got '%s'", text);
        return 0;
    }
    if (isdigit((unsigned char)*text)) {
        w->kind = WAIT_CONSTANT;
        if (parse_duration(text, "wait", &w->min_ns, err) < 0)
            return -1;
        w->max_ns = w->min_ns;
        return 0;
    }
    return error_set(err, "wait: expected constant:1s, between:0.5s,2s or none, got '%s'", text);
}

/* "30s:100" */
static int parse_stage(const char *text, struct scenario_stage *st, struct error *err)
{
    const char *colon = strrchr(text, ':');
    if (!colon)
        return error_set(err, "stage: expected DURATION:TARGET (e.g. 30s:100), got '%s'", text);
    char dur[64];
    size_t n = (size_t)(colon - text);
    if (n == 0 || n >= sizeof(dur))
        return error_set(err, "stage: expected DURATION:TARGET (e.g. 30s:100), got '%s'", text);
    memcpy(dur, text, n);
    dur[n] = 0;
    if (parse_duration(dur, "stage", &st->duration_ns, err) < 0)
        return -1;
    return parse_double(colon + 1, "stage target", &st->target, err);
}

int scenario_add_host(struct scenario *sc, const char *spec, struct error *err)
{
    if (sc->host_count >= SCENARIO_MAX_HOSTS)
        return error_set(err, "too many hosts (at most %d)", SCENARIO_MAX_HOSTS);
    char url[2048];
    if (strlen(spec) >= sizeof(url))
        return error_set(err, "host URL too long");
    strcpy(url, spec);
    unsigned weight = 1;
    char *eq = strrchr(url, '=');
    if (eq && !strchr(eq, '/')) {
        uint64_t w;
        if (parse_uint(eq + 1, "host weight", 1000000, &w, err) < 0)
            return -1;
        if (w == 0)
            return error_set(err, "host weight must be at least 1 in '%s'", spec);
        weight = (unsigned)w;
        *eq = 0;
    }
    const char *p = strstr(url, "://");
    if (!p)
        return error_set(err, "malformed URL '%s' (expected http://host[:port][/path])", url);
    size_t scheme_len = (size_t)(p - url);
    char scheme[16];
    if (scheme_len == 0 || scheme_len >= sizeof(scheme))
        return error_set(err, "malformed URL '%s' (expected http://host[:port][/path])", url);
    for (size_t i = 0; i < scheme_len; i++)
        scheme[i] = (char)tolower((unsigned char)url[i]);
    scheme[scheme_len] = 0;
    if (strcmp(scheme, "http") && strcmp(scheme, "https"))
        return error_set(err, "unsupported URL scheme '%s' in '%s' (http or https)", scheme, url);
    const char *h = p + 3;
    char host[256];
    const char *after;
    if (*h == '[') {
        const char *close = strchr(h, ']');
        if (!close || (size_t)(close - h - 1) >= sizeof(host))
            return error_set(err, "malformed URL '%s'", url);
        memcpy(host, h + 1, (size_t)(close - h - 1));
        host[close - h - 1] = 0;
        after = close + 1;
    } else {
        size_t n = strcspn(h, ":/?#");
        if (n >= sizeof(host))
            return error_set(err, "malformed URL '%s'", url);
        memcpy(host, h, n);
        host[n] = 0;
        after = h + n;
    }
    if (!host[0])
        return error_set(err, "malformed URL '%s': no host name", url);
    for (const char *c = host; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr(".-_:", *c))
            return error_set(err, "malformed URL '%s': bad host name '%s'", url, host);
    int port = strcmp(scheme, "https") ? 80 : 443;
    if (*after == ':') {
        uint64_t v;
        char portbuf[16];
        size_t n = strcspn(after + 1, "/?#");
        if (n == 0 || n >= sizeof(portbuf))
            return error_set(err, "malformed URL '%s': bad port", url);
        memcpy(portbuf, after + 1, n);
        portbuf[n] = 0;
        if (parse_uint(portbuf, "port", 65535, &v, NULL) < 0 || v == 0)
            return error_set(err, "malformed URL '%s': bad port '%s'", url, portbuf);
        port = (int)v;
        after += 1 + n;
    }
    if (*after && *after != '/')
        return error_set(err, "malformed URL '%s'", url);
    size_t base_len = strlen(after);
    while (base_len > 0 && after[base_len - 1] == '/')
        base_len--;
    struct scenario_host *out = &sc->hosts[sc->host_count];
    memset(out, 0, sizeof(*out));
    out->scheme = strdup(scheme);
    out->hostname = strdup(host);
    out->port = port;
    out->base_path = strndup(after, base_len);
    out->weight = weight;
    size_t url_len = strlen(url);
    while (url_len > 0 && url[url_len - 1] == '/')
        url_len--;
    out->url = strndup(url, url_len);
    sc->host_count++;
    return 0;
}

/* ---- endpoints: 'METHOD PATH key=value ...' ---------------------------------------------- */

/* Next whitespace-separated token of *p into buf; a value part starting with a quote runs to
 * the matching quote (so body='{"a": 1}' and header="K: v w" keep their spaces). */
static int next_token(const char **p, char *buf, size_t len, struct error *err)
{
    const char *s = *p;
    while (isspace((unsigned char)*s))
        s++;
    size_t n = 0;
    char quote = 0;
    while (*s && (quote || !isspace((unsigned char)*s))) {
        if (!quote && (*s == '\'' || *s == '"') && (n == 0 || buf[n - 1] == '=')) {
            quote = *s++;
            continue;
        }
        if (quote && *s == quote) {
            quote = 0;
            s++;
            continue;
        }
        if (n + 1 >= len)
            return error_set(err, "endpoint: value too long");
        buf[n++] = *s++;
    }
    if (quote)
        return error_set(err, "endpoint: unterminated quote");
    buf[n] = 0;
    *p = s;
    return (int)n;
}

static int add_header(struct scenario_endpoint *e, const char *kv, struct error *err)
{
    const char *colon = strchr(kv, ':');
    if (!colon || colon == kv)
        return error_set(err, "header: expected KEY:VALUE, got '%s'", kv);
    if (e->header_count >= SCENARIO_MAX_HEADERS)
        return error_set(err, "too many headers (at most %d)", SCENARIO_MAX_HEADERS);
    const char *v = colon + 1;
    while (isspace((unsigned char)*v))
        v++;
    for (const char *c = kv; c < colon; c++)
        if (!isgraph((unsigned char)*c))
            return error_set(err, "header: bad name in '%s'", kv);
    if (strpbrk(v, "\r\n"))
        return error_set(err, "header: line breaks are not allowed in '%s'", kv);
    char *h;
    if (asprintf(&h, "%.*s: %s", (int)(colon - kv), kv, v) < 0)
        return error_set(err, "out of memory");
    e->headers[e->header_count++] = h;
    return 0;
}

/* "FIELD=@file[;type=T]" */
static int add_upload(struct scenario_endpoint *e, const char *spec, struct error *err)
{
    if (e->upload_count >= SCENARIO_MAX_UPLOADS)
        return error_set(err, "too many uploads (at most %d)", SCENARIO_MAX_UPLOADS);
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || eq[1] != '@' || !eq[2])
        return error_set(err, "upload: expected FIELD=@file[;type=image/jpeg], got '%s'", spec);
    struct scenario_upload *u = &e->uploads[e->upload_count];
    const char *path = eq + 2;
    const char *semi = strstr(path, ";type=");
    u->field = strndup(spec, (size_t)(eq - spec));
    u->path = semi ? strndup(path, (size_t)(semi - path)) : strdup(path);
    u->content_type = strdup(semi ? semi + 6 : "application/octet-stream");
    e->upload_count++;
    return 0;
}

static int endpoint_option(struct scenario_endpoint *e, const char *tok, struct error *err)
{
    const char *eq = strchr(tok, '=');
    if (!eq)
        return error_set(err, "unexpected '%s' (options are key=value)", tok);
    size_t klen = (size_t)(eq - tok);
    const char *v = eq + 1;
    if (klen == 4 && !strncmp(tok, "name", 4)) {
        if (!*v)
            return error_set(err, "name: empty");
        free(e->name);
        e->name = strdup(v);
    } else if (klen == 6 && !strncmp(tok, "weight", 6)) {
        uint64_t w;
        if (parse_uint(v, "weight", 1000000, &w, err) < 0)
            return -1;
        e->weight = (unsigned)w;
    } else if (klen == 6 && !strncmp(tok, "header", 6)) {
        return add_header(e, v, err);
    } else if (klen == 4 && !strncmp(tok, "body", 4)) {
        free(e->body_text);
        free(e->body_file);
        e->body_text = e->body_file = NULL;
        if (v[0] == '@')
            e->body_file = strdup(v + 1);
        else
            e->body_text = strdup(v);
    } else if (klen == 6 && !strncmp(tok, "upload", 6)) {
        return add_upload(e, v, err);
    } else if (klen == 7 && !strncmp(tok, "timeout", 7)) {
        if (parse_duration(v, "timeout", &e->timeout_ns, err) < 0)
            return -1;
        if (e->timeout_ns < NS_PER_MS)
            return error_set(err, "timeout: at least 1ms");
    } else {
        return error_set(err, "unknown option '%.*s' (name=, weight=, header=, body=, upload=, "
                              "timeout=)", (int)klen, tok);
    }
    return 0;
}

int scenario_endpoint_begin(struct scenario *sc, const char *method, const char *path,
                            struct error *err)
{
    if (sc->endpoint_count >= SCENARIO_MAX_ENDPOINTS)
        return error_set(err, "too many endpoints (at most %d)", SCENARIO_MAX_ENDPOINTS);
    if (!*method)
        return error_set(err, "expected 'METHOD PATH', e.g. 'GET /health'");
    for (const char *c = method; *c; c++)
        if (!isalpha((unsigned char)*c))
            return error_set(err, "bad method '%s'", method);
    if (path[0] != '/')
        return error_set(err, "path must start with '/', got '%s'", path);
    for (const char *c = path; *c; c++)
        if (!isgraph((unsigned char)*c))
            return error_set(err, "path must not contain spaces or control characters");
    struct scenario_endpoint *e = &sc->endpoints[sc->endpoint_count];
    memset(e, 0, sizeof(*e));
    e->method = strdup(method);
    for (char *c = e->method; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    e->path = strdup(path);
    e->weight = 1;
    sc->endpoint_count++;
    return 0;
}

int scenario_add_endpoint(struct scenario *sc, const char *spec, struct error *err)
{
    const char *p = spec;
    char method[32], path[4096], tok[65536];
    int n = next_token(&p, method, sizeof(method), err);
    if (n <= 0)
        return n < 0 ? -1 : error_set(err, "endpoint: expected 'METHOD PATH', e.g. 'GET /'");
    n = next_token(&p, path, sizeof(path), err);
    if (n < 0)
        return -1;
    if (n == 0) {
        if (method[0] == '/') /* 'GET' omitted: "/health" */
            return error_set(err, "endpoint '%s': expected 'METHOD PATH', e.g. 'GET %s'", spec,
                             method);
        return error_set(err, "endpoint '%s': expected 'METHOD PATH', e.g. 'GET /'", spec);
    }
    if (scenario_endpoint_begin(sc, method, path, err) < 0)
        return error_prefix(err, "endpoint '%s'", spec);
    struct scenario_endpoint *e = &sc->endpoints[sc->endpoint_count - 1];
    while ((n = next_token(&p, tok, sizeof(tok), err)) > 0) {
        if (endpoint_option(e, tok, err) < 0) {
            free_endpoint(e);
            sc->endpoint_count--;
            return error_prefix(err, "endpoint '%s'", spec);
        }
    }
    if (n < 0) {
        free_endpoint(e);
        sc->endpoint_count--;
        return error_prefix(err, "endpoint '%s'", spec);
    }
    return 0;
}

int scenario_endpoint_option(struct scenario_endpoint *e, const char *key, const char *value,
                             struct error *err)
{
    char tok[65536];
    if (snprintf(tok, sizeof(tok), "%s=%s", key, value) >= (int)sizeof(tok))
        return error_set(err, "%s: value too long", key);
    return endpoint_option(e, tok, err);
}

/* ---- the shared key=value setter --------------------------------------------------------- */

static void set_string(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v);
}

int scenario_set(struct scenario *sc, const char *raw_key, const char *v, struct error *err)
{
    char key[64];
    size_t i;
    for (i = 0; raw_key[i] && i + 1 < sizeof(key); i++)
        key[i] = raw_key[i] == '_' ? '-' : raw_key[i];
    key[i] = 0;
    uint64_t u;
    if (!strcmp(key, "host"))
        return scenario_add_host(sc, v, err);
    if (!strcmp(key, "endpoint"))
        return scenario_add_endpoint(sc, v, err);
    if (!strcmp(key, "stage")) {
        if (sc->stage_count >= SCENARIO_MAX_STAGES)
            return error_set(err, "too many stages (at most %d)", SCENARIO_MAX_STAGES);
        if (parse_stage(v, &sc->stages[sc->stage_count], err) < 0)
            return -1;
        sc->stage_count++;
        return 0;
    }
    if (!strcmp(key, "threshold")) {
        if (sc->threshold_count >= SCENARIO_MAX_THRESHOLDS)
            return error_set(err, "too many thresholds (at most %d)", SCENARIO_MAX_THRESHOLDS);
        sc->thresholds[sc->threshold_count++] = strdup(v);
        return 0;
    }
    if (!strcmp(key, "users")) {
        if (parse_uint(v, "users", 10000000, &u, err) < 0)
            return -1;
        if (u == 0)
            return error_set(err, "users: zero users would send nothing (at least 1)");
        sc->users = (unsigned)u;
        sc->users_set = true;
        return 0;
    }
    if (!strcmp(key, "spawn-rate"))
        return parse_double(v, "spawn rate", &sc->spawn_rate, err);
    if (!strcmp(key, "wait"))
        return parse_wait(v, &sc->wait, err);
    if (!strcmp(key, "run-time"))
        return parse_duration(v, "run time", &sc->run_time_ns, err);
    if (!strcmp(key, "rate")) {
        if (parse_double(v, "rate", &sc->rate, err) < 0)
            return -1;
        sc->open_loop = true;
        return 0;
    }
    if (!strcmp(key, "connections")) {
        if (parse_uint(v, "connections", 1000000, &u, err) < 0)
            return -1;
        if (u == 0)
            return error_set(err, "connections: at least 1");
        sc->connections = (unsigned)u;
        return 0;
    }
    if (!strcmp(key, "threads")) {
        if (parse_uint(v, "threads", SCENARIO_MAX_THREADS, &u, err) < 0)
            return -1;
        if (u == 0)
            return error_set(err, "threads: at least 1");
        sc->threads = (unsigned)u;
        return 0;
    }
    if (!strcmp(key, "engine")) {
        if (!strcmp(v, "auto"))
            sc->engine = SCENARIO_ENGINE_AUTO;
        else if (!strcmp(v, "curl"))
            sc->engine = SCENARIO_ENGINE_CURL;
        else if (!strcmp(v, "raw"))
            sc->engine = SCENARIO_ENGINE_RAW;
        else
            return error_set(err, "engine: expected auto, curl or raw, got '%s'", v);
        return 0;
    }
    if (!strcmp(key, "max-requests"))
        return parse_uint(v, "max requests", UINT64_MAX, &sc->max_requests, err);
    if (!strcmp(key, "timeout")) {
        if (parse_duration(v, "timeout", &sc->timeout_ns, err) < 0)
            return -1;
        if (sc->timeout_ns < NS_PER_MS)
            return error_set(err, "timeout: at least 1ms");
        return 0;
    }
    if (!strcmp(key, "stop-timeout"))
        return parse_duration(v, "stop timeout", &sc->stop_timeout_ns, err);
    if (!strcmp(key, "check"))
        return parse_bool(v, "check", &sc->check, err);
    if (!strcmp(key, "csv")) {
        set_string(&sc->csv_prefix, v);
        return 0;
    }
    if (!strcmp(key, "json")) {
        set_string(&sc->json_path, v);
        return 0;
    }
    return error_set(err, "unknown option '%s'", raw_key);
}

/* ---- finishing: defaults, checks, bodies ------------------------------------------------- */

static char *resolve_path(const struct scenario *sc, const char *path)
{
    char *out;
    if (path[0] == '/' || !sc->file_dir)
        return strdup(path);
    if (asprintf(&out, "%s/%s", sc->file_dir, path) < 0)
        return NULL;
    return out;
}

static int read_file(const struct scenario *sc, const char *path, char **data, size_t *len,
                     struct error *err)
{
    char *full = resolve_path(sc, path);
    FILE *f = full ? fopen(full, "rb") : NULL;
    if (!f) {
        error_set(err, "cannot read '%s': %s", full ? full : path, strerror(errno));
        free(full);
        return -1;
    }
    free(full);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
            }
            buf = bigger;
        }
    }
    bool failed = ferror(f) || !buf;
    fclose(f);
    if (failed) {
        free(buf);
        return error_set(err, "cannot read '%s'", path);
    }
    *data = buf;
    *len = n;
    return 0;
}

static bool has_header(const struct scenario_endpoint *e, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < e->header_count; i++)
        if (!strncasecmp(e->headers[i], name, n) && e->headers[i][n] == ':')
            return true;
    return false;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* multipart/form-data with one part per upload, built once: every request sends these bytes. */
static int build_multipart(const struct scenario *sc, struct scenario_endpoint *e,
                           struct error *err)
{
    char *files[SCENARIO_MAX_UPLOADS] = {0};
    size_t lens[SCENARIO_MAX_UPLOADS] = {0};
    int rc = -1;
    for (size_t i = 0; i < e->upload_count; i++)
        if (read_file(sc, e->uploads[i].path, &files[i], &lens[i], err) < 0)
            goto out;
    /* A boundary that occurs in none of the files. */
    char boundary[64];
    for (unsigned attempt = 0;; attempt++) {
        snprintf(boundary, sizeof(boundary), "----loadscope%08x%08x", attempt * 2654435761u,
                 (unsigned)(lens[0] * 40503u + attempt));
        bool clash = false;
        for (size_t i = 0; i < e->upload_count && !clash; i++)
            clash = memmem(files[i], lens[i], boundary, strlen(boundary)) != NULL;
        if (!clash)
            break;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) {
        error_set(err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < e->upload_count; i++) {
        const struct scenario_upload *u = &e->uploads[i];
        fprintf(m, "--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                   "Content-Type: %s\r\n\r\n",
                boundary, u->field, base_name(u->path), u->content_type);
        fwrite(files[i], 1, lens[i], m);
        fputs("\r\n", m);
    }
    fprintf(m, "--%s--\r\n", boundary);
    fclose(m);
    e->body = buf;
    e->body_len = len;
    if (asprintf(&e->content_type, "multipart/form-data; boundary=%s", boundary) < 0)
        e->content_type = NULL;
    rc = 0;
out:
    for (size_t i = 0; i < e->upload_count; i++)
        free(files[i]);
    return rc;
}

static int build_body(const struct scenario *sc, struct scenario_endpoint *e, struct error *err)
{
    free(e->body);
    free(e->content_type);
    e->body = e->content_type = NULL;
    e->body_len = 0;
    if (e->upload_count > 0) {
        if (e->body_text || e->body_file)
            return error_set(err, "body= and upload= exclude each other");
        if (has_header(e, "Content-Type"))
            return error_set(err, "upload= sets its own Content-Type header");
        return build_multipart(sc, e, err);
    }
    if (e->body_file) {
        if (read_file(sc, e->body_file, &e->body, &e->body_len, err) < 0)
            return -1;
    } else if (e->body_text) {
        e->body_len = strlen(e->body_text);
        e->body = malloc(e->body_len + 1);
        memcpy(e->body, e->body_text, e->body_len + 1);
    } else {
        return 0;
    }
    /* A JSON-looking body gets a JSON content type unless one was given: inference APIs
     * (FastAPI, Flask's get_json) reject libcurl's default form encoding. */
    size_t i = 0;
    while (i < e->body_len && isspace((unsigned char)e->body[i]))
        i++;
    if (!has_header(e, "Content-Type") && i < e->body_len &&
        (e->body[i] == '{' || e->body[i] == '['))
        e->content_type = strdup("application/json");
    return 0;
}

int scenario_finish(struct scenario *sc, struct error *err)
{
    if (sc->host_count == 0)
        return error_set(err, "no target: give -H/--host URL (e.g. -H http://127.0.0.1:8000)");
    if (sc->endpoint_count == 0 && scenario_add_endpoint(sc, "GET /", err) < 0)
        return -1;
    if (sc->open_loop && sc->users_set)
        return error_set(err, "--users (closed model) and --rate (open model) exclude each other");
    if (sc->open_loop && sc->rate <= 0 && sc->stage_count == 0)
        return error_set(err, "rate: must be above 0 requests/s");
    double peak = sc->open_loop ? sc->rate : (double)sc->users;
    if (sc->stage_count > 0) {
        peak = sc->open_loop ? sc->rate : 0;
        for (size_t i = 0; i < sc->stage_count; i++)
            peak = fmax(peak, sc->stages[i].target);
        if (peak <= 0)
            return error_set(err, "stages: every target is 0, nothing would be sent");
        if (!sc->open_loop && peak < 1)
            return error_set(err, "stages: zero users (a target below 1)");
    }
    if (sc->engine == SCENARIO_ENGINE_RAW && !scenario_plain_http(sc))
        return error_set(err, "engine raw speaks plain http:// only: use --engine curl (or auto) "
                              "for https hosts");
    unsigned total_weight = 0;
    for (size_t i = 0; i < sc->endpoint_count; i++)
        total_weight += sc->endpoints[i].weight;
    if (total_weight == 0)
        return error_set(err, "every endpoint has weight 0: nothing would be sent");
    for (size_t i = 0; i < sc->endpoint_count; i++) {
        struct scenario_endpoint *e = &sc->endpoints[i];
        if (!e->name)
            e->name = strdup(e->path);
        if (build_body(sc, e, err) < 0)
            return error_prefix(err, "endpoint '%s %s'", e->method, e->path);
    }
    /* One engine per thread, each with at least one user or connection. */
    unsigned slots = sc->open_loop ? sc->connections : (unsigned)ceil(peak);
    if (sc->threads > slots)
        sc->threads = slots > 0 ? slots : 1;
    if (sc->max_requests > 0 && sc->threads > sc->max_requests)
        sc->threads = (unsigned)sc->max_requests;
    return 0;
}

bool scenario_plain_http(const struct scenario *sc)
{
    for (size_t i = 0; i < sc->host_count; i++)
        if (strcmp(sc->hosts[i].scheme, "http") != 0)
            return false;
    return true;
}

const char *scenario_engine_name(enum scenario_engine e)
{
    return e == SCENARIO_ENGINE_CURL ? "curl" : e == SCENARIO_ENGINE_RAW ? "raw" : "auto";
}

uint64_t scenario_endpoint_timeout(const struct scenario *sc, size_t endpoint)
{
    uint64_t t = sc->endpoints[endpoint].timeout_ns;
    return t ? t : sc->timeout_ns;
}

uint64_t scenario_stages_duration(const struct scenario *sc)
{
    uint64_t total = 0;
    for (size_t i = 0; i < sc->stage_count; i++)
        total += sc->stages[i].duration_ns;
    return total;
}
