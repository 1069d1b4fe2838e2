#include "support/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Child-process state (the child is its own program: one server per process). */
struct server {
    struct test_server_opts o;
    char *upload;
    size_t upload_len;
    char *body;
    FILE *log;
    pthread_mutex_t log_lock;
    atomic_int requests;
    _Atomic long long stall_until_ns;
};

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ns(long long ns)
{
    if (ns <= 0)
        return;
    struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static const char *header_value(const char *head, const char *name, char *out, size_t len)
{
    size_t n = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        if (!strncasecmp(line + 2, name, n) && line[2 + n] == ':') {
            const char *v = line + 3 + n;
            while (*v == ' ')
                v++;
            size_t k = strcspn(v, "\r\n");
            if (k >= len)
                k = len - 1;
            memcpy(out, v, k);
            out[k] = 0;
            return out;
        }
    }
    return NULL;
}

static bool upload_intact(const struct server *s, const char *body, size_t len)
{
    /* the file's bytes as one part: after the part headers, before the next boundary */
    size_t need = s->upload_len + 8;
    char *needle = malloc(need);
    memcpy(needle, "\r\n\r\n", 4);
    memcpy(needle + 4, s->upload, s->upload_len);
    memcpy(needle + 4 + s->upload_len, "\r\n--", 4);
    bool ok = memmem(body, len, needle, need) != NULL;
    free(needle);
    return ok;
}

static void respond(struct server *s, int fd, int status)
{
    char head[256];
    size_t blen = s->o.body_size ? s->o.body_size : 2;
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
                     status, status < 400 ? "OK" : "Error", blen);
    if (write_all(fd, head, (size_t)n))
        write_all(fd, s->body, blen);
}

static void log_request(struct server *s, int fd, const char *head, size_t body_len)
{
    if (!s->log)
        return;
    struct sockaddr_in peer;
    socklen_t pl = sizeof(peer);
    getpeername(fd, (struct sockaddr *)&peer, &pl);
    char id[64] = "-", method[16] = "", path[512] = "";
    header_value(head, "X-Request-Id", id, sizeof(id));
    sscanf(head, "%15s %511s", method, path);
    pthread_mutex_lock(&s->log_lock);
    fprintf(s->log, "%u %s %s %s %zu\n", ntohs(peer.sin_port), id, method, path, body_len);
    fflush(s->log);
    pthread_mutex_unlock(&s->log_lock);
}

/* Serves one keep-alive connection. */
static void serve(struct server *s, int fd)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        char *end;
        while (!(buf[len] = 0, end = strstr(buf, "\r\n\r\n"))) {
            if (len == cap) {
                cap *= 2;
                buf = realloc(buf, cap + 1);
            }
            ssize_t r = recv(fd, buf + len, cap - len, 0);
            if (r <= 0)
                goto out;
            len += (size_t)r;
        }
        size_t head_len = (size_t)(end - buf) + 4;
        char cl[32];
        size_t body_len = header_value(buf, "Content-Length", cl, sizeof(cl)) ? strtoul(cl, NULL, 10) : 0;
        while (len < head_len + body_len) {
            if (len == cap) {
                cap *= 2;
                buf = realloc(buf, cap + 1);
            }
            ssize_t r = recv(fd, buf + len, cap - len, 0);
            if (r <= 0)
                goto out;
            len += (size_t)r;
        }
        buf[head_len - 2] = 0; /* the head as a string */
        log_request(s, fd, buf, body_len);
        int n = atomic_fetch_add(&s->requests, 1) + 1;
        if (s->o.stall_after > 0 && n == s->o.stall_after)
            atomic_store(&s->stall_until_ns, now_ns() + (long long)s->o.stall_ms * 1000000LL);
        if (s->o.hang) {
            char sink[4096];
            while (recv(fd, sink, sizeof(sink), 0) > 0) {
            }
            goto out;
        }
        if (s->o.reset) {
            struct linger lg = {1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            goto out;
        }
        sleep_ns((long long)s->o.delay_ms * 1000000LL);
        sleep_ns(atomic_load(&s->stall_until_ns) - now_ns());
        int status = s->o.status ? s->o.status : 200;
        if (s->upload && !strncmp(buf, "POST", 4))
            status = upload_intact(s, buf + head_len, body_len) ? 200 : 422;
        respond(s, fd, status);
        memmove(buf, buf + head_len + body_len, len - head_len - body_len);
        len -= head_len + body_len;
    }
out:
    free(buf);
    close(fd);
}

struct conn {
    struct server *s;
    int fd;
};

static void *conn_main(void *arg)
{
    struct conn c = *(struct conn *)arg;
    free(arg);
    serve(c.s, c.fd);
    return NULL;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

static void child(const struct test_server_opts *o, int listen_fd)
{
    struct server *sv = calloc(1, sizeof(*sv)); /* lives as long as the child */
    if (!sv)
        _exit(2);
    sv->o = *o;
    pthread_mutex_init(&sv->log_lock, NULL);
    size_t blen = o->body_size ? o->body_size : 2;
    sv->body = malloc(blen);
    memset(sv->body, 'x', blen);
    memcpy(sv->body, "ok", blen < 2 ? blen : 2);
    if (o->upload_file && !(sv->upload = slurp(o->upload_file, &sv->upload_len)))
        _exit(3);
    if (o->log_path && !(sv->log = fopen(o->log_path, "a")))
        _exit(4);
    for (;;) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct conn *c = malloc(sizeof(*c));
        c->s = sv;
        c->fd = fd;
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        if (pthread_create(&t, &attr, conn_main, c) != 0) {
            close(fd);
            free(c);
        }
        pthread_attr_destroy(&attr);
    }
}

int test_server_start(struct test_server *s, const struct test_server_opts *o)
{
    memset(s, 0, sizeof(*s));
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
        close(fd);
        return -1;
    }
    s->port = ntohs(a.sin_port);
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
    pid_t parent = getpid();
    s->pid = fork();
    if (s->pid < 0) {
        close(fd);
        return -1;
    }
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(0);
        signal(SIGPIPE, SIG_IGN);
        child(o, fd);
        _exit(0);
    }
    close(fd); /* listening already: connections queue in the backlog */
    return 0;
}

void test_server_stop(struct test_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

int test_server_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    return ntohs(a.sin_port);
}
