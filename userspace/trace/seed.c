#include "trace/seed.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/clock.h"
#include "sched.h"
#include "syscall_nr.h"
#include "trace/procfs.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* linux/pidfd.h, Linux 6.9 */
#endif

/* Same rules as the kernel's off_reason() (bpf/syscall_nr.h), from /proc. */
static uint8_t blocked_state(pid_t tgid, const struct thread_now *now,
                             const struct replica_members *m)
{
    if (now->state == 'D')
        return ACC_OFF_DISK;
    if (now->nr < 0)
        return ACC_OFF_OTHER;
    uint8_t c = syscall_block_class(now->nr);
    if (c != SC_BY_FD)
        return c;
    uint64_t ino = 0;
    switch (procfs_fd_kind(tgid, (int)now->arg0, &ino)) {
    case FD_SOCKET: {
        uint16_t port = procfs_tcp_local_port(tgid, ino);
        for (unsigned i = 0; port && i < m->port_count; i++)
            if (m->ports[i] == port)
                return ACC_OFF_IDLE;
        return ACC_OFF_DOWNSTREAM;
    }
    case FD_PIPE:
        return ACC_OFF_DOWNSTREAM;
    case FD_FILE:
        return ACC_OFF_DISK;
    default:
        return ACC_OFF_OTHER;
    }
}

static int seed_thread(const struct seed_maps *maps, uint32_t replica, pid_t tgid, pid_t tid,
                       const struct replica_members *m, uint64_t start_ns,
                       struct seed_base *base)
{
    struct thread_now now;
    if (procfs_thread_now(tgid, tid, &now) < 0 || now.state == 'Z' || now.state == 'X')
        return -1;
    uint8_t state;
    if (now.running)
        state = ACC_ONCPU;
    else if (now.state == 'R')
        state = ACC_RUNQ;
    else
        state = blocked_state(tgid, &now, m);
    int pidfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
    if (pidfd < 0)
        return -1;
    uint64_t t = clock_now_ns();
    struct thread_state st;
    memset(&st, 0, sizeof(st));
    st.replica = replica;
    st.tgid = (uint32_t)tgid;
    st.state = state;
    /* the syscall it is blocked in: its entry time is unknown (0), so its latency is not
     * counted */
    st.sc_nr = now.running || now.nr < 0 ? -1 : (int32_t)now.nr;
    st.since_ns = t;
    st.exec_ns = now.exec_ns; /* lets the kernel side repair a switch it sees no event for */
    /* BPF_NOEXIST: a thread created since the fork hook went live already has its state */
    int rc = bpf_map_update_elem(maps->threads_fd, &pidfd, &st, BPF_NOEXIST);
    close(pidfd);
    if (rc)
        return -1;
    base->n[state] += 1;
    base->d[state] -= (int64_t)(t - start_ns);
    base->threads += 1;
    return 0;
}

unsigned seed_replica(const struct seed_maps *maps, uint32_t replica,
                      const struct replica_members *m, uint64_t start_ns, struct seed_base *base)
{
    unsigned seeded = 0;
    uint32_t plus_one = replica + 1; /* listen_ports: port -> replica + 1 */
    for (unsigned i = 0; i < m->port_count; i++) {
        uint32_t port = m->ports[i];
        bpf_map_update_elem(maps->ports_fd, &port, &plus_one, BPF_ANY);
    }
    pid_t *tids = malloc(sizeof(pid_t) * 65536);
    if (!tids)
        return 0;
    for (unsigned i = 0; i < m->pid_count; i++) {
        uint32_t tgid = (uint32_t)m->pids[i];
        bpf_map_update_elem(maps->tgids_fd, &tgid, &replica, BPF_ANY);
        unsigned n = procfs_threads(m->pids[i], tids, 65536);
        for (unsigned k = 0; k < n; k++)
            if (seed_thread(maps, replica, m->pids[i], tids[k], m, start_ns, base) == 0)
                seeded++;
    }
    free(tids);
    return seeded;
}
