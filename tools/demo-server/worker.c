#include "worker.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "downstream.h"
#include "http.h"
#include "image.h"
#include "multipart.h"
#include "net.h"
#include "predict.h"
#include "proc.h"
#include "queue.h"

#define WORKER_MAX_CONNS 1024

struct conn {
    int fd;
    char *buf; /* HTTP_MAX_HEAD bytes: the head being read, then pipelined leftovers */
    size_t len;
    uint64_t idle_since_ns;
    bool ready;
};

struct worker {
    const struct worker_env *env;
    struct conn conns[WORKER_MAX_CONNS];
    size_t n_conns;
    struct pollfd pfds[WORKER_MAX_CONNS + 1];
    uint8_t *body; /* cfg->max_body bytes */
    struct predictor pred;
    bool has_pred;
    int broker_fd, downstream_fd;
    uint64_t served;
    size_t rr; /* round-robin start among ready connections */
    pid_t pid, tid;
};

/* What one request produced, for the response and the access log. */
struct reply {
    int status;
    const char *ctype;
    char body[1024];
    size_t len;
    bool close; /* framing is lost or the request asked for it */
    const char *allow; /* methods of the path, for 405 */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Returns 0 so route functions can `return set_error(...)`. */
static int set_error(struct reply *r, int status, const char *msg, bool close)
{
    r->status = status;
    r->ctype = "application/json";
    int n = snprintf(r->body, sizeof(r->body), "{\"error\":\"%s\"}", msg);
    r->len = n > 0 && (size_t)n < sizeof(r->body) ? (size_t)n : 0;
    r->close = r->close || close;
    return 0;
}

/* ---- downstream and broker connections (one each per serving thread) ---------------------- */

static int call_downstream(struct worker *w, double *ms)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (w->downstream_fd < 0)
            w->downstream_fd = net_connect_local(w->env->downstream_port);
        if (w->downstream_fd >= 0 && !downstream_call(w->downstream_fd, ++w->served, ms))
            return 0;
        if (w->downstream_fd >= 0)
            close(w->downstream_fd);
        w->downstream_fd = -1;
    }
    return -1;
}

static int submit_job(struct worker *w, const uint8_t *img, size_t len,
                      struct predict_result *r, double *queue_ms)
{
    if (w->broker_fd < 0)
        w->broker_fd = queue_connect(w->env->broker_port);
    if (w->broker_fd >= 0 && !queue_submit(w->broker_fd, img, len, r, queue_ms))
        return 0;
    if (w->broker_fd >= 0)
        close(w->broker_fd);
    w->broker_fd = -1;
    return -1;
}

/* ---- routes ------------------------------------------------------------------------------- */

static int route_predict(struct worker *w, const struct http_request *req, size_t body_len,
                          struct reply *r)
{
    char boundary[200];
    const uint8_t *img = w->body;
    size_t img_len = body_len;
    const char *why;
    enum body_kind kind =
        multipart_classify(req->content_type, req->content_type_len, boundary, sizeof(boundary));
    if (kind == BODY_UNSUPPORTED)
        return set_error(r, 415, "send the image as application/octet-stream, image/*, or "
                                 "multipart/form-data with a file part", false);
    if (kind == BODY_MULTIPART &&
        multipart_find_file(w->body, body_len, boundary, &img, &img_len, &why))
        return set_error(r, 400, why, false);
    if (img_len < IMAGE_MIN_BYTES)
        return set_error(r, 400, "image too small: the minimum is 1024 bytes", false);
    if (img_len > IMAGE_MAX_BYTES)
        return set_error(r, 413, "image too large: the maximum is 1048576 bytes", false);

    double down_ms = -1, queue_ms = -1;
    if (w->env->downstream_port && call_downstream(w, &down_ms))
        return set_error(r, 502, "downstream call failed", false);
    struct predict_result res;
    if (w->env->broker_port) {
        if (submit_job(w, img, img_len, &res, &queue_ms))
            return set_error(r, 502, "model queue failed", false);
    } else if (predictor_run(&w->pred, img, img_len, &res)) {
        return set_error(r, 500, "cannot reload the model weights", false);
    }
    r->status = 200;
    r->ctype = "application/json";
    r->len = predict_json(&res, queue_ms, down_ms, r->body, sizeof(r->body));
    return 0;
}

static bool path_is(const struct http_request *req, const char *path)
{
    return req->path_len == strlen(path) && !memcmp(req->path, path, req->path_len);
}

/* 0 when the path and method are served, else the status to answer. */
static int route_check(const struct http_request *req, const char **allow)
{
    if (path_is(req, "/health")) {
        *allow = "GET, HEAD";
        return !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD") ? 0 : 405;
    }
    if (path_is(req, "/predict")) {
        *allow = "POST";
        return !strcmp(req->method, "POST") ? 0 : 405;
    }
    *allow = NULL;
    return 404;
}

/* ---- one request -------------------------------------------------------------------------- */

/* Reads until buf holds a complete head. Returns 1, 0 when the peer closed, or -status. */
static int read_head(struct conn *c, struct http_request *req)
{
    for (;;) {
        int rc = http_parse_head(c->buf, c->len, req);
        if (rc)
            return rc;
        ssize_t n = recv(c->fd, c->buf + c->len, HTTP_MAX_HEAD - c->len, 0);
        if (n > 0) {
            c->len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && c->len)
            return -408;
        return 0;
    }
}

/* Moves the body into w->body: the part already buffered, then the rest from the socket
 * (exactly, so a pipelined next request stays in the kernel). Returns 0, -1 or -408. */
static int read_body(struct worker *w, struct conn *c, size_t head_len, size_t body_len,
                     size_t *consumed)
{
    size_t have = c->len - head_len;
    if (have > body_len)
        have = body_len;
    memcpy(w->body, c->buf + head_len, have);
    *consumed = head_len + have;
    while (have < body_len) {
        ssize_t n = recv(c->fd, w->body + have, body_len - have, 0);
        if (n > 0) {
            have += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? -408 : -1;
    }
    return 0;
}

static int handle(struct worker *w, struct conn *c, const struct http_request *req,
                   struct reply *r, size_t *consumed)
{
    const struct config *cfg = w->env->cfg;
    const char *allow;
    int route = route_check(req, &allow);
    r->allow = allow;
    size_t body_len = req->has_length ? (size_t)req->content_length : 0;
    *consumed = req->head_len;
    r->close = !req->keep_alive || cfg->keepalive_s == 0;
    if (req->has_transfer_encoding)
        return set_error(r, 501, "Transfer-Encoding is not supported: send a Content-Length",
                         true);
    if (req->expect_unknown)
        return set_error(r, 417, "only Expect: 100-continue is supported", true);
    if (!route && !req->has_length && !strcmp(req->method, "POST"))
        return set_error(r, 411, "POST needs a Content-Length", true);
    if (req->has_length && req->content_length > cfg->max_body)
        return set_error(r, 413, "request body too large", true);
    if (req->expect_continue && body_len) {
        if (route) /* refuse without reading the body: closing keeps framing safe */
            return set_error(r, route, route == 404 ? "no such path" : "method not allowed",
                             true);
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (net_write_all(c->fd, cont, sizeof(cont) - 1))
            return set_error(r, 400, "connection lost", true);
    }
    int rc = read_body(w, c, req->head_len, body_len, consumed);
    if (rc)
        return set_error(r, rc == -408 ? 408 : 400, "request body not received", true);
    if (route)
        return set_error(r, route, route == 404 ? "no such path" : "method not allowed", false);
    if (path_is(req, "/health")) {
        r->status = 200;
        r->ctype = "application/json";
        r->len = (size_t)snprintf(r->body, sizeof(r->body), "{\"status\":\"ok\"}");
        return 0;
    }
    return route_predict(w, req, body_len, r);
}

static void access_log(const struct worker *w, const struct http_request *req,
                       const struct reply *r, uint64_t t0)
{
    fprintf(stderr, "%d %d \"%s %.*s\" %d %zu %.3fms\n", (int)w->pid, (int)w->tid,
            req->method[0] ? req->method : "-", (int)(req->path ? req->path_len : 1),
            req->path ? req->path : "-", r->status, r->len, (double)(now_ns() - t0) / 1e6);
}

/* Closing a socket with unread input makes the kernel send a reset, which can destroy the
 * error response before the client reads it (a chunked body we refused, an oversized head):
 * stop sending, then drain briefly so the close is a FIN. */
static void linger_before_close(int fd)
{
    shutdown(fd, SHUT_WR);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[16384];
    size_t total = 0;
    ssize_t n;
    while (total < (4u << 20) && (n = recv(fd, buf, sizeof(buf), 0)) > 0)
        total += (size_t)n;
}

/* Serves one request on c. Returns false when the connection must be closed. */
static bool serve_one(struct worker *w, struct conn *c)
{
    struct http_request req;
    struct reply r = {.status = 0};
    uint64_t t0 = now_ns();
    size_t consumed = 0;
    int rc = read_head(c, &req);
    if (rc == 0)
        return false;
    if (rc < 0) {
        memset(&req, 0, sizeof(req));
        set_error(&r, -rc, -rc == 408 ? "request not received in time" : "malformed request",
                  true);
        consumed = c->len;
    } else {
        handle(w, c, &req, &r, &consumed);
    }
    char extra[256];
    int n = snprintf(extra, sizeof(extra), "X-Worker-Pid: %d\r\nX-Worker-Tid: %d\r\n",
                     (int)w->pid, (int)w->tid);
    if (req.request_id && n > 0 && (size_t)n < sizeof(extra))
        snprintf(extra + n, sizeof(extra) - (size_t)n, "X-Request-Id: %.*s\r\n",
                 (int)req.request_id_len, req.request_id);
    size_t used = strlen(extra);
    if (r.status == 405 && r.allow)
        snprintf(extra + used, sizeof(extra) - used, "Allow: %s\r\n", r.allow);
    bool head_only = !strcmp(req.method, "HEAD");
    int sent = http_send_ex(c->fd, r.status, r.ctype, r.body, r.len, !r.close, extra, head_only);
    if (w->env->cfg->access_log)
        access_log(w, &req, &r, t0);
    if (r.close && r.status >= 400 && !sent)
        linger_before_close(c->fd);
    memmove(c->buf, c->buf + consumed, c->len - consumed);
    c->len -= consumed;
    c->idle_since_ns = now_ns();
    return !sent && !r.close;
}

/* ---- the loop ----------------------------------------------------------------------------- */

/* Returns the new connection, or NULL. */
static struct conn *accept_one(struct worker *w)
{
    int fd = accept4(w->env->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return NULL; /* another worker won the race, or the peer went away */
    char *buf = malloc(HTTP_MAX_HEAD);
    if (!buf) {
        close(fd);
        return NULL;
    }
    int one = 1;
    struct timeval tv = {.tv_sec = w->env->cfg->io_timeout_s};
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    w->conns[w->n_conns] = (struct conn){.fd = fd, .buf = buf, .idle_since_ns = now_ns()};
    return &w->conns[w->n_conns++];
}

static void close_conn(struct conn *c)
{
    close(c->fd);
    free(c->buf);
    c->fd = -1;
    c->buf = NULL;
}

static bool has_pipelined(const struct conn *c)
{
    struct http_request req;
    return c->len && http_parse_head(c->buf, c->len, &req) != 0;
}

/* Closes idle keep-alive connections past the timeout and compacts the table. */
static void sweep(struct worker *w)
{
    uint64_t limit = (uint64_t)w->env->cfg->keepalive_s * 1000000000ULL, now = now_ns();
    size_t j = 0;
    for (size_t i = 0; i < w->n_conns; i++) {
        struct conn *c = &w->conns[i];
        if (c->fd >= 0 && !c->len && now - c->idle_since_ns > limit)
            close_conn(c);
        if (c->fd >= 0)
            w->conns[j++] = *c;
    }
    w->n_conns = j;
}

static void worker_loop(struct worker *w)
{
    const int keepalive_ms = w->env->cfg->keepalive_s * 1000;
    for (;;) {
        size_t n = 0;
        bool pipelined = false;
        bool listening = w->n_conns < WORKER_MAX_CONNS;
        if (listening)
            w->pfds[n++] = (struct pollfd){.fd = w->env->listen_fd, .events = POLLIN};
        for (size_t i = 0; i < w->n_conns; i++) {
            w->pfds[n++] = (struct pollfd){.fd = w->conns[i].fd, .events = POLLIN};
            pipelined |= has_pipelined(&w->conns[i]);
        }
        int timeout = pipelined ? 0 : w->n_conns ? (keepalive_ms ? keepalive_ms : 1000) : -1;
        if (poll(w->pfds, n, timeout) < 0 && errno != EINTR)
            return;
        size_t base = listening ? 1 : 0, count = w->n_conns;
        for (size_t i = 0; i < count; i++)
            w->conns[i].ready = w->pfds[base + i].revents || has_pipelined(&w->conns[i]);
        /* Like a sync worker, serve a connection's first request right after accepting it:
         * while this worker is busy, the next connections go to idle workers instead of
         * piling up on the first one awake. */
        struct conn *fresh;
        if (listening && (w->pfds[0].revents & POLLIN) && (fresh = accept_one(w)) &&
            !serve_one(w, fresh))
            close_conn(fresh);
        for (size_t k = 0; k < count; k++) {
            struct conn *c = &w->conns[(w->rr + k) % count];
            if (c->ready && !serve_one(w, c))
                close_conn(c);
        }
        if (count)
            w->rr = (w->rr + 1) % count;
        sweep(w);
    }
}

/* ---- startup ------------------------------------------------------------------------------ */

static int worker_init(struct worker *w, const struct worker_env *env)
{
    memset(w, 0, sizeof(*w));
    w->env = env;
    w->broker_fd = w->downstream_fd = -1;
    w->pid = getpid();
    w->tid = gettid();
    w->body = malloc(env->cfg->max_body);
    if (!w->body)
        return -1;
    if (!env->broker_port) {
        if (predictor_init(&w->pred, env->model, env->weights_path))
            return -1;
        w->has_pred = true;
    }
    /* Wire the downstream connections before reporting ready, as an app opens its pools. */
    if (env->downstream_port &&
        (w->downstream_fd = net_connect_local(env->downstream_port)) < 0)
        return -1;
    if (env->broker_port && (w->broker_fd = queue_connect(env->broker_port)) < 0)
        return -1;
    return 0;
}

static void *serving_thread(void *arg)
{
    const struct worker_env *env = arg;
    struct worker *w = malloc(sizeof(*w));
    if (!w || worker_init(w, env)) {
        fprintf(stderr, "loadscope-demo-server: worker %d: cannot start\n", (int)gettid());
        _exit(1);
    }
    proc_ready(env->ready_fd);
    worker_loop(w);
    fprintf(stderr, "loadscope-demo-server: worker %d: poll failed: %s\n", (int)gettid(),
            strerror(errno));
    _exit(1);
}

int worker_process_run(const struct worker_env *env)
{
    for (int i = 1; i < env->cfg->threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, serving_thread, (void *)env)) {
            fprintf(stderr, "loadscope-demo-server: cannot start a serving thread\n");
            return -1;
        }
    }
    serving_thread((void *)env);
    return -1;
}
