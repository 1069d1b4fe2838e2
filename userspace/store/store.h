/* The run store: a directory per run holding run.db, an SQLite database (schema.sql) with the
 * raw client records, the server spans and the window aggregates, from which every output can
 * be regenerated (`loadscope report DIR`) and which users can query with SQL.
 *
 * Writing happens off the hot path: producers (engine threads, the BPF reader) push fixed-size
 * records into per-producer lock-free queues (store_push); one writer thread drains them every
 * STORE_FLUSH_MS, into the database in a transaction or, during a run, into a spool file that
 * it inserts when it stops (store_spool_during_run); store_writer_stop() commits the rest. A
 * full queue loses the record and counts it (table `losses`). */
#ifndef LOADSCOPE_STORE_STORE_H
#define LOADSCOPE_STORE_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define STORE_DB_NAME "run.db"
#define STORE_FLUSH_MS 100

struct store;

/* Creates dir (and parents) and a fresh run.db in it. Fails if run.db already exists. */
int store_create(const char *dir, struct store **out, struct error *err);
/* Opens an existing run directory (read-only when readonly is true). */
int store_open(const char *dir, bool readonly, struct store **out, struct error *err);
/* Stops the writer if running, then closes the database. */
void store_close(struct store *s);

sqlite3 *store_db(struct store *s);
const char *store_dir(const struct store *s);

/* run_info key/value pairs. */
int store_set_info(struct store *s, const char *key, const char *value, struct error *err);
/* Copies the value into buf; returns 0, or -1 when the key is absent. */
int store_get_info(struct store *s, const char *key, char *buf, size_t len);

/* Runs SQL (several statements) with no result rows, e.g. metadata inserts. */
int store_exec(struct store *s, const char *sql, struct error *err);

/* A stream: records of one type, from `producers` producer threads, inserted with `sql` (an
 * INSERT with ? placeholders) by `bind`, which binds one record to the prepared statement. */
struct store_stream_def {
    const char *name; /* e.g. "client_requests": names the losses row */
    const char *sql;
    size_t record_size;
    unsigned producers;
    size_t queue_capacity; /* per producer, in records */
    int (*bind)(sqlite3_stmt *stmt, const void *record);
};

/* Spooling (call before store_writer_start): while the run goes on, the writer appends the
 * records to DIR/<stream>.spool (~0.5 us per span) instead of inserting them (~2.5 us per span
 * row), and inserts the spool and removes it when it stops. The inserts then do not compete
 * with the load generator and the server for the CPU during the measurement (on 2 cores
 * against nginx at 60k req/s they cost 15% of a core and ~25% of its throughput);
 * store_writer_stop() takes that much longer instead. A run stopped by Ctrl-C or by its target
 * dying stops the writer and keeps everything; the spools of a run whose process died (a
 * crash, SIGKILL) are left in DIR for store_recover_spools. */
void store_spool_during_run(struct store *s, bool on);

/* Inserts the spools a run left behind (its streams added, the writer not started) and
 * removes them; *recovered: how many records. The spools of a run still going (its writer
 * holds a lock on them) are left to it. */
int store_recover_spools(struct store *s, uint64_t *recovered, struct error *err);

/* Adds a stream before the writer starts; returns its id (>= 0) or -1. */
int store_add_stream(struct store *s, const struct store_stream_def *def, struct error *err);
int store_writer_start(struct store *s, struct error *err);

/* Producer side, lock-free, no allocation. Returns false (and counts a loss) when the
 * producer's queue is full. */
bool store_push(struct store *s, int stream, unsigned producer, const void *record);

/* Stops the writer after draining every queue; records the losses. Idempotent. */
int store_writer_stop(struct store *s, struct error *err);

/* Records written and lost so far in a stream. */
uint64_t store_stream_written(struct store *s, int stream);
uint64_t store_stream_lost(struct store *s, int stream);

/* The losses the database recorded when its writer stopped (table losses), one per stream
 * in name order, at most max; returns how many. Works on a stored run too. */
struct store_loss {
    char stream[32];
    uint64_t count;
};
size_t store_recorded_losses(struct store *s, struct store_loss *out, size_t max);

#endif
