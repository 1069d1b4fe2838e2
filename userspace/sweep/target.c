#include "sweep/target.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/child.h"
#include "common/clock.h"

#define POLL_MS 100
#define STOP_GRACE_NS (10 * NS_PER_SEC)
#define PORT_RELEASE_NS (10 * NS_PER_SEC)

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- templates ------------------------------------------------------------------------------ */

int sweep_template_check(const char *option, const char *tmpl, bool need_replicas,
                         bool need_workers, bool need_port, struct error *err)
{
    if (!*tmpl)
        return error_set(err, "%s: empty command", option);
    if (need_replicas && !strstr(tmpl, "{replicas}"))
        return error_set(err, "%s: the command must use {replicas} (the replica count varies)",
                         option);
    if (need_workers && !strstr(tmpl, "{workers}"))
        return error_set(err, "%s: the command must use {workers} (the worker count varies)",
                         option);
    if (need_port && !strstr(tmpl, "{port}") && !strstr(tmpl, "{ports}"))
        return error_set(err, "%s: the command must use {port} (the sweep picks a free port "
                              "per cell; or give --port)", option);
    return 0;
}

int sweep_template_fill(const char *tmpl, const struct sweep_cell *c, const int *ports,
                        int n_ports, char *out, size_t len)
{
    size_t off = 0;
    for (const char *p = tmpl; *p;) {
        char value[SWEEP_MAX_PORTS * 7 + 64] = "";
        size_t used = 0;
        if (!strncmp(p, "{replicas}", 10))
            used = 10, snprintf(value, sizeof(value), "%d", c->replicas);
        else if (!strncmp(p, "{workers}", 9))
            used = 9, snprintf(value, sizeof(value), "%d", c->workers);
        else if (!strncmp(p, "{port}", 6))
            used = 6, snprintf(value, sizeof(value), "%d", n_ports ? ports[0] : 0);
        else if (!strncmp(p, "{cell}", 6))
            used = 6, snprintf(value, sizeof(value), "%s", c->name);
        else if (!strncmp(p, "{ports}", 7)) {
            used = 7;
            size_t v = 0;
            for (int i = 0; i < n_ports; i++)
                v += (size_t)snprintf(value + v, sizeof(value) - v, "%s%d", i ? "," : "",
                                      ports[i]);
        }
        if (!used) {
            if (off + 1 >= len)
                return -1;
            out[off++] = *p++;
            continue;
        }
        size_t n = strlen(value);
        if (off + n >= len)
            return -1;
        memcpy(out + off, value, n);
        off += n;
        p += used;
    }
    out[off] = '\0';
    return 0;
}

/* ---- ports ---------------------------------------------------------------------------------- */

static int loopback_socket(int port, struct sockaddr_in *sa)
{
    *sa = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

/* Binds port (0 = any); returns the bound port, or -1. */
static int try_bind(int port)
{
    struct sockaddr_in sa;
    int fd = loopback_socket(port, &sa);
    if (fd < 0)
        return -1;
    int one = 1, got = -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    socklen_t sl = sizeof(sa);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        got = ntohs(sa.sin_port);
    close(fd);
    return got;
}

static bool port_listening(int port)
{
    struct sockaddr_in sa;
    int fd = loopback_socket(port, &sa);
    if (fd < 0)
        return false;
    bool yes = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return yes;
}

/* count consecutive free ports: the kernel picks the first, the others are checked. */
static int pick_ports(int count, struct error *err)
{
    for (int attempt = 0; attempt < 64; attempt++) {
        int base = try_bind(0);
        if (base <= 0 || base + count - 1 > 65535)
            continue;
        bool free_run = true;
        for (int i = 1; i < count && free_run; i++)
            free_run = try_bind(base + i) == base + i;
        if (free_run)
            return base;
    }
    return error_set(err, "cannot find %d consecutive free ports on 127.0.0.1", count);
}

/* Waits until nothing listens on the ports (a previous target may still be stopping). */
static int wait_ports_free(const struct sweep_target *t, uint64_t timeout_ns, struct error *err)
{
    uint64_t deadline = clock_now_ns() + timeout_ns;
    for (int i = 0; i < t->n_ports; i++)
        while (port_listening(t->ports[i])) {
            if (clock_now_ns() >= deadline)
                return error_set(err, "port %d is still in use (a previous target still "
                                      "running?)", t->ports[i]);
            sleep_ms(POLL_MS);
        }
    return 0;
}

/* ---- processes ------------------------------------------------------------------------------ */

/* In the child, between fork and exec: only async-signal-safe calls. */
static void exec_shell(const char *command, int log_fd, pid_t parent)
{
    child_detach(parent);
    child_log_to(log_fd);
    execl("/bin/sh", "sh", "-c", command, (char *)NULL);
    _exit(127);
}

static pid_t spawn_shell(const char *command, const char *log_path, struct error *err)
{
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0)
        return error_set(err, "cannot create %s: %s", log_path, strerror(errno));
    dprintf(log_fd, "$ %s\n", command);
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        exec_shell(command, log_fd, parent);
    close(log_fd);
    if (pid < 0)
        return error_set(err, "fork: %s", strerror(errno));
    setpgid(pid, pid);
    return pid;
}

static int exit_code_of(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static bool group_alive(pid_t pgid)
{
    return kill(-pgid, 0) == 0 || errno == EPERM;
}

/* SIGTERM to the group, SIGKILL after the grace; reaps the leader. Returns 0, or -1 when
 * something had to be killed. */
static int stop_group(pid_t pgid, bool *reaped, struct error *err)
{
    int rc = 0;
    if (group_alive(pgid)) {
        kill(-pgid, SIGTERM);
        uint64_t deadline = clock_now_ns() + STOP_GRACE_NS;
        while (group_alive(pgid) && clock_now_ns() < deadline) {
            if (!*reaped && waitpid(pgid, NULL, WNOHANG) == pgid)
                *reaped = true;
            sleep_ms(20);
        }
        if (group_alive(pgid)) {
            kill(-pgid, SIGKILL);
            rc = error_set(err, "the target did not stop within %.0f s of SIGTERM; killed",
                           (double)STOP_GRACE_NS / 1e9);
        }
    }
    if (!*reaped)
        while (waitpid(pgid, NULL, 0) < 0 && errno == EINTR)
            ;
    *reaped = true;
    return rc;
}

/* Runs the --stop command to completion (bounded by timeout_ns). */
static int run_stop_command(const char *command, const char *log_path, uint64_t timeout_ns,
                            struct error *err)
{
    pid_t pid = spawn_shell(command, log_path, err);
    if (pid < 0)
        return -1;
    uint64_t deadline = clock_now_ns() + timeout_ns;
    int status = 0;
    pid_t got;
    while ((got = waitpid(pid, &status, WNOHANG)) == 0 && clock_now_ns() < deadline)
        sleep_ms(20);
    if (got != pid) {
        bool reaped = false;
        stop_group(pid, &reaped, NULL);
        return error_set(err, "--stop did not finish within %.0f s (see %s)",
                         (double)timeout_ns / 1e9, log_path);
    }
    if (exit_code_of(status) != 0)
        return error_set(err, "--stop exited with status %d (see %s)", exit_code_of(status),
                         log_path);
    return 0;
}

/* ---- start and stop ------------------------------------------------------------------------- */

/* "model=48x48/47/1" of the ready line as "48,47,1". */
static void shape_of(const char *ready, char *out, size_t len)
{
    const char *m = strstr(ready, " model=");
    int size, size2, channels, depth;
    if (m && sscanf(m, " model=%dx%d/%d/%d", &size, &size2, &channels, &depth) == 4)
        snprintf(out, len, "%d,%d,%d", size, channels, depth);
}

static bool has_flag(const char *const *flags, const char *name)
{
    for (size_t i = 0; flags[i]; i++)
        if (!strcmp(flags[i], name))
            return true;
    return false;
}

static int start_demo(const struct sweep_target_spec *spec, const struct sweep_cell *c,
                      const char *log_path, struct sweep_target *t, struct error *err)
{
    const char *flags[SWEEP_MAX_DEMO_FLAGS + 16];
    char replicas[16], workers[16];
    bool pin = spec->model_shape && !has_flag(spec->demo_flags, "--model-shape");
    size_t n = 0;
    for (size_t i = 0; spec->demo_flags[i]; i++) {
        if (pin && spec->model_shape[0] && !strcmp(spec->demo_flags[i], "--model-cost") &&
            spec->demo_flags[i + 1]) {
            i++; /* the pinned shape replaces the calibration */
            continue;
        }
        flags[n++] = spec->demo_flags[i];
    }
    if (pin && spec->model_shape[0]) {
        flags[n++] = "--model-shape";
        flags[n++] = spec->model_shape;
    }
    if (c->replicas > 0) {
        snprintf(replicas, sizeof(replicas), "%d", c->replicas);
        flags[n++] = "--replicas";
        flags[n++] = replicas;
    }
    if (c->workers > 0) {
        snprintf(workers, sizeof(workers), "%d", c->workers);
        flags[n++] = "--workers";
        flags[n++] = workers;
    }
    flags[n++] = "--port";
    flags[n++] = "0";
    flags[n++] = "--quiet";
    flags[n] = NULL;
    FILE *log = fopen(log_path, "a");
    if (log) {
        fprintf(log, "$ %s", spec->demo_binary);
        for (size_t i = 0; i < n; i++)
            fprintf(log, " %s", flags[i]);
        fputc('\n', log);
    }
    int rc = demo_server_start(&t->demo, spec->demo_binary, flags, spec->start_timeout_ns, err);
    if (log) {
        fprintf(log, "%s\n", rc == 0 ? t->demo.ready_line : err->msg);
        fclose(log);
    }
    if (rc != 0)
        return error_prefix(err, "the demo server did not start");
    if (pin && !spec->model_shape[0])
        shape_of(t->demo.ready_line, spec->model_shape, SWEEP_SHAPE_LEN);
    t->n_ports = t->demo.n_ports;
    memcpy(t->ports, t->demo.ports, sizeof(int) * (size_t)t->n_ports);
    return 0;
}

/* Polls GET health on every port until all answer 2xx, the launch command fails, the
 * deadline passes or a stop is requested. */
static int wait_healthy(const struct sweep_target_spec *spec, struct sweep_target *t,
                        const char *log_path, volatile sig_atomic_t *stop_requests,
                        struct error *err)
{
    sig_atomic_t stops = *stop_requests;
    uint64_t deadline = clock_now_ns() + spec->start_timeout_ns;
    int port = 0, status = -1;
    for (;;) {
        int ok = 0;
        for (int i = 0; i < t->n_ports; i++) {
            port = t->ports[i];
            status = demo_http_get_status(port, spec->health, NS_PER_SEC);
            if (status < 200 || status > 299)
                break;
            ok++;
        }
        if (ok == t->n_ports)
            return 0;
        int wstatus;
        if (!t->launch_reaped && waitpid(t->launch_pid, &wstatus, WNOHANG) == t->launch_pid) {
            t->launch_reaped = true; /* exit 0: it daemonized; keep polling */
            if (exit_code_of(wstatus) != 0)
                return error_set(err, "the launch command exited with status %d before GET %s "
                                      "answered on port %d (see %s)",
                                 exit_code_of(wstatus), spec->health, port, log_path);
        }
        if (*stop_requests != stops)
            return error_set(err, "interrupted while waiting for the target");
        if (clock_now_ns() >= deadline) {
            char last[32];
            snprintf(last, sizeof(last), status < 0 ? "no answer" : "status %d", status);
            return error_set(err, "the target did not answer GET %s on port %d within %.0f s "
                                  "(last: %s; see %s)",
                             spec->health, port, (double)spec->start_timeout_ns / 1e9, last,
                             log_path);
        }
        sleep_ms(POLL_MS);
    }
}

static int start_launch(const struct sweep_target_spec *spec, const struct sweep_cell *c,
                        const char *log_path, volatile sig_atomic_t *stop_requests,
                        struct sweep_target *t, struct error *err)
{
    int count = spec->port_per_replica && c->replicas > 0 ? c->replicas : 1;
    if (count > SWEEP_MAX_PORTS)
        return error_set(err, "at most %d ports per cell", SWEEP_MAX_PORTS);
    int base = spec->port ? spec->port : pick_ports(count, err);
    if (base < 0)
        return -1;
    if (base + count - 1 > 65535)
        return error_set(err, "ports %d..%d are out of range", base, base + count - 1);
    t->n_ports = count;
    for (int i = 0; i < count; i++)
        t->ports[i] = base + i;
    if (wait_ports_free(t, spec->start_timeout_ns, err) < 0)
        return -1;
    char command[8192];
    if (sweep_template_fill(spec->launch, c, t->ports, t->n_ports, command, sizeof(command)))
        return error_set(err, "--launch: the command is too long");
    pid_t pid = spawn_shell(command, log_path, err);
    if (pid < 0)
        return -1;
    t->launch_pid = pid;
    t->launch_reaped = false;
    t->running = true;
    if (wait_healthy(spec, t, log_path, stop_requests, err) < 0) {
        struct error ignored;
        sweep_target_stop(spec, c, log_path, t, &ignored);
        return -1;
    }
    return 0;
}

int sweep_target_start(const struct sweep_target_spec *spec, const struct sweep_cell *c,
                       const char *log_path, volatile sig_atomic_t *stop_requests,
                       struct sweep_target *t, struct error *err)
{
    memset(t, 0, sizeof(*t));
    if (spec->mode == SWEEP_TARGET_FIXED)
        return 0;
    if (spec->mode == SWEEP_TARGET_DEMO) {
        if (start_demo(spec, c, log_path, t, err) < 0)
            return -1;
        t->running = true;
        return 0;
    }
    return start_launch(spec, c, log_path, stop_requests, t, err);
}

int sweep_target_stop(const struct sweep_target_spec *spec, const struct sweep_cell *c,
                      const char *log_path, struct sweep_target *t, struct error *err)
{
    if (!t->running)
        return 0;
    t->running = false;
    if (spec->mode == SWEEP_TARGET_DEMO)
        return demo_server_stop(&t->demo, STOP_GRACE_NS, NULL, err);
    int rc = 0;
    if (spec->stop) {
        char command[8192];
        if (sweep_template_fill(spec->stop, c, t->ports, t->n_ports, command, sizeof(command)))
            rc = error_set(err, "--stop: the command is too long");
        else
            rc = run_stop_command(command, log_path, spec->start_timeout_ns, err);
    }
    struct error group_err;
    if (stop_group(t->launch_pid, &t->launch_reaped, &group_err) < 0 && rc == 0)
        rc = error_set(err, "%s", group_err.msg);
    /* a daemonized target is stopped by --stop: give it a moment to release its ports */
    struct error port_err;
    if (wait_ports_free(t, PORT_RELEASE_NS, &port_err) < 0 && rc == 0)
        rc = error_set(err, "after stopping the target: %s", port_err.msg);
    return rc;
}
