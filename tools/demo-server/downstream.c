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

/* One connection: each message is answered after the delay, as a slow database would. */
static void serve_conn(int fd, void *ctx)
{
    int delay_ms = *(const int *)ctx;
    struct downstream_msg m;
    struct timespec delay = {delay_ms / 1000, (long)(delay_ms % 1000) * 1000000L};
    while (!net_read_all(fd, &m, sizeof(m)) && m.magic == DOWNSTREAM_MAGIC) {
        struct timespec left = delay;
        while (nanosleep(&left, &left) && errno == EINTR)
            ;
        m.key = ~m.key;
        if (net_write_all(fd, &m, sizeof(m)))
            break;
    }
    close(fd);
}

int downstream_serve(int listen_fd, int delay_ms, int ready_fd)
{
    return net_serve_threads(listen_fd, ready_fd, "downstream helper", serve_conn, &delay_ms);
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
