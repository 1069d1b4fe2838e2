#include "queue.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "image.h"
#include "net.h"
#include "proc.h"

enum job_state { JOB_QUEUED, JOB_DONE, JOB_FAILED };

/* Lives on the submitting connection thread's stack until its result is back. */
struct job {
    const uint8_t *img;
    uint32_t len;
    uint64_t submit_ns;
    struct predict_result result;
    enum job_state state;
    pthread_cond_t done;
    struct job *next;
};

struct broker {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    struct job *head, *tail;
};

static void broker_push(struct broker *b, struct job *j)
{
    j->next = NULL;
    if (b->tail)
        b->tail->next = j;
    else
        b->head = j;
    b->tail = j;
    pthread_cond_signal(&b->nonempty);
}

static struct job *broker_pop(struct broker *b)
{
    while (!b->head)
        pthread_cond_wait(&b->nonempty, &b->lock);
    struct job *j = b->head;
    b->head = j->next;
    if (!b->head)
        b->tail = NULL;
    return j;
}

/* Grows *buf to at least len bytes. */
static int reserve(uint8_t **buf, size_t *cap, size_t len)
{
    if (len <= *cap)
        return 0;
    uint8_t *p = realloc(*buf, len);
    if (!p)
        return -1;
    *buf = p;
    *cap = len;
    return 0;
}

/* An API connection: one job at a time, queued, then answered. The buffer grows to the
 * largest image seen rather than 1 MB per connection (there may be a thousand). */
static void serve_api(struct broker *b, int fd)
{
    uint8_t *buf = NULL;
    size_t cap = 0;
    struct wire_hdr h;
    while (!wire_recv_hdr(fd, &h) && h.type == WIRE_JOB && h.len <= IMAGE_MAX_BYTES &&
           !reserve(&buf, &cap, h.len ? h.len : 1) && !net_read_all(fd, buf, h.len)) {
        struct job j = {.img = buf, .len = h.len, .submit_ns = h.t0, .state = JOB_QUEUED};
        pthread_cond_init(&j.done, NULL);
        pthread_mutex_lock(&b->lock);
        broker_push(b, &j);
        while (j.state == JOB_QUEUED)
            pthread_cond_wait(&j.done, &b->lock);
        pthread_mutex_unlock(&b->lock);
        pthread_cond_destroy(&j.done);
        int rc = j.state == JOB_DONE
                     ? wire_send(fd, WIRE_RESULT, 0, 0, &j.result, sizeof(j.result))
                     : wire_send(fd, WIRE_FAILED, 0, 0, NULL, 0);
        if (rc)
            break;
    }
    free(buf);
}

static void finish(struct broker *b, struct job *j, enum job_state state)
{
    pthread_mutex_lock(&b->lock);
    j->state = state;
    pthread_cond_signal(&j->done);
    pthread_mutex_unlock(&b->lock);
}

/* A model-worker connection: take the oldest job, relay it, relay the result. */
static void serve_model(struct broker *b, int fd)
{
    for (;;) {
        pthread_mutex_lock(&b->lock);
        struct job *j = broker_pop(b);
        pthread_mutex_unlock(&b->lock);
        struct wire_hdr h;
        struct predict_result r;
        if (wire_send(fd, WIRE_JOB, j->submit_ns, 0, j->img, j->len) || wire_recv_hdr(fd, &h) ||
            (h.type == WIRE_RESULT &&
             (h.len != sizeof(r) || net_read_all(fd, &r, sizeof(r))))) {
            finish(b, j, JOB_FAILED);
            return; /* the model worker is gone: the supervisor notices and stops */
        }
        if (h.type == WIRE_RESULT)
            j->result = r;
        finish(b, j, h.type == WIRE_RESULT ? JOB_DONE : JOB_FAILED);
    }
}

static void serve_conn(int fd, void *ctx)
{
    struct broker *b = ctx;
    struct wire_hdr h;
    if (!wire_recv_hdr(fd, &h) && h.len == 0) {
        if (h.type == WIRE_HELLO_API)
            serve_api(b, fd);
        else if (h.type == WIRE_HELLO_MODEL)
            serve_model(b, fd);
    }
    close(fd);
}

int broker_serve(int listen_fd, int ready_fd)
{
    struct broker b = {.head = NULL, .tail = NULL};
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.nonempty, NULL);
    return net_serve_threads(listen_fd, ready_fd, "broker", serve_conn, &b);
}

int model_worker_run(int broker_port, const struct model *m, const char *weights_path,
                     int ready_fd)
{
    struct predictor p;
    uint8_t *buf = malloc(IMAGE_MAX_BYTES);
    int fd = net_connect_local(broker_port);
    if (!buf || fd < 0 || predictor_init(&p, m, weights_path)) {
        fprintf(stderr, "loadscope-demo-server: model worker: cannot start\n");
        return -1;
    }
    if (wire_send(fd, WIRE_HELLO_MODEL, 0, 0, NULL, 0))
        return -1;
    proc_ready(ready_fd);
    struct wire_hdr h;
    while (!wire_recv_hdr(fd, &h) && h.type == WIRE_JOB && h.len <= IMAGE_MAX_BYTES &&
           !net_read_all(fd, buf, h.len)) {
        struct predict_result r;
        int rc = predictor_run(&p, buf, h.len, &r)
                     ? wire_send(fd, WIRE_FAILED, 0, 0, NULL, 0)
                     : wire_send(fd, WIRE_RESULT, 0, 0, &r, sizeof(r));
        if (rc)
            break;
    }
    return -1;
}

int queue_connect(int broker_port)
{
    int fd = net_connect_local(broker_port);
    if (fd >= 0 && wire_send(fd, WIRE_HELLO_API, 0, 0, NULL, 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

int queue_submit(int fd, const uint8_t *img, size_t len, struct predict_result *r,
                 double *queue_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t submit = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    struct wire_hdr h;
    if (len > IMAGE_MAX_BYTES || wire_send(fd, WIRE_JOB, submit, 0, img, (uint32_t)len) ||
        wire_recv_hdr(fd, &h) || h.type != WIRE_RESULT || h.len != sizeof(*r) ||
        net_read_all(fd, r, sizeof(*r)))
        return -1;
    *queue_ms = r->start_ns > submit ? (double)(r->start_ns - submit) / 1e6 : 0;
    return 0;
}
