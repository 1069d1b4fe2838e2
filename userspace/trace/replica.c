#include "trace/replica.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "trace/procfs.h"

static int parse_number(const char *s, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v <= 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

/* "port8001", "pid1234", or the cgroup directory's last component */
static void default_name(struct replica_spec *s)
{
    if (s->kind == REPLICA_PORT)
        snprintf(s->name, sizeof(s->name), "port%u", s->port);
    else if (s->kind == REPLICA_PID)
        snprintf(s->name, sizeof(s->name), "pid%d", (int)s->pid);
    else {
        const char *base = strrchr(s->cgroup, '/');
        snprintf(s->name, sizeof(s->name), "%.31s", base && base[1] ? base + 1 : "cgroup");
    }
}

int replica_spec_parse(const char *text, struct replica_spec *out, struct error *err)
{
    memset(out, 0, sizeof(*out));
    const char *eq = strchr(text, '=');
    const char *what = eq ? eq + 1 : text;
    if (eq) {
        size_t n = (size_t)(eq - text);
        if (n == 0 || n >= sizeof(out->name))
            return error_set(err, "bad replica '%s': name must be 1 to %zu characters", text,
                             sizeof(out->name) - 1);
        memcpy(out->name, text, n);
    }
    long v;
    if (!strncmp(what, "port:", 5)) {
        if (parse_number(what + 5, 65535, &v) < 0)
            return error_set(err, "bad replica '%s': port must be 1..65535", text);
        out->kind = REPLICA_PORT;
        out->port = (uint16_t)v;
    } else if (!strncmp(what, "pid:", 4)) {
        if (parse_number(what + 4, 1L << 22, &v) < 0)
            return error_set(err, "bad replica '%s': pid must be a positive number", text);
        out->kind = REPLICA_PID;
        out->pid = (pid_t)v;
    } else if (!strncmp(what, "cgroup:", 7)) {
        const char *path = what + 7;
        if (path[0] != '/' || strlen(path) >= sizeof(out->cgroup))
            return error_set(err, "bad replica '%s': cgroup must be an absolute path", text);
        out->kind = REPLICA_CGROUP;
        strcpy(out->cgroup, path);
    } else {
        return error_set(err, "bad replica '%s' (want NAME=port:N, NAME=pid:N or "
                              "NAME=cgroup:/sys/fs/cgroup/...)", text);
    }
    if (!eq)
        default_name(out);
    return 0;
}

void replica_spec_format(const struct replica_spec *s, char *buf, size_t len)
{
    switch (s->kind) {
    case REPLICA_PORT:
        snprintf(buf, len, "port:%u", s->port);
        break;
    case REPLICA_PID:
        snprintf(buf, len, "pid:%d", (int)s->pid);
        break;
    case REPLICA_CGROUP:
        snprintf(buf, len, "cgroup:%s", s->cgroup);
        break;
    default:
        snprintf(buf, len, "?");
    }
}

void replica_spec_for_port(struct replica_spec *out, const char *name, uint16_t port)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", name);
    out->kind = REPLICA_PORT;
    out->port = port;
}

static void add_pid(struct replica_members *m, pid_t pid)
{
    for (unsigned i = 0; i < m->pid_count; i++)
        if (m->pids[i] == pid)
            return;
    if (m->pid_count < REPLICA_MAX_PIDS)
        m->pids[m->pid_count++] = pid;
}

static void add_port(struct replica_members *m, uint16_t port)
{
    for (unsigned i = 0; i < m->port_count; i++)
        if (m->ports[i] == port)
            return;
    if (m->port_count < REPLICA_MAX_PORTS)
        m->ports[m->port_count++] = port;
}

struct foreign_sockets {
    const struct listen_socket *socks; /* listening sockets on other ports */
    unsigned n;
};

static void add_descendants(struct replica_members *m, const struct foreign_sockets *foreign);

/* ---- port: owners of the listening socket and their descendants ------------------------ */

struct owner_search {
    const struct listen_socket *socks;
    unsigned nsocks;
    struct replica_members *m;
    pid_t pid;
};

static void owner_fd(int fd, uint64_t inode, void *ctx)
{
    (void)fd;
    struct owner_search *s = ctx;
    for (unsigned i = 0; i < s->nsocks; i++)
        if (s->socks[i].inode == inode)
            add_pid(s->m, s->pid);
}

static void owner_pid(pid_t pid, void *ctx)
{
    struct owner_search *s = ctx;
    s->pid = pid;
    procfs_each_socket_fd(pid, owner_fd, s);
}

static int resolve_port(const struct replica_spec *spec, struct replica_members *m,
                        struct error *err)
{
    struct listen_socket all[512], mine[64];
    unsigned n = procfs_listen_sockets(0, all, 512), k = 0;
    for (unsigned i = 0; i < n && k < 64; i++)
        if (all[i].port == spec->port)
            mine[k++] = all[i];
    if (!k)
        return error_set(err, "replica %s: no process listens on TCP port %u", spec->name,
                         spec->port);
    struct owner_search s = {mine, k, m, 0};
    procfs_each_pid(owner_pid, &s);
    if (!m->pid_count)
        return error_set(err, "replica %s: the socket listening on port %u belongs to no "
                              "visible process", spec->name, spec->port);
    /* The serving application's whole process tree: a pre-fork master's other children
     * (queue brokers, model workers, helpers) do the request's work without owning the
     * listening socket. A child listening on another port heads another replica (a
     * supervisor's children serving ports of their own): it and its subtree stay out. */
    struct listen_socket others[512];
    unsigned nothers = 0;
    for (unsigned i = 0; i < n && nothers < 512; i++)
        if (all[i].port != spec->port)
            others[nothers++] = all[i];
    struct foreign_sockets foreign = {others, nothers};
    /* The replica's client port is the one it was named by: its processes' other listeners
     * (a queue broker's port, inherited sockets) are internal, not where clients come in. */
    add_descendants(m, &foreign);
    add_port(m, spec->port);
    return 0;
}

/* ---- pid: the process and its descendants ---------------------------------------------- */

struct child_search {
    struct replica_members *m;
    bool added;
    const struct foreign_sockets *foreign;
};

struct foreign_check {
    const struct foreign_sockets *foreign;
    bool found;
};

static void foreign_fd(int fd, uint64_t inode, void *ctx)
{
    (void)fd;
    struct foreign_check *c = ctx;
    for (unsigned i = 0; i < c->foreign->n && !c->found; i++)
        c->found = c->foreign->socks[i].inode == inode;
}

static bool listens_elsewhere(pid_t pid, const struct foreign_sockets *foreign)
{
    if (!foreign || !foreign->n)
        return false;
    struct foreign_check c = {foreign, false};
    procfs_each_socket_fd(pid, foreign_fd, &c);
    return c.found;
}

static void maybe_child(pid_t pid, void *ctx)
{
    struct child_search *s = ctx;
    pid_t ppid = procfs_ppid(pid);
    for (unsigned i = 0; i < s->m->pid_count; i++)
        if (s->m->pids[i] == ppid) {
            if (listens_elsewhere(pid, s->foreign))
                return;
            unsigned before = s->m->pid_count;
            add_pid(s->m, pid);
            s->added |= s->m->pid_count != before;
            return;
        }
}

static void add_descendants(struct replica_members *m, const struct foreign_sockets *foreign)
{
    struct child_search s = {m, true, foreign};
    for (int round = 0; s.added && round < 16; round++) {
        s.added = false;
        procfs_each_pid(maybe_child, &s);
    }
}

static int resolve_pid(const struct replica_spec *spec, struct replica_members *m,
                       struct error *err)
{
    if (procfs_ppid(spec->pid) < 0)
        return error_set(err, "replica %s: no process %d", spec->name, (int)spec->pid);
    add_pid(m, spec->pid);
    add_descendants(m, NULL);
    return 0;
}

/* ---- cgroup: cgroup.procs of the group and its children -------------------------------- */

static void read_cgroup(const char *dir, struct replica_members *m, int depth)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
    FILE *f = fopen(path, "r");
    if (f) {
        int pid;
        while (fscanf(f, "%d", &pid) == 1)
            add_pid(m, pid);
        fclose(f);
    }
    if (depth > 8)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        read_cgroup(path, m, depth + 1);
    }
    closedir(d);
}

static int resolve_cgroup(const struct replica_spec *spec, struct replica_members *m,
                          struct error *err)
{
    struct stat st;
    if (stat(spec->cgroup, &st) < 0 || !S_ISDIR(st.st_mode))
        return error_set(err, "replica %s: no cgroup directory %s", spec->name, spec->cgroup);
    read_cgroup(spec->cgroup, m, 0);
    if (!m->pid_count)
        return error_set(err, "replica %s: cgroup %s has no process", spec->name, spec->cgroup);
    return 0;
}

/* Listening ports held by the member processes (so their client connections are known). */
struct port_search {
    struct listen_socket socks[256];
    unsigned n;
    struct replica_members *m;
};

static void member_fd(int fd, uint64_t inode, void *ctx)
{
    (void)fd;
    struct port_search *s = ctx;
    for (unsigned i = 0; i < s->n; i++)
        if (s->socks[i].inode == inode)
            add_port(s->m, s->socks[i].port);
}

static void add_member_ports(struct replica_members *m)
{
    struct port_search *s = malloc(sizeof(*s)); /* 4 KB: off the stack */
    if (!s)
        return;
    s->m = m;
    for (unsigned i = 0; i < m->pid_count; i++) {
        s->n = procfs_listen_sockets(m->pids[i], s->socks, 256);
        procfs_each_socket_fd(m->pids[i], member_fd, s);
    }
    free(s);
}

int replica_resolve(const struct replica_spec *s, struct replica_members *out, struct error *err)
{
    memset(out, 0, sizeof(*out));
    int rc;
    switch (s->kind) {
    case REPLICA_PORT:
        rc = resolve_port(s, out, err);
        break;
    case REPLICA_PID:
        rc = resolve_pid(s, out, err);
        break;
    case REPLICA_CGROUP:
        rc = resolve_cgroup(s, out, err);
        break;
    default:
        rc = error_set(err, "replica %s: unknown kind", s->name);
    }
    if (rc == 0 && s->kind != REPLICA_PORT)
        add_member_ports(out);
    return rc;
}
