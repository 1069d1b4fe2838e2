#include "demo/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/child.h"
#include "common/clock.h"

#define DEMO_MAX_ARGS 128

const char *demo_server_binary(char *buf, size_t len, struct error *err)
{
    const char *env = getenv("DEMO_SERVER_BIN");
    if (env && *env) {
        if (access(env, X_OK))
            return error_set(err, "DEMO_SERVER_BIN=%s is not executable", env), NULL;
        snprintf(buf, len, "%s", env);
        return buf;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(buf, len, "%s/loadscope-demo-server", self);
            if (!access(buf, X_OK))
                return buf;
        }
    }
    error_set(err, "cannot find loadscope-demo-server next to this program (build it with "
                   "`make`, or set DEMO_SERVER_BIN)");
    return NULL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int exit_code_of(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Kills the whole group and reaps the master. */
static void kill_group(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void exec_child(const char *binary, char **argv, int out_w, int err_w, pid_t parent)
{
    child_detach(parent);
    if (dup2(out_w, STDOUT_FILENO) < 0)
        _exit(127);
    /* Nothing else of loadscope's (sockets, databases) leaks into the server; err_w is
     * close-on-exec already, so its closing tells the parent that exec succeeded. */
    (void)err_w;
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC))
        for (int fd = 3; fd < 4096; fd++)
            fcntl(fd, F_SETFD, FD_CLOEXEC);
    execv(binary, argv);
    int e = errno;
    if (write(err_w, &e, sizeof(e)) < 0)
        _exit(127);
    _exit(127);
}

/* Reads one line from fd until deadline. Returns its length, 0 at end of file, -1 on
 * timeout. */
static int read_line(int fd, char *buf, size_t cap, uint64_t deadline)
{
    size_t len = 0;
    while (len + 1 < cap) {
        uint64_t now = clock_now_ns();
        if (now >= deadline)
            return -1;
        struct pollfd p = {fd, POLLIN, 0};
        int timeout = (int)((deadline - now) / NS_PER_MS) + 1;
        if (poll(&p, 1, timeout) <= 0)
            continue;
        ssize_t n = read(fd, buf + len, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        if (buf[len] == '\n')
            break;
        len++;
    }
    buf[len] = '\0';
    return (int)len;
}

static int parse_ready(struct demo_server *srv, struct error *err)
{
    const char *line = srv->ready_line;
    if (strncmp(line, "loadscope-demo-server ready ", 28))
        return error_set(err, "unexpected first line from the demo server: '%.200s'", line);
    const char *p = strstr(line, " ports=");
    const char *m = strstr(line, " model_ms=");
    if (!p || !m)
        return error_set(err, "demo server ready line lacks ports or model_ms: '%.200s'", line);
    p += 7;
    srv->n_ports = 0;
    while (srv->n_ports < DEMO_MAX_PORTS) {
        char *end;
        long port = strtol(p, &end, 10);
        if (end == p || port <= 0 || port > 65535)
            return error_set(err, "bad port list in the demo server ready line: '%.200s'",
                             line);
        srv->ports[srv->n_ports++] = (int)port;
        if (*end != ',')
            break;
        p = end + 1;
    }
    srv->model_ms = strtod(m + 10, NULL);
    return 0;
}

static int wait_healthy(const struct demo_server *srv, uint64_t deadline, struct error *err)
{
    for (int i = 0; i < srv->n_ports; i++) {
        int status;
        while ((status = demo_http_get_status(srv->ports[i], "/health", NS_PER_SEC)) != 200) {
            if (clock_now_ns() >= deadline)
                return error_set(err, "the demo server on port %d did not answer GET /health "
                                      "(last status %d)", srv->ports[i], status);
            sleep_ms(20);
        }
    }
    return 0;
}

/* Waits for exec to succeed (the CLOEXEC pipe closes) or to fail (it carries errno). */
static int wait_exec(int err_r, const char *binary, struct error *err)
{
    int e = 0;
    ssize_t n;
    do
        n = read(err_r, &e, sizeof(e));
    while (n < 0 && errno == EINTR);
    if (n == sizeof(e))
        return error_set(err, "cannot run %s: %s", binary, strerror(e));
    return 0;
}

int demo_server_start(struct demo_server *srv, const char *binary, const char *const flags[],
                      uint64_t timeout_ns, struct error *err)
{
    memset(srv, 0, sizeof(*srv));
    char *argv[DEMO_MAX_ARGS + 2];
    size_t argc = 0;
    argv[argc++] = (char *)binary;
    for (size_t i = 0; flags && flags[i]; i++) {
        if (argc > DEMO_MAX_ARGS)
            return error_set(err, "too many demo server flags");
        argv[argc++] = (char *)flags[i];
    }
    argv[argc] = NULL;
    int out[2], ex[2];
    if (pipe2(out, O_CLOEXEC))
        return error_set(err, "pipe: %s", strerror(errno));
    if (pipe2(ex, O_CLOEXEC)) {
        close(out[0]), close(out[1]);
        return error_set(err, "pipe: %s", strerror(errno));
    }
    uint64_t deadline = clock_now_ns() + timeout_ns;
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        exec_child(binary, argv, out[1], ex[1], parent);
    close(out[1]);
    close(ex[1]);
    if (pid < 0) {
        close(out[0]), close(ex[0]);
        return error_set(err, "fork: %s", strerror(errno));
    }
    setpgid(pid, pid); /* also done by the child: whichever runs first */
    srv->pid = pid;
    int rc = wait_exec(ex[0], binary, err);
    close(ex[0]);
    if (!rc) {
        int n = read_line(out[0], srv->ready_line, sizeof(srv->ready_line), deadline);
        if (n < 0)
            rc = error_set(err, "the demo server was not ready within %.0f s",
                           (double)timeout_ns / 1e9);
        else if (n == 0) {
            int status = 0;
            waitpid(pid, &status, 0);
            srv->pid = 0;
            close(out[0]);
            return error_set(err, "the demo server exited with status %d before it was ready",
                             exit_code_of(status));
        } else {
            rc = parse_ready(srv, err);
        }
    }
    close(out[0]); /* it writes nothing after the ready line (and ignores SIGPIPE) */
    if (!rc)
        rc = wait_healthy(srv, deadline, err);
    if (rc) {
        kill_group(pid);
        srv->pid = 0;
    }
    return rc;
}

/* True while any process of the group exists (zombies included). */
static int group_alive(pid_t pgid)
{
    return kill(-pgid, 0) == 0 || errno == EPERM;
}

int demo_server_stop(struct demo_server *srv, uint64_t grace_ns, int *exit_code,
                     struct error *err)
{
    pid_t pid = srv->pid;
    if (pid <= 0)
        return error_set(err, "the demo server is not running");
    int status = 0, rc = 0;
    kill(pid, SIGTERM);
    uint64_t deadline = clock_now_ns() + grace_ns;
    pid_t got;
    while ((got = waitpid(pid, &status, WNOHANG)) == 0 && clock_now_ns() < deadline)
        sleep_ms(5);
    if (got == 0) {
        kill_group(pid);
        status = SIGKILL; /* reported as 128 + 9 */
        rc = error_set(err, "the demo server did not stop within %.1f s of SIGTERM; killed",
                       (double)grace_ns / 1e9);
    }
    if (exit_code)
        *exit_code = got == 0 ? 128 + SIGKILL : exit_code_of(status);
    /* Its children die with it (PDEATHSIG); give them a moment, then look. */
    uint64_t until = clock_now_ns() + 2 * NS_PER_SEC;
    while (group_alive(pid) && clock_now_ns() < until)
        sleep_ms(10);
    if (group_alive(pid)) {
        kill(-pid, SIGKILL);
        if (!rc)
            rc = error_set(err, "the demo server left processes behind in group %d; killed",
                           (int)pid);
    }
    srv->pid = 0;
    return rc;
}

int demo_http_get_status(int port, const char *path, uint64_t timeout_ns)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {(time_t)(timeout_ns / NS_PER_SEC),
                         (suseconds_t)(timeout_ns % NS_PER_SEC / 1000)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    char req[256], resp[64];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", path,
                     port);
    int status = -1;
    if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
        send(fd, req, (size_t)n, MSG_NOSIGNAL) == n) {
        size_t got = 0;
        ssize_t r;
        while (got < sizeof(resp) - 1 && (r = recv(fd, resp + got, sizeof(resp) - 1 - got, 0)) > 0)
            got += (size_t)r;
        resp[got] = '\0';
        if (got >= 12 && !strncmp(resp, "HTTP/1.", 7))
            status = atoi(resp + 9);
    }
    close(fd);
    return status;
}
