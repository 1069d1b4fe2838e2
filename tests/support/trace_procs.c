#include "support/trace_procs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "trace/procfs.h"

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t clock_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The run-queue wait the kernel counted for the calling thread. */
static uint64_t own_run_delay_ns(void)
{
    uint64_t oncpu, delay;
    return procfs_schedstat(getpid(), gettid(), &oncpu, &delay) == 0 ? delay : 0;
}

static void die_with_parent(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

__attribute__((noinline)) void trace_support_burn_cpu(long ms)
{
    uint64_t end = clock_ns(CLOCK_THREAD_CPUTIME_ID) + (uint64_t)ms * 1000000ULL;
    volatile uint64_t x = 1;
    while (clock_ns(CLOCK_THREAD_CPUTIME_ID) < end)
        for (int i = 0; i < 10000; i++)
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
}

static uint64_t job_spin(long ms)
{
    trace_support_burn_cpu(ms);
    return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

/* The process's only thread blocks in FUTEX_WAIT until the timeout. */
static uint64_t job_futex(long ms)
{
    uint32_t word = 0;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    uint64_t t0 = mono_ns();
    syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
    return mono_ns() - t0;
}

struct pinned_arg {
    uint64_t until;
};

static void *pinned_thread(void *p)
{
    const struct pinned_arg *a = p;
    volatile uint64_t x = 0;
    while (mono_ns() < a->until)
        for (int i = 0; i < 1000; i++)
            x++;
    return NULL;
}

static uint64_t job_pinned3(long ms, int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof(set), &set); /* threads inherit it */
    uint64_t t0 = mono_ns();
    struct pinned_arg a = {t0 + (uint64_t)ms * 1000000ULL};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, pinned_thread, &a);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

static void *poll_sleeper(void *p)
{
    const struct pinned_arg *a = p;
    while (mono_ns() < a->until)
        poll(NULL, 0, 300);
    return NULL;
}

static uint64_t job_syscalls(long ms)
{
    struct pinned_arg a = {mono_ns() + (uint64_t)ms * 1000000ULL};
    pthread_t t;
    pthread_create(&t, NULL, poll_sleeper, &a);
    uint64_t calls = 0;
    while (mono_ns() < a.until) {
        for (int i = 0; i < 100; i++)
            syscall(SYS_getppid);
        calls += 100;
    }
    pthread_join(t, NULL);
    return calls;
}

int trace_proc_start(struct trace_proc *p, enum trace_job job, long arg, int cpu)
{
    int go[2], res[2];
    if (pipe(go) < 0)
        return -1;
    if (pipe(res) < 0) {
        close(go[0]);
        close(go[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        die_with_parent();
        close(go[1]);
        close(res[0]);
        char c;
        uint64_t delay0 = own_run_delay_ns(); /* the wait after the wake-up counts */
        if (read(go[0], &c, 1) != 1)
            _exit(1);
        uint64_t r[2] = {0, 0};
        switch (job) {
        case JOB_SPIN: r[0] = job_spin(arg); break;
        case JOB_FUTEX: r[0] = job_futex(arg); break;
        case JOB_PINNED3: r[0] = job_pinned3(arg, cpu); break;
        case JOB_BURN_FUNC: trace_support_burn_cpu(arg); break;
        case JOB_SYSCALLS: r[0] = job_syscalls(arg); break;
        }
        r[1] = own_run_delay_ns() - delay0;
        if (write(res[1], r, sizeof(r)) != sizeof(r))
            _exit(1);
        _exit(0);
    }
    close(go[0]);
    close(res[1]);
    p->pid = pid;
    p->go_fd = go[1];
    p->result_fd = res[0];
    return 0;
}

void trace_proc_go(struct trace_proc *p)
{
    char c = 'g';
    if (write(p->go_fd, &c, 1) != 1)
        perror("trace_proc_go");
}

int trace_proc_result(struct trace_proc *p, uint64_t *out, int timeout_ms)
{
    struct pollfd pfd = {p->result_fd, POLLIN, 0};
    uint64_t r[2];
    if (poll(&pfd, 1, timeout_ms) != 1 || read(p->result_fd, r, sizeof(r)) != sizeof(r))
        return -1;
    *out = r[0];
    p->run_delay_ns = r[1];
    return 0;
}

void trace_proc_stop(struct trace_proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
    }
    if (p->go_fd > 0)
        close(p->go_fd);
    if (p->result_fd > 0)
        close(p->result_fd);
    memset(p, 0, sizeof(*p));
}

/* ---- pre-fork HTTP server ------------------------------------------------------------- */

static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                               "Content-Type: text/plain\r\n\r\nok";

/* Reads one request head (up to the blank line). Returns bytes, 0 on EOF, -1 on error. */
static ssize_t read_head(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n < cap - 1) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0)
            return r;
        n += (size_t)r;
        buf[n] = 0;
        if (strstr(buf, "\r\n\r\n"))
            return (ssize_t)n;
    }
    return (ssize_t)n;
}

static void serve_worker(int lfd, const struct trace_server_opts *o)
{
    char buf[4096];
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0)
            continue;
        while (read_head(c, buf, sizeof(buf)) > 0) {
            if (o->sleep_ms) {
                struct timespec ts = {o->sleep_ms / 1000, (o->sleep_ms % 1000) * 1000000L};
                nanosleep(&ts, NULL);
            }
            if (o->spin_ms)
                trace_support_burn_cpu(o->spin_ms);
            if (write(c, response, sizeof(response) - 1) < 0)
                break;
        }
        close(c);
    }
}

static void fork_workers(int lfd, const struct trace_server_opts *o)
{
    for (int i = 0; i < (o->workers > 0 ? o->workers : 1); i++)
        if (fork() == 0) {
            die_with_parent();
            serve_worker(lfd, o);
            _exit(0);
        }
}

static void run_master(int lfd, int ctl, const struct trace_server_opts *o)
{
    char c;
    if (o->fork_late && read(ctl, &c, 1) != 1)
        _exit(0);
    fork_workers(lfd, o);
    /* stay alive until killed; reap workers */
    for (;;)
        if (wait(NULL) < 0 && errno == ECHILD)
            pause();
}

int trace_server_start(struct trace_server *s, const struct trace_server_opts *o)
{
    memset(s, 0, sizeof(*s));
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 128) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &len) < 0) {
        close(lfd);
        return -1;
    }
    int ctl[2];
    if (pipe(ctl) < 0) {
        close(lfd);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        die_with_parent();
        close(ctl[1]);
        run_master(lfd, ctl[0], o);
        _exit(0);
    }
    close(lfd);
    close(ctl[0]);
    s->master = pid;
    s->port = ntohs(a.sin_port);
    s->ctl_fd = ctl[1];
    return 0;
}

void trace_server_fork_workers(struct trace_server *s)
{
    char c = 'f';
    if (write(s->ctl_fd, &c, 1) != 1)
        perror("trace_server_fork_workers");
}

void trace_server_stop(struct trace_server *s)
{
    if (s->master > 0) {
        /* the workers die with the master (PDEATHSIG) */
        kill(s->master, SIGKILL);
        waitpid(s->master, NULL, 0);
    }
    if (s->ctl_fd > 0)
        close(s->ctl_fd);
    memset(s, 0, sizeof(*s));
}

int trace_client_get(int port, int fd, const char *path, uint64_t request_id,
                     uint16_t *local_port)
{
    if (fd < 0) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
            close(fd);
            return -1;
        }
    }
    struct sockaddr_in me;
    socklen_t len = sizeof(me);
    getsockname(fd, (struct sockaddr *)&me, &len);
    if (local_port)
        *local_port = ntohs(me.sin_port);
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: trace-test\r\n"
                     "Accept: */*\r\nX-Request-Id: %016llx\r\n\r\n",
                     path, (unsigned long long)request_id);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    char buf[512];
    size_t got = 0, want = sizeof(response) - 1;
    while (got < want) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r <= 0) {
            close(fd);
            return -1;
        }
        got += (size_t)r;
    }
    return fd;
}
