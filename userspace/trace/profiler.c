#include "trace/profiler.h"

#include <bpf/bpf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "trace/symbols.h"

#define FOLDED_MAX 8192
#define TABLE_SLOTS 32768 /* > 2 x the kernel's stack_counts entries */

struct entry {
    struct stack_key key;
    uint64_t count;
    char *folded; /* without the count */
    bool used;
};

struct profile_reader {
    int stacks_fd, counts_fd, tgids_fd;
    struct symbols *syms;
    struct entry *table;
    size_t used;
};

struct profile_reader *profile_reader_new(int stacks_fd, int counts_fd, int tgids_fd)
{
    struct profile_reader *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->stacks_fd = stacks_fd;
    p->counts_fd = counts_fd;
    p->tgids_fd = tgids_fd;
    p->syms = symbols_new();
    p->table = calloc(TABLE_SLOTS, sizeof(*p->table));
    if (!p->syms || !p->table) {
        profile_reader_free(p);
        return NULL;
    }
    /* now, while the session starts, rather than at the first sample with a kernel frame */
    symbols_load_kernel(p->syms);
    return p;
}

void profile_reader_free(struct profile_reader *p)
{
    if (!p)
        return;
    for (size_t i = 0; p->table && i < TABLE_SLOTS; i++)
        free(p->table[i].folded);
    free(p->table);
    symbols_free(p->syms);
    free(p);
}

static uint64_t key_hash(const struct stack_key *k)
{
    const unsigned char *b = (const unsigned char *)k;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < sizeof(*k); i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static struct entry *slot_for(struct profile_reader *p, const struct stack_key *k)
{
    size_t i = key_hash(k) % TABLE_SLOTS;
    for (size_t n = 0; n < TABLE_SLOTS; n++, i = (i + 1) % TABLE_SLOTS)
        if (!p->table[i].used || !memcmp(&p->table[i].key, k, sizeof(*k)))
            return &p->table[i];
    return NULL;
}

struct folder {
    char *buf;
    size_t len, cap;
};

static void append(struct folder *f, const char *s, const char *suffix)
{
    int n = snprintf(f->buf + f->len, f->cap - f->len, ";%s%s", s, suffix);
    if (n > 0 && f->len + (size_t)n < f->cap)
        f->len += (size_t)n;
}

static char *fold(struct profile_reader *p, const struct stack_key *k)
{
    uint64_t ips[PROFILE_STACK_DEPTH];
    char name[512];
    struct folder f = {malloc(FOLDED_MAX), 0, FOLDED_MAX};
    if (!f.buf)
        return NULL;
    char comm[PROFILE_COMM_LEN + 1] = {0};
    memcpy(comm, k->comm, PROFILE_COMM_LEN);
    for (char *c = comm; *c; c++)
        if (*c == ';' || *c == ' ')
            *c = '_';
    f.len = (size_t)snprintf(f.buf, f.cap, "%s", comm[0] ? comm : "?");
    /* user frames, root first; return addresses point after the call: look up addr - 1 */
    if (k->user_stack >= 0 && !bpf_map_lookup_elem(p->stacks_fd, &k->user_stack, ips)) {
        int n = 0;
        while (n < PROFILE_STACK_DEPTH && ips[n])
            n++;
        for (int i = n - 1; i >= 0; i--) {
            symbols_user(p->syms, (pid_t)k->tgid, i ? ips[i] - 1 : ips[i], name, sizeof(name));
            append(&f, name, "");
        }
    } else if (k->user_stack < 0 && k->user_stack != -14) {
        append(&f, "[lost]", "");
    }
    if (k->kernel_stack >= 0 && !bpf_map_lookup_elem(p->stacks_fd, &k->kernel_stack, ips)) {
        int n = 0;
        while (n < PROFILE_STACK_DEPTH && ips[n])
            n++;
        for (int i = n - 1; i >= 0; i--) {
            symbols_kernel(p->syms, ips[i], name, sizeof(name));
            append(&f, name, "_[k]");
        }
    }
    return f.buf;
}

/* Reports member processes while they are alive, so their symbols outlive them. */
static void prepare_members(struct profile_reader *p)
{
    uint32_t key, next;
    bool first = true;
    while (bpf_map_get_next_key(p->tgids_fd, first ? NULL : &key, &next) == 0) {
        first = false;
        key = next;
        symbols_prepare(p->syms, (pid_t)key);
    }
}

void profile_reader_refresh(struct profile_reader *p)
{
    prepare_members(p);
    struct stack_key key, next;
    bool first = true;
    while (bpf_map_get_next_key(p->counts_fd, first ? NULL : &key, &next) == 0) {
        first = false;
        key = next;
        uint64_t count;
        if (bpf_map_lookup_elem(p->counts_fd, &key, &count))
            continue;
        struct entry *e = slot_for(p, &key);
        if (!e)
            continue;
        if (!e->used) {
            e->used = true;
            e->key = key;
            e->folded = fold(p, &key);
            p->used++;
        }
        e->count = count;
    }
}

struct line {
    const char *folded;
    uint64_t count;
};

static int by_text(const void *a, const void *b)
{
    return strcmp(((const struct line *)a)->folded, ((const struct line *)b)->folded);
}

static int by_count_desc(const void *a, const void *b)
{
    const struct line *x = a, *y = b;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : strcmp(x->folded, y->folded);
}

int profile_reader_write(struct profile_reader *p, uint32_t replica, FILE *out,
                         struct error *err)
{
    struct line *lines = calloc(p->used + 1, sizeof(*lines));
    if (!lines)
        return error_set(err, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < TABLE_SLOTS; i++)
        if (p->table[i].used && p->table[i].folded && p->table[i].key.replica == replica)
            lines[n++] = (struct line){p->table[i].folded, p->table[i].count};
    /* the same folded text from several threads or stack ids: one line */
    qsort(lines, n, sizeof(*lines), by_text);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && !strcmp(lines[m - 1].folded, lines[i].folded))
            lines[m - 1].count += lines[i].count;
        else
            lines[m++] = lines[i];
    }
    qsort(lines, m, sizeof(*lines), by_count_desc);
    for (size_t i = 0; i < m; i++)
        fprintf(out, "%s %llu\n", lines[i].folded, (unsigned long long)lines[i].count);
    free(lines);
    if (ferror(out))
        return error_set(err, "writing folded stacks failed");
    return 0;
}
