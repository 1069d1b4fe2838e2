#include "support/run_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char *file_read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            buf = realloc(buf, (cap *= 2) + 1);
    }
    fclose(f);
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

int text_line(const char *text, int index, char *buf, size_t len)
{
    const char *p = text;
    for (int i = 0; i < index && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    if (!p || !*p)
        return -1;
    size_t n = strcspn(p, "\n");
    if (n >= len)
        n = len - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
    return 0;
}

int text_line_count(const char *text)
{
    int n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *loadscope_bin(void)
{
    const char *bin = getenv("LOADSCOPE_BIN");
    return bin ? bin : "build/loadscope";
}

int run_loadscope(struct cmd_result *r, const char *const *args, int sigint_after_ms, int limit_s)
{
    size_t n = 0;
    while (args[n])
        n++;
    const char **argv = calloc(n + 3, sizeof(char *));
    argv[0] = loadscope_bin();
    argv[1] = "run";
    for (size_t i = 0; i < n; i++)
        argv[i + 2] = args[i];
    int rc = run_program(r, argv, sigint_after_ms, limit_s);
    free(argv);
    return rc;
}

int run_program(struct cmd_result *r, const char *const *argv, int sigint_after_ms, int limit_s)
{
    memset(r, 0, sizeof(*r));
    char out_path[] = "/tmp/loadscope-test-outXXXXXX", err_path[] = "/tmp/loadscope-test-errXXXXXX";
    int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path);
    if (out_fd < 0 || err_fd < 0)
        return -1;
    double start = now_s();
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out_fd);
    close(err_fd);
    bool sent_int = false;
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        double t = now_s() - start;
        if (sigint_after_ms > 0 && !sent_int && t * 1000 >= sigint_after_ms) {
            kill(pid, SIGINT);
            sent_int = true;
        }
        if (t > limit_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    r->seconds = now_s() - start;
    r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    r->out = file_read_all(out_path, NULL);
    r->err = file_read_all(err_path, NULL);
    unlink(out_path);
    unlink(err_path);
    return 0;
}

void cmd_result_free(struct cmd_result *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof(*r));
}
