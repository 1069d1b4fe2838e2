/* loadscope-demo-server: an image-classification API whose bottleneck is set by its flags.
 *
 * The master parses flags, calibrates the network to --model-cost, writes the weight file of
 * --reload-model, binds every replica's port, starts the replicas (in-process for one, one
 * supervisor child each for several), prints one ready line once every worker reported in,
 * then waits for SIGTERM/SIGINT or a child's death and stops everything. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "calibrate.h"
#include "config.h"
#include "model.h"
#include "net.h"
#include "proc.h"
#include "replica.h"
#include "weights.h"

#define READY_TIMEOUT_MS 60000
#define STOP_GRACE_MS 5000
#define REPLICA_STOP_GRACE_MS 3000

struct server {
    struct config cfg;
    struct calibration cal;
    double calib_other_cores; /* CPU other processes used while we calibrated */
    struct model model;
    char tmpdir[64];
    char weights_path[96];
    int listen_fds[CONFIG_MAX_REPLICAS];
    int ports[CONFIG_MAX_REPLICAS];
    int ready_r, ready_w;
    int sigfd;
    struct replica replicas[CONFIG_MAX_REPLICAS];
    struct children children;
};

static double now_ns_double(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void print_ready(void *arg)
{
    const struct server *s = arg;
    const struct config *c = &s->cfg;
    printf("loadscope-demo-server ready pid=%d ports=", (int)getpid());
    for (int i = 0; i < c->replicas; i++)
        printf("%s%d", i ? "," : "", s->ports[i]);
    printf(" workers=%d threads=%d queue=%d model_workers=%d downstream_ms=%d replicas=%d "
           "reload_model=%d model=%dx%d/%d/%d model_ms=%.3f",
           c->workers, c->threads, c->queue, c->queue ? c->model_workers : 0, c->downstream_ms,
           c->replicas, c->reload_model, s->model.shape.size, s->model.shape.size,
           s->model.shape.channels, s->model.shape.depth, s->cal.measured_ms);
    printf(" calib_other_cores=%.2f", s->calib_other_cores);
    if (c->reload_model)
        printf(" weights=%s", s->weights_path);
    printf("\n");
    fflush(stdout);
}

/* Busy CPU time of the whole machine (all CPUs) from /proc/stat, in ns. */
static double machine_busy_ns(void)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8)
        return 0;
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 1e9 /
           (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

static int prepare_model(struct server *s, char *err, size_t errlen)
{
    const struct config *c = &s->cfg;
    /* Calibration times CPU passes; on a VM whose vCPUs share physical cores, other work
     * running meanwhile inflates them and the network comes out too small. Say so. */
    double busy0 = machine_busy_ns(), self0 = self_cpu_ns(), wall0 = now_ns_double();
    /* Time the passes where the work will run: the vCPUs of a VM need not be equally fast. */
    cpu_set_t before, first;
    bool pinned = c->n_cpus && !sched_getaffinity(0, sizeof(before), &before);
    if (pinned) {
        replica_cpuset(c, 0, &first);
        pinned = !sched_setaffinity(0, sizeof(first), &first);
    }
    if (c->fixed_shape) {
        s->cal.shape = (struct model_shape){c->shape.size, c->shape.channels, c->shape.depth};
        s->cal.measured_ms = calibrate_measure(s->cal.shape, c->seed, 5, 1);
        if (s->cal.measured_ms < 0)
            return snprintf(err, errlen, "out of memory for the network"), -1;
    } else if (calibrate(c->model_cost_ms, c->seed, &s->cal)) {
        return snprintf(err, errlen, "out of memory while calibrating"), -1;
    }
    if (pinned)
        sched_setaffinity(0, sizeof(before), &before);
    /* /proc/stat counts in 10 ms ticks: below 0.2 s of calibration the figure is noise. */
    double wall = now_ns_double() - wall0;
    s->calib_other_cores = -1;
    if (wall >= 0.2e9) {
        s->calib_other_cores = (machine_busy_ns() - busy0 - (self_cpu_ns() - self0)) / wall;
        if (s->calib_other_cores < 0)
            s->calib_other_cores = 0;
    }
    if (model_init(&s->model, s->cal.shape, c->seed))
        return snprintf(err, errlen, "out of memory for the network"), -1;
    if (!c->quiet)
        fprintf(stderr, "loadscope-demo-server: network %dx%d input, %d channels, depth %d "
                        "(%.1fM multiply-adds, %zu weights): %.2f ms CPU per /predict "
                        "(target %s%.1f ms, %d calibration rounds)\n",
                s->cal.shape.size, s->cal.shape.size, s->cal.shape.channels, s->cal.shape.depth,
                model_macs(s->cal.shape) / 1e6, s->model.n_weights, s->cal.measured_ms,
                c->fixed_shape ? "none, fixed shape; " : "", c->model_cost_ms, s->cal.rounds);
    if (!c->quiet && s->calib_other_cores > 0.3)
        fprintf(stderr, "loadscope-demo-server: warning: other processes used %.1f CPUs while "
                        "calibrating; the cost per request may be lower than measured\n",
                s->calib_other_cores);
    if (!c->reload_model)
        return 0;
    snprintf(s->tmpdir, sizeof(s->tmpdir), "/tmp/loadscope-demo-XXXXXX");
    if (!mkdtemp(s->tmpdir)) {
        snprintf(err, errlen, "cannot create a temporary directory: %s", strerror(errno));
        s->tmpdir[0] = '\0';
        return -1;
    }
    snprintf(s->weights_path, sizeof(s->weights_path), "%s/model.weights", s->tmpdir);
    return weights_write(s->weights_path, &s->model, (size_t)c->model_file_mb << 20, err,
                         errlen);
}

static int open_listeners(struct server *s, char *err, size_t errlen)
{
    const struct config *c = &s->cfg;
    for (int i = 0; i < c->replicas; i++) {
        int port = c->port ? c->port + i : 0;
        s->listen_fds[i] = net_listen(c->bind, port, c->backlog, err, errlen);
        if (s->listen_fds[i] < 0)
            return -1;
        s->ports[i] = net_local_port(s->listen_fds[i]);
    }
    return 0;
}

/* A replica supervisor child (with --replicas > 1). */
static int replica_main(void *arg)
{
    struct replica *r = arg;
    char err[256];
    /* An independent replica holds only its own port: a tracer (or an operator) finds a
     * replica's processes by who listens on its port. */
    for (int i = 0; i < r->n_siblings; i++)
        if (r->sibling_fds[i] >= 0 && r->sibling_fds[i] != r->listen_fd)
            close(r->sibling_fds[i]);
    int sigfd = proc_signals_open();
    struct children *c = calloc(1, sizeof(*c));
    if (!c || sigfd < 0)
        return 1;
    int rc = replica_start(r, c, err, sizeof(err));
    if (rc)
        fprintf(stderr, "loadscope-demo-server: %s\n", err);
    else
        rc = proc_supervise(c, sigfd, -1, 0, 0, NULL, NULL);
    proc_stop(c, sigfd, REPLICA_STOP_GRACE_MS);
    return rc;
}

static int start_replicas(struct server *s, char *err, size_t errlen)
{
    const struct config *c = &s->cfg;
    for (int i = 0; i < c->replicas; i++)
        s->replicas[i] = (struct replica){.cfg = c, .model = &s->model,
                                          .weights_path = c->reload_model ? s->weights_path
                                                                          : NULL,
                                          .index = i, .listen_fd = s->listen_fds[i],
                                          .ready_fd = s->ready_w, .helper_fd = -1,
                                          .sibling_fds = s->listen_fds,
                                          .n_siblings = c->replicas};
    if (c->replicas == 1)
        return replica_start(&s->replicas[0], &s->children, err, errlen);
    for (int i = 0; i < c->replicas; i++) {
        char role[24];
        snprintf(role, sizeof(role), "replica %d", i);
        if (proc_spawn(&s->children, role, "demo-replica", replica_main, &s->replicas[i],
                       true) < 0) {
            snprintf(err, errlen, "cannot start replica %d: %s", i, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void cleanup(struct server *s)
{
    for (int i = 0; i < s->cfg.replicas; i++)
        if (s->listen_fds[i] >= 0)
            close(s->listen_fds[i]);
    if (s->weights_path[0])
        unlink(s->weights_path);
    if (s->tmpdir[0])
        rmdir(s->tmpdir);
    model_free(&s->model);
}

int main(int argc, char **argv)
{
    char err[512];
    struct server *s = calloc(1, sizeof(*s));
    if (!s)
        return 1;
    if (config_parse(argc, argv, &s->cfg, err, sizeof(err))) {
        fprintf(stderr, "loadscope-demo-server: %s\n", err);
        free(s);
        return 2;
    }
    if (s->cfg.help) {
        config_usage(stdout);
        free(s);
        return 0;
    }
    for (int i = 0; i < CONFIG_MAX_REPLICAS; i++)
        s->listen_fds[i] = -1;
    signal(SIGPIPE, SIG_IGN);
    /* Blocked from the start: a SIGTERM during calibration is acted on once children exist. */
    s->sigfd = proc_signals_open();
    int fds[2], rc = 1;
    if (s->sigfd < 0 || pipe2(fds, O_CLOEXEC)) {
        snprintf(err, sizeof(err), "cannot set up signals: %s", strerror(errno));
    } else {
        s->ready_r = fds[0];
        s->ready_w = fds[1];
        if (!prepare_model(s, err, sizeof(err)) && !open_listeners(s, err, sizeof(err)) &&
            !start_replicas(s, err, sizeof(err))) {
            close(s->ready_w);
            int expected = replica_ready_count(&s->cfg) * s->cfg.replicas;
            rc = proc_supervise(&s->children, s->sigfd, s->ready_r, expected, READY_TIMEOUT_MS,
                                print_ready, s);
            err[0] = '\0';
        }
        if (rc && err[0])
            fprintf(stderr, "loadscope-demo-server: %s\n", err);
        proc_stop(&s->children, s->sigfd, STOP_GRACE_MS);
        close(s->ready_r);
    }
    cleanup(s);
    free(s);
    return rc ? 1 : 0;
}
