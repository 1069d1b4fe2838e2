/* loadscope sweep: a grid of complete `loadscope run`s (replicas x workers x users or rate)
 * and what it says about scaling.
 *
 * Reads top-down: options -> the grid, the target, the run options, the SLOs -> the sweep
 * directory and its sweep-state (resume: cells already done are read back, not rerun) -> for
 * each cell in order: restart the target, run `loadscope run` into cells/NAME as a child,
 * stop the target, read the cell's report.json, mark it done, rewrite every output -> the
 * findings on the console -> exit code (0 all cells done, 1 a cell failed, 130 interrupted,
 * 2 bad usage). */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
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
#include "common/number.h"
#include "demo/scenarios.h"
#include "demo/server.h"
#include "demo/upload.h"
#include "sweep/analysis.h"
#include "sweep/cell_report.h"
#include "sweep/cell_run.h"
#include "sweep/findings.h"
#include "sweep/grid.h"
#include "sweep/outputs.h"
#include "sweep/run_args.h"
#include "sweep/slo.h"
#include "sweep/state.h"
#include "sweep/target.h"

#define EXIT_INTERRUPTED 130
#define DEFAULT_CELL_NS (30 * NS_PER_SEC)
#define DEFAULT_START_TIMEOUT_NS (60 * NS_PER_SEC)
#define MAX_USERS 1e6
#define MAX_RATE 1e7
#define MAX_REPLICAS 64
#define MAX_WORKERS 1024

/* Ctrl-C / SIGTERM / SIGHUP count (the one global the rules allow): each one is forwarded to
 * the running cell; a third one ends the sweep at once. */
static volatile sig_atomic_t stop_requests;

static void on_signal(int sig)
{
    (void)sig;
    stop_requests++;
    if (stop_requests >= 3)
        _exit(EXIT_INTERRUPTED); /* its children get SIGTERM (PR_SET_PDEATHSIG) */
}

static const char usage_text[] =
    "usage: loadscope sweep [options] -- [run options]\n"
    "\n"
    "Runs one complete `loadscope run` per cell of a grid (each stored, traced and explained in\n"
    "SWEEP_DIR/cells/NAME/) and analyses how throughput and latency scale: a matrix like the\n"
    "tables users fill by hand, scaling tables, the gain of each added replica, the knee, a\n"
    "Universal Scalability Law fit and findings that say why.\n"
    "\n"
    "Axes (comma-separated lists; cells run replicas, then workers, then load, ascending)\n"
    "  --users LIST          closed-loop users, e.g. 200,400,800\n"
    "  --rate LIST           open-loop requests/s instead, e.g. 50,100\n"
    "  --replicas LIST       replica counts, e.g. 1,2,4,8    (needs a target the sweep starts)\n"
    "  --workers LIST        workers per replica, e.g. 4,8  (needs a target the sweep starts)\n"
    "\n"
    "Target, restarted for every cell\n"
    "  --demo-scenario NAME  the built-in demo server with a scenario's flags, endpoints and load\n"
    "                        (see 'loadscope demo --list')\n"
    "  --demo-flags 'FLAGS'  the demo server with these flags (split at spaces); --replicas R\n"
    "                        --workers W and an ephemeral port per replica are added per cell\n"
    "  --launch 'CMD'        start the target with /bin/sh -c CMD; {replicas} {workers} {port}\n"
    "                        {ports} {cell} are replaced; it may stay in the foreground or\n"
    "                        daemonize. The cell starts when GET PATH answers 2xx on every port\n"
    "  --stop 'CMD'          stop it (same placeholders); the launch command's process group\n"
    "                        gets SIGTERM (then SIGKILL) in any case\n"
    "  --health PATH         health path for --launch (default /health)\n"
    "  --port P              first port for --launch (default: a free port picked per cell)\n"
    "  --ports MODE          single: the target listens on {port} (a load balancer in front of\n"
    "                        the replicas, the default); per-replica: on {port}..{port}+R-1\n"
    "  --start-timeout D     how long a target may take to answer (default 60s)\n"
    "  Without a target option, give -H URL (or -f FILE) after --: the target is not restarted\n"
    "  and only --users / --rate can vary.\n"
    "\n"
    "Cells and analysis\n"
    "  -t, --run-time D      duration of each cell (default 30s)\n"
    "  --slo EXPR            p95<500ms, p99<1s, median<200ms, avg<.., fail<1%, rps>100, or per\n"
    "                        endpoint 'POST /predict:p95<500ms'; repeatable. The knee is the\n"
    "                        highest load meeting all of them\n"
    "  --out DIR             the sweep directory (default loadscope-runs/sweep-<date>-<time>)\n"
    "\n"
    "Run options after -- go to every cell's `loadscope run` (endpoints, --no-trace,\n"
    "--threshold, --threads, --wait...). The sweep sets --host (when it starts the target),\n"
    "--users/--rate (when they are an axis), --run-time and --out.\n"
    "\n"
    "Outputs in DIR: matrix.csv (one row per cell), sweep.md, sweep.html, sweep.json,\n"
    "cells/NAME/ (each a complete run directory), sweep-state. They are rewritten after every\n"
    "cell. Ctrl-C stops the running cell cleanly and keeps the outputs of the completed ones;\n"
    "running the same command again (same --out and axes) resumes where it stopped.\n"
    "Exit codes: 0 every cell done, 1 a cell failed, 2 bad usage, 130 interrupted.\n";

enum { OPT_USERS = 256, OPT_RATE, OPT_REPLICAS, OPT_WORKERS, OPT_LAUNCH, OPT_STOP, OPT_HEALTH,
       OPT_PORT, OPT_PORTS, OPT_START_TIMEOUT, OPT_DEMO_SCENARIO, OPT_DEMO_FLAGS, OPT_SLO,
       OPT_OUT };

static const struct option long_options[] = {
    {"users", required_argument, NULL, OPT_USERS},
    {"rate", required_argument, NULL, OPT_RATE},
    {"replicas", required_argument, NULL, OPT_REPLICAS},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"launch", required_argument, NULL, OPT_LAUNCH},
    {"stop", required_argument, NULL, OPT_STOP},
    {"health", required_argument, NULL, OPT_HEALTH},
    {"port", required_argument, NULL, OPT_PORT},
    {"ports", required_argument, NULL, OPT_PORTS},
    {"start-timeout", required_argument, NULL, OPT_START_TIMEOUT},
    {"demo-scenario", required_argument, NULL, OPT_DEMO_SCENARIO},
    {"demo-flags", required_argument, NULL, OPT_DEMO_FLAGS},
    {"run-time", required_argument, NULL, 't'},
    {"slo", required_argument, NULL, OPT_SLO},
    {"out", required_argument, NULL, OPT_OUT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct sweep_args {
    const char *lists[4]; /* users, rate, replicas, workers as typed */
    const char *demo_scenario, *demo_flags, *ports_mode, *out_dir;
    const char *slo_text[SWEEP_MAX_SLOS];
    size_t n_slo;
    struct sweep_target_spec spec;
    uint64_t cell_ns;
    char *const *run_opts;
    int n_run_opts;
    bool help;
};

/* ---- options -------------------------------------------------------------------------------- */

static int parse_port(const char *text, int *port, struct error *err)
{
    uint32_t v;
    if (uint_parse(text, 1, 65535, &v) < 0)
        return error_set(err, "--port takes 1..65535, not '%s'", text);
    *port = (int)v;
    return 0;
}

static int parse_option(int opt, const char *value, struct sweep_args *a, struct error *err)
{
    switch (opt) {
    case OPT_USERS: a->lists[0] = value; return 0;
    case OPT_RATE: a->lists[1] = value; return 0;
    case OPT_REPLICAS: a->lists[2] = value; return 0;
    case OPT_WORKERS: a->lists[3] = value; return 0;
    case OPT_LAUNCH: a->spec.launch = value; return 0;
    case OPT_STOP: a->spec.stop = value; return 0;
    case OPT_HEALTH:
        if (value[0] != '/')
            return error_set(err, "--health takes a path starting with '/', not '%s'", value);
        a->spec.health = value;
        return 0;
    case OPT_PORT: return parse_port(value, &a->spec.port, err);
    case OPT_PORTS:
        if (strcmp(value, "single") && strcmp(value, "per-replica"))
            return error_set(err, "--ports takes single or per-replica, not '%s'", value);
        a->ports_mode = value;
        a->spec.port_per_replica = !strcmp(value, "per-replica");
        return 0;
    case OPT_START_TIMEOUT:
        if (duration_parse(value, &a->spec.start_timeout_ns, err) < 0)
            return error_prefix(err, "--start-timeout");
        if (a->spec.start_timeout_ns < NS_PER_SEC)
            return error_set(err, "--start-timeout must be at least 1s");
        return 0;
    case OPT_DEMO_SCENARIO: a->demo_scenario = value; return 0;
    case OPT_DEMO_FLAGS: a->demo_flags = value; return 0;
    case 't':
        if (duration_parse(value, &a->cell_ns, err) < 0)
            return error_prefix(err, "--run-time");
        if (a->cell_ns < NS_PER_SEC)
            return error_set(err, "--run-time must be at least 1s");
        return 0;
    case OPT_SLO:
        if (a->n_slo == SWEEP_MAX_SLOS)
            return error_set(err, "at most %d --slo", SWEEP_MAX_SLOS);
        a->slo_text[a->n_slo++] = value;
        return 0;
    case OPT_OUT: a->out_dir = value; return 0;
    }
    return error_set(err, "unknown option");
}

static int parse_args(int argc, char **argv, struct sweep_args *a, struct error *err)
{
    memset(a, 0, sizeof(*a));
    a->cell_ns = DEFAULT_CELL_NS;
    a->spec.health = "/health";
    a->spec.start_timeout_ns = DEFAULT_START_TIMEOUT_NS;
    int end = argc;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--")) {
            end = i;
            break;
        }
    a->run_opts = end < argc ? argv + end + 1 : NULL;
    a->n_run_opts = end < argc ? argc - end - 1 : 0;
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(end, argv, ":t:h", long_options, NULL)) != -1) {
        if (opt == '?')
            return error_set(err, "unknown option '%s' (see 'loadscope sweep --help'; run "
                                  "options go after --)",
                             optopt ? (char[]){'-', (char)optopt, 0} : argv[optind - 1]);
        if (opt == ':')
            return error_set(err, "option '%s' needs a value", argv[optind - 1]);
        if (opt == 'h') {
            a->help = true;
            return 0;
        }
        if (parse_option(opt, optarg, a, err) < 0)
            return -1;
    }
    if (optind < end)
        return error_set(err, "unexpected argument '%s' (run options go after --)", argv[optind]);
    return 0;
}

/* ---- the grid and the target ---------------------------------------------------------------- */

/* Splits the demo flags at spaces into spec (pointers into buf). */
static int split_flags(char *buf, const char **out, size_t cap, size_t *n, struct error *err)
{
    for (char *save = NULL, *tok = strtok_r(buf, " \t", &save); tok;
         tok = strtok_r(NULL, " \t", &save)) {
        if (*n >= cap)
            return error_set(err, "--demo-flags: too many flags");
        out[(*n)++] = tok;
    }
    return 0;
}

/* Removes "--name VALUE" from flags (returning VALUE), so that an axis overrides it. */
static const char *take_flag(const char **flags, size_t *n, const char *name)
{
    const char *value = NULL;
    for (size_t i = 0; i < *n;) {
        if (!strcmp(flags[i], name) && i + 1 < *n) {
            value = flags[i + 1];
            memmove(&flags[i], &flags[i + 2], (*n - i - 2) * sizeof(*flags));
            *n -= 2;
            continue;
        }
        i++;
    }
    return value;
}

struct demo_setup {
    char flags_buf[4096];
    char model_shape[SWEEP_SHAPE_LEN]; /* pinned after the first cell (sweep-state note) */
    const struct demo_scenario *scenario; /* endpoints and default load */
    double replicas, workers;             /* from the flags when not an axis (0 = default) */
};

static int setup_demo(struct sweep_args *a, const struct sweep_grid *g, struct demo_setup *d,
                      struct error *err)
{
    const char **flags = a->spec.demo_flags;
    size_t n = 0, user_start;
    d->scenario = demo_scenario_default();
    if (a->demo_scenario) {
        d->scenario = demo_scenario_find(a->demo_scenario);
        if (!d->scenario)
            return error_set(err, "unknown demo scenario '%s' (try 'loadscope demo --list')",
                             a->demo_scenario);
        for (const char *const *f = d->scenario->server_flags; *f && n < SWEEP_MAX_DEMO_FLAGS; f++)
            flags[n++] = *f;
    }
    user_start = n;
    if (a->demo_flags) {
        snprintf(d->flags_buf, sizeof(d->flags_buf), "%s", a->demo_flags);
        if (split_flags(d->flags_buf, flags, SWEEP_MAX_DEMO_FLAGS, &n, err) < 0)
            return -1;
    }
    for (size_t i = user_start; i < n; i++) {
        if (!strcmp(flags[i], "--port") || !strcmp(flags[i], "--bind") ||
            !strcmp(flags[i], "--help"))
            return error_set(err, "--demo-flags: %s is set by the sweep", flags[i]);
        if ((!strcmp(flags[i], "--replicas") && g->replicas.varied) ||
            (!strcmp(flags[i], "--workers") && g->workers.varied))
            return error_set(err, "--demo-flags: %s is an axis of the sweep (--%s)", flags[i],
                             flags[i] + 2);
    }
    const char *r = take_flag(flags, &n, "--replicas"), *w = take_flag(flags, &n, "--workers");
    d->replicas = r ? atof(r) : 1;
    d->workers = w ? atof(w) : 1;
    flags[n] = NULL;
    a->spec.model_shape = d->model_shape;
    return demo_server_binary(a->spec.demo_binary, sizeof(a->spec.demo_binary), err) ? 0 : -1;
}

static int build_grid(struct sweep_args *a, struct sweep_grid *g, struct error *err)
{
    memset(g, 0, sizeof(*g));
    if (a->lists[0] && a->lists[1])
        return error_set(err, "--users and --rate exclude each other (closed or open loop)");
    if (!a->lists[0] && !a->lists[1] && !a->lists[2] && !a->lists[3])
        return error_set(err, "no axis: give --users, --rate, --replicas and/or --workers");
    sweep_axis_fixed(&g->load, "users", 0);
    sweep_axis_fixed(&g->replicas, "replicas", 0);
    sweep_axis_fixed(&g->workers, "workers", 0);
    g->load_is_rate = a->lists[1] != NULL;
    if (a->lists[0] &&
        sweep_axis_parse(&g->load, "users", a->lists[0], SWEEP_AXIS_INT, MAX_USERS, err) < 0)
        return -1;
    if (a->lists[1] &&
        sweep_axis_parse(&g->load, "rate", a->lists[1], SWEEP_AXIS_REAL, MAX_RATE, err) < 0)
        return -1;
    if (a->lists[2] && sweep_axis_parse(&g->replicas, "replicas", a->lists[2], SWEEP_AXIS_INT,
                                        MAX_REPLICAS, err) < 0)
        return -1;
    if (a->lists[3] && sweep_axis_parse(&g->workers, "workers", a->lists[3], SWEEP_AXIS_INT,
                                        MAX_WORKERS, err) < 0)
        return -1;
    return 0;
}

static int choose_target(struct sweep_args *a, const struct sweep_grid *g, struct error *err)
{
    bool demo = a->demo_scenario || a->demo_flags;
    if (demo && a->spec.launch)
        return error_set(err, "--launch and --demo-scenario/--demo-flags exclude each other");
    if (!a->spec.launch && (a->spec.stop || a->spec.port || a->ports_mode ||
                            strcmp(a->spec.health, "/health")))
        return error_set(err, "--stop, --health, --port and --ports go with --launch");
    a->spec.mode = demo ? SWEEP_TARGET_DEMO
                   : a->spec.launch ? SWEEP_TARGET_LAUNCH
                                    : SWEEP_TARGET_FIXED;
    if (a->spec.mode == SWEEP_TARGET_FIXED && (g->replicas.varied || g->workers.varied))
        return error_set(err, "--replicas and --workers need a target the sweep restarts: "
                              "--launch 'CMD' or --demo-scenario/--demo-flags");
    if (a->spec.mode != SWEEP_TARGET_LAUNCH)
        return 0;
    bool need_port = a->spec.port == 0;
    if (sweep_template_check("--launch", a->spec.launch, g->replicas.varied, g->workers.varied,
                             need_port, err) < 0)
        return -1;
    if (a->spec.stop && sweep_template_check("--stop", a->spec.stop, false, false, false, err) < 0)
        return -1;
    int top = g->replicas.varied ? (int)g->replicas.values[g->replicas.count - 1] : 1;
    if (a->spec.port && a->spec.port_per_replica && a->spec.port + top - 1 > 65535)
        return error_set(err, "--port %d leaves no room for %d replica ports", a->spec.port, top);
    return 0;
}

/* ---- the sweep directory -------------------------------------------------------------------- */

static int mkdir_p(const char *path, struct error *err)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return error_set(err, "cannot create %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return error_set(err, "cannot create %s: %s", tmp, strerror(errno));
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* A cell's directory from an interrupted attempt is ours to clear: run refuses an existing
 * run.db. */
static int fresh_dir(const char *path, struct error *err)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return error_set(err, "cannot clear %s: %s", path, strerror(errno));
    return mkdir_p(path, err);
}

static int write_sample(const char *path, struct error *err)
{
    struct stat sb;
    if (stat(path, &sb) == 0) /* a resumed sweep keeps the file its cells already used */
        return 0;
    return demo_sample_write(path, err);
}

/* The lines of sweep-state that must match for a resume: everything a cell's figures depend
 * on (not the SLOs: the analysis is redone with whatever SLOs are given now). */
struct identity {
    char lines[8][4200];
    const char *ptrs[8];
    size_t n;
};

static void identity_add(struct identity *id, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void identity_add(struct identity *id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(id->lines[id->n], sizeof(id->lines[0]), fmt, ap);
    va_end(ap);
    id->ptrs[id->n] = id->lines[id->n];
    id->n++;
}

static void build_identity(const struct sweep_args *a, const struct sweep_grid *g,
                           const char *run_options, struct identity *id)
{
    char list[1024], dur[32];
    memset(id, 0, sizeof(*id));
    sweep_axis_format(&g->replicas, list, sizeof(list));
    identity_add(id, "replicas %s", list);
    sweep_axis_format(&g->workers, list, sizeof(list));
    identity_add(id, "workers %s", list);
    sweep_axis_format(&g->load, list, sizeof(list));
    identity_add(id, "load %s %s", g->load_is_rate ? "rate" : "users", list);
    identity_add(id, "run-time %s", duration_format(a->cell_ns, dur, sizeof(dur)));
    if (a->spec.mode == SWEEP_TARGET_DEMO)
        identity_add(id, "target demo scenario=%s flags=%s",
                     a->demo_scenario ? a->demo_scenario : "-",
                     a->demo_flags ? a->demo_flags : "-");
    else if (a->spec.mode == SWEEP_TARGET_LAUNCH)
        identity_add(id, "target launch %s | stop %s | health %s | port %d | ports %s",
                     a->spec.launch, a->spec.stop ? a->spec.stop : "-", a->spec.health,
                     a->spec.port, a->spec.port_per_replica ? "per-replica" : "single");
    else
        identity_add(id, "target fixed");
    identity_add(id, "run-options %s", run_options);
}

/* ---- one cell ------------------------------------------------------------------------------- */

struct sweep_ctx {
    struct sweep_args *args;
    struct sweep_grid *grid;
    struct sweep *sweep;
    struct sweep_state *state;
    struct run_options_info info;
    struct demo_setup demo;
    char dir[PATH_MAX];
    char sample[PATH_MAX + 16];
    int cells_run; /* cells run by this invocation */
};

/* The last "loadscope: ..." line of a run's log (its error), or its last line. */
static void log_error(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    char line[1024], last[1024] = "", tagged[1024] = "";
    buf[0] = '\0';
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0])
            continue;
        snprintf(last, sizeof(last), "%s", line);
        if (!strncmp(line, "loadscope: ", 11))
            snprintf(tagged, sizeof(tagged), "%s", line + 11);
    }
    fclose(f);
    snprintf(buf, len, "%s", tagged[0] ? tagged : last);
}

static void other_cores(struct sweep_cell_result *r)
{
    const struct cell_report *p = &r->report;
    r->other_cores = NAN;
    if (p->traced && !isnan(r->host_busy_cores) && !isnan(p->target_cores) &&
        !isnan(p->generator_cores))
        r->other_cores = fmax(0, r->host_busy_cores - p->target_cores - p->generator_cores);
}

/* A cell done by an earlier invocation: read back. False when it must run again. */
static bool resume_cell(struct sweep_ctx *x, size_t i, const char *cell_dir)
{
    const struct sweep_state_done *d = sweep_state_find(x->state, x->grid->cells[i].name);
    struct sweep_cell_result *r = &x->sweep->results[i];
    char path[PATH_MAX + 128];
    snprintf(path, sizeof(path), "%s/report.json", cell_dir);
    struct error err;
    if (!d || cell_report_read(path, x->sweep->slos, x->sweep->n_slos, &r->report, &err) < 0)
        return false;
    r->status = SWEEP_CELL_DONE;
    r->resumed = true;
    r->exit_code = d->exit_code;
    r->host_busy_cores = d->host_busy_cores;
    other_cores(r);
    return true;
}

static void print_cell(const struct sweep_ctx *x, size_t i)
{
    const struct sweep_cell_result *r = &x->sweep->results[i];
    const struct cell_report *p = &r->report;
    printf("[%zu/%zu] %s: ", i + 1, x->grid->n_cells, x->grid->cells[i].name);
    if (r->status == SWEEP_CELL_DONE)
        printf("%.1f req/s, median %.1f ms, p95 %.1f ms, p99 %.1f ms, %.2f%% failures, "
               "verdict %s%s\n",
               p->rps, p->median_ms, p->p95_ms, p->p99_ms,
               isnan(p->failures_pct) ? 0 : p->failures_pct,
               p->verdict[0] ? p->verdict : "n/a", r->resumed ? " (done earlier)" : "");
    else
        printf("%s%s%s\n", sweep_cell_status_name(r->status), r->error[0] ? ": " : "", r->error);
    fflush(stdout);
}

enum cell_outcome { CELL_CONTINUE, CELL_STOP, CELL_USAGE };

static enum cell_outcome run_cell(struct sweep_ctx *x, size_t i, const char *cell_dir)
{
    struct sweep_args *a = x->args;
    const struct sweep_cell *c = &x->grid->cells[i];
    struct sweep_cell_result *r = &x->sweep->results[i];
    struct error err = {{0}};
    char target_log[PATH_MAX + 128], run_log[PATH_MAX + 128], report[PATH_MAX + 128];
    snprintf(target_log, sizeof(target_log), "%s/target.log", cell_dir);
    snprintf(run_log, sizeof(run_log), "%s/run.log", cell_dir);
    snprintf(report, sizeof(report), "%s/report.json", cell_dir);
    if (fresh_dir(cell_dir, &err) < 0) {
        r->status = SWEEP_CELL_FAILED;
        snprintf(r->error, sizeof(r->error), "%s", err.msg);
        return CELL_CONTINUE;
    }
    printf("[%zu/%zu] %s: starting the target and a %gs run...\n", i + 1, x->grid->n_cells,
           c->name, x->sweep->cell_s);
    fflush(stdout);
    sig_atomic_t stops = stop_requests;
    struct sweep_target t;
    if (sweep_target_start(&a->spec, c, target_log, &stop_requests, &t, &err) < 0) {
        r->status = stop_requests != stops ? SWEEP_CELL_INTERRUPTED : SWEEP_CELL_FAILED;
        snprintf(r->error, sizeof(r->error), "%s", err.msg);
        return stop_requests != stops ? CELL_STOP : CELL_CONTINUE;
    }
    if (a->spec.model_shape && a->spec.model_shape[0] &&
        !sweep_state_note(x->state, "model-shape") &&
        sweep_state_add_note(x->state, "model-shape", a->spec.model_shape, &err) < 0)
        fprintf(stderr, "loadscope: %s\n", err.msg);
    struct run_args ra;
    struct run_args_input in = {x->grid, c, &a->spec, &t, x->demo.scenario, x->sample,
                                a->cell_ns, cell_dir, a->run_opts, a->n_run_opts, &x->info};
    struct cell_run_result res = {.exit_code = -1, .host_busy_cores = NAN};
    int rc = run_args_build(&ra, &in);
    if (rc < 0)
        error_set(&err, "out of memory");
    else
        rc = cell_run((const char *const *)ra.argv, run_log, &stop_requests, &res, &err);
    run_args_free(&ra);
    struct error stop_err = {{0}};
    if (sweep_target_stop(&a->spec, c, target_log, &t, &stop_err) < 0)
        fprintf(stderr, "loadscope: %s: stopping the target: %s\n", c->name, stop_err.msg);
    x->cells_run++;
    r->exit_code = res.exit_code;
    r->host_busy_cores = res.host_busy_cores;
    if (rc < 0) {
        r->status = SWEEP_CELL_FAILED;
        snprintf(r->error, sizeof(r->error), "%s", err.msg);
        return CELL_CONTINUE;
    }
    if (res.interrupted || stop_requests != stops) {
        r->status = SWEEP_CELL_INTERRUPTED;
        snprintf(r->error, sizeof(r->error), "stopped by a signal: redone on resume");
        return CELL_STOP;
    }
    if (res.exit_code == EXIT_USAGE && x->cells_run == 1) {
        log_error(run_log, r->error, sizeof(r->error));
        return CELL_USAGE; /* the run options are wrong for every cell */
    }
    if (cell_report_read(report, x->sweep->slos, x->sweep->n_slos, &r->report, &err) < 0) {
        char why[600];
        log_error(run_log, why, sizeof(why));
        r->status = SWEEP_CELL_FAILED;
        snprintf(r->error, sizeof(r->error), "the run exited with %d: %.400s", res.exit_code,
                 why[0] ? why : err.msg);
        return CELL_CONTINUE;
    }
    r->status = SWEEP_CELL_DONE;
    other_cores(r);
    if (sweep_state_mark_done(x->state, c->name, res.exit_code, res.host_busy_cores, &err) < 0)
        fprintf(stderr, "loadscope: %s\n", err.msg);
    return CELL_CONTINUE;
}

/* ---- outputs -------------------------------------------------------------------------------- */

static int write_outputs(struct sweep_ctx *x, struct sweep_analysis *an,
                         struct sweep_findings *f, struct error *err)
{
    if (sweep_analyse(x->sweep, an, err) < 0)
        return -1;
    if (sweep_findings_build(x->sweep, an, f, err) < 0) {
        sweep_analysis_free(an);
        return -1;
    }
    struct sweep_outputs o = {x->sweep, an, f};
    return sweep_write_all(x->dir, &o, err);
}

static void print_summary(const struct sweep_ctx *x, const struct sweep_findings *f)
{
    printf("\nFindings\n");
    for (size_t i = 0; i < f->n; i++)
        printf("  %zu. %s\n", i + 1, f->items[i].text);
    printf("\nSweep stored in %s\n  %s/matrix.csv\n  %s/sweep.md\n  %s/sweep.html\n"
           "  %s/sweep.json\n  %s/cells/<cell>/ (one complete run each)\n",
           x->dir, x->dir, x->dir, x->dir, x->dir, x->dir);
}

/* A sweep whose first run refused its options measured nothing: what it created goes, so that
 * the corrected command can use the same --out (its sweep-state would not match). */
static void abandon_dir(struct sweep_ctx *x, const char *cell_dir)
{
    if (x->state->resumed || x->state->n_done)
        return;
    char path[PATH_MAX + 32];
    nftw(cell_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    snprintf(path, sizeof(path), "%s/cells", x->dir);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/sweep-state", x->dir);
    unlink(path);
    unlink(x->sample);
    rmdir(x->dir); /* only when nothing else is in it */
}

static int sweep_cells(struct sweep_ctx *x)
{
    struct error err = {{0}};
    int code = EXIT_OK;
    for (size_t i = 0; i < x->grid->n_cells; i++) {
        if (stop_requests) {
            x->sweep->interrupted = true;
            break;
        }
        char cell_dir[PATH_MAX + 80];
        snprintf(cell_dir, sizeof(cell_dir), "%s/cells/%s", x->dir, x->grid->cells[i].name);
        if (resume_cell(x, i, cell_dir)) {
            print_cell(x, i);
            continue;
        }
        enum cell_outcome out = run_cell(x, i, cell_dir);
        if (out == CELL_USAGE) {
            fprintf(stderr, "loadscope: %s (cell %s; every cell would fail the same way)\n",
                    x->sweep->results[i].error, x->grid->cells[i].name);
            abandon_dir(x, cell_dir);
            return EXIT_USAGE;
        }
        print_cell(x, i);
        struct sweep_analysis an;
        struct sweep_findings f;
        if (write_outputs(x, &an, &f, &err) < 0)
            fprintf(stderr, "loadscope: %s\n", err.msg);
        else {
            sweep_findings_free(&f);
            sweep_analysis_free(&an);
        }
        if (out == CELL_STOP) {
            x->sweep->interrupted = true;
            break;
        }
    }
    struct sweep_analysis an;
    struct sweep_findings f;
    if (write_outputs(x, &an, &f, &err) < 0) {
        fprintf(stderr, "loadscope: %s\n", err.msg);
        return EXIT_RUNTIME;
    }
    print_summary(x, &f);
    if (x->sweep->interrupted) {
        code = EXIT_INTERRUPTED;
        printf("\nInterrupted: %d of %zu cells done. Run the same command again%s%s to "
               "resume.\n",
               an.done, x->grid->n_cells, x->args->out_dir ? "" : " with --out ",
               x->args->out_dir ? "" : x->dir);
    } else if (an.failed) {
        code = EXIT_RUNTIME;
    }
    sweep_findings_free(&f);
    sweep_analysis_free(&an);
    return code;
}

/* ---- the command ---------------------------------------------------------------------------- */

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static void describe_target(const struct sweep_args *a, char *buf, size_t len)
{
    if (a->spec.mode == SWEEP_TARGET_LAUNCH)
        snprintf(buf, len, "launched per cell: %s", a->spec.launch);
    else if (a->spec.mode == SWEEP_TARGET_FIXED)
        snprintf(buf, len, "the run options' target (not restarted)");
    else if (a->demo_scenario)
        snprintf(buf, len, "the demo server, scenario %s%s%s, restarted per cell",
                 a->demo_scenario, a->demo_flags ? ", flags " : "",
                 a->demo_flags ? a->demo_flags : "");
    else
        snprintf(buf, len, "the demo server with %s, restarted per cell", a->demo_flags);
}

static int prepare(struct sweep_ctx *x, struct sweep_args *a, struct threshold *slos,
                   char *run_options, size_t ro_len, struct error *err)
{
    if (build_grid(a, x->grid, err) < 0 || choose_target(a, x->grid, err) < 0)
        return -1;
    for (size_t i = 0; i < a->n_slo; i++)
        if (slo_parse(a->slo_text[i], &slos[i], err) < 0)
            return -1;
    bool starts = a->spec.mode != SWEEP_TARGET_FIXED;
    bool names_replicas = a->spec.mode == SWEEP_TARGET_DEMO || a->spec.port_per_replica;
    if (run_options_check(a->run_opts, a->n_run_opts, starts, names_replicas,
                          x->grid->load.varied, &x->info, err) < 0)
        return -1;
    if (!starts && !x->info.has_host && !x->info.has_scenario)
        return error_set(err, "no target: give --demo-scenario, --demo-flags or --launch, or "
                              "-H URL after --");
    if (a->spec.mode == SWEEP_TARGET_DEMO) {
        if (setup_demo(a, x->grid, &x->demo, err) < 0)
            return -1;
        if (!x->grid->replicas.varied)
            sweep_axis_fixed(&x->grid->replicas, "replicas", x->demo.replicas);
        if (!x->grid->workers.varied)
            sweep_axis_fixed(&x->grid->workers, "workers", x->demo.workers);
    }
    run_args_quote(a->run_opts, a->n_run_opts, run_options, ro_len);
    return sweep_grid_build(x->grid, err);
}

static void default_dir(char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    snprintf(buf, len, "loadscope-runs/sweep-%s", stamp);
}

static int open_dir(struct sweep_ctx *x, const char *run_options, bool *conflict,
                    struct error *err)
{
    struct sweep_args *a = x->args;
    if (a->out_dir)
        snprintf(x->dir, sizeof(x->dir), "%s", a->out_dir);
    else
        default_dir(x->dir, sizeof(x->dir));
    *conflict = false;
    if (mkdir_p(x->dir, err) < 0)
        return -1;
    struct identity id;
    build_identity(a, x->grid, run_options, &id);
    if (sweep_state_open(x->state, x->dir, id.ptrs, id.n, conflict, err) < 0)
        return -1;
    const char *shape = sweep_state_note(x->state, "model-shape");
    if (shape && a->spec.model_shape)
        snprintf(a->spec.model_shape, SWEEP_SHAPE_LEN, "%s", shape);
    char cells[PATH_MAX + 8];
    snprintf(cells, sizeof(cells), "%s/cells", x->dir);
    if (mkdir_p(cells, err) < 0)
        return -1;
    snprintf(x->sample, sizeof(x->sample), "%s/sample.ppm", x->dir);
    if (a->spec.mode == SWEEP_TARGET_DEMO && write_sample(x->sample, err) < 0)
        return -1;
    if (x->sample[0] != '/') { /* the run is told where the image is: keep it absolute */
        char abs[PATH_MAX];
        if (realpath(x->sample, abs))
            snprintf(x->sample, sizeof(x->sample), "%s", abs);
    }
    return 0;
}

static void command_line(int argc, char **argv, char *buf, size_t len)
{
    size_t off = (size_t)snprintf(buf, len, "loadscope sweep ");
    if (off < len)
        run_args_quote(argv + 1, argc - 1, buf + off, len - off);
}

static void utc_now(char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int cmd_sweep(int argc, char **argv)
{
    struct sweep_args args;
    struct error err = {{0}};
    if (parse_args(argc, argv, &args, &err) < 0) {
        fprintf(stderr, "loadscope: %s\n", err.msg);
        return EXIT_USAGE;
    }
    if (args.help) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    char command[8192], run_options[4096], target[4400], started[32];
    struct sweep_grid grid = {0};
    struct threshold slos[SWEEP_MAX_SLOS];
    struct sweep sweep = {0};
    struct sweep_state state = {.fd = -1};
    struct sweep_ctx x = {.args = &args, .grid = &grid, .sweep = &sweep, .state = &state};
    int code = EXIT_USAGE;
    bool conflict = false;
    if (prepare(&x, &args, slos, run_options, sizeof(run_options), &err) < 0)
        goto fail;
    if (open_dir(&x, run_options, &conflict, &err) < 0) {
        code = conflict ? EXIT_USAGE : EXIT_RUNTIME;
        goto fail;
    }
    sweep.results = calloc(grid.n_cells, sizeof(*sweep.results));
    if (!sweep.results) {
        error_set(&err, "out of memory");
        code = EXIT_RUNTIME;
        goto fail;
    }
    for (size_t i = 0; i < grid.n_cells; i++) {
        sweep.results[i].exit_code = -1;
        sweep.results[i].host_busy_cores = sweep.results[i].other_cores = NAN;
    }
    command_line(argc, argv, command, sizeof(command));
    describe_target(&args, target, sizeof(target));
    utc_now(started, sizeof(started));
    const char *slash = strrchr(x.dir, '/');
    sweep = (struct sweep){.grid = &grid, .results = sweep.results, .slos = slos,
                           .n_slos = args.n_slo, .dir = x.dir,
                           .id = slash && slash[1] ? slash + 1 : x.dir, .started_at = started,
                           .command = command, .target = target, .run_options = run_options,
                           .cell_s = (double)args.cell_ns / 1e9};
    printf("loadscope sweep: %zu cell%s of %gs into %s%s\n", grid.n_cells,
           grid.n_cells == 1 ? "" : "s", sweep.cell_s, x.dir, state.resumed ? " (resuming)" : "");
    fflush(stdout);
    install_signals();
    code = sweep_cells(&x);
    goto done;
fail:
    fprintf(stderr, "loadscope: %s\n", err.msg);
done:
    sweep_state_close(&state);
    free(sweep.results);
    sweep_grid_free(&grid);
    return code;
}
