/* engine_pool: N engines on N threads (declared in load/engine.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "load/engine.h"

struct pool_thread {
    struct engine *engine;
    pthread_t thread;
    bool started;
    _Atomic bool done;
    _Atomic pid_t tid; /* kernel thread id, for /proc/self/task/TID (self-check) */
    int rc;
    struct error err;
};

struct engine_pool {
    unsigned count;
    struct pool_thread *threads;
};

static void *thread_main(void *arg)
{
    struct pool_thread *t = arg;
    atomic_store(&t->tid, gettid());
    t->rc = engine_run(t->engine, &t->err);
    atomic_store(&t->done, true);
    return NULL;
}

struct engine_pool *engine_pool_start(const struct scenario *sc, const struct schedule *sched,
                                      uint64_t start_ns, engine_record_fn on_record, void **ctxs,
                                      struct error *err)
{
    struct engine_pool *p = calloc(1, sizeof(*p));
    if (!p) {
        error_set(err, "out of memory");
        return NULL;
    }
    p->count = sc->threads;
    p->threads = calloc(p->count, sizeof(*p->threads));
    if (!p->threads) {
        free(p);
        error_set(err, "out of memory");
        return NULL;
    }
    uint64_t end_ns = sc->run_time_ns ? start_ns + sc->run_time_ns : 0;
    for (unsigned i = 0; i < p->count; i++) {
        struct engine_config cfg = {
            .scenario = sc,
            .schedule = sched,
            .thread_index = i,
            .thread_count = p->count,
            .start_ns = start_ns,
            .end_ns = end_ns,
            .max_requests = sc->max_requests / p->count + (i < sc->max_requests % p->count),
            .on_record = on_record,
            .ctx = ctxs ? ctxs[i] : NULL,
        };
        p->threads[i].engine = engine_create(&cfg, err);
        if (!p->threads[i].engine)
            goto fail;
    }
    for (unsigned i = 0; i < p->count; i++) {
        int rc = pthread_create(&p->threads[i].thread, NULL, thread_main, &p->threads[i]);
        if (rc != 0) {
            error_set(err, "cannot start engine thread: %s", strerror(rc));
            engine_pool_abort(p);
            engine_pool_join(p, NULL);
            goto fail;
        }
        p->threads[i].started = true;
    }
    return p;
fail:
    engine_pool_destroy(p);
    return NULL;
}

unsigned engine_pool_threads(const struct engine_pool *p)
{
    return p->count;
}

const char *engine_pool_transport_name(const struct engine_pool *p)
{
    return engine_transport_name(p->threads[0].engine);
}

void engine_pool_stop(struct engine_pool *p)
{
    for (unsigned i = 0; i < p->count; i++)
        if (p->threads[i].engine)
            engine_stop(p->threads[i].engine);
}

void engine_pool_abort(struct engine_pool *p)
{
    for (unsigned i = 0; i < p->count; i++)
        if (p->threads[i].engine)
            engine_abort(p->threads[i].engine);
}

bool engine_pool_done(struct engine_pool *p)
{
    for (unsigned i = 0; i < p->count; i++)
        if (p->threads[i].started && !atomic_load(&p->threads[i].done))
            return false;
    return true;
}

void engine_pool_counters(const struct engine_pool *p, struct engine_counters *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (unsigned i = 0; i < p->count; i++) {
        struct engine_counters c;
        engine_counters(p->threads[i].engine, &c);
        sum->started += c.started;
        sum->completed += c.completed;
        sum->aborted += c.aborted;
        sum->in_flight += c.in_flight;
        sum->late += c.late;
        sum->users += c.users;
        if (c.behind_ns > sum->behind_ns)
            sum->behind_ns = c.behind_ns;
    }
}

uint64_t engine_pool_thread_cpu_ns(const struct engine_pool *p, unsigned i)
{
    struct pool_thread *t = &p->threads[i];
    if (t->started && !atomic_load(&t->done)) {
        clockid_t cid;
        struct timespec ts;
        if (pthread_getcpuclockid(t->thread, &cid) == 0 && clock_gettime(cid, &ts) == 0)
            return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
    }
    return engine_final_cpu_ns(t->engine);
}

pid_t engine_pool_thread_tid(const struct engine_pool *p, unsigned i)
{
    return i < p->count ? atomic_load(&p->threads[i].tid) : 0;
}

int engine_pool_join(struct engine_pool *p, struct error *err)
{
    int rc = 0;
    for (unsigned i = 0; i < p->count; i++) {
        struct pool_thread *t = &p->threads[i];
        if (!t->started)
            continue;
        pthread_join(t->thread, NULL);
        t->started = false;
        atomic_store(&t->done, true);
        if (t->rc < 0 && rc == 0) {
            if (err)
                *err = t->err;
            rc = -1;
        }
    }
    return rc;
}

void engine_pool_destroy(struct engine_pool *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < p->count; i++)
        engine_destroy(p->threads[i].engine);
    free(p->threads);
    free(p);
}
