#include "support/demo_client.h"

#include <arpa/inet.h>
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/clock.h"

#define RESP_CAP 65536

struct shared {
    const struct demo_load_opts *o;
    uint64_t start_ns, deadline_ns;
    _Atomic uint64_t sent;
    pthread_mutex_t lock; /* guards first labels */
    char first_label[DEMO_CLIENT_MAX_REQS][16];
};

struct thread_ctx {
    struct shared *sh;
    unsigned index;
    struct demo_load_result r; /* this thread's part */
    uint64_t last_done_ns;
    char *buf;
};

static int connect_timeout(int port, uint64_t timeout_ns)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {(time_t)(timeout_ns / NS_PER_SEC),
                         (suseconds_t)(timeout_ns % NS_PER_SEC / 1000)};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        close(fd);
        return -1;
    }
    return fd;
}

int demo_connect(int port)
{
    return connect_timeout(port, 10 * NS_PER_SEC);
}

static int send_all(int fd, struct iovec *iov, int n)
{
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    while (msg.msg_iovlen) {
        ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        while (msg.msg_iovlen && (size_t)w >= msg.msg_iov->iov_len) {
            w -= (ssize_t)msg.msg_iov->iov_len;
            msg.msg_iov++;
            msg.msg_iovlen--;
        }
        if (msg.msg_iovlen) {
            msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + w;
            msg.msg_iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Finds header `name` in the head [h, h+len) and returns its value (trimmed), or NULL. */
static const char *header(const char *h, size_t len, const char *name, size_t *vlen)
{
    size_t n = strlen(name);
    const char *end = h + len;
    for (const char *p = h; p < end;) {
        const char *e = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!e)
            break;
        if ((size_t)(e - p) > n && !strncasecmp(p, name, n) && p[n] == ':') {
            const char *v = p + n + 1;
            while (v < e && *v == ' ')
                v++;
            *vlen = (size_t)(e - v);
            return v;
        }
        p = e + 2;
    }
    return NULL;
}

/* Reads one response into buf (cap bytes). Returns the status, -1 on failure. Sets body
 * offset/length, the worker pid and whether the connection closes. Skips 1xx responses. */
static int read_response(int fd, char *buf, size_t cap, size_t *body_off, size_t *body_len,
                         int *pid, bool *closing)
{
    size_t len = 0;
    for (;;) {
        char *blank;
        while (!(blank = memmem(buf, len, "\r\n\r\n", 4))) {
            if (len == cap)
                return -1;
            ssize_t n = recv(fd, buf + len, cap - len, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return -1;
            len += (size_t)n;
        }
        size_t head = (size_t)(blank - buf) + 4;
        if (len < 12 || strncmp(buf, "HTTP/1.", 7))
            return -1;
        int status = atoi(buf + 9);
        if (status >= 100 && status < 200) { /* 100 Continue: drop it, read the real one */
            memmove(buf, buf + head, len - head);
            len -= head;
            continue;
        }
        size_t vlen;
        const char *v = header(buf, head, "Content-Length", &vlen);
        size_t clen = v ? (size_t)strtoull(v, NULL, 10) : 0;
        if (head + clen > cap)
            return -1;
        while (len < head + clen) {
            ssize_t n = recv(fd, buf + len, head + clen - len, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return -1;
            len += (size_t)n;
        }
        v = header(buf, head, "Connection", &vlen);
        *closing = v && vlen == 5 && !strncasecmp(v, "close", 5);
        v = header(buf, head, "X-Worker-Pid", &vlen);
        *pid = v ? atoi(v) : 0;
        *body_off = head;
        *body_len = clen;
        return status;
    }
}

/* Reads exactly n bytes. */
static int recv_exact(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* Unlike read_response, never reads a byte past the response, so pipelined responses on one
 * connection can be read one by one: the head byte by byte, then exactly the body. */
int demo_read_response(int fd, char *body, size_t cap, bool *closing)
{
    char head[8192];
    for (;;) {
        size_t len = 0;
        while (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4)) {
            if (len == sizeof(head) || recv_exact(fd, head + len, 1))
                return -1;
            len++;
        }
        if (len < 12 || strncmp(head, "HTTP/1.", 7))
            return -1;
        int status = atoi(head + 9);
        if (status >= 100 && status < 200)
            continue; /* 100 Continue: the real answer follows */
        size_t vlen;
        const char *v = header(head, len, "Content-Length", &vlen);
        size_t clen = v ? (size_t)strtoull(v, NULL, 10) : 0;
        v = header(head, len, "Connection", &vlen);
        *closing = v && vlen == 5 && !strncasecmp(v, "close", 5);
        char *buf = malloc(clen + 1);
        if (!buf || recv_exact(fd, buf, clen)) {
            free(buf);
            return -1;
        }
        if (cap) {
            size_t n = clen < cap - 1 ? clen : cap - 1;
            memcpy(body, buf, n);
            body[n] = '\0';
        }
        free(buf);
        return status;
    }
}

static double json_number(const cJSON *obj, const char *name)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsNumber(n) ? n->valuedouble : -1;
}

/* Checks a /predict answer; records its label and timings. */
static void check_predict(struct thread_ctx *t, size_t kind, const char *body, size_t len)
{
    struct demo_load_result *r = &t->r;
    cJSON *j = cJSON_ParseWithLength(body, len);
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(j, "label");
    const cJSON *scores = cJSON_GetObjectItemCaseSensitive(j, "scores");
    double model_ms = json_number(j, "model_ms"), sum = 0;
    int n_scores = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, scores)
    {
        if (cJSON_IsNumber(s) && s->valuedouble >= 0 && s->valuedouble <= 1)
            sum += s->valuedouble, n_scores++;
    }
    if (!cJSON_IsString(label) || strlen(label->valuestring) >= 16 || n_scores != 10 ||
        fabs(sum - 1) > 1e-3 || model_ms < 0 ||
        !cJSON_GetObjectItemCaseSensitive(scores, label->valuestring)) {
        r->bad_json++;
        cJSON_Delete(j);
        return;
    }
    r->predicted++;
    r->model_ms_sum += model_ms;
    double q = json_number(j, "queue_ms"), d = json_number(j, "downstream_ms"),
           l = json_number(j, "load_ms");
    r->queue_ms_sum += q > 0 ? q : 0;
    r->downstream_ms_sum += d > 0 ? d : 0;
    r->load_ms_sum += l > 0 ? l : 0;
    pthread_mutex_lock(&t->sh->lock);
    char *first = t->sh->first_label[kind];
    if (!first[0])
        snprintf(first, 16, "%s", label->valuestring);
    else if (strcmp(first, label->valuestring))
        r->label_mismatch++;
    pthread_mutex_unlock(&t->sh->lock);
    cJSON_Delete(j);
}

static void note_pid(struct demo_load_result *r, int pid)
{
    if (pid <= 0)
        return;
    for (int i = 0; i < r->n_pids; i++)
        if (r->pids[i] == pid)
            return;
    if (r->n_pids < DEMO_CLIENT_MAX_PIDS)
        r->pids[r->n_pids++] = pid;
}

/* One request on *fd, connecting first when needed. */
static void one_request(struct thread_ctx *t, int *fd, int port, size_t kind)
{
    const struct demo_load_opts *o = t->sh->o;
    const struct demo_req *q = &o->reqs[kind];
    uint64_t timeout = o->timeout_ns ? o->timeout_ns : 10 * NS_PER_SEC;
    uint64_t t0 = clock_now_ns();
    if (*fd < 0 && (*fd = connect_timeout(port, timeout)) < 0) {
        t->r.transport_errors++;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        return;
    }
    char head[512];
    int n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", q->method,
                     q->path, port);
    if (q->content_type)
        n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Type: %s\r\n",
                      q->content_type);
    if (q->body || !strcmp(q->method, "POST"))
        n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %zu\r\n",
                      q->body_len);
    n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
    struct iovec iov[2] = {{head, (size_t)n}, {(void *)q->body, q->body_len}};
    size_t off, len;
    int pid;
    bool closing;
    int status = -1;
    if (!send_all(*fd, iov, q->body_len ? 2 : 1))
        status = read_response(*fd, t->buf, RESP_CAP, &off, &len, &pid, &closing);
    uint64_t t1 = clock_now_ns();
    if (status < 0) {
        t->r.transport_errors++;
        close(*fd);
        *fd = -1;
        return;
    }
    t->r.completed++;
    t->last_done_ns = t1;
    hist_record(&t->r.latency, t1 - t0);
    t->r.by_class[status / 100 < 6 ? status / 100 : 0]++;
    note_pid(&t->r, pid);
    if (status == 200 && !strcmp(q->path, "/predict"))
        check_predict(t, kind, t->buf + off, len);
    if (closing) {
        close(*fd);
        *fd = -1;
    }
}

static void *load_thread(void *arg)
{
    struct thread_ctx *t = arg;
    struct shared *sh = t->sh;
    const struct demo_load_opts *o = sh->o;
    int port = o->ports[t->index % (unsigned)o->n_ports], fd = -1;
    for (uint64_t k = 0;; k++) {
        if (o->duration_ns && clock_now_ns() >= sh->deadline_ns)
            break;
        if (o->max_requests && atomic_fetch_add(&sh->sent, 1) >= o->max_requests)
            break;
        t->r.sent++;
        one_request(t, &fd, port, (t->index + k) % o->n_reqs);
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void merge(struct demo_load_result *dst, const struct demo_load_result *src)
{
    dst->sent += src->sent;
    dst->completed += src->completed;
    for (int i = 0; i < 6; i++)
        dst->by_class[i] += src->by_class[i];
    dst->transport_errors += src->transport_errors;
    dst->bad_json += src->bad_json;
    dst->label_mismatch += src->label_mismatch;
    dst->model_ms_sum += src->model_ms_sum;
    dst->queue_ms_sum += src->queue_ms_sum;
    dst->downstream_ms_sum += src->downstream_ms_sum;
    dst->load_ms_sum += src->load_ms_sum;
    dst->predicted += src->predicted;
    for (int i = 0; i < src->n_pids; i++)
        note_pid(dst, src->pids[i]);
    hist_merge(&dst->latency, &src->latency);
}

int demo_load_run(const struct demo_load_opts *o, struct demo_load_result *r)
{
    memset(r, 0, sizeof(*r));
    hist_reset(&r->latency);
    if (!o->threads || !o->n_ports || !o->n_reqs || o->n_reqs > DEMO_CLIENT_MAX_REQS ||
        (!o->duration_ns && !o->max_requests))
        return -1;
    struct shared sh = {.o = o};
    pthread_mutex_init(&sh.lock, NULL);
    struct thread_ctx *ts = calloc(o->threads, sizeof(*ts));
    pthread_t *tids = calloc(o->threads, sizeof(*tids));
    unsigned started = 0;
    sh.start_ns = clock_now_ns();
    sh.deadline_ns = sh.start_ns + o->duration_ns;
    for (unsigned i = 0; ts && tids && i < o->threads; i++) {
        ts[i] = (struct thread_ctx){.sh = &sh, .index = i, .buf = malloc(RESP_CAP)};
        hist_reset(&ts[i].r.latency);
        if (!ts[i].buf || pthread_create(&tids[i], NULL, load_thread, &ts[i])) {
            free(ts[i].buf);
            break;
        }
        started++;
    }
    uint64_t last = sh.start_ns;
    for (unsigned i = 0; i < started; i++) {
        pthread_join(tids[i], NULL);
        merge(r, &ts[i].r);
        if (ts[i].last_done_ns > last)
            last = ts[i].last_done_ns;
        free(ts[i].buf);
    }
    r->elapsed_ns = last - sh.start_ns;
    memcpy(r->first_label, sh.first_label, sizeof(r->first_label));
    int rc = ts && tids && started == o->threads ? 0 : -1;
    free(ts);
    free(tids);
    pthread_mutex_destroy(&sh.lock);
    return rc;
}

double demo_load_rps(const struct demo_load_result *r)
{
    return r->elapsed_ns ? (double)r->completed * 1e9 / (double)r->elapsed_ns : 0;
}

int demo_raw_exchange(int port, const void *req, size_t len, char *resp, size_t cap)
{
    int fd = demo_connect(port);
    if (fd < 0)
        return -1;
    struct iovec iov = {(void *)req, len};
    int status = -1;
    if (!send_all(fd, &iov, 1)) {
        size_t got = 0;
        char *buf = malloc(RESP_CAP);
        size_t off, blen;
        int pid;
        bool closing;
        if (buf) {
            status = read_response(fd, buf, RESP_CAP, &off, &blen, &pid, &closing);
            got = status > 0 ? off + blen : 0;
            if (cap) {
                size_t c = got < cap - 1 ? got : cap - 1;
                memcpy(resp, buf, c);
                resp[c] = '\0';
            }
            free(buf);
        }
    }
    close(fd);
    return status;
}
