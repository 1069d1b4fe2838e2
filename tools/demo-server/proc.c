#include "proc.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void proc_ready(int ready_fd)
{
    if (ready_fd >= 0)
        while (write(ready_fd, "r", 1) < 0 && errno == EINTR)
            ;
}

static void supervised_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGCHLD);
}

int proc_signals_open(void)
{
    sigset_t set;
    supervised_signals(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
    return signalfd(-1, &set, SFD_CLOEXEC);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

pid_t proc_spawn(struct children *c, const char *role, const char *comm, int (*fn)(void *),
                 void *arg, bool supervisor)
{
    if (c->n == PROC_MAX_CHILDREN)
        return -1;
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) /* the parent died before prctl took effect */
            _exit(1);
        prctl(PR_SET_NAME, comm);
        signal(SIGINT, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        if (!supervisor) {
            sigset_t none;
            sigemptyset(&none);
            signal(SIGTERM, SIG_DFL);
            sigprocmask(SIG_SETMASK, &none, NULL);
        }
        _exit(fn(arg) ? 1 : 0);
    }
    c->list[c->n].pid = pid;
    snprintf(c->list[c->n].role, sizeof(c->list[c->n].role), "%s", role);
    c->n++;
    return pid;
}

static struct child *find(struct children *c, pid_t pid)
{
    for (int i = 0; i < c->n; i++)
        if (c->list[i].pid == pid)
            return &c->list[i];
    return NULL;
}

static int alive(const struct children *c)
{
    int n = 0;
    for (int i = 0; i < c->n; i++)
        n += c->list[i].pid != 0;
    return n;
}

/* Reaps every exited child; logs them when `log`. Returns how many were reaped. */
static int reap(struct children *c, bool log)
{
    int n = 0, status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct child *ch = find(c, pid);
        if (log)
            fprintf(stderr, "loadscope-demo-server: %s (pid %d) %s %d; stopping\n",
                    ch ? ch->role : "child", (int)pid,
                    WIFSIGNALED(status) ? "was killed by signal" : "exited with status",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        if (ch)
            ch->pid = 0;
        n++;
    }
    return n;
}

static void drain_signalfd(int sigfd, bool *stop)
{
    struct signalfd_siginfo si;
    while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
            *stop = true;
        struct pollfd p = {sigfd, POLLIN, 0};
        if (poll(&p, 1, 0) <= 0)
            break;
    }
}

int proc_supervise(struct children *c, int sigfd, int ready_rfd, int expected,
                   int ready_timeout_ms, void (*on_ready)(void *), void *arg)
{
    int got = 0;
    uint64_t deadline = now_ms() + (uint64_t)ready_timeout_ms;
    bool waiting = ready_rfd >= 0;
    for (;;) {
        struct pollfd p[2] = {{sigfd, POLLIN, 0}, {ready_rfd, POLLIN, 0}};
        int timeout = -1;
        if (waiting) {
            uint64_t now = now_ms();
            if (now >= deadline) {
                fprintf(stderr, "loadscope-demo-server: only %d of %d workers ready after %d "
                                "ms; stopping\n", got, expected, ready_timeout_ms);
                return 1;
            }
            timeout = (int)(deadline - now);
        }
        if (poll(p, waiting ? 2 : 1, timeout) < 0 && errno != EINTR)
            return 1;
        if (waiting && (p[1].revents & POLLIN)) {
            char buf[256];
            ssize_t n = read(ready_rfd, buf, sizeof(buf));
            if (n > 0 && (got += (int)n) >= expected) {
                waiting = false;
                if (on_ready)
                    on_ready(arg);
            }
        }
        if (p[0].revents & POLLIN) {
            bool stop = false;
            drain_signalfd(sigfd, &stop);
            /* A stop request wins over a child exit seen at the same moment. */
            if (stop)
                return 0;
            if (reap(c, true))
                return 1;
        }
    }
}

void proc_stop(struct children *c, int sigfd, int grace_ms)
{
    reap(c, false);
    for (int i = 0; i < c->n; i++)
        if (c->list[i].pid)
            kill(c->list[i].pid, SIGTERM);
    uint64_t deadline = now_ms() + (uint64_t)grace_ms;
    while (alive(c)) {
        uint64_t now = now_ms();
        if (now >= deadline)
            break;
        struct pollfd p = {sigfd, POLLIN, 0};
        poll(&p, 1, (int)(deadline - now) < 50 ? (int)(deadline - now) : 50);
        bool ignored = false;
        if (p.revents & POLLIN)
            drain_signalfd(sigfd, &ignored);
        reap(c, false);
    }
    for (int i = 0; i < c->n; i++)
        if (c->list[i].pid) {
            kill(c->list[i].pid, SIGKILL);
            waitpid(c->list[i].pid, NULL, 0);
            c->list[i].pid = 0;
        }
}
