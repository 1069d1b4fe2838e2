/* Maps shared by several BPF objects, declared identically in each object that uses them.
 *
 * Why fd reuse and not `bpftool gen object` linking: the Makefile builds one object and one
 * skeleton per concern, and each concern picks its own attach mode (tp_btf, raw_tp, classic
 * tracepoint) and may fail to load on its own without taking the others down. So the loader
 * (userspace/trace/loader.c) loads the objects in order and, before loading each one, points
 * every map whose name an already-loaded object has at that object's map with
 * bpf_map__reuse_fd(): one kernel map, several objects. Sizes are set once, on the first
 * object, and copied to the others. */
#ifndef LOADSCOPE_BPF_MAPS_BPF_H
#define LOADSCOPE_BPF_MAPS_BPF_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "common.h"
#include "sched.h"
#include "sockets.h"

/* thread -> its state; membership in a replica is "has an entry" (sched.h). */
struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct thread_state);
} threads SEC(".maps");

/* process (tgid) -> replica: member processes, kept up to date on fork and exit. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32);
    __type(value, __u32);
} tgid_replica SEC(".maps");

/* listening TCP port (host order) -> replica + 1 (0: none): which sockets are a replica's
 * server side. An array indexed by port (256 KiB) so that the check every sk_data_ready on
 * the host makes is an inlined lookup, not a hash. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 65536);
    __type(key, __u32);
    __type(value, __u32);
} listen_ports SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, MAX_REPLICAS);
    __type(key, __u32);
    __type(value, struct replica_acc);
} replica_accs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, MAX_REPLICAS);
    __type(key, __u32);
    __type(value, struct replica_procs);
} replica_procs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, MAX_REPLICAS *WINDOW_SLOTS);
    __type(key, __u32);
    __type(value, struct window_slot);
} window_slots SEC(".maps");

/* Socket counters in two per-CPU copies that userspace adds up: sock_accs is written only by
 * programs running in task context on behalf of a thread (recv, send, accept), which never
 * nest on a CPU, so plain adds are safe there; sock_accs_any is written from any context
 * (softirq data_ready, TCP events, span ends), with atomic adds. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, MAX_REPLICAS);
    __type(key, __u32);
    __type(value, struct sock_acc);
} sock_accs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, MAX_REPLICAS);
    __type(key, __u32);
    __type(value, struct sock_acc);
} sock_accs_any SEC(".maps");

/* server-side connection (kernel socket address) -> state; deleted when the socket closes. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 8192);
    __type(key, __u64);
    __type(value, struct conn_state);
} conns SEC(".maps");

/* server-side connection -> when its next request began to arrive (sockets.h: conn_arrival),
 * same keys and lifetime as conns */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 8192);
    __type(key, __u64);
    __type(value, struct conn_arrival);
} conn_arrivals SEC(".maps");

/* per-request records (sockets.h: span_event) */
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4 << 20);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, CNT_COUNT);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

/* Window geometry, set by the loader before load (same values in every object). */
const volatile __u64 cfg_start_ns = 0;
const volatile __u64 cfg_window_ns = 1000000000ULL;
/* Fallback attach modes cannot create a new thread's storage at fork (sched.bpf.c). */
const volatile bool cfg_lazy_threads = false;

/* The replica listening on a local port, or REPLICA_NONE. */
static __always_inline __u32 port_replica(__u16 port)
{
    __u32 key = port;
    __u32 *v = bpf_map_lookup_elem(&listen_ports, &key);
    return v && *v ? *v - 1 : REPLICA_NONE;
}

static __always_inline void set_port_replica(__u16 port, __u32 replica, bool overwrite)
{
    __u32 key = port, val = replica + 1;
    __u32 *v = bpf_map_lookup_elem(&listen_ports, &key);
    if (v && (overwrite || !*v))
        *v = val;
}

static __always_inline void count_event(__u32 which)
{
    __u64 *c = bpf_map_lookup_elem(&counters, &which);
    if (c)
        __sync_fetch_and_add(c, 1);
}

/* The thread's state, or 0 when it is not traced. Most threads on the host are not, and the
 * hooks on the scheduler, sockets and syscalls see all of them: a thread with no BPF task
 * storage at all says so with one load, without the helper call (calls and returns are what
 * a program pays most for on CPUs with return-stack mitigations, like this VM's). */
static __always_inline bool may_be_traced(const struct task_struct *task)
{
    return task->bpf_storage != 0;
}

static __always_inline struct thread_state *thread_of(struct task_struct *task)
{
    if (!may_be_traced(task))
        return 0;
    return bpf_task_storage_get(&threads, task, 0, 0);
}

/* The syscall a thread is blocked in or executing, with its first two arguments, from the
 * user registers the task saved on kernel entry (x86-64: orig_ax, di, si). -1 when none. Read
 * there rather than recorded at sys_enter: the per-syscall hooks do not always run (their
 * duty cycle, --no-syscalls), and a thread seeded mid-syscall has the same registers. */
static __always_inline long inflight_syscall(struct task_struct *task, __u64 *a0, __u64 *a1)
{
    /* the helper returns a BTF pointer: plain (fault-safe) loads, not a probe-read call
     * for each register (a recorded request's read pays this, a blocking switch too) */
    struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(task);
    if (!r)
        return -1;
    *a0 = r->di;
    *a1 = r->si;
    return (long)r->orig_ax;
}

/* log2 slot of v: 0 for 0, else floor(log2 v) + 1, capped (common.h: LOG2_SLOTS). */
static __always_inline __u32 log2_slot(__u64 v)
{
    __u32 r = 0, shift;
    if (!v)
        return 0;
    shift = (v > 0xFFFFFFFFULL) << 5; v >>= shift; r |= shift;
    shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
    shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
    shift = (v > 0xF) << 2; v >>= shift; r |= shift;
    shift = (v > 0x3) << 1; v >>= shift; r |= shift;
    r |= (__u32)(v >> 1);
    r += 1;
    return r < LOG2_SLOTS ? r : LOG2_SLOTS - 1;
}

/* The thread's accounting per state up to now, open interval included. */
static __always_inline void thread_snapshot(const struct thread_state *t, __u64 now, __u64 *out)
{
#pragma unroll
    for (int i = 0; i < ACC_COUNT; i++)
        out[i] = t->cum_ns[i];
    __u32 s = t->state;
    if (s < ACC_COUNT && now > t->since_ns)
        out[s] += now - t->since_ns;
}

/* Window slot index of time `now` for a replica, or -1 before the start. */
static __always_inline __s32 window_slot_key(__u32 replica, __u64 now)
{
    if (now < cfg_start_ns || !cfg_window_ns)
        return -1;
    __u64 w = (now - cfg_start_ns) / cfg_window_ns;
    return (__s32)(replica * WINDOW_SLOTS + (w % WINDOW_SLOTS));
}

/* End of the window containing `now`. */
static __always_inline __u64 window_end(__u64 now)
{
    __u64 w = (now - cfg_start_ns) / cfg_window_ns;
    return cfg_start_ns + (w + 1) * cfg_window_ns;
}

/* Marks a thread busy in the current window once (busy workers per window). */
static __always_inline void mark_busy(struct thread_state *t, __u64 now)
{
    if (now < t->busy_until_ns || now < cfg_start_ns || t->replica >= MAX_REPLICAS)
        return;
    __s32 k = window_slot_key(t->replica, now);
    if (k < 0)
        return;
    __u32 key = (__u32)k;
    struct window_slot *ws = bpf_map_lookup_elem(&window_slots, &key);
    if (ws) /* callers (switch-in, request start) never nest on a CPU */
        ws->busy_threads++;
    t->busy_until_ns = window_end(now);
}

static __always_inline void procs_add(__u32 replica, __s64 threads, __s64 forks, __s64 exits)
{
    struct replica_procs *p = bpf_map_lookup_elem(&replica_procs, &replica);
    if (!p)
        return;
    if (threads)
        __sync_fetch_and_add(&p->threads, threads);
    if (forks)
        __sync_fetch_and_add(&p->forks, forks);
    if (exits)
        __sync_fetch_and_add(&p->exits, exits);
}

/* The current thread's state; in fallback modes a thread of a member process that has none
 * yet (born while only raw hooks ran) is adopted here. */
static __always_inline struct thread_state *current_thread(struct task_struct *cur)
{
    struct thread_state *t = thread_of(cur);
    if (t || !cfg_lazy_threads)
        return t;
    __u32 tgid = bpf_get_current_pid_tgid() >> 32;
    __u32 *r = bpf_map_lookup_elem(&tgid_replica, &tgid);
    if (!r)
        return 0;
    t = bpf_task_storage_get(&threads, cur, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!t) {
        count_event(CNT_THREAD_STORAGE);
        return 0;
    }
    t->replica = *r;
    t->tgid = tgid;
    t->state = ACC_NONE;
    t->sc_nr = -1;
    procs_add(*r, 1, 0, 0);
    return t;
}

#endif
