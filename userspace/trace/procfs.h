/* The few /proc facts the tracer needs at start: listening sockets, who owns a socket, the
 * process tree, threads and what each one is blocked in, and the host's TCP counters. */
#ifndef LOADSCOPE_TRACE_PROCFS_H
#define LOADSCOPE_TRACE_PROCFS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A TCP socket in LISTEN state: its inode and port. */
struct listen_socket {
    uint64_t inode;
    uint16_t port;
};

/* Listening TCP sockets (IPv4 and IPv6) from /proc/<pid>/net/tcp{,6}, or /proc/net when
 * pid is 0. Returns how many were stored (at most max). */
unsigned procfs_listen_sockets(pid_t pid, struct listen_socket *out, unsigned max);

/* Calls fn(pid, ctx) for every process id in /proc. */
void procfs_each_pid(void (*fn)(pid_t pid, void *ctx), void *ctx);

/* Calls fn(fd, inode, ctx) for every socket fd of a process. */
void procfs_each_socket_fd(pid_t pid, void (*fn)(int fd, uint64_t inode, void *ctx), void *ctx);

/* Parent pid, or -1. */
pid_t procfs_ppid(pid_t pid);

/* Thread ids of a process; returns how many (at most max). */
unsigned procfs_threads(pid_t pid, pid_t *out, unsigned max);

/* The scheduler's own clocks for a thread (/proc/PID/task/TID/schedstat): time on a CPU and
 * time waiting in a run queue, in ns. Returns 0, or -1 when unreadable. */
int procfs_schedstat(pid_t pid, pid_t tid, uint64_t *oncpu_ns, uint64_t *runq_ns);

/* What a thread is doing right now: state letter from stat ('R', 'S', 'D', ...), whether it is
 * on a CPU, and the syscall it is blocked in (nr -1 when none) with its first argument. */
struct thread_now {
    char state;
    bool running;
    long nr;
    uint64_t arg0;
    uint64_t arg1;
    uint64_t exec_ns; /* CPU time so far (schedstat: the scheduler's sum_exec_runtime) */
};
int procfs_thread_now(pid_t pid, pid_t tid, struct thread_now *out);

/* Kind of an fd's target from /proc/PID/fd/FD. */
enum fd_kind { FD_UNKNOWN = 0, FD_SOCKET, FD_PIPE, FD_FILE, FD_OTHER };
enum fd_kind procfs_fd_kind(pid_t pid, int fd, uint64_t *socket_inode);

/* Local port of a TCP socket by inode (in pid's network namespace), 0 when not found. */
uint16_t procfs_tcp_local_port(pid_t pid, uint64_t inode);

/* Host-wide TcpExt ListenOverflows and ListenDrops; -1 when unreadable. */
int procfs_listen_drops(uint64_t *overflows, uint64_t *drops);

#endif
