/* The load shape over time, as pure functions of the time since the run started, so every
 * engine thread computes the same schedule without talking to the others:
 *   - closed model: how many users are active at t (spawn ramp, stages);
 *   - open model: when the k-th request of the run is due (constant rate or rate stages);
 * plus think-time draws and smooth weighted round-robin picks (hosts, endpoints).
 *
 * Stages ramp linearly from the previous level (0 before the first stage) to their target over
 * their duration; a 0-duration stage is a step. Without stages the level is constant (users, or
 * a 0 -> users ramp at the spawn rate, or the rate) and the schedule never ends by itself. */
#ifndef LOADSCOPE_LOAD_SCHEDULE_H
#define LOADSCOPE_LOAD_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "load/scenario.h"

#define SCHEDULE_MAX_SEGMENTS (SCENARIO_MAX_STAGES + 2)

struct schedule_segment {
    uint64_t start_ns, duration_ns; /* duration UINT64_MAX: holds forever */
    double from, to;                /* level at start and at end */
    double count_before;            /* open model: requests due before the segment starts */
};

struct schedule {
    bool open_loop;
    struct schedule_segment segments[SCHEDULE_MAX_SEGMENTS];
    size_t segment_count;
    uint64_t end_ns; /* when the last stage ends; UINT64_MAX when it holds forever */
};

void schedule_init(struct schedule *s, const struct scenario *sc);

/* Level (users or requests/s) at t ns after the start; 0 after the end. */
double schedule_level_at(const struct schedule *s, uint64_t t_ns);

/* Closed model: users that should be active at t (floor of the level). */
unsigned schedule_users_at(const struct schedule *s, uint64_t t_ns);

/* Open model: when request k (0-based, counted over the whole run) is due, in ns after the
 * start. Returns false when it is never due (the schedule ends first). */
bool schedule_send_time(const struct schedule *s, uint64_t k, uint64_t *t_ns);

/* xorshift64*: a cheap per-thread generator for think times. */
struct rng {
    uint64_t state;
};
void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
double rng_unit(struct rng *r); /* [0, 1) */

/* Think time after a response (Locust's wait_time). */
uint64_t schedule_wait_ns(const struct scenario_wait *w, struct rng *r);

/* Smooth weighted round-robin (nginx's): over any window the picks follow the weights, evenly
 * interleaved, deterministic. */
struct wrr {
    size_t count;
    int64_t total;
    int64_t weight[SCENARIO_MAX_ENDPOINTS];
    int64_t current[SCENARIO_MAX_ENDPOINTS];
};
void wrr_init(struct wrr *w, const unsigned *weights, size_t count);
size_t wrr_next(struct wrr *w);

#endif
