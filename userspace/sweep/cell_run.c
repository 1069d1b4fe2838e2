#include "sweep/cell_run.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/child.h"
#include "common/clock.h"

#define POLL_NS (50 * NS_PER_MS)
#define MAX_CPU_SAMPLES 4096
#define MAX_ARGS 512

int host_cpu_ticks(unsigned long long *busy, unsigned long long *total)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    unsigned long long v[10] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
    fclose(f);
    if (n < 4)
        return -1;
    /* user nice system idle iowait irq softirq steal guest guest_nice: guest time is already
     * in user, idle and iowait are not busy */
    *busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    *total = *busy + v[3] + v[4];
    return 0;
}

int host_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void exec_run(const char *self, char *const *argv, int log_fd, pid_t parent)
{
    child_detach(parent);
    child_log_to(log_fd);
    execv(self, argv);
    _exit(127);
}

struct cpu_sampler {
    unsigned long long busy, total;
    uint64_t next_ns;
    double samples[MAX_CPU_SAMPLES];
    int n;
    int cpus;
};

static void sampler_tick(struct cpu_sampler *s, uint64_t now)
{
    if (now < s->next_ns)
        return;
    s->next_ns = now + NS_PER_SEC;
    unsigned long long busy, total;
    if (host_cpu_ticks(&busy, &total) != 0)
        return;
    if (s->total && total > s->total && s->n < MAX_CPU_SAMPLES)
        s->samples[s->n++] = (double)(busy - s->busy) / (double)(total - s->total) * s->cpus;
    s->busy = busy;
    s->total = total;
}

static double sampler_median(struct cpu_sampler *s)
{
    if (s->n == 0)
        return NAN;
    qsort(s->samples, (size_t)s->n, sizeof(double), compare_doubles);
    return s->n % 2 ? s->samples[s->n / 2]
                    : (s->samples[s->n / 2 - 1] + s->samples[s->n / 2]) / 2;
}

int cell_run(const char *const *argv, const char *log_path,
             volatile sig_atomic_t *stop_requests, struct cell_run_result *res,
             struct error *err)
{
    memset(res, 0, sizeof(*res));
    res->host_busy_cores = NAN;
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0)
        return error_set(err, "cannot find this program (/proc/self/exe): %s", strerror(errno));
    self[len] = '\0';
    char *args[MAX_ARGS + 2];
    size_t n = 0;
    args[n++] = self;
    args[n++] = "run";
    for (size_t i = 0; argv[i]; i++) {
        if (n >= MAX_ARGS)
            return error_set(err, "too many run options");
        args[n++] = (char *)argv[i];
    }
    args[n] = NULL;
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0)
        return error_set(err, "cannot create %s: %s", log_path, strerror(errno));
    struct cpu_sampler *cpu = calloc(1, sizeof(*cpu));
    if (!cpu) {
        close(log_fd);
        return error_set(err, "out of memory");
    }
    cpu->cpus = host_cpu_count();
    uint64_t start = clock_now_ns();
    sampler_tick(cpu, start);
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        exec_run(self, args, log_fd, parent);
    close(log_fd);
    if (pid < 0) {
        free(cpu);
        return error_set(err, "fork: %s", strerror(errno));
    }
    setpgid(pid, pid);
    sig_atomic_t forwarded = *stop_requests;
    int status = 0;
    bool reaped = false;
    for (;;) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid || (got < 0 && errno != EINTR)) {
            reaped = got == pid;
            break;
        }
        if (*stop_requests != forwarded) {
            forwarded = *stop_requests;
            res->interrupted = true;
            kill(pid, SIGINT);
        }
        struct timespec ts = {0, (long)POLL_NS};
        nanosleep(&ts, NULL);
        sampler_tick(cpu, clock_now_ns());
    }
    res->seconds = (double)(clock_now_ns() - start) / 1e9;
    if (!reaped)
        res->exit_code = 128 + SIGKILL; /* lost track of it: never a success */
    else
        res->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    res->host_busy_cores = sampler_median(cpu);
    free(cpu);
    return 0;
}
