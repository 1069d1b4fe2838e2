#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
"usage: loadscope-demo-server [options]\n"
"\n"
"A small image-classification API with a known bottleneck: loadscope's built-in target.\n"
"\n"
"Endpoints:\n"
"  GET  /health    200 {\"status\":\"ok\"}\n"
"  POST /predict   an image of 1 KB..1 MB, as the raw body (application/octet-stream,\n"
"                  image/*, or no Content-Type) or multipart/form-data (the part named\n"
"                  \"file\", else the first part with a filename). A binary PGM (P5) or\n"
"                  PPM (P6) with maxval <= 255 is decoded; any other bytes are taken as a\n"
"                  square grayscale image of floor(sqrt(n))^2 raw pixels. The image is\n"
"                  resized (bilinear) to the network's input and classified by a small CNN\n"
"                  (conv+ReLU+maxpool, dense, softmax over 10 labels) whose weights come\n"
"                  from a seeded PRNG. Answer: {\"label\":..,\"class\":..,\"scores\":{..},\n"
"                  \"model_ms\":..} where model_ms is the CPU time of decode+resize+network\n"
"                  in the process that computed it; with --queue also queue_ms (submit to\n"
"                  start on a model worker), with --downstream-ms downstream_ms, with\n"
"                  --reload-model load_ms (all wall-clock ms).\n"
"  Errors: 400 malformed or image < 1 KB, 404 unknown path, 405 wrong method, 408 request\n"
"  not received within --io-timeout, 411 POST without Content-Length, 413 body above\n"
"  --max-body or image above 1 MB, 415 other Content-Type, 417 unknown Expect, 431 head\n"
"  above 16 KB, 501 Transfer-Encoding (chunked is not supported), 505 not HTTP/1.x.\n"
"  The worker keeps serving after any of them.\n"
"\n"
"Serving (per replica):\n"
"  --workers N          pre-forked worker processes sharing the listen socket (gunicorn\n"
"                       sync model): each serves one request at a time with blocking I/O;\n"
"                       idle keep-alive connections wait in its poll set [1]\n"
"  --threads N          serving threads per worker process (gunicorn gthread, or one\n"
"                       process with N threads with --workers 1) [1]\n"
"  --model-cost MS      CPU milliseconds one /predict costs: input size (16..64), depth\n"
"                       and width of the network are calibrated at startup by timing\n"
"                       passes on this machine (on the first replica's --cpus if given);\n"
"                       0 = the smallest network (~0.03 ms), no calibration [20]\n"
"  --model-shape S,C,D  fix the network instead: S x S input, C channels, D extra\n"
"                       convolutions (no calibration; the ready line reports its cost)\n"
"  --seed N             seed of the weight PRNG [1]\n"
"  --queue              API workers do not compute: each /predict is sent to a broker\n"
"                       process (the Redis of an API + Redis + model-worker deployment)\n"
"                       and the API worker blocks reading the broker socket until a model\n"
"                       worker answered\n"
"  --model-workers M    model-worker processes consuming the queue (needs --queue) [1]\n"
"  --downstream-ms D    each /predict first makes a blocking round trip over TCP to a\n"
"                       helper process that sleeps D ms before answering (a database or\n"
"                       feature store; one connection per serving thread) [0 = none]\n"
"  --reload-model       read and verify the weight file on every /predict (the bug of\n"
"                       loading the model per request); the file is written at startup in\n"
"                       a temporary directory removed at exit\n"
"  --model-file-mb MB   size of that file: the network's weights padded with filler so\n"
"                       reading it costs what loading a real checkpoint costs [32]\n"
"\n"
"Deployment:\n"
"  --replicas K         K independent replicas (each with its own workers, broker, model\n"
"                       workers and downstream helper) on ports P..P+K-1 [1]\n"
"  --cpus LIST          pin replicas to CPUs, e.g. 0,1 or 0-3: with K replicas and n CPUs,\n"
"                       replica i gets CPU i mod n when K >= n, else every CPU j with\n"
"                       j mod K = i (one replica gets all of them)\n"
"  --bind ADDR          IPv4 address to listen on [127.0.0.1]\n"
"  --port P             first port; 0 = an ephemeral port per replica [8000]\n"
"  --backlog N          listen backlog per replica [2048]\n"
"  --max-body BYTES     largest request body (413 above) [2097152]\n"
"  --keepalive S        idle keep-alive timeout in seconds; 0 = Connection: close after\n"
"                       every response (gunicorn sync) [5]\n"
"  --io-timeout S       seconds a started request has to arrive completely [30]\n"
"\n"
"Output:\n"
"  --access-log         one line per request on stderr (nothing per request otherwise)\n"
"  --quiet              no startup information on stderr\n"
"  --help               this text\n"
"\n"
"When every worker is ready it prints one line on stdout and flushes it:\n"
"  loadscope-demo-server ready pid=<master> ports=<p0,p1,..> workers=N threads=T queue=0|1\n"
"  model_workers=M downstream_ms=D replicas=K reload_model=0|1 model=SxS/C/D\n"
"  model_ms=<measured CPU ms per /predict> calib_other_cores=<CPUs other processes used\n"
"  while calibrating: above ~0.3 the cost is less reliable; -1 when calibration took under\n"
"  0.2 s, too short to tell> [weights=<file>]\n"
"SIGTERM or SIGINT stops every process it started and exits 0. Its children die with it\n"
"even if it is killed (PR_SET_PDEATHSIG). Exit 2: bad flags; exit 1: startup failure or a\n"
"child died unexpectedly (everything is stopped).\n";

void config_usage(FILE *out)
{
    fputs(usage_text, out);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_long(const char *flag, const char *text, long lo, long hi, long *out, char *err,
                      size_t errlen)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return fail(err, errlen, "%s: expected an integer in %ld..%ld, got '%s'", flag, lo, hi,
                    text);
    *out = v;
    return 0;
}

static int parse_int(const char *flag, const char *text, long lo, long hi, int *out, char *err,
                     size_t errlen)
{
    long v;
    if (parse_long(flag, text, lo, hi, &v, err, errlen))
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_shape(const char *text, struct config_shape *s, char *err, size_t errlen)
{
    char tail;
    if (sscanf(text, "%d,%d,%d%c", &s->size, &s->channels, &s->depth, &tail) != 3)
        return fail(err, errlen, "--model-shape: expected S,C,D (e.g. 64,16,2), got '%s'", text);
    if (s->size < 8 || s->size > 512 || s->size % 8)
        return fail(err, errlen, "--model-shape: S must be a multiple of 8 in 8..512");
    if (s->channels < 1 || s->channels > 512)
        return fail(err, errlen, "--model-shape: C must be in 1..512");
    if (s->depth < 0 || s->depth > 1024)
        return fail(err, errlen, "--model-shape: D must be in 0..1024");
    return 0;
}

/* "0,1" or "0-3" or "0,2-3": each CPU must be one this process may run on. */
static int parse_cpus(const char *text, struct config *cfg, char *err, size_t errlen)
{
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof(allowed), &allowed))
        return fail(err, errlen, "--cpus: cannot read this process's CPU affinity");
    const char *p = text;
    cfg->n_cpus = 0;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b;
        if (end == p || a < 0)
            return fail(err, errlen, "--cpus: expected a list like 0,1 or 0-3, got '%s'", text);
        b = a;
        if (*end == '-') {
            p = end + 1;
            b = strtol(p, &end, 10);
            if (end == p || b < a)
                return fail(err, errlen, "--cpus: bad range in '%s'", text);
        }
        for (long c = a; c <= b; c++) {
            if (c >= CPU_SETSIZE || !CPU_ISSET((int)c, &allowed))
                return fail(err, errlen, "--cpus: CPU %ld is not available to this process", c);
            if (cfg->n_cpus == CONFIG_MAX_CPUS)
                return fail(err, errlen, "--cpus: more than %d CPUs", CONFIG_MAX_CPUS);
            cfg->cpus[cfg->n_cpus++] = (int)c;
        }
        if (*end == ',' && end[1])
            end++;
        else if (*end)
            return fail(err, errlen, "--cpus: expected a list like 0,1 or 0-3, got '%s'", text);
        p = end;
    }
    if (!cfg->n_cpus)
        return fail(err, errlen, "--cpus: empty list");
    return 0;
}

static void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->bind = "127.0.0.1";
    cfg->port = 8000;
    cfg->backlog = 2048;
    cfg->workers = 1;
    cfg->threads = 1;
    cfg->model_cost_ms = 20;
    cfg->seed = 1;
    cfg->model_workers = 1;
    cfg->replicas = 1;
    cfg->model_file_mb = 32;
    cfg->max_body = 2u << 20;
    cfg->keepalive_s = 5;
    cfg->io_timeout_s = 30;
}

/* Flags without a value. */
static int parse_switch(const char *name, struct config *cfg)
{
    if (!strcmp(name, "--queue"))
        cfg->queue = true;
    else if (!strcmp(name, "--reload-model"))
        cfg->reload_model = true;
    else if (!strcmp(name, "--access-log"))
        cfg->access_log = true;
    else if (!strcmp(name, "--quiet"))
        cfg->quiet = true;
    else if (!strcmp(name, "--help") || !strcmp(name, "-h"))
        cfg->help = true;
    else
        return 1;
    return 0;
}

static int parse_valued(const char *name, const char *v, struct config *cfg, char *err,
                        size_t errlen)
{
    long l;
    if (!strcmp(name, "--bind")) {
        struct in_addr a;
        if (inet_pton(AF_INET, v, &a) != 1)
            return fail(err, errlen, "--bind: expected an IPv4 address, got '%s'", v);
        cfg->bind = v;
        return 0;
    }
    if (!strcmp(name, "--port"))
        return parse_int(name, v, 0, 65535, &cfg->port, err, errlen);
    if (!strcmp(name, "--backlog"))
        return parse_int(name, v, 1, 65535, &cfg->backlog, err, errlen);
    if (!strcmp(name, "--workers"))
        return parse_int(name, v, 1, CONFIG_MAX_WORKERS, &cfg->workers, err, errlen);
    if (!strcmp(name, "--threads"))
        return parse_int(name, v, 1, CONFIG_MAX_THREADS, &cfg->threads, err, errlen);
    if (!strcmp(name, "--model-cost")) {
        char *end;
        errno = 0;
        double ms = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(ms) || ms < 0 || ms > 5000)
            return fail(err, errlen, "--model-cost: expected milliseconds in 0..5000, got '%s'", v);
        cfg->model_cost_ms = ms;
        return 0;
    }
    if (!strcmp(name, "--model-shape")) {
        cfg->fixed_shape = true;
        return parse_shape(v, &cfg->shape, err, errlen);
    }
    if (!strcmp(name, "--seed")) {
        if (parse_long(name, v, 0, LONG_MAX, &l, err, errlen))
            return -1;
        cfg->seed = (uint64_t)l;
        return 0;
    }
    if (!strcmp(name, "--model-workers"))
        return parse_int(name, v, 1, 64, &cfg->model_workers, err, errlen);
    if (!strcmp(name, "--downstream-ms"))
        return parse_int(name, v, 0, 60000, &cfg->downstream_ms, err, errlen);
    if (!strcmp(name, "--replicas"))
        return parse_int(name, v, 1, CONFIG_MAX_REPLICAS, &cfg->replicas, err, errlen);
    if (!strcmp(name, "--cpus"))
        return parse_cpus(v, cfg, err, errlen);
    if (!strcmp(name, "--model-file-mb"))
        return parse_int(name, v, 1, 4096, &cfg->model_file_mb, err, errlen);
    if (!strcmp(name, "--max-body")) {
        if (parse_long(name, v, 1024, 1L << 30, &l, err, errlen))
            return -1;
        cfg->max_body = (size_t)l;
        return 0;
    }
    if (!strcmp(name, "--keepalive"))
        return parse_int(name, v, 0, 3600, &cfg->keepalive_s, err, errlen);
    if (!strcmp(name, "--io-timeout"))
        return parse_int(name, v, 1, 3600, &cfg->io_timeout_s, err, errlen);
    return 1;
}

static bool is_valued(const char *name)
{
    static const char *const valued[] = {
        "--bind", "--port", "--backlog", "--workers", "--threads", "--model-cost",
        "--model-shape", "--seed", "--model-workers", "--downstream-ms", "--replicas", "--cpus",
        "--model-file-mb", "--max-body", "--keepalive", "--io-timeout",
    };
    for (size_t i = 0; i < sizeof(valued) / sizeof(valued[0]); i++)
        if (!strcmp(name, valued[i]))
            return true;
    return false;
}

static int config_check(const struct config *cfg, bool model_workers_given, char *err,
                        size_t errlen)
{
    if (model_workers_given && !cfg->queue)
        return fail(err, errlen, "--model-workers needs --queue");
    if (cfg->workers * cfg->threads > CONFIG_MAX_SERVING)
        return fail(err, errlen, "--workers x --threads must be at most %d", CONFIG_MAX_SERVING);
    if (cfg->port && cfg->port + cfg->replicas - 1 > 65535)
        return fail(err, errlen, "--port %d with --replicas %d goes past port 65535", cfg->port,
                    cfg->replicas);
    return 0;
}

int config_parse(int argc, char **argv, struct config *cfg, char *err, size_t errlen)
{
    config_defaults(cfg);
    bool model_workers_given = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) && strcmp(arg, "-h"))
            return fail(err, errlen, "unexpected argument '%s' (see --help)", arg);
        char name[64];
        const char *eq = strchr(arg, '=');
        size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
        if (n >= sizeof(name))
            return fail(err, errlen, "unknown flag '%.40s...' (see --help)", arg);
        memcpy(name, arg, n);
        name[n] = '\0';
        if (!eq && !parse_switch(name, cfg))
            continue;
        if (!is_valued(name))
            return fail(err, errlen, parse_switch(name, cfg)
                                         ? "unknown flag '%s' (see --help)"
                                         : "%s takes no value", name);
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc)
                return fail(err, errlen, "%s needs a value", name);
            value = argv[++i];
        }
        if (!strcmp(name, "--model-workers"))
            model_workers_given = true;
        if (parse_valued(name, value, cfg, err, errlen))
            return -1;
    }
    return config_check(cfg, model_workers_given, err, errlen);
}
