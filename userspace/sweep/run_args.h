/* The `loadscope run` command line of a cell: the targets the sweep started, the demo's
 * endpoints when the user gave none, the cell's load, duration and run directory, then the
 * user's run options (the ones after `--`), which are checked first: options the sweep sets
 * for each cell, or that would make every cell overwrite the same file, are refused. */
#ifndef LOADSCOPE_SWEEP_RUN_ARGS_H
#define LOADSCOPE_SWEEP_RUN_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "demo/scenarios.h"
#include "sweep/grid.h"
#include "sweep/target.h"

/* What the user's run options already say. */
struct run_options_info {
    bool has_host;      /* -H / --host */
    bool has_scenario;  /* -f / --scenario (a file may hold hosts, endpoints and load) */
    bool has_endpoint;  /* -e / --endpoint */
    bool has_load;      /* -u / --users / --rate / --stage */
    bool has_replica;   /* --replica */
};

/* Checks opts[0..n): refuses --out, -t/--run-time, --csv, --json, --html, --markdown,
 * --trace-out and -h always; -H/--host and --replica when the sweep starts the target
 * (sweep_sets_replicas: --replica too); -u/--users, --rate and --stage when the load is an
 * axis. Returns 0 with info filled, or -1 with err set. */
int run_options_check(char *const *opts, int n, bool sweep_sets_hosts, bool sweep_sets_replicas,
                      bool load_axis, struct run_options_info *info, struct error *err);

struct run_args {
    char **argv; /* NULL-terminated, each string malloc'd */
    size_t argc, cap;
    bool oom;
};

struct run_args_input {
    const struct sweep_grid *grid;
    const struct sweep_cell *cell;
    const struct sweep_target_spec *spec;
    const struct sweep_target *target;  /* ports of the running target */
    const struct demo_scenario *endpoints_from; /* demo: endpoints and load when not given */
    const char *sample_image;           /* demo: the uploaded image */
    uint64_t cell_ns;
    const char *out_dir;                /* the cell's run directory */
    char *const *opts;                  /* the user's run options */
    int n_opts;
    const struct run_options_info *info;
};

/* Builds the cell's arguments (after "run"). Returns 0, or -1 when out of memory. */
int run_args_build(struct run_args *a, const struct run_args_input *in);
void run_args_free(struct run_args *a);

/* argv as one line, shell-quoted where needed ("--endpoint 'POST /predict'"). */
void run_args_quote(char *const *argv, int argc, char *buf, size_t len);

#endif
