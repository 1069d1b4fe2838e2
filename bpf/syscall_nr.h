/* x86-64 syscall numbers that matter to the off-CPU classification, and the classification of
 * a blocking syscall by number, shared by the kernel side (sched.bpf.c, at switch-out) and
 * userspace (which seeds threads already blocked when tracing starts, from /proc/TID/syscall).
 *
 * How the reason for an off-CPU interval is chosen (the thread blocked, prev_state != 0):
 *   1. uninterruptible sleep (D, not TASK_NOLOAD) -> disk: block I/O and page-in waits;
 *   2. else by the syscall in flight (recorded at sys_enter):
 *      futex, futex_waitv                                   -> lock
 *      nanosleep, clock_nanosleep                           -> sleep
 *      epoll_wait/pwait/pwait2, poll, ppoll, select, pselect6, accept, accept4 -> idle
 *      read, readv, recvfrom, recvmsg, recvmmsg on an fd    -> by the fd:
 *          TCP/UDP socket whose local port is a listening port of a replica (a client
 *          connection: nothing to do until the client sends)              -> idle
 *          any other socket (DB, cache, queue, upstream API) or a pipe    -> downstream
 *          regular file or block device                                   -> disk
 *      connect                                              -> downstream
 *      fsync, fdatasync, sync_file_range, msync, io_getevents, io_uring_enter -> disk
 *      anything else, or no syscall (e.g. preempted in a signal path)       -> other
 * Limits: an event loop (uvicorn, nginx) waits for clients and downstream answers in the same
 * epoll_wait, which counts as idle; a blocking send to a slow client counts as other. */
#ifndef LOADSCOPE_BPF_SYSCALL_NR_H
#define LOADSCOPE_BPF_SYSCALL_NR_H

#include "common.h"

#define NR_read 0
#define NR_write 1
#define NR_close 3
#define NR_poll 7
#define NR_pread64 17
#define NR_readv 19
#define NR_writev 20
#define NR_select 23
#define NR_msync 26
#define NR_nanosleep 35
#define NR_sendfile 40
#define NR_connect 42
#define NR_accept 43
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_listen 50
#define NR_fsync 74
#define NR_fdatasync 75
#define NR_futex 202
#define NR_io_getevents 208
#define NR_clock_nanosleep 230
#define NR_epoll_wait 232
#define NR_pselect6 270
#define NR_ppoll 271
#define NR_sync_file_range 277
#define NR_epoll_pwait 281
#define NR_accept4 288
#define NR_recvmmsg 299
#define NR_io_uring_enter 426
#define NR_epoll_pwait2 441
#define NR_futex_waitv 449

/* What a blocking syscall says about the wait: an acc_state, or SC_BY_FD when the answer
 * depends on the file descriptor in the first argument. */
#define SC_BY_FD 0xfe

static inline __u8 syscall_block_class(long nr)
{
    switch (nr) {
    case NR_futex:
    case NR_futex_waitv:
        return ACC_OFF_LOCK;
    case NR_nanosleep:
    case NR_clock_nanosleep:
        return ACC_OFF_SLEEP;
    case NR_epoll_wait:
    case NR_epoll_pwait:
    case NR_epoll_pwait2:
    case NR_poll:
    case NR_ppoll:
    case NR_select:
    case NR_pselect6:
    case NR_accept:
    case NR_accept4:
        return ACC_OFF_IDLE;
    case NR_read:
    case NR_readv:
    case NR_recvfrom:
    case NR_recvmsg:
    case NR_recvmmsg:
        return SC_BY_FD;
    case NR_connect:
        return ACC_OFF_DOWNSTREAM;
    case NR_fsync:
    case NR_fdatasync:
    case NR_sync_file_range:
    case NR_msync:
    case NR_io_getevents:
    case NR_io_uring_enter:
        return ACC_OFF_DISK;
    default:
        return ACC_OFF_OTHER;
    }
}

#endif
