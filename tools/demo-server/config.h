/* The demo server's command line: every flag, its default, its bounds and its --help text.
 * Each flag maps onto one knob of a real deployment (gunicorn workers and threads, a Redis job
 * queue with model workers, a database call, replicas pinned to cores, a model reloaded per
 * request), so the bottleneck of a configuration is known before it is measured. */
#ifndef DEMO_CONFIG_H
#define DEMO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_MAX_CPUS 256
#define CONFIG_MAX_REPLICAS 64
#define CONFIG_MAX_WORKERS 256
#define CONFIG_MAX_THREADS 256
#define CONFIG_MAX_SERVING 1024 /* workers x threads per replica */

/* A network shape fixed on the command line (--model-shape), bypassing calibration. */
struct config_shape {
    int size;     /* input is size x size RGB */
    int channels; /* channels of the first convolution */
    int depth;    /* extra channels->channels convolutions at half resolution */
};

struct config {
    const char *bind;        /* IPv4 address to listen on */
    int port;                /* first replica's port; 0 = an ephemeral port per replica */
    int backlog;             /* listen() backlog */
    int workers;             /* pre-forked worker processes per replica */
    int threads;             /* serving threads per worker process */
    double model_cost_ms;    /* CPU per /predict the network is calibrated to; 0 = smallest */
    bool fixed_shape;        /* --model-shape given: no calibration */
    struct config_shape shape;
    uint64_t seed;           /* weight PRNG seed */
    bool queue;              /* API workers hand jobs to a broker */
    int model_workers;       /* model-worker processes consuming the queue */
    int downstream_ms;       /* per-request blocking call to a helper; 0 = none */
    int replicas;            /* independent replicas on port..port+replicas-1 */
    int cpus[CONFIG_MAX_CPUS];
    int n_cpus;              /* 0 = no pinning */
    bool reload_model;       /* read the weights from disk on every /predict */
    int model_file_mb;       /* size of the weight file with --reload-model */
    size_t max_body;         /* largest request body accepted (413 above) */
    int keepalive_s;         /* idle keep-alive timeout; 0 = close after every response */
    int io_timeout_s;        /* a started request must arrive within this (408 otherwise) */
    bool access_log;         /* one line per request on stderr */
    bool quiet;              /* no startup information on stderr */
    bool help;
};

/* Fills cfg from argv. Returns 0, or -1 with a one-line message in err (exit 2). */
int config_parse(int argc, char **argv, struct config *cfg, char *err, size_t errlen);

/* Prints the --help text. */
void config_usage(FILE *out);

#endif
