#include "load/stats.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

const double stats_percentiles[STATS_PERCENTILE_COUNT] = {50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100};

static void entry_reset(struct stats_entry *e)
{
    e->requests = e->failures = e->late = e->bytes_in = e->new_connections = 0;
    e->first_start_ns = UINT64_MAX;
    e->last_end_ns = 0;
    hist_reset(&e->latency);
    hist_reset(&e->uncorrected);
    hist_reset(&e->send_lag);
    hist_reset(&e->connect);
    hist_reset(&e->tls);
    hist_reset(&e->ttfb);
    hist_reset(&e->total);
}

static void second_reset(struct stats *s, struct stats_second *sec)
{
    sec->second = -1;
    sec->last_end_ns = 0;
    sec->users = 0;
    for (size_t i = 0; i < s->entry_count; i++) {
        sec->entries[i].requests = sec->entries[i].failures = sec->entries[i].bytes = 0;
        if (sec->entries[i].latency.count)
            hist_reset(&sec->entries[i].latency);
    }
}

struct stats *stats_create(const struct stats_labels *l, uint64_t start_ns, double start_wall)
{
    struct stats *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->start_ns = start_ns;
    s->start_wall = start_wall;
    s->open_loop = l->open_loop;
    s->endpoint_count = l->endpoint_count;
    s->entry_of_endpoint = calloc(l->endpoint_count ? l->endpoint_count : 1, sizeof(uint16_t));
    s->entries = calloc(l->endpoint_count + 1, sizeof(*s->entries));
    s->hosts = calloc(l->host_count ? l->host_count : 1, sizeof(*s->hosts));
    if (!s->entry_of_endpoint || !s->entries || !s->hosts)
        goto fail;
    /* Locust keys stats by (method, name): endpoints that share both share a row. */
    for (size_t i = 0; i < l->endpoint_count; i++) {
        size_t k;
        for (k = 0; k < s->entry_count; k++)
            if (!strcmp(s->entries[k].method, l->methods[i]) &&
                !strcmp(s->entries[k].name, l->names[i]))
                break;
        if (k == s->entry_count) {
            s->entries[k].method = strdup(l->methods[i]);
            s->entries[k].name = strdup(l->names[i]);
            s->entry_count++;
        }
        s->entry_of_endpoint[i] = (uint16_t)k;
    }
    s->entries[s->entry_count].method = strdup("");
    s->entries[s->entry_count].name = strdup("Aggregated");
    s->entry_count++;
    for (size_t i = 0; i < s->entry_count; i++)
        entry_reset(&s->entries[i]);
    s->host_count = l->host_count;
    for (size_t i = 0; i < l->host_count; i++) {
        s->hosts[i].url = strdup(l->hosts[i]);
        hist_reset(&s->hosts[i].latency);
    }
    for (size_t k = 0; k < STATS_OPEN_SECONDS; k++) {
        s->seconds[k].entries = calloc(s->entry_count, sizeof(struct stats_second_entry));
        if (!s->seconds[k].entries)
            goto fail;
        for (size_t i = 0; i < s->entry_count; i++)
            hist_reset(&s->seconds[k].entries[i].latency);
        second_reset(s, &s->seconds[k]);
    }
    s->closed = calloc(s->entry_count, sizeof(*s->closed));
    if (!s->closed)
        goto fail;
    for (size_t i = 0; i < s->entry_count; i++)
        hist_reset(&s->closed[i].latency);
    s->max_second = -1;
    return s;
fail:
    stats_destroy(s);
    return NULL;
}

void stats_destroy(struct stats *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->entries && i < s->entry_count; i++) {
        free(s->entries[i].method);
        free(s->entries[i].name);
    }
    for (size_t i = 0; s->hosts && i < s->host_count; i++)
        free(s->hosts[i].url);
    for (size_t k = 0; k < STATS_OPEN_SECONDS; k++)
        free(s->seconds[k].entries);
    free(s->entry_of_endpoint);
    free(s->entries);
    free(s->hosts);
    free(s->failures);
    free(s->closed);
    free(s->history);
    free(s);
}

const struct stats_entry *stats_aggregated(const struct stats *s)
{
    return &s->entries[s->entry_count - 1];
}

double stats_rate(uint64_t count, uint64_t duration_ns)
{
    return duration_ns ? (double)count * 1e9 / (double)duration_ns : 0.0;
}

static bool answered(const struct client_record *r)
{
    return r->failure == FAILURE_NONE || r->failure == FAILURE_HTTP_STATUS;
}

static void entry_add(struct stats_entry *e, const struct client_record *r, uint64_t latency,
                      uint64_t uncorrected, uint64_t lag)
{
    e->requests++;
    if (r->failure)
        e->failures++;
    e->bytes_in += r->bytes_in;
    if (lag > STATS_LATE_NS)
        e->late++;
    if (r->start_ns < e->first_start_ns)
        e->first_start_ns = r->start_ns;
    if (r->end_ns > e->last_end_ns)
        e->last_end_ns = r->end_ns;
    hist_record(&e->latency, latency);
    hist_record(&e->uncorrected, uncorrected);
    hist_record(&e->send_lag, lag);
    if (!r->reused && r->connect_us) {
        e->new_connections++;
        hist_record(&e->connect, (uint64_t)r->connect_us * NS_PER_US);
        if (r->tls_us)
            hist_record(&e->tls, (uint64_t)r->tls_us * NS_PER_US);
    }
    if (answered(r)) {
        hist_record(&e->ttfb, (uint64_t)r->ttfb_us * NS_PER_US);
        hist_record(&e->total, (uint64_t)r->total_us * NS_PER_US);
    }
}

static struct stats_failure *failure_slot(struct stats *s, uint16_t entry, uint8_t kind,
                                          uint16_t status, uint8_t code)
{
    for (size_t i = 0; i < s->failure_count; i++) {
        struct stats_failure *f = &s->failures[i];
        if (f->entry == entry && f->kind == kind && f->status == status && f->error_code == code)
            return f;
    }
    if (s->failure_count == s->failure_cap) {
        size_t cap = s->failure_cap ? s->failure_cap * 2 : 16;
        struct stats_failure *bigger = realloc(s->failures, cap * sizeof(*bigger));
        if (!bigger)
            return NULL;
        s->failures = bigger;
        s->failure_cap = cap;
    }
    struct stats_failure *f = &s->failures[s->failure_count++];
    memset(f, 0, sizeof(*f));
    f->entry = entry;
    f->kind = kind;
    f->status = status;
    f->error_code = code;
    f->first_ns = UINT64_MAX;
    return f;
}

static void failure_add(struct stats *s, uint16_t entry, uint8_t kind, uint16_t status,
                        uint8_t code, uint64_t n, uint64_t first, uint64_t last)
{
    if (kind != FAILURE_HTTP_STATUS)
        status = 0;
    if (kind != FAILURE_OTHER && kind != FAILURE_CONNECT && kind != FAILURE_RESET)
        code = 0;
    struct stats_failure *f = failure_slot(s, entry, kind, status, code);
    if (!f)
        return;
    f->occurrences += n;
    if (first < f->first_ns)
        f->first_ns = first;
    if (last > f->last_ns)
        f->last_ns = last;
}

static int64_t second_of(const struct stats *s, uint64_t end_ns)
{
    return end_ns > s->start_ns ? (int64_t)((end_ns - s->start_ns) / NS_PER_SEC) : 0;
}

static void close_through(struct stats *s, int64_t limit);

/* The slot for second k, or NULL when k is already closed (or, in a shard, evicted). */
static struct stats_second *second_slot(struct stats *s, int64_t k)
{
    if (k < s->closed_through)
        return NULL;
    struct stats_second *sec = &s->seconds[k % STATS_OPEN_SECONDS];
    if (sec->second == k)
        return sec;
    if (sec->second > k)
        return NULL;
    if (sec->second >= 0) {
        if (s->is_shard)
            return NULL;
        close_through(s, sec->second + 1); /* far behind: make room */
    }
    sec->second = k;
    return sec;
}

void stats_add(struct stats *s, const struct client_record *r)
{
    uint64_t latency = r->end_ns > r->intended_ns ? r->end_ns - r->intended_ns : 0;
    uint64_t uncorrected = r->end_ns > r->start_ns ? r->end_ns - r->start_ns : 0;
    uint64_t lag = r->start_ns > r->intended_ns ? r->start_ns - r->intended_ns : 0;
    uint16_t entry = r->endpoint < s->endpoint_count ? s->entry_of_endpoint[r->endpoint] : 0;
    size_t agg = s->entry_count - 1;
    s->records++;
    entry_add(&s->entries[entry], r, latency, uncorrected, lag);
    entry_add(&s->entries[agg], r, latency, uncorrected, lag);
    if (r->host < s->host_count) {
        struct stats_host *h = &s->hosts[r->host];
        h->requests++;
        if (r->failure)
            h->failures++;
        hist_record(&h->latency, latency);
    }
    if (r->failure)
        failure_add(s, entry, r->failure, r->status, r->error_code, 1, r->end_ns, r->end_ns);
    int64_t k = second_of(s, r->end_ns);
    struct stats_second *sec = second_slot(s, k);
    if (!sec) {
        s->history_late++;
        return;
    }
    if (k > s->max_second)
        s->max_second = k;
    if (r->end_ns >= sec->last_end_ns) {
        if (r->end_ns > sec->last_end_ns || r->users > sec->users)
            sec->users = r->users;
        sec->last_end_ns = r->end_ns;
    }
    struct stats_second_entry *se[2] = {&sec->entries[entry], &sec->entries[agg]};
    for (int i = 0; i < 2; i++) {
        se[i]->requests++;
        se[i]->bytes += r->bytes_in;
        if (r->failure)
            se[i]->failures++;
        hist_record(&se[i]->latency, latency);
    }
}

static void emit_rows(struct stats *s, int64_t k, struct stats_second *sec)
{
    if (sec && sec->last_end_ns)
        s->last_users = sec->users;
    for (size_t i = 0; i < s->entry_count; i++) {
        struct stats_cumulative *c = &s->closed[i];
        const struct stats_second_entry *se = sec ? &sec->entries[i] : NULL;
        if (se && se->requests) {
            c->requests += se->requests;
            c->failures += se->failures;
            c->bytes += se->bytes;
            hist_merge(&c->latency, &se->latency);
        }
        bool aggregated = i == s->entry_count - 1;
        if (!aggregated && c->requests == 0)
            continue; /* an endpoint appears once it has been requested */
        if (s->history_count == s->history_cap) {
            size_t cap = s->history_cap ? s->history_cap * 2 : 256;
            struct stats_history_row *bigger = realloc(s->history, cap * sizeof(*bigger));
            if (!bigger)
                return;
            s->history = bigger;
            s->history_cap = cap;
        }
        struct stats_history_row *row = &s->history[s->history_count++];
        memset(row, 0, sizeof(*row));
        row->second = k;
        row->users = s->last_users;
        row->entry = (uint16_t)i;
        if (se && se->requests) {
            row->requests = se->requests;
            row->failures = se->failures;
            for (int p = 0; p < STATS_PERCENTILE_COUNT; p++)
                row->pct_ns[p] = hist_percentile(&se->latency, stats_percentiles[p]);
        }
        row->total_requests = c->requests;
        row->total_failures = c->failures;
        row->total_bytes = c->bytes;
        if (c->requests) {
            row->total_median_ns = hist_percentile(&c->latency, 50);
            row->total_min_ns = c->latency.min_ns;
            row->total_max_ns = c->latency.max_ns;
            row->total_avg_ns = hist_mean(&c->latency);
        }
    }
}

static void close_through(struct stats *s, int64_t limit)
{
    for (int64_t k = s->closed_through; k < limit; k++) {
        struct stats_second *sec = &s->seconds[k % STATS_OPEN_SECONDS];
        bool mine = sec->second == k;
        emit_rows(s, k, mine ? sec : NULL);
        if (mine)
            second_reset(s, sec);
    }
    if (limit > s->closed_through)
        s->closed_through = limit;
}

void stats_close_seconds(struct stats *s, uint64_t now_ns)
{
    if (now_ns == UINT64_MAX) {
        close_through(s, s->max_second + 1);
        return;
    }
    if (now_ns < s->start_ns + STATS_SETTLE_NS + NS_PER_SEC)
        return;
    int64_t limit = (int64_t)((now_ns - STATS_SETTLE_NS - s->start_ns) / NS_PER_SEC);
    if (limit > s->max_second + 1)
        limit = s->max_second + 1; /* nothing recorded yet there: no rows ahead of the data */
    close_through(s, limit);
}

static void entry_merge(struct stats_entry *d, const struct stats_entry *e)
{
    d->requests += e->requests;
    d->failures += e->failures;
    d->late += e->late;
    d->bytes_in += e->bytes_in;
    d->new_connections += e->new_connections;
    if (e->first_start_ns < d->first_start_ns)
        d->first_start_ns = e->first_start_ns;
    if (e->last_end_ns > d->last_end_ns)
        d->last_end_ns = e->last_end_ns;
    hist_merge(&d->latency, &e->latency);
    hist_merge(&d->uncorrected, &e->uncorrected);
    hist_merge(&d->send_lag, &e->send_lag);
    hist_merge(&d->connect, &e->connect);
    hist_merge(&d->tls, &e->tls);
    hist_merge(&d->ttfb, &e->ttfb);
    hist_merge(&d->total, &e->total);
}

void stats_merge(struct stats *dst, const struct stats *src)
{
    dst->records += src->records;
    dst->history_late += src->history_late;
    for (size_t i = 0; i < dst->entry_count && i < src->entry_count; i++)
        if (src->entries[i].requests)
            entry_merge(&dst->entries[i], &src->entries[i]);
    for (size_t i = 0; i < dst->host_count && i < src->host_count; i++) {
        dst->hosts[i].requests += src->hosts[i].requests;
        dst->hosts[i].failures += src->hosts[i].failures;
        hist_merge(&dst->hosts[i].latency, &src->hosts[i].latency);
    }
    for (size_t i = 0; i < src->failure_count; i++) {
        const struct stats_failure *f = &src->failures[i];
        failure_add(dst, f->entry, f->kind, f->status, f->error_code, f->occurrences,
                    f->first_ns, f->last_ns);
    }
    for (size_t k = 0; k < STATS_OPEN_SECONDS; k++) {
        const struct stats_second *ss = &src->seconds[k];
        if (ss->second < 0)
            continue;
        struct stats_second *ds = second_slot(dst, ss->second);
        if (!ds) {
            dst->history_late += ss->entries[dst->entry_count - 1].requests;
            continue;
        }
        if (ss->second > dst->max_second)
            dst->max_second = ss->second;
        if (ss->last_end_ns > ds->last_end_ns ||
            (ss->last_end_ns == ds->last_end_ns && ss->users > ds->users)) {
            ds->last_end_ns = ss->last_end_ns;
            ds->users = ss->users;
        }
        for (size_t i = 0; i < dst->entry_count; i++) {
            ds->entries[i].requests += ss->entries[i].requests;
            ds->entries[i].failures += ss->entries[i].failures;
            ds->entries[i].bytes += ss->entries[i].bytes;
            hist_merge(&ds->entries[i].latency, &ss->entries[i].latency);
        }
    }
}

void stats_clear(struct stats *s)
{
    for (size_t i = 0; i < s->entry_count; i++)
        if (s->entries[i].requests)
            entry_reset(&s->entries[i]);
    for (size_t i = 0; i < s->host_count; i++) {
        s->hosts[i].requests = s->hosts[i].failures = 0;
        if (s->hosts[i].latency.count)
            hist_reset(&s->hosts[i].latency);
    }
    for (size_t k = 0; k < STATS_OPEN_SECONDS; k++)
        if (s->seconds[k].second >= 0)
            second_reset(s, &s->seconds[k]);
    s->failure_count = 0;
    s->records = 0;
    s->history_late = 0;
    s->max_second = -1;
}

const char *stats_failure_message(const struct stats_failure *f, char *buf, size_t len)
{
    switch (f->kind) {
    case FAILURE_CONNECT_REFUSED:
        snprintf(buf, len, "connection refused");
        break;
    case FAILURE_CONNECT:
        snprintf(buf, len, "connect failed: %s", curl_easy_strerror((CURLcode)f->error_code));
        break;
    case FAILURE_TIMEOUT:
        snprintf(buf, len, "timeout");
        break;
    case FAILURE_RESET:
        snprintf(buf, len, "%s", f->error_code == CURLE_GOT_NOTHING ? "connection closed without response"
                                 : f->error_code == CURLE_PARTIAL_FILE ? "connection closed mid-response"
                                                                      : "connection reset");
        break;
    case FAILURE_HTTP_STATUS:
        snprintf(buf, len, "HTTP %u", f->status);
        break;
    default:
        snprintf(buf, len, "%s", curl_easy_strerror((CURLcode)f->error_code));
        break;
    }
    return buf;
}

/* ---- shards -------------------------------------------------------------------------------- */

struct stats_shard *stats_shard_create(const struct stats_labels *labels, uint64_t start_ns,
                                       double start_wall)
{
    struct stats_shard *sh = calloc(1, sizeof(*sh));
    if (!sh)
        return NULL;
    sh->stats = stats_create(labels, start_ns, start_wall);
    if (!sh->stats) {
        free(sh);
        return NULL;
    }
    sh->stats->is_shard = true;
    pthread_mutex_init(&sh->lock, NULL);
    return sh;
}

void stats_shard_add(struct stats_shard *sh, const struct client_record *r)
{
    pthread_mutex_lock(&sh->lock);
    stats_add(sh->stats, r);
    pthread_mutex_unlock(&sh->lock);
}

void stats_shard_drain(struct stats_shard *sh, struct stats *dst)
{
    pthread_mutex_lock(&sh->lock);
    if (sh->stats->records) {
        stats_merge(dst, sh->stats);
        stats_clear(sh->stats);
    }
    pthread_mutex_unlock(&sh->lock);
}

void stats_shard_destroy(struct stats_shard *sh)
{
    if (!sh)
        return;
    pthread_mutex_destroy(&sh->lock);
    stats_destroy(sh->stats);
    free(sh);
}
