/* The target of a sweep cell, restarted for each cell so that cells do not inherit each
 * other's state (warm caches, queued connections):
 *
 *   demo    the built-in demo server (demo/server.h) with the user's flags plus
 *           --replicas R --workers W --port 0: one port per replica
 *   launch  a user command run through /bin/sh with {replicas} {workers} {port} {ports}
 *           {cell} replaced; it may stay in the foreground or daemonize. The cell starts when
 *           GET <health> answers 2xx on every target port. --stop CMD stops it (the launch
 *           command's process group gets SIGTERM, then SIGKILL, in any case).
 *   fixed   a target the sweep does not start (-H in the run options): nothing to do.
 *
 * Processes run in their own process groups (a terminal's Ctrl-C reaches only the sweep,
 * which stops them in order) and get SIGTERM if the sweep dies. */
#ifndef LOADSCOPE_SWEEP_TARGET_H
#define LOADSCOPE_SWEEP_TARGET_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "demo/server.h"
#include "sweep/grid.h"

#define SWEEP_MAX_PORTS DEMO_MAX_PORTS
#define SWEEP_MAX_DEMO_FLAGS 64

enum sweep_target_mode { SWEEP_TARGET_FIXED, SWEEP_TARGET_DEMO, SWEEP_TARGET_LAUNCH };

struct sweep_target_spec {
    enum sweep_target_mode mode;
    const char *launch, *stop; /* launch: shell command templates */
    const char *health;        /* GET path that must answer 2xx (default /health) */
    int port;                  /* launch: first port; 0 = a free one per cell */
    bool port_per_replica;     /* launch: ports port..port+replicas-1, else port only */
    uint64_t start_timeout_ns;
    char demo_binary[PATH_MAX];
    const char *demo_flags[SWEEP_MAX_DEMO_FLAGS + 1]; /* NULL-terminated */
    /* The demo calibrates its model to --model-cost at startup, on a CPU whose speed wanders:
     * the network the first cell got ("S,C,D" of its ready line) is pinned with --model-shape
     * for every later cell, so that all cells run the same model. "" until then. */
    char *model_shape; /* a caller-owned buffer of SWEEP_SHAPE_LEN, NULL = do not pin */
};

#define SWEEP_SHAPE_LEN 32

struct sweep_target {
    int ports[SWEEP_MAX_PORTS]; /* where the cell's load goes (one per replica or one) */
    int n_ports;
    pid_t launch_pid; /* the launch shell, leader of its process group */
    bool launch_reaped;
    struct demo_server demo;
    bool running;
};

/* Checks a --launch / --stop template: the placeholders the grid needs are present
 * ({replicas} when replicas vary, {workers} when workers vary, {port} or {ports} when the
 * sweep picks the port). Returns 0, or -1 with err set. */
int sweep_template_check(const char *option, const char *tmpl, bool need_replicas,
                         bool need_workers, bool need_port, struct error *err);

/* Replaces the placeholders of tmpl for cell c. Returns 0, or -1 when out is too small. */
int sweep_template_fill(const char *tmpl, const struct sweep_cell *c, const int *ports,
                        int n_ports, char *out, size_t len);

/* Starts the cell's target and waits until it answers (output of launch commands goes to
 * log_path). Gives up when *stop_requests changes. Returns 0, or -1 with err set and nothing
 * left running. */
int sweep_target_start(const struct sweep_target_spec *spec, const struct sweep_cell *c,
                       const char *log_path, volatile sig_atomic_t *stop_requests,
                       struct sweep_target *t, struct error *err);

/* Stops it (the --stop command, then the launch group; or the demo server). Returns 0, or -1
 * with err set when something had to be killed or still listens. */
int sweep_target_stop(const struct sweep_target_spec *spec, const struct sweep_cell *c,
                      const char *log_path, struct sweep_target *t, struct error *err);

#endif
