#include "trace/windows.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "sched.h"
#include "sockets.h"
#include "syscalls.h"
#include "trace/procfs.h"

struct window_state {
    double f[ACC_COUNT]; /* integrals up to last_ns */
    uint64_t switches, involuntary, runq_count;
    __u64 runq_hist[LOG2_SLOTS];
    int64_t forks, exits;
    struct sock_acc sock;
    struct syscall_stat *sys; /* [SYSCALL_NR_MAX], cumulative at last_ns */
};

#define PERCPU_MAX_VALUE 1024 /* bytes: the largest per-CPU value read here */

static size_t round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

int window_reader_init(struct window_reader *w, const struct window_maps *maps,
                       uint64_t start_ns, uint64_t window_ns, unsigned replicas,
                       struct error *err)
{
    memset(w, 0, sizeof(*w));
    w->maps = *maps;
    w->ncpu = libbpf_num_possible_cpus();
    w->start_ns = start_ns;
    w->last_ns = start_ns;
    w->window_ns = window_ns;
    w->replicas = replicas;
    if (w->ncpu <= 0)
        return error_set(err, "cannot count CPUs");
    w->state = calloc(replicas, sizeof(*w->state));
    w->buf = calloc((size_t)w->ncpu, PERCPU_MAX_VALUE);
    size_t entries = (size_t)replicas * SYSCALL_NR_MAX;
    w->sys_keys = calloc(entries, sizeof(*w->sys_keys));
    w->sys_values = calloc(entries * (size_t)w->ncpu, round8(sizeof(struct syscall_stat)));
    if (!w->state || !w->buf || !w->sys_keys || !w->sys_values)
        return error_set(err, "out of memory");
    for (unsigned r = 0; r < replicas; r++) {
        w->state[r].sys = calloc(SYSCALL_NR_MAX, sizeof(struct syscall_stat));
        if (!w->state[r].sys)
            return error_set(err, "out of memory");
    }
    w->netstat_ok = procfs_listen_drops(&w->listen_overflows, &w->listen_drops) == 0;
    return 0;
}

void window_reader_free(struct window_reader *w)
{
    for (unsigned r = 0; w->state && r < w->replicas; r++)
        free(w->state[r].sys);
    free(w->state);
    free(w->buf);
    free(w->sys_keys);
    free(w->sys_values);
    memset(w, 0, sizeof(*w));
}

static void *cpu_value(struct window_reader *w, size_t size, int cpu)
{
    return (char *)w->buf + (size_t)cpu * round8(size);
}

/* replica_acc summed over CPUs, retrying copies taken during an update (sched.h). */
static void read_acc(struct window_reader *w, uint32_t r, struct replica_acc *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (int attempt = 0; attempt < 20; attempt++) {
        if (bpf_map_lookup_elem(w->maps.accs_fd, &r, w->buf))
            return;
        bool torn = false;
        for (int c = 0; c < w->ncpu; c++) {
            const struct replica_acc *a = cpu_value(w, sizeof(*a), c);
            torn |= a->seq_begin != a->seq_end;
        }
        if (!torn)
            break;
    }
    for (int c = 0; c < w->ncpu; c++) {
        const struct replica_acc *a = cpu_value(w, sizeof(*a), c);
        for (int s = 0; s < ACC_COUNT; s++) {
            sum->n[s] += a->n[s];
            sum->d[s] += a->d[s];
        }
        sum->switches += a->switches;
        sum->involuntary += a->involuntary;
        sum->runq_count += a->runq_count;
        for (int i = 0; i < LOG2_SLOTS; i++)
            sum->runq_hist[i] += a->runq_hist[i];
    }
}

static void read_procs(struct window_reader *w, uint32_t r, struct replica_procs *sum)
{
    memset(sum, 0, sizeof(*sum));
    if (bpf_map_lookup_elem(w->maps.procs_fd, &r, w->buf))
        return;
    for (int c = 0; c < w->ncpu; c++) {
        const struct replica_procs *p = cpu_value(w, sizeof(*p), c);
        sum->threads += p->threads;
        sum->forks += p->forks;
        sum->exits += p->exits;
    }
}

/* Adds one copy of the socket counters (sock_accs or sock_accs_any) into sum. */
static void add_sock(struct window_reader *w, int fd, uint32_t r, struct sock_acc *sum)
{
    if (bpf_map_lookup_elem(fd, &r, w->buf))
        return;
    for (int c = 0; c < w->ncpu; c++) {
        /* every field is a __u64/__s64: add them as __u64 (same type: no aliasing trouble) */
        const __u64 *v = cpu_value(w, sizeof(*sum), c);
        __u64 *dst = &sum->accepts;
        for (size_t i = 0; i < sizeof(*sum) / 8; i++)
            dst[i] += v[i];
    }
}

static void read_sock(struct window_reader *w, uint32_t r, struct sock_acc *sum)
{
    memset(sum, 0, sizeof(*sum));
    add_sock(w, w->maps.socks_fd, r, sum);
    add_sock(w, w->maps.socks_any_fd, r, sum);
}

/* Reads and clears the window slot of window number idx. */
static void take_slot(struct window_reader *w, uint32_t r, uint64_t idx, struct window_slot *out)
{
    uint32_t key = r * WINDOW_SLOTS + (uint32_t)(idx % WINDOW_SLOTS);
    memset(out, 0, sizeof(*out));
    if (bpf_map_lookup_elem(w->maps.slots_fd, &key, w->buf))
        return;
    for (int c = 0; c < w->ncpu; c++) {
        const struct window_slot *s = cpu_value(w, sizeof(*s), c);
        out->busy_threads += s->busy_threads;
        if (s->backlog_max > out->backlog_max)
            out->backlog_max = s->backlog_max;
    }
    memset(w->buf, 0, (size_t)w->ncpu * round8(sizeof(*out)));
    bpf_map_update_elem(w->maps.slots_fd, &key, w->buf, BPF_ANY);
}

static uint32_t count_processes(struct window_reader *w, uint32_t r)
{
    uint32_t key, next, val, n = 0;
    bool first = true;
    while (bpf_map_get_next_key(w->maps.tgids_fd, first ? NULL : &key, &next) == 0) {
        first = false;
        key = next;
        if (bpf_map_lookup_elem(w->maps.tgids_fd, &key, &val) == 0 && val == r)
            n++;
    }
    return n;
}

static uint64_t diff(uint64_t now, uint64_t before)
{
    return now > before ? now - before : 0;
}

static void hist_diff(uint32_t *out, const __u64 *now, const __u64 *before)
{
    for (int i = 0; i < LOG2_SLOTS; i++)
        out[i] = (uint32_t)diff(now[i], before[i]);
}

/* Replica r's time in state s since the start, at now (common.h: the integral counters). */
static double state_integral(const struct window_reader *w, uint32_t r,
                             const struct replica_acc *a, int s, uint64_t now)
{
    double t = (double)(now - w->start_ns);
    return (double)(a->d[s] + w->base[r].d[s]) + (double)(a->n[s] + w->base[r].n[s]) * t;
}

static void fill_cpu(struct window_reader *w, uint32_t r, uint64_t now, struct replica_window *o)
{
    struct window_state *st = &w->state[r];
    struct replica_acc a;
    read_acc(w, r, &a);
    double f[ACC_COUNT];
    for (int s = 0; s < ACC_COUNT; s++) {
        f[s] = state_integral(w, r, &a, s, now);
        double v = f[s] - st->f[s];
        uint64_t ns = v > 0 ? (uint64_t)(v + 0.5) : 0;
        if (s == ACC_ONCPU)
            o->oncpu_ns = ns;
        else if (s == ACC_RUNQ)
            o->runq_ns = ns;
        else
            o->offcpu_ns[s - ACC_OFF_FIRST] = ns;
        st->f[s] = f[s];
    }
    o->switches = diff(a.switches, st->switches);
    o->involuntary_switches = diff(a.involuntary, st->involuntary);
    o->runq_waits = diff(a.runq_count, st->runq_count);
    hist_diff(o->runq_hist, a.runq_hist, st->runq_hist);
    st->switches = a.switches;
    st->involuntary = a.involuntary;
    st->runq_count = a.runq_count;
    memcpy(st->runq_hist, a.runq_hist, sizeof(st->runq_hist));

    struct replica_procs p;
    read_procs(w, r, &p);
    int64_t threads = p.threads + w->base[r].threads;
    o->threads = threads > 0 ? (uint32_t)threads : 0;
    o->forks = (uint64_t)(p.forks - st->forks);
    o->exits = (uint64_t)(p.exits - st->exits);
    st->forks = p.forks;
    st->exits = p.exits;
    o->processes = count_processes(w, r);
}

static void fill_sockets(struct window_reader *w, uint32_t r, struct replica_window *o)
{
    struct window_state *st = &w->state[r];
    struct sock_acc s, *b = &st->sock;
    read_sock(w, r, &s);
    o->accepts = diff(s.accepts, b->accepts);
    o->accept_wait_ns = diff(s.accept_wait_ns, b->accept_wait_ns);
    hist_diff(o->accept_wait_hist, s.accept_wait_hist, b->accept_wait_hist);
    o->accept_queue_samples = diff(s.backlog_samples, b->backlog_samples);
    o->accept_queue_sum = diff(s.backlog_sum, b->backlog_sum);
    o->requests = diff(s.requests, b->requests);
    o->recvq_wait_ns = diff(s.recvq_wait_ns, b->recvq_wait_ns);
    hist_diff(o->recvq_hist, s.recvq_hist, b->recvq_hist);
    o->open_spans = s.open_spans;
    o->spans_skipped = diff(s.spans_skipped, b->spans_skipped);
    o->bytes_in = diff(s.bytes_in, b->bytes_in);
    o->bytes_out = diff(s.bytes_out, b->bytes_out);
    o->downstream_bytes_in = diff(s.down_bytes_in, b->down_bytes_in);
    o->downstream_bytes_out = diff(s.down_bytes_out, b->down_bytes_out);
    o->retransmits = diff(s.retransmits, b->retransmits);
    o->resets_sent = diff(s.resets_sent, b->resets_sent);
    o->resets_received = diff(s.resets_received, b->resets_received);
    *b = s;
}

static int by_total_desc(const void *a, const void *b)
{
    const struct syscall_window *x = a, *y = b;
    return x->total_ns < y->total_ns ? 1 : x->total_ns > y->total_ns ? -1 : 0;
}

/* Keeps the top WINDOW_SYSCALLS entries by total time, from a list of candidates. */
static void keep_top(struct replica_window *o, struct syscall_window *all, unsigned n)
{
    qsort(all, n, sizeof(*all), by_total_desc);
    o->syscall_kinds = n;
    o->syscall_count_kept = n < WINDOW_SYSCALLS ? n : WINDOW_SYSCALLS;
    memcpy(o->syscalls_top, all, o->syscall_count_kept * sizeof(*all));
}

/* The whole syscall array in one batch lookup (a lookup per entry would be replicas x 512
 * system calls each time); entry k's copy for CPU c is syscall_copy(w, k, c). Returns the
 * entries read. */
static size_t read_syscall_array(struct window_reader *w)
{
    if (w->maps.syscalls_fd < 0)
        return 0;
    uint32_t count = w->replicas * SYSCALL_NR_MAX, out_batch = 0;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    if (bpf_map_lookup_batch(w->maps.syscalls_fd, NULL, &out_batch, w->sys_keys, w->sys_values,
                             &count, &opts) && errno != ENOENT)
        return 0;
    return count;
}

static const struct syscall_stat *syscall_copy(struct window_reader *w, size_t entry, int cpu)
{
    size_t size = round8(sizeof(struct syscall_stat));
    return (const void *)((char *)w->sys_values + (entry * (size_t)w->ncpu + (size_t)cpu) * size);
}

/* The (replica, syscall) of entry k of the batch; false past the traced replicas. */
static bool syscall_entry(const struct window_reader *w, size_t k, uint32_t *r, uint32_t *nr)
{
    *r = w->sys_keys[k] / SYSCALL_NR_MAX;
    *nr = w->sys_keys[k] % SYSCALL_NR_MAX;
    return *r < w->replicas;
}

/* One pass over the syscall array: cumulative per (replica, nr), summed over CPUs (the
 * 32-bit histogram counters wrap: sums and differences are modulo 2^32). */
static void read_syscalls(struct window_reader *w, struct syscall_stat **cur)
{
    size_t n = read_syscall_array(w);
    uint32_t r, nr;
    for (size_t k = 0; k < n; k++) {
        if (!syscall_entry(w, k, &r, &nr))
            continue;
        struct syscall_stat *dst = &cur[r][nr];
        memset(dst, 0, sizeof(*dst));
        for (int c = 0; c < w->ncpu; c++) {
            const struct syscall_stat *s = syscall_copy(w, k, c);
            dst->count += s->count;
            dst->total_ns += s->total_ns;
            for (int i = 0; i < SYSCALL_HIST_SLOTS; i++)
                dst->hist[i] += s->hist[i];
        }
    }
}

uint64_t window_reader_peek_oncpu(struct window_reader *w, uint64_t now_ns)
{
    uint64_t oncpu_ns = 0;
    for (uint32_t r = 0; r < w->replicas; r++) {
        struct replica_acc a;
        read_acc(w, r, &a);
        double f = state_integral(w, r, &a, ACC_ONCPU, now_ns);
        if (f > w->state[r].f[ACC_ONCPU])
            oncpu_ns += (uint64_t)(f - w->state[r].f[ACC_ONCPU]);
    }
    return oncpu_ns;
}

static void fill_syscalls(struct window_reader *w, struct syscall_stat **cur,
                          struct replica_window *out)
{
    struct syscall_window all[SYSCALL_NR_MAX];
    for (uint32_t r = 0; r < w->replicas; r++) {
        unsigned n = 0;
        struct replica_window *o = &out[r];
        for (uint32_t nr = 0; nr < SYSCALL_NR_MAX; nr++) {
            struct syscall_stat *c = &cur[r][nr], *p = &w->state[r].sys[nr];
            if (c->count <= p->count)
                continue;
            struct syscall_window *s = &all[n++];
            memset(s, 0, sizeof(*s));
            s->nr = nr;
            s->count = c->count - p->count;
            s->total_ns = diff(c->total_ns, p->total_ns);
            for (int i = 0; i < SYSCALL_HIST_SLOTS; i++)
                s->hist[i] = c->hist[i] - p->hist[i]; /* modulo 2^32 */
            o->syscalls += s->count;
            *p = *c;
        }
        keep_top(o, all, n);
    }
}

uint64_t window_reader_counter(struct window_reader *w, uint32_t k)
{
    uint64_t sum = 0;
    if (bpf_map_lookup_elem(w->maps.counters_fd, &k, w->buf))
        return 0;
    for (int c = 0; c < w->ncpu; c++)
        sum += *(const __u64 *)cpu_value(w, sizeof(__u64), c);
    return sum;
}

void window_reader_counters(struct window_reader *w, uint64_t *out, unsigned n)
{
    for (uint32_t k = 0; k < n && k < CNT_COUNT; k++)
        out[k] = window_reader_counter(w, k);
}

void window_reader_close(struct window_reader *w, uint64_t now, struct replica_window *out)
{
    struct syscall_stat *cur[TRACE_MAX_REPLICAS];
    for (uint32_t r = 0; r < w->replicas; r++) {
        struct replica_window *o = &out[r];
        memset(o, 0, sizeof(*o));
        o->start_ns = w->last_ns;
        o->end_ns = now;
        o->replica = r;
        memcpy(o->name, w->names[r], sizeof(o->name));
        fill_cpu(w, r, now, o);
        fill_sockets(w, r, o);
        struct window_slot slot;
        take_slot(w, r, w->index, &slot);
        o->busy_threads = (uint32_t)slot.busy_threads;
        /* a worker inside a request all window long made no event to mark it */
        uint64_t in_requests = o->open_spans > 0 ? (uint64_t)o->open_spans : 0;
        if (in_requests > o->threads)
            in_requests = o->threads;
        if (in_requests > o->busy_threads)
            o->busy_threads = (uint32_t)in_requests;
        o->accept_queue_max = slot.backlog_max;
        /* cumulative syscall stats for this pass live in a scratch copy */
        cur[r] = malloc(SYSCALL_NR_MAX * sizeof(struct syscall_stat));
        if (cur[r])
            memcpy(cur[r], w->state[r].sys, SYSCALL_NR_MAX * sizeof(struct syscall_stat));
    }
    bool all = true;
    for (uint32_t r = 0; r < w->replicas; r++)
        all &= cur[r] != NULL;
    if (all) {
        read_syscalls(w, cur);
        fill_syscalls(w, cur, out);
    }
    for (uint32_t r = 0; r < w->replicas; r++)
        free(cur[r]);

    uint64_t cnt[CNT_COUNT];
    window_reader_counters(w, cnt, CNT_COUNT);
    uint64_t lost_other = 0, prev_other = 0;
    for (int k = CNT_CONN_MAP_FULL; k <= CNT_SYSCALL_MAP_FULL; k++) {
        lost_other += cnt[k];
        prev_other += w->counters_prev[k];
    }
    lost_other += cnt[CNT_THREAD_STORAGE];
    prev_other += w->counters_prev[CNT_THREAD_STORAGE];
    uint64_t over = 0, drops = 0;
    bool net = procfs_listen_drops(&over, &drops) == 0 && w->netstat_ok;
    for (uint32_t r = 0; r < w->replicas; r++) {
        out[r].lost_spans = diff(cnt[CNT_RB_LOST_SPAN], w->counters_prev[CNT_RB_LOST_SPAN]);
        out[r].lost_heads = diff(cnt[CNT_RB_LOST_HEAD], w->counters_prev[CNT_RB_LOST_HEAD]);
        out[r].lost_other = diff(lost_other, prev_other);
        if (net) {
            out[r].host_listen_overflows = diff(over, w->listen_overflows);
            out[r].host_listen_drops = diff(drops, w->listen_drops);
        }
    }
    memcpy(w->counters_prev, cnt, sizeof(cnt));
    if (net) {
        w->listen_overflows = over;
        w->listen_drops = drops;
    }
    w->last_ns = now;
    w->index++;
}

static void add_hist(uint32_t *dst, const uint32_t *src)
{
    for (int i = 0; i < LOG2_SLOTS; i++)
        dst[i] += src[i];
}

void window_accumulate(struct replica_window *t, const struct replica_window *w)
{
    if (!t->start_ns || w->start_ns < t->start_ns)
        t->start_ns = w->start_ns;
    if (w->end_ns > t->end_ns)
        t->end_ns = w->end_ns;
    t->replica = w->replica;
    memcpy(t->name, w->name, sizeof(t->name));
    t->processes = w->processes;
    t->threads = w->threads;
    if (w->busy_threads > t->busy_threads)
        t->busy_threads = w->busy_threads;
    t->oncpu_ns += w->oncpu_ns;
    t->runq_ns += w->runq_ns;
    for (int i = 0; i < OFF_REASONS; i++)
        t->offcpu_ns[i] += w->offcpu_ns[i];
    t->switches += w->switches;
    t->involuntary_switches += w->involuntary_switches;
    t->runq_waits += w->runq_waits;
    add_hist(t->runq_hist, w->runq_hist);
    t->forks += w->forks;
    t->exits += w->exits;
    t->accepts += w->accepts;
    t->accept_wait_ns += w->accept_wait_ns;
    add_hist(t->accept_wait_hist, w->accept_wait_hist);
    t->accept_queue_samples += w->accept_queue_samples;
    t->accept_queue_sum += w->accept_queue_sum;
    if (w->accept_queue_max > t->accept_queue_max)
        t->accept_queue_max = w->accept_queue_max;
    t->requests += w->requests;
    t->recvq_wait_ns += w->recvq_wait_ns;
    add_hist(t->recvq_hist, w->recvq_hist);
    t->open_spans = w->open_spans;
    t->spans_skipped += w->spans_skipped;
    t->bytes_in += w->bytes_in;
    t->bytes_out += w->bytes_out;
    t->downstream_bytes_in += w->downstream_bytes_in;
    t->downstream_bytes_out += w->downstream_bytes_out;
    t->retransmits += w->retransmits;
    t->resets_sent += w->resets_sent;
    t->resets_received += w->resets_received;
    t->host_listen_overflows += w->host_listen_overflows;
    t->host_listen_drops += w->host_listen_drops;
    t->lost_spans += w->lost_spans;
    t->lost_heads += w->lost_heads;
    t->lost_other += w->lost_other;
    t->syscall_hooks_ns += w->syscall_hooks_ns;
    t->socket_hooks_ns += w->socket_hooks_ns;
    t->syscalls += w->syscalls;
}

void window_reader_session_syscalls(struct window_reader *w, unsigned r, struct replica_window *o)
{
    struct syscall_window all[SYSCALL_NR_MAX];
    unsigned n = 0;
    for (uint32_t nr = 0; nr < SYSCALL_NR_MAX; nr++) {
        const struct syscall_stat *c = &w->state[r].sys[nr];
        if (!c->count)
            continue;
        struct syscall_window *s = &all[n++];
        memset(s, 0, sizeof(*s));
        s->nr = nr;
        s->count = c->count;
        s->total_ns = c->total_ns;
        for (int i = 0; i < SYSCALL_HIST_SLOTS; i++)
            s->hist[i] = c->hist[i];
    }
    keep_top(o, all, n);
}
