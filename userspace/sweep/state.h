/* SWEEP_DIR/sweep-state: what makes running the same sweep again resume it. It holds the
 * sweep's identity (the lines of its configuration that decide what a cell measures: axes,
 * target, cell duration, run options) and one line per completed cell:
 *
 *   loadscope-sweep-state 1
 *   config replicas 1,2,4
 *   config run-time 5s
 *   ...
 *   note model-shape 48,47,1      a fact fixed by the first cell that later cells reuse
 *   done r1-w1-u8 0 1.97          cell, the run's exit code, host CPU busy (cores, or -)
 *
 * Lines are appended and fsync'd when a cell completes; a torn last line (the sweep killed
 * while writing it) is ignored. The file is flock'ed while a sweep runs in the directory. */
#ifndef LOADSCOPE_SWEEP_STATE_H
#define LOADSCOPE_SWEEP_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

struct sweep_state_done {
    char cell[64];
    int exit_code;
    double host_busy_cores; /* NAN when unknown */
};

#define SWEEP_STATE_MAX_NOTES 8

struct sweep_state {
    int fd;
    bool resumed; /* the file existed */
    struct sweep_state_done *done;
    size_t n_done;
    char notes[SWEEP_STATE_MAX_NOTES][2][64]; /* key, value */
    size_t n_notes;
};

/* Opens (creating it when absent) dir/sweep-state for a sweep whose configuration is
 * config[0..n) ("key value" lines). Returns 0, or -1 with err set; *conflict tells a usage
 * problem (another configuration, another sweep running, not a sweep directory) from an I/O
 * error. */
int sweep_state_open(struct sweep_state *st, const char *dir, const char *const *config,
                     size_t n, bool *conflict, struct error *err);

/* The completed record of cell, or NULL. */
const struct sweep_state_done *sweep_state_find(const struct sweep_state *st, const char *cell);

/* Appends and syncs a completed cell. Returns 0 or -1 with err set. */
int sweep_state_mark_done(struct sweep_state *st, const char *cell, int exit_code,
                          double host_busy_cores, struct error *err);

/* A note's value, or NULL. */
const char *sweep_state_note(const struct sweep_state *st, const char *key);

/* Appends and syncs a note (key and value without spaces). Returns 0 or -1 with err set. */
int sweep_state_add_note(struct sweep_state *st, const char *key, const char *value,
                         struct error *err);

void sweep_state_close(struct sweep_state *st);

#endif
