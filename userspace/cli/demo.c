/* loadscope demo: the built-in inference server with a bottleneck known in advance, loaded,
 * traced and explained in one command. It starts the demo server with the scenario's flags,
 * runs exactly what `loadscope run` runs against it (the same code: this builds a run command
 * line), stops the server, and says whether the verdict found the known bottleneck. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/error.h"
#include "demo/scenarios.h"
#include "demo/server.h"
#include "demo/upload.h"

#define DEMO_START_TIMEOUT_NS (60 * NS_PER_SEC) /* calibration runs at startup */
#define DEMO_STOP_GRACE_NS (5 * NS_PER_SEC)
#define DEMO_MAX_ARGS 256

static void usage(FILE *out)
{
    fprintf(out,
            "usage: loadscope demo [--scenario NAME] [run options]\n"
            "\n"
            "Starts the built-in demo inference server with a known bottleneck, loads it, traces\n"
            "it, names the bottleneck and stops the server. Any other option is passed to\n"
            "'loadscope run' (e.g. -t 10s, --out DIR, --html report.html, --no-trace).\n"
            "\n"
            "  -s, --scenario NAME   which bottleneck (default: %s)\n"
            "      --list            list the scenarios with their ground truth\n"
            "\n"
            "Scenarios:\n",
            demo_scenario_default()->name);
    size_t n;
    const struct demo_scenario *all = demo_scenarios(&n);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-11s %s\n", all[i].name, all[i].summary);
}

static void list_scenarios(void)
{
    size_t n;
    const struct demo_scenario *all = demo_scenarios(&n);
    for (size_t i = 0; i < n; i++) {
        printf("%s: %s\n  expected verdict: %s\n  server flags:", all[i].name, all[i].summary,
               all[i].verdict);
        for (const char *const *f = all[i].server_flags; *f; f++)
            printf(" %s", *f);
        printf("\n  ground truth: %s\n\n", all[i].ground_truth);
    }
}

struct demo_args {
    const struct demo_scenario *scenario;
    char *forward[DEMO_MAX_ARGS]; /* options for `run` */
    int nforward;
    const char *out_dir; /* --out given by the user */
};

static int parse(int argc, char **argv, struct demo_args *a, struct error *err)
{
    a->scenario = demo_scenario_default();
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-s") || !strcmp(arg, "--scenario") ||
            !strncmp(arg, "--scenario=", 11)) {
            const char *name = arg[1] == '-' && arg[10] == '=' ? arg + 11 : NULL;
            if (!name) {
                if (i + 1 >= argc)
                    return error_set(err, "option '%s' needs a value", arg);
                name = argv[++i];
            }
            a->scenario = demo_scenario_find(name);
            if (!a->scenario)
                return error_set(err, "unknown demo scenario '%s' (try 'loadscope demo --list')",
                                 name);
            continue;
        }
        if (a->nforward >= DEMO_MAX_ARGS - 1)
            return error_set(err, "too many options");
        if (!strcmp(arg, "--out") && i + 1 < argc)
            a->out_dir = argv[i + 1];
        a->forward[a->nforward++] = argv[i];
    }
    return 0;
}

/* The run's command line: targets, endpoints, load, replicas, then the user's options. */
struct run_line {
    char *argv[DEMO_MAX_ARGS + 64];
    int argc;
    char storage[16384];
    size_t used;
};

static void add(struct run_line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct run_line *l, const char *fmt, ...)
{
    if (l->argc >= (int)(sizeof(l->argv) / sizeof(l->argv[0])) - 1 ||
        l->used >= sizeof(l->storage))
        return;
    char *p = l->storage + l->used;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p, sizeof(l->storage) - l->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(l->storage) - l->used)
        return;
    l->used += (size_t)n + 1;
    l->argv[l->argc++] = p;
}

static void build_run_line(struct run_line *l, const struct demo_scenario *sc,
                           const struct demo_server *srv, const char *image_path,
                           const char *out_dir, const struct demo_args *a)
{
    char dur[32];
    add(l, "run");
    for (int i = 0; i < srv->n_ports; i++)
        add(l, "--host=http://127.0.0.1:%d", srv->ports[i]);
    for (size_t i = 0; i < sc->n_endpoints; i++) {
        const struct demo_endpoint *e = &sc->endpoints[i];
        if (e->body == DEMO_BODY_MULTIPART)
            add(l, "--endpoint=%s %s weight=%u upload=file=@%s;type=image/x-portable-pixmap",
                e->method, e->path, e->weight, image_path);
        else if (e->body == DEMO_BODY_RAW)
            add(l, "--endpoint=%s %s weight=%u body=@%s header=Content-Type:application/"
                   "octet-stream",
                e->method, e->path, e->weight, image_path);
        else
            add(l, "--endpoint=%s %s weight=%u", e->method, e->path, e->weight);
    }
    if (sc->rate > 0)
        add(l, "--rate=%g", sc->rate);
    else
        add(l, "--users=%u", sc->users);
    add(l, "--run-time=%s", duration_format(sc->duration_ns, dur, sizeof(dur)));
    for (int i = 0; i < srv->n_ports; i++) {
        if (srv->n_ports == 1)
            add(l, "--replica=demo=port:%d", srv->ports[i]);
        else
            add(l, "--replica=replica%d=port:%d", i + 1, srv->ports[i]);
    }
    if (!a->out_dir)
        add(l, "--out=%s", out_dir);
    for (int i = 0; i < a->nforward; i++)
        add(l, "%s", a->forward[i]);
    l->argv[l->argc] = NULL;
}

/* verdict.run.primary of the run's report.json, or NULL. */
static char *found_verdict(const char *dir)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/report.json", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t cap = 0, len = 0;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *more = realloc(text, cap);
            if (!more)
                break;
            text = more;
        }
        memcpy(text + len, buf, n);
        len += n;
    }
    fclose(f);
    if (!text)
        return NULL;
    text[len] = '\0';
    cJSON *doc = cJSON_Parse(text);
    free(text);
    const cJSON *primary = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "verdict"), "run"), "primary");
    char *out = cJSON_IsString(primary) ? strdup(primary->valuestring) : NULL;
    cJSON_Delete(doc);
    return out;
}

int cmd_demo(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return EXIT_OK;
        }
        if (!strcmp(argv[i], "--list")) {
            list_scenarios();
            return EXIT_OK;
        }
    }
    struct error err = {{0}};
    struct demo_args args = {0};
    if (parse(argc, argv, &args, &err) != 0) {
        fprintf(stderr, "loadscope: %s\n", err.msg);
        return EXIT_USAGE;
    }
    const struct demo_scenario *sc = args.scenario;
    char binary[PATH_MAX];
    if (!demo_server_binary(binary, sizeof(binary), &err)) {
        fprintf(stderr, "loadscope: %s\n", err.msg);
        return EXIT_RUNTIME;
    }
    char tmp[] = "/tmp/loadscope-demo-XXXXXX";
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "loadscope: cannot create a temporary directory: %s\n", strerror(errno));
        return EXIT_RUNTIME;
    }
    char image[PATH_MAX];
    snprintf(image, sizeof(image), "%s/sample.ppm", tmp);
    if (demo_sample_write(image, &err) != 0) {
        fprintf(stderr, "loadscope: %s\n", err.msg);
        rmdir(tmp);
        return EXIT_RUNTIME;
    }

    const char *flags[64];
    int nflags = 0;
    for (const char *const *f = sc->server_flags; *f && nflags < 60; f++)
        flags[nflags++] = *f;
    flags[nflags++] = "--port";
    flags[nflags++] = "0";
    flags[nflags] = NULL;
    printf("loadscope demo: scenario '%s': %s\n", sc->name, sc->summary);
    printf("  starting the demo server (calibrating its model on this machine)...\n");
    fflush(stdout);
    struct demo_server srv;
    int code = EXIT_RUNTIME;
    if (demo_server_start(&srv, binary, flags, DEMO_START_TIMEOUT_NS, &err) != 0) {
        fprintf(stderr, "loadscope: the demo server did not start: %s\n", err.msg);
        goto cleanup;
    }
    printf("  %s\n\n", srv.ready_line);
    fflush(stdout);

    char out_dir[PATH_MAX];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    snprintf(out_dir, sizeof(out_dir), "loadscope-runs/demo-%s-%s", sc->name, stamp);
    struct run_line *line = calloc(1, sizeof(*line));
    if (!line) {
        fprintf(stderr, "loadscope: out of memory\n");
        demo_server_stop(&srv, DEMO_STOP_GRACE_NS, NULL, NULL);
        goto cleanup;
    }
    build_run_line(line, sc, &srv, image, out_dir, &args);
    code = cmd_run(line->argc, line->argv);
    free(line);

    int server_exit = 0;
    struct error stop_err = {{0}};
    if (demo_server_stop(&srv, DEMO_STOP_GRACE_NS, &server_exit, &stop_err) != 0)
        fprintf(stderr, "loadscope: stopping the demo server: %s\n", stop_err.msg);

    char *found = found_verdict(args.out_dir ? args.out_dir : out_dir);
    printf("\nDemo scenario '%s': the known bottleneck is %s; loadscope found %s.\n", sc->name,
           sc->verdict, found ? found : "no verdict");
    if (found && strcmp(found, sc->verdict) != 0)
        printf("  (the machine may be busy with other work: the host CPU line of the verdict "
               "says how much other processes used)\n");
    printf("  Ground truth: %s\n", sc->ground_truth);
    free(found);
cleanup:
    unlink(image);
    rmdir(tmp);
    return code;
}
