#include "downstream.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "proc.h"

#define DOWNSTREAM_MAGIC 0x4c53444f574e5351ULL /* "LSDOWNSQ" */

struct downstream_msg {
    uint64_t magic;
    uint64_t key;
};

struct conn_arg {
    int fd;
    int delay_ms;
};

static void *serve_conn(void *p)
{
    struct conn_arg a = *(struct conn_arg *)p;
    free(p);
    struct downstream_msg m;
    struct timespec delay = {a.delay_ms / 1000, (long)(a.delay_ms % 1000) * 1000000L};
    while (!net_read_all(a.fd, &m, sizeof(m)) && m.magic == DOWNSTREAM_MAGIC) {
        struct timespec left = delay;
        while (nanosleep(&left, &left) && errno == EINTR)
            ;
        m.key = ~m.key;
        if (net_write_all(a.fd, &m, sizeof(m)))
            break;
    }
    close(a.fd);
    return NULL;
}

int downstream_serve(int listen_fd, int delay_ms, int ready_fd)
{
    fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) & ~O_NONBLOCK);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    proc_ready(ready_fd);
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
                continue;
            fprintf(stderr, "loadscope-demo-server: downstream helper: accept failed\n");
            return -1;
        }
        struct conn_arg *a = malloc(sizeof(*a));
        pthread_t t;
        if (!a) {
            close(fd);
            continue;
        }
        *a = (struct conn_arg){fd, delay_ms};
        if (pthread_create(&t, &attr, serve_conn, a)) {
            free(a);
            close(fd);
        }
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int downstream_call(int fd, uint64_t key, double *ms)
{
    uint64_t t0 = now_ns();
    struct downstream_msg m = {DOWNSTREAM_MAGIC, key};
    if (net_write_all(fd, &m, sizeof(m)) || net_read_all(fd, &m, sizeof(m)) ||
        m.magic != DOWNSTREAM_MAGIC || m.key != ~key)
        return -1;
    *ms = (double)(now_ns() - t0) / 1e6;
    return 0;
}
