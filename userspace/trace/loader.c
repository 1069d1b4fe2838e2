#include "trace/loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/clock.h"
#include "profile.skel.h"
#include "sched.skel.h"
#include "sockets.h"
#include "sockets.skel.h"
#include "syscalls.h"
#include "syscalls.skel.h"

static const char *const mode_names[MODE_COUNT] = {"tp_btf", "raw_tp", "tracepoint"};
static const char *const suffixes[MODE_COUNT] = {"_btf", "_raw", "_tp"};

/* sys_enter/sys_exit programs (the others of the syscalls object: accept and listen exits) */
static bool is_every_syscall_hook(const struct bpf_program *p)
{
    return !strncmp(bpf_program__name(p), "sys_", 4);
}

/* The typed skeleton calls, behind one interface. */
struct part_ops {
    const char *name;
    void *(*open)(struct bpf_object **obj);
    int (*load)(void *skel);
    int (*attach)(void *skel);
    void (*destroy)(void *skel);
    void (*configure)(void *skel, const struct load_config *c, bool lazy);
};

#define PART_OPS(X)                                                                           \
    static void *X##_open(struct bpf_object **obj)                                            \
    {                                                                                         \
        struct X##_bpf *s = X##_bpf__open();                                                  \
        if (s)                                                                                \
            *obj = s->obj;                                                                    \
        return s;                                                                             \
    }                                                                                         \
    static int X##_load(void *s) { return X##_bpf__load(s); }                                 \
    static int X##_attach(void *s) { return X##_bpf__attach(s); }                             \
    static void X##_destroy(void *s) { X##_bpf__destroy(s); }                                 \
    static void X##_configure(void *p, const struct load_config *c, bool lazy)                \
    {                                                                                         \
        struct X##_bpf *s = p;                                                                \
        s->rodata->cfg_start_ns = c->start_ns;                                                \
        s->rodata->cfg_window_ns = c->window_ns;                                              \
        s->rodata->cfg_lazy_threads = lazy;                                                   \
        X##_configure_more(s, c);                                                             \
    }

static void sched_configure_more(struct sched_bpf *s, const struct load_config *c)
{
    (void)s, (void)c;
}
static void syscalls_configure_more(struct syscalls_bpf *s, const struct load_config *c)
{
    s->rodata->cfg_learn_ports = c->learn_ports;
    s->rodata->cfg_tracer_tgid = (uint32_t)getpid();
    /* the hooks on every syscall only when asked for; accept and listen are attached after
     * the load, where failing is not fatal (attach_accept_hooks) */
    struct bpf_program *p;
    bpf_object__for_each_program(p, s->obj)
        bpf_program__set_autoattach(p, c->syscalls && is_every_syscall_hook(p));
}
static void sockets_configure_more(struct sockets_bpf *s, const struct load_config *c)
{
    /* wake the reader early when a quarter of the ring is used */
    s->rodata->cfg_wakeup_bytes = c->ring_wakeup_bytes ? c->ring_wakeup_bytes : c->ring_bytes / 4;
    /* the sampler counts per slot (100 ms): at least one span per slot */
    uint64_t per_slot = (uint64_t)c->span_rate * SPAN_SLOT_NS / NS_PER_SEC;
    s->rodata->cfg_span_slot_limit = c->span_rate && !per_slot ? 1 : per_slot;
}
static void profile_configure_more(struct profile_bpf *s, const struct load_config *c)
{
    (void)s, (void)c;
}

PART_OPS(sched)
PART_OPS(syscalls)
PART_OPS(sockets)
PART_OPS(profile)

static const struct part_ops parts[PART_COUNT] = {
#define P(X) {#X, X##_open, X##_load, X##_attach, X##_destroy, X##_configure}
    P(sched), P(syscalls), P(sockets), P(profile),
#undef P
};

struct loader {
    struct load_config cfg;
    void *skel[PART_COUNT];
    struct bpf_object *obj[PART_COUNT];
    int mode[PART_COUNT]; /* enum attach_mode, -1 when not loaded */
    bool lazy;
    int ncpu;
    int *perf_fds;
    struct bpf_link **perf_links;
    bool syscall_hooks_on;      /* sys_enter/sys_exit attached */
    bool syscall_hooks_pinned;  /* accept/listen need them: never detached */
};

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    if (level == LIBBPF_DEBUG)
        return 0;
    return vfprintf(stderr, fmt, ap);
}

/* Which programs load in a mode: the variant with the mode's suffix; in the classic mode a
 * hook without a classic variant uses its raw_tp one; programs without suffix always. */
static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), k = strlen(suffix);
    return n > k && !strcmp(name + n - k, suffix);
}

static bool has_variant(struct bpf_object *obj, const char *name, const char *from,
                        const char *to)
{
    char alt[128];
    size_t base = strlen(name) - strlen(from);
    snprintf(alt, sizeof(alt), "%.*s%s", (int)base, name, to);
    return bpf_object__find_program_by_name(obj, alt) != NULL;
}

static void select_programs(struct bpf_object *obj, int mode)
{
    struct bpf_program *p;
    bpf_object__for_each_program(p, obj) {
        const char *name = bpf_program__name(p);
        int variant = -1;
        for (int m = 0; m < MODE_COUNT; m++)
            if (has_suffix(name, suffixes[m]))
                variant = m;
        bool load = variant < 0 || variant == mode ||
                    (mode == MODE_TRACEPOINT && variant == MODE_RAW_TP &&
                     !has_variant(obj, name, suffixes[MODE_RAW_TP], suffixes[MODE_TRACEPOINT]));
        bpf_program__set_autoload(p, load);
    }
}

/* Shared maps: every non-internal map whose name an already loaded object has is that map. */
static int reuse_maps(struct loader *l, int part, struct error *err)
{
    struct bpf_map *m;
    bpf_object__for_each_map(m, l->obj[part]) {
        if (bpf_map__is_internal(m))
            continue;
        for (int i = 0; i < part; i++) {
            if (!l->obj[i] || l->mode[i] < 0)
                continue;
            struct bpf_map *other = bpf_object__find_map_by_name(l->obj[i], bpf_map__name(m));
            if (!other)
                continue;
            if (bpf_map__reuse_fd(m, bpf_map__fd(other)))
                return error_set(err, "sharing map %s with %s: %s", bpf_map__name(m),
                                 parts[i].name, strerror(errno));
            break;
        }
    }
    return 0;
}

static void size_maps(struct loader *l, int part)
{
    static const char *const per_conn[] = {"conns", "conn_arrivals"};
    struct bpf_map *m;
    for (size_t i = 0; i < sizeof(per_conn) / sizeof(per_conn[0]); i++)
        if ((m = bpf_object__find_map_by_name(l->obj[part], per_conn[i])))
            bpf_map__set_max_entries(m, l->cfg.max_conns);
    m = bpf_object__find_map_by_name(l->obj[part], "events");
    if (m)
        bpf_map__set_max_entries(m, l->cfg.ring_bytes);
    m = bpf_object__find_map_by_name(l->obj[part], "syscall_stats");
    if (m)
        bpf_map__set_max_entries(m, (l->cfg.replicas ? l->cfg.replicas : 1) * SYSCALL_NR_MAX);
}

static int try_part(struct loader *l, int part, int mode, struct error *err)
{
    const struct part_ops *ops = &parts[part];
    l->skel[part] = ops->open(&l->obj[part]);
    if (!l->skel[part])
        return error_set(err, "opening %s: %s", ops->name, strerror(errno));
    ops->configure(l->skel[part], &l->cfg, l->lazy);
    select_programs(l->obj[part], mode);
    size_maps(l, part);
    int rc = reuse_maps(l, part, err);
    if (rc == 0 && ops->load(l->skel[part]))
        rc = error_set(err, "loading %s (%s): %s", ops->name, mode_names[mode], strerror(errno));
    if (rc == 0 && ops->attach(l->skel[part]))
        rc = error_set(err, "attaching %s (%s): %s", ops->name, mode_names[mode],
                       strerror(errno));
    if (rc < 0) {
        ops->destroy(l->skel[part]);
        l->skel[part] = NULL;
        l->obj[part] = NULL;
        return -1;
    }
    l->mode[part] = mode;
    return 0;
}

static int load_part(struct loader *l, int part, struct error *err)
{
    struct error first = {{0}};
    /* profile has one mode (perf_event); the others try tp_btf, raw_tp, tracepoint */
    int modes = part == PART_PROFILE ? 1 : MODE_COUNT;
    for (int mode = 0; mode < modes; mode++) {
        struct error e = {{0}};
        if (try_part(l, part, mode, &e) == 0)
            return 0;
        if (!first.msg[0])
            first = e;
    }
    *err = first;
    return -1;
}

/* accept and listen at their own exit tracepoints (classic tracepoints: tracefs). Without
 * them sys_exit handles those syscalls, and so must stay attached. */
static void attach_accept_hooks(struct loader *l)
{
    struct syscalls_bpf *s = l->skel[PART_SYSCALLS];
    if (l->cfg.syscall_duty) {
        /* Their own tracepoints would keep every syscall of the host on the kernel's slow
         * path all along (an untraced nginx lost ~2.5% to them alone here), and detaching them
         * with the other hooks takes an RCU grace period each (~90 ms). Under a duty cycle
         * sys_exit handles accept and listen while it runs: accept-queue waits are then a
         * sample, like the syscall table. */
        l->syscall_hooks_on = true;
        s->bss->exit_handles_accept = 1;
        return;
    }
    s->links.accept4_exit = bpf_program__attach(s->progs.accept4_exit);
    s->links.accept_exit = bpf_program__attach(s->progs.accept_exit);
    s->links.listen_exit = bpf_program__attach(s->progs.listen_exit);
    l->syscall_hooks_on = l->cfg.syscalls;
    if (s->links.accept4_exit && s->links.accept_exit && s->links.listen_exit)
        return;
    /* without per-syscall hooks (--no-syscalls) there is no accept-queue wait then */
    l->syscall_hooks_pinned = true;
    s->bss->exit_handles_accept = 1;
}

int loader_open(const struct load_config *c, struct loader **out, struct error *err)
{
    struct loader *l = calloc(1, sizeof(*l));
    if (!l)
        return error_set(err, "out of memory");
    l->cfg = *c;
    for (int i = 0; i < PART_COUNT; i++)
        l->mode[i] = -1;
    libbpf_set_print(getenv("LOADSCOPE_DEBUG_BPF") ? libbpf_log : NULL);
    for (int part = 0; part < PART_COUNT; part++) {
        if (part == PART_PROFILE && !c->profile_hz)
            continue;
        if (load_part(l, part, err) < 0) {
            loader_close(l);
            return -1;
        }
        if (part == PART_SYSCALLS)
            attach_accept_hooks(l);
        /* a fallback scheduler mode cannot give new threads their state at fork: every
         * object then adopts threads of member processes on first sight */
        if (part == PART_SCHED && l->mode[part] != MODE_TP_BTF && !l->lazy) {
            l->lazy = true;
            parts[part].destroy(l->skel[part]);
            l->skel[part] = NULL;
            l->obj[part] = NULL;
            l->mode[part] = -1;
            if (load_part(l, part, err) < 0) {
                loader_close(l);
                return -1;
            }
        }
    }
    *out = l;
    return 0;
}

int loader_start_profile(struct loader *l, struct error *err)
{
    if (!l->skel[PART_PROFILE])
        return 0;
    struct profile_bpf *s = l->skel[PART_PROFILE];
    l->ncpu = libbpf_num_possible_cpus();
    if (l->ncpu <= 0)
        return error_set(err, "cannot count CPUs");
    l->perf_fds = calloc((size_t)l->ncpu, sizeof(int));
    l->perf_links = calloc((size_t)l->ncpu, sizeof(*l->perf_links));
    if (!l->perf_fds || !l->perf_links)
        return error_set(err, "out of memory");
    for (int cpu = 0; cpu < l->ncpu; cpu++) {
        struct perf_event_attr attr = {.type = PERF_TYPE_SOFTWARE, .size = sizeof(attr),
                                       .config = PERF_COUNT_SW_CPU_CLOCK, .freq = 1,
                                       .sample_freq = l->cfg.profile_hz};
        int fd = (int)syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
        l->perf_fds[cpu] = fd;
        if (fd < 0) {
            if (errno == ENODEV) /* possible but offline CPU */
                continue;
            return error_set(err, "perf_event_open on CPU %d: %s", cpu, strerror(errno));
        }
        l->perf_links[cpu] = bpf_program__attach_perf_event(s->progs.profile_sample, fd);
        if (!l->perf_links[cpu])
            return error_set(err, "attaching the profile on CPU %d: %s", cpu, strerror(errno));
    }
    return 0;
}

static void stop_profile(struct loader *l)
{
    for (int cpu = 0; l->perf_fds && cpu < l->ncpu; cpu++) {
        if (l->perf_links[cpu])
            bpf_link__destroy(l->perf_links[cpu]);
        l->perf_links[cpu] = NULL;
        if (l->perf_fds[cpu] >= 0)
            close(l->perf_fds[cpu]);
        l->perf_fds[cpu] = -1;
    }
}

bool loader_syscall_hooks_detachable(const struct loader *l)
{
    return l->skel[PART_SYSCALLS] && l->cfg.syscalls && !l->syscall_hooks_pinned;
}

/* Attaches or detaches the programs of a skeleton loaded that `pick` names (the skeleton keeps
 * their links, so destroying it cleans up whatever is attached). */
static int set_hooks(const struct bpf_object_skeleton *sk, bool (*pick)(const struct bpf_program *),
                     bool on, struct error *err)
{
    for (int i = 0; i < sk->prog_cnt; i++) {
        const struct bpf_prog_skeleton *p =
            (const void *)((const char *)sk->progs + (size_t)i * (size_t)sk->prog_skel_sz);
        if (!*p->prog || !bpf_program__autoload(*p->prog) || !pick(*p->prog))
            continue;
        if (!on) {
            bpf_link__destroy(*p->link);
            *p->link = NULL;
        } else if (!*p->link) {
            *p->link = bpf_program__attach(*p->prog);
            if (!*p->link)
                return error_set(err, "reattaching %s: %s", bpf_program__name(*p->prog),
                                 strerror(errno));
        }
    }
    return 0;
}

static int set_every_syscall_hook(struct syscalls_bpf *s, bool on, struct error *err)
{
    return set_hooks(s->skeleton, is_every_syscall_hook, on, err);
}

int loader_set_syscall_hooks(struct loader *l, bool on, struct error *err)
{
    if (!loader_syscall_hooks_detachable(l) || on == l->syscall_hooks_on)
        return 0;
    struct syscalls_bpf *s = l->skel[PART_SYSCALLS];
    if (on) /* before the first hook runs: in-flight entries of the last attachment are stale */
        s->bss->syscall_epoch++;
    if (set_every_syscall_hook(s, on, err) < 0) {
        set_every_syscall_hook(s, false, err); /* none left half attached */
        return -1;
    }
    l->syscall_hooks_on = on;
    return 0;
}

/* The per-request socket hooks: a worker's read and send, data arriving. */
static bool is_request_socket_hook(const struct bpf_program *p)
{
    const char *name = bpf_program__name(p);
    return !strncmp(name, "sock_recv_", 10) || !strncmp(name, "sock_send_", 10) ||
           !strncmp(name, "sk_data_ready_", 14);
}

int loader_set_socket_hooks(struct loader *l, bool on, unsigned weight, struct error *err)
{
    struct sockets_bpf *s = l->skel[PART_SOCKETS];
    if (!s)
        return 0;
    if (!on) {
        /* the flag stops their work at once; unhooking takes a grace period per program */
        __atomic_store_n(&s->data->sock_hooks_on, 0, __ATOMIC_RELEASE);
        return set_hooks(s->skeleton, is_request_socket_hook, false, err);
    }
    if (set_hooks(s->skeleton, is_request_socket_hook, true, err) < 0) {
        set_hooks(s->skeleton, is_request_socket_hook, false, err); /* none half attached */
        return -1;
    }
    /* the programs read these without ordering: the epoch and weight first, then on */
    s->data->sock_duty_weight = weight ? weight : 1;
    if (!s->data->sock_hooks_on)
        s->data->sock_epoch++;
    __atomic_store_n(&s->data->sock_hooks_on, 1, __ATOMIC_RELEASE);
    return 0;
}

void loader_detach(struct loader *l)
{
    stop_profile(l);
    for (int i = 0; i < PART_COUNT; i++) {
        if (!l->skel[i])
            continue;
        struct bpf_object_skeleton *sk = NULL;
        switch (i) {
        case PART_SCHED: sk = ((struct sched_bpf *)l->skel[i])->skeleton; break;
        case PART_SYSCALLS: sk = ((struct syscalls_bpf *)l->skel[i])->skeleton; break;
        case PART_SOCKETS: sk = ((struct sockets_bpf *)l->skel[i])->skeleton; break;
        case PART_PROFILE: sk = ((struct profile_bpf *)l->skel[i])->skeleton; break;
        }
        if (sk)
            bpf_object__detach_skeleton(sk);
    }
}

void loader_close(struct loader *l)
{
    if (!l)
        return;
    stop_profile(l);
    free(l->perf_fds);
    free(l->perf_links);
    for (int i = PART_COUNT - 1; i >= 0; i--)
        if (l->skel[i])
            parts[i].destroy(l->skel[i]);
    free(l);
}

int loader_map_fd(const struct loader *l, const char *name)
{
    for (int i = 0; i < PART_COUNT; i++) {
        if (!l->obj[i])
            continue;
        struct bpf_map *m = bpf_object__find_map_by_name(l->obj[i], name);
        if (m && bpf_map__fd(m) >= 0)
            return bpf_map__fd(m);
    }
    return -1;
}

void loader_modes(const struct loader *l, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < PART_COUNT && off < len; i++) {
        if (l->mode[i] < 0)
            continue;
        const char *mode = i == PART_PROFILE ? "perf_event" : mode_names[l->mode[i]];
        off += (size_t)snprintf(buf + off, len - off, "%s%s=%s", off ? " " : "", parts[i].name,
                                mode);
    }
}

bool loader_lazy_threads(const struct loader *l)
{
    return l->lazy;
}

static uint64_t fd_memlock(int fd)
{
    char path[64], line[128];
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
    FILE *f = fopen(path, "r");
    uint64_t v = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long x;
        if (sscanf(line, "memlock: %llu", &x) == 1)
            v = x;
    }
    fclose(f);
    return v;
}

uint64_t loader_map_bytes(const struct loader *l)
{
    uint64_t total = 0;
    __u32 seen[128];
    int nseen = 0;
    for (int i = 0; i < PART_COUNT; i++) {
        if (!l->obj[i])
            continue;
        struct bpf_map *m;
        bpf_object__for_each_map(m, l->obj[i]) {
            /* shared maps have one id and several fds */
            int fd = bpf_map__fd(m);
            struct bpf_map_info info;
            __u32 len = sizeof(info);
            memset(&info, 0, sizeof(info));
            if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
                continue;
            bool dup = false;
            for (int k = 0; k < nseen && !dup; k++)
                dup = seen[k] == info.id;
            if (dup)
                continue;
            if (nseen < 128)
                seen[nseen++] = info.id;
            total += fd_memlock(fd);
        }
    }
    return total;
}
