#include "trace/symbols.h"

#include <elfutils/libdwfl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* perf map: "START SIZE name" per line, hex addresses */
struct perf_sym {
    uint64_t start, end;
    char *name;
};

struct proc_syms {
    pid_t pid;
    Dwfl *dwfl;
    struct perf_sym *perf;
    size_t nperf;
    int perf_loaded;
};

struct ksym {
    uint64_t addr;
    size_t name; /* offset in symbols.knames */
};

struct symbols {
    struct proc_syms *procs;
    size_t nprocs, cap;
    struct ksym *ksyms;
    size_t nksyms;
    char *knames; /* the kernel symbols' names, NUL-separated */
    int ksyms_loaded;
};

static const Dwfl_Callbacks proc_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
};

struct symbols *symbols_new(void)
{
    return calloc(1, sizeof(struct symbols));
}

void symbols_free(struct symbols *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nprocs; i++) {
        if (s->procs[i].dwfl)
            dwfl_end(s->procs[i].dwfl);
        for (size_t k = 0; k < s->procs[i].nperf; k++)
            free(s->procs[i].perf[k].name);
        free(s->procs[i].perf);
    }
    free(s->procs);
    free(s->ksyms);
    free(s->knames);
    free(s);
}

static struct proc_syms *find_proc(struct symbols *s, pid_t pid)
{
    for (size_t i = 0; i < s->nprocs; i++)
        if (s->procs[i].pid == pid)
            return &s->procs[i];
    return NULL;
}

void symbols_prepare(struct symbols *s, pid_t pid)
{
    if (find_proc(s, pid))
        return;
    if (s->nprocs == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct proc_syms *p = realloc(s->procs, cap * sizeof(*p));
        if (!p)
            return;
        s->procs = p;
        s->cap = cap;
    }
    struct proc_syms *p = &s->procs[s->nprocs++];
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    p->dwfl = dwfl_begin(&proc_callbacks);
    if (!p->dwfl)
        return;
    if (dwfl_linux_proc_report(p->dwfl, pid) != 0) {
        dwfl_end(p->dwfl);
        p->dwfl = NULL;
        return;
    }
    dwfl_report_end(p->dwfl, NULL, NULL);
}

static int cmp_perf(const void *a, const void *b)
{
    const struct perf_sym *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static void load_perf_map(struct proc_syms *p)
{
    char path[64], line[1024];
    p->perf_loaded = 1;
    snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)p->pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t cap = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long start, size;
        int off = 0;
        if (sscanf(line, "%llx %llx %n", &start, &size, &off) != 2 || !off)
            continue;
        char *name = line + off;
        name[strcspn(name, "\n")] = 0;
        if (p->nperf == cap) {
            cap = cap ? cap * 2 : 256;
            struct perf_sym *n = realloc(p->perf, cap * sizeof(*n));
            if (!n)
                break;
            p->perf = n;
        }
        p->perf[p->nperf++] = (struct perf_sym){start, start + size, strdup(name)};
    }
    fclose(f);
    qsort(p->perf, p->nperf, sizeof(*p->perf), cmp_perf);
}

/* The last entry starting at or below addr that covers it (later entries win: a JIT may
 * reuse an address range, and the map is appended to). */
static const char *perf_lookup(struct proc_syms *p, uint64_t addr)
{
    if (!p->perf_loaded)
        load_perf_map(p);
    size_t lo = 0, hi = p->nperf;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->perf[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i-- > 0 && lo - i < 64;)
        if (p->perf[i].start <= addr && addr < p->perf[i].end)
            return p->perf[i].name;
    return NULL;
}

void symbols_user(struct symbols *s, pid_t pid, uint64_t addr, char *buf, size_t len)
{
    symbols_prepare(s, pid);
    struct proc_syms *p = find_proc(s, pid);
    Dwfl_Module *m = p && p->dwfl ? dwfl_addrmodule(p->dwfl, addr) : NULL;
    if (m) {
        const char *name = dwfl_module_addrname(m, addr);
        if (name) {
            snprintf(buf, len, "%s", name);
            return;
        }
    }
    const char *jit = p ? perf_lookup(p, addr) : NULL;
    if (jit) {
        snprintf(buf, len, "%s", jit);
        return;
    }
    if (m) {
        const char *mod = dwfl_module_info(m, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        const char *base = mod ? strrchr(mod, '/') : NULL;
        snprintf(buf, len, "[%s]", base ? base + 1 : mod ? mod : "unknown");
        return;
    }
    snprintf(buf, len, "[unknown]");
}

static int cmp_ksym(const void *a, const void *b)
{
    const struct ksym *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* One /proc/kallsyms line, "ADDR TYPE NAME [module]": a function's address and name (its
 * length in *name_len), or 0. Parsed by hand: sscanf took ~10x longer on ~200k lines. */
static uint64_t parse_ksym(char *line, const char **name, size_t *name_len)
{
    char *p;
    uint64_t addr = strtoull(line, &p, 16);
    if (p == line || p[0] != ' ' || !p[1] || p[2] != ' ')
        return 0;
    char type = p[1];
    if (type != 't' && type != 'T' && type != 'w' && type != 'W')
        return 0;
    *name = p + 3;
    *name_len = strcspn(*name, " \t\n");
    return *name_len ? addr : 0;
}

void symbols_load_kernel(struct symbols *s)
{
    if (s->ksyms_loaded)
        return;
    s->ksyms_loaded = 1;
    FILE *f = fopen("/proc/kallsyms", "r");
    if (!f)
        return;
    char line[512];
    size_t cap = 0, names_len = 0, names_cap = 0;
    while (fgets(line, sizeof(line), f)) {
        const char *name;
        size_t n;
        uint64_t addr = parse_ksym(line, &name, &n);
        if (!addr)
            continue;
        if (s->nksyms == cap) {
            cap = cap ? cap * 2 : 65536;
            struct ksym *k = realloc(s->ksyms, cap * sizeof(*k));
            if (!k)
                break;
            s->ksyms = k;
        }
        if (names_len + n + 1 > names_cap) {
            names_cap = names_cap ? names_cap * 2 : 1 << 21;
            char *b = realloc(s->knames, names_cap);
            if (!b)
                break;
            s->knames = b;
        }
        memcpy(s->knames + names_len, name, n);
        s->knames[names_len + n] = '\0';
        s->ksyms[s->nksyms++] = (struct ksym){addr, names_len};
        names_len += n + 1;
    }
    fclose(f);
    qsort(s->ksyms, s->nksyms, sizeof(*s->ksyms), cmp_ksym);
}

void symbols_kernel(struct symbols *s, uint64_t addr, char *buf, size_t len)
{
    symbols_load_kernel(s);
    size_t lo = 0, hi = s->nksyms;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->ksyms[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    snprintf(buf, len, "%s", lo ? s->knames + s->ksyms[lo - 1].name : "[unknown]");
}
