#include "trace/procfs.h"

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static FILE *open_net(pid_t pid, const char *file)
{
    char path[64];
    if (pid > 0)
        snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid, file);
    else
        snprintf(path, sizeof(path), "/proc/net/%s", file);
    return fopen(path, "r");
}

/* Lines of /proc/net/tcp: "sl local_address rem_address st ... inode". */
static int parse_tcp_line(const char *line, uint16_t *port, unsigned *state, uint64_t *inode)
{
    char local[64], remote[64];
    unsigned long long ino;
    unsigned st;
    if (sscanf(line, " %*d: %63s %63s %x %*s %*s %*s %*d %*d %llu", local, remote, &st, &ino) != 4)
        return -1;
    const char *colon = strrchr(local, ':');
    if (!colon)
        return -1;
    *port = (uint16_t)strtoul(colon + 1, NULL, 16);
    *state = st;
    *inode = ino;
    return 0;
}

#define TCP_LISTEN_STATE 0x0A

typedef void (*tcp_line_fn)(uint16_t port, unsigned state, uint64_t inode, void *ctx);

static void each_tcp_socket(pid_t pid, tcp_line_fn fn, void *ctx)
{
    const char *files[] = {"tcp", "tcp6"};
    char line[512];
    for (int i = 0; i < 2; i++) {
        FILE *f = open_net(pid, files[i]);
        if (!f)
            continue;
        if (!fgets(line, sizeof(line), f)) { /* header */
            fclose(f);
            continue;
        }
        while (fgets(line, sizeof(line), f)) {
            uint16_t port;
            unsigned st;
            uint64_t ino;
            if (parse_tcp_line(line, &port, &st, &ino) == 0)
                fn(port, st, ino, ctx);
        }
        fclose(f);
    }
}

struct listen_acc {
    struct listen_socket *out;
    unsigned max, n;
};

static void add_listener(uint16_t port, unsigned st, uint64_t ino, void *ctx)
{
    struct listen_acc *a = ctx;
    if (st == TCP_LISTEN_STATE && ino && a->n < a->max)
        a->out[a->n++] = (struct listen_socket){.inode = ino, .port = port};
}

unsigned procfs_listen_sockets(pid_t pid, struct listen_socket *out, unsigned max)
{
    struct listen_acc a = {out, max, 0};
    each_tcp_socket(pid, add_listener, &a);
    return a.n;
}

struct port_lookup {
    uint64_t inode;
    uint16_t port;
};

static void match_inode(uint16_t port, unsigned st, uint64_t ino, void *ctx)
{
    (void)st;
    struct port_lookup *p = ctx;
    if (ino == p->inode)
        p->port = port;
}

uint16_t procfs_tcp_local_port(pid_t pid, uint64_t inode)
{
    struct port_lookup p = {inode, 0};
    each_tcp_socket(pid, match_inode, &p);
    return p.port;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

void procfs_each_pid(void (*fn)(pid_t pid, void *ctx), void *ctx)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (all_digits(e->d_name))
            fn((pid_t)atoi(e->d_name), ctx);
    closedir(d);
}

void procfs_each_socket_fd(pid_t pid, void (*fn)(int fd, uint64_t inode, void *ctx), void *ctx)
{
    char dir[64], link[PATH_MAX], target[128];
    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!all_digits(e->d_name))
            continue;
        snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = 0;
        unsigned long long ino;
        if (sscanf(target, "socket:[%llu]", &ino) == 1)
            fn(atoi(e->d_name), ino, ctx);
    }
    closedir(d);
}

/* /proc/PID/stat: "pid (comm) S ppid ..."; comm may hold spaces and parentheses. */
static int read_stat(pid_t pid, pid_t tid, char *state, pid_t *ppid)
{
    char path[64], buf[512];
    if (tid > 0)
        snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    else
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    int pp;
    char st;
    if (!p || sscanf(p + 1, " %c %d", &st, &pp) != 2)
        return -1;
    if (state)
        *state = st;
    if (ppid)
        *ppid = pp;
    return 0;
}

pid_t procfs_ppid(pid_t pid)
{
    pid_t ppid;
    return read_stat(pid, 0, NULL, &ppid) == 0 ? ppid : -1;
}

unsigned procfs_threads(pid_t pid, pid_t *out, unsigned max)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max)
        if (all_digits(e->d_name))
            out[n++] = (pid_t)atoi(e->d_name);
    closedir(d);
    return n;
}

int procfs_schedstat(pid_t pid, pid_t tid, uint64_t *oncpu_ns, uint64_t *runq_ns)
{
    char path[80];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    unsigned long long oncpu, runq;
    int n = fscanf(f, "%llu %llu", &oncpu, &runq);
    fclose(f);
    if (n != 2)
        return -1;
    *oncpu_ns = oncpu;
    *runq_ns = runq;
    return 0;
}

int procfs_thread_now(pid_t pid, pid_t tid, struct thread_now *out)
{
    char path[80], buf[256];
    *out = (struct thread_now){.nr = -1};
    if (read_stat(pid, tid, &out->state, NULL) < 0)
        return -1;
    uint64_t runq;
    if (procfs_schedstat(pid, tid, &out->exec_ns, &runq) < 0)
        out->exec_ns = 0;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (fgets(buf, sizeof(buf), f)) {
        long nr;
        unsigned long long a0, a1;
        int n;
        if (!strncmp(buf, "running", 7))
            out->running = true;
        else if ((n = sscanf(buf, "%ld 0x%llx 0x%llx", &nr, &a0, &a1)) >= 2) {
            out->nr = nr;
            out->arg0 = a0;
            out->arg1 = n == 3 ? a1 : 0;
        } else if (sscanf(buf, "%ld", &nr) == 1)
            out->nr = nr;
    }
    fclose(f);
    return 0;
}

enum fd_kind procfs_fd_kind(pid_t pid, int fd, uint64_t *socket_inode)
{
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, fd);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n <= 0)
        return FD_UNKNOWN;
    target[n] = 0;
    unsigned long long ino;
    if (sscanf(target, "socket:[%llu]", &ino) == 1) {
        if (socket_inode)
            *socket_inode = ino;
        return FD_SOCKET;
    }
    if (!strncmp(target, "pipe:", 5))
        return FD_PIPE;
    if (target[0] == '/')
        return strncmp(target, "/dev/", 5) ? FD_FILE : FD_OTHER;
    return FD_OTHER;
}

int procfs_listen_drops(uint64_t *overflows, uint64_t *drops)
{
    FILE *f = fopen("/proc/net/netstat", "r");
    if (!f)
        return -1;
    char names[4096], values[4096];
    int found = -1;
    while (fgets(names, sizeof(names), f) && fgets(values, sizeof(values), f)) {
        if (strncmp(names, "TcpExt:", 7))
            continue;
        char *ns = NULL, *vs = NULL;
        char *n = strtok_r(names, " \n", &ns), *v = strtok_r(values, " \n", &vs);
        while (n && v) {
            if (!strcmp(n, "ListenOverflows"))
                *overflows = strtoull(v, NULL, 10);
            else if (!strcmp(n, "ListenDrops"))
                *drops = strtoull(v, NULL, 10);
            n = strtok_r(NULL, " \n", &ns);
            v = strtok_r(NULL, " \n", &vs);
        }
        found = 0;
    }
    fclose(f);
    return found;
}
