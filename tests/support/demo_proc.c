#include "support/demo_proc.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/procfs.h"

/* Reads /proc/PID/stat and returns the fields after "(comm) ": state, ppid, pgrp. */
static int read_stat(pid_t pid, char *state, pid_t *ppid, pid_t *pgrp)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    int pp, pg;
    if (!p || sscanf(p + 1, " %c %d %d", state, &pp, &pg) != 3)
        return -1;
    *ppid = pp;
    *pgrp = pg;
    return 0;
}

/* Calls fn for each numeric entry of /proc. */
static int scan(int (*match)(pid_t pid, pid_t key), pid_t key, pid_t *pids, int cap)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || !match((pid_t)pid, key))
            continue;
        if (n < cap)
            pids[n] = (pid_t)pid;
        n++;
    }
    closedir(d);
    return n;
}

static int in_group(pid_t pid, pid_t pgid)
{
    char state;
    pid_t ppid, pgrp;
    return !read_stat(pid, &state, &ppid, &pgrp) && pgrp == pgid;
}

static int child_of(pid_t pid, pid_t parent)
{
    char state;
    pid_t ppid, pgrp;
    return !read_stat(pid, &state, &ppid, &pgrp) && ppid == parent;
}

int demo_proc_group(pid_t pgid, pid_t *pids, int cap)
{
    return scan(in_group, pgid, pids, cap);
}

int demo_proc_children(pid_t ppid, pid_t *pids, int cap)
{
    return scan(child_of, ppid, pids, cap);
}

static void add_task_sched(pid_t pid, struct demo_sched *s)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        uint64_t run, wait;
        if (procfs_schedstat(pid, (pid_t)atoi(e->d_name), &run, &wait) == 0) {
            s->run_ns += run;
            s->wait_ns += wait;
        }
    }
    closedir(d);
}

struct demo_sched demo_proc_group_sched(pid_t pgid)
{
    struct demo_sched s = {0, 0};
    pid_t pids[1024];
    int n = demo_proc_group(pgid, pids, 1024);
    for (int i = 0; i < n && i < 1024; i++)
        add_task_sched(pids[i], &s);
    return s;
}

int demo_proc_cpus_allowed(pid_t pid, char *buf, size_t len)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int rc = -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "Cpus_allowed_list:", 18)) {
            char *v = line + 18;
            v += strspn(v, " \t");
            v[strcspn(v, "\n")] = '\0';
            snprintf(buf, len, "%s", v);
            rc = 0;
        }
    fclose(f);
    return rc;
}

char demo_proc_state(pid_t pid)
{
    char state;
    pid_t ppid, pgrp;
    return read_stat(pid, &state, &ppid, &pgrp) ? 0 : state;
}

uint64_t demo_proc_system_busy_ns(void)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    if (!f)
        return 0;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8)
        return 0;
    /* user nice system idle iowait irq softirq steal, in USER_HZ ticks */
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return busy * (1000000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
}

uint64_t demo_proc_self_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ULL +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ULL;
}
