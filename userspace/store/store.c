#include "store/store.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/batch_thread.h"
#include "common/spsc_ring.h"

extern const char store_schema_sql[];

#define STORE_MAX_STREAMS 16
#define STORE_MAX_DEFERRED 16
#define STORE_BATCH 4096

struct stream {
    struct store_stream_def def;
    char *sql; /* owned copy */
    char *name;
    sqlite3_stmt *insert;
    struct spsc_ring *queues; /* one per producer */
    _Atomic uint64_t *lost;   /* one per producer: only that producer writes it */
    uint64_t written;         /* writer thread only */
    FILE *spool;              /* records waiting to be inserted when the writer stops */
};

struct store {
    char dir[PATH_MAX];
    sqlite3 *db;  /* serialized: any thread */
    sqlite3 *wdb; /* the writer's own connection for the streams' inserts: used by one thread
                     at a time (setup, then the writer thread), so without a mutex */
    struct stream streams[STORE_MAX_STREAMS];
    int nstreams;
    pthread_t writer;
    bool writer_running;
    atomic_bool stop_requested;
    unsigned char *batch; /* writer's scratch buffer */
    size_t batch_size;
    char writer_error[256];
    char *deferred[STORE_MAX_DEFERRED]; /* CREATE INDEX statements run when the writer stops */
    int ndeferred;
    bool spool_streams; /* store_spool_during_run */
};

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int open_db(struct store *s, const char *dir, int flags, struct error *err)
{
    /* SQLite's allocator statistics take a global mutex on every malloc: a tenth of the writer
     * thread at 50k rows/s, for figures nobody reads. Only effective before SQLite's first use
     * in the process (SQLITE_MISUSE afterwards, harmless). */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    snprintf(s->dir, sizeof(s->dir), "%s", dir);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/%s", dir, STORE_DB_NAME);
    if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
        error_set(err, "cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sqlite3_close(s->db);
        s->db = NULL;
        return -1;
    }
    sqlite3_busy_timeout(s->db, 5000);
    return 0;
}

int store_create(const char *dir, struct store **out, struct error *err)
{
    if (mkdir_p(dir) != 0)
        return error_set(err, "cannot create run directory %s: %s", dir, strerror(errno));
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/%s", dir, STORE_DB_NAME);
    if (access(path, F_OK) == 0)
        return error_set(err, "%s already exists (choose another run directory)", path);
    struct store *s = calloc(1, sizeof(*s));
    if (!s)
        return error_set(err, "out of memory");
    if (open_db(s, dir, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err) != 0) {
        free(s);
        return -1;
    }
    /* WAL keeps readers (report, users' SQL) working during a run; NORMAL sync is durable
     * against a crash of loadscope itself, which is what an interrupted run needs. */
    if (store_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err) != 0 ||
        store_exec(s, store_schema_sql, err) != 0) {
        store_close(s);
        return error_prefix(err, "creating %s", path);
    }
    *out = s;
    return 0;
}

/* Columns added to the schema since its first version, with the value they had before: a
 * run stored by an older loadscope still opens for `loadscope report`. */
static const struct {
    const char *table, *column, *definition;
} added_columns[] = {
    {"replica_windows", "syscall_hooks_ns", "INTEGER NOT NULL DEFAULT 0"}, /* duty cycle */
    {"server_spans", "sample_weight", "INTEGER NOT NULL DEFAULT 1"},       /* --span-rate */
    {"replica_windows", "spans_skipped", "INTEGER NOT NULL DEFAULT 0"},
    {"replica_windows", "socket_hooks_ns", "INTEGER NOT NULL DEFAULT 0"}, /* --socket-budget */
};
#define STORE_VERSION 3 /* schema.sql's user_version */

static int has_column(struct store *s, const char *table, const char *column)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM pragma_table_info(?) WHERE name = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

static int upgrade_schema(struct store *s, int version, bool readonly, struct error *err)
{
    if (version > STORE_VERSION)
        return error_set(err, "%s: written by a newer loadscope (store version %d, this one "
                         "reads up to %d)", s->dir, version, STORE_VERSION);
    if (version == STORE_VERSION)
        return 0;
    if (readonly)
        return error_set(err, "%s: store version %d needs an upgrade (open it writable)",
                         s->dir, version);
    for (size_t i = 0; i < sizeof(added_columns) / sizeof(added_columns[0]); i++) {
        int has = has_column(s, added_columns[i].table, added_columns[i].column);
        if (has < 0)
            return error_set(err, "upgrading the run store: sqlite: %s", sqlite3_errmsg(s->db));
        if (has)
            continue;
        char sql[256];
        snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s", added_columns[i].table,
                 added_columns[i].column, added_columns[i].definition);
        if (store_exec(s, sql, err) != 0)
            return error_prefix(err, "upgrading the run store");
    }
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", STORE_VERSION);
    return store_exec(s, sql, err);
}

int store_open(const char *dir, bool readonly, struct store **out, struct error *err)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/%s", dir, STORE_DB_NAME);
    if (access(path, R_OK) != 0)
        return error_set(err, "%s is not a loadscope run directory (no readable %s)", dir,
                         STORE_DB_NAME);
    struct store *s = calloc(1, sizeof(*s));
    if (!s)
        return error_set(err, "out of memory");
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (open_db(s, dir, flags, err) != 0) {
        free(s);
        return -1;
    }
    sqlite3_stmt *st = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version < 1) {
        store_close(s);
        return error_set(err, "%s is not a loadscope run database", path);
    }
    if (upgrade_schema(s, version, readonly, err) != 0) {
        store_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

sqlite3 *store_db(struct store *s) { return s->db; }
const char *store_dir(const struct store *s) { return s->dir; }

int store_exec(struct store *s, const char *sql, struct error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        error_set(err, "sqlite: %s", msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int store_set_info(struct store *s, const char *key, const char *value, struct error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO run_info(key, value) VALUES (?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return error_set(err, "sqlite: %s", sqlite3_errmsg(s->db));
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, value ? value : "", -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return error_set(err, "sqlite: %s", sqlite3_errmsg(s->db));
    return 0;
}

int store_get_info(struct store *s, const char *key, char *buf, size_t len)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM run_info WHERE key = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int found = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        snprintf(buf, len, "%s", v ? (const char *)v : "");
        found = 0;
    }
    sqlite3_finalize(st);
    return found;
}

/* The writer inserts through its own connection: no mutex around each of the ~20 calls per
 * row, and synchronous=OFF: with WAL a crash of loadscope loses nothing committed (the OS has
 * it), only an OS crash or power loss could lose the last transactions of the run; what is
 * written after the run (losses, indexes) goes through the main connection, synced. */
static int open_writer_db(struct store *s, struct error *err)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/%s", s->dir, STORE_DB_NAME);
    if (sqlite3_open_v2(path, &s->wdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        error_set(err, "cannot open %s: %s", path, s->wdb ? sqlite3_errmsg(s->wdb) : "out of memory");
        sqlite3_close(s->wdb);
        s->wdb = NULL;
        return -1;
    }
    sqlite3_busy_timeout(s->wdb, 5000);
    char *msg = NULL;
    if (sqlite3_exec(s->wdb, "PRAGMA synchronous=OFF", NULL, NULL, &msg) != SQLITE_OK) {
        error_set(err, "sqlite: %s", msg ? msg : sqlite3_errmsg(s->wdb));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int store_add_stream(struct store *s, const struct store_stream_def *def, struct error *err)
{
    if (s->writer_running)
        return error_set(err, "store: streams must be added before the writer starts");
    if (s->nstreams == STORE_MAX_STREAMS)
        return error_set(err, "store: too many streams");
    if (def->producers == 0 || def->record_size == 0 || def->queue_capacity == 0)
        return error_set(err, "store: stream '%s' needs producers, a record size and a queue",
                         def->name);
    if (!s->wdb && open_writer_db(s, err) != 0)
        return -1;
    struct stream *st = &s->streams[s->nstreams];
    memset(st, 0, sizeof(*st));
    st->def = *def;
    st->name = strdup(def->name);
    st->sql = strdup(def->sql);
    st->queues = calloc(def->producers, sizeof(*st->queues));
    st->lost = calloc(def->producers, sizeof(*st->lost));
    if (!st->name || !st->sql || !st->queues || !st->lost)
        goto oom;
    st->def.name = st->name;
    st->def.sql = st->sql;
    for (unsigned i = 0; i < def->producers; i++)
        if (spsc_init(&st->queues[i], def->record_size, def->queue_capacity) != 0)
            goto oom;
    if (sqlite3_prepare_v3(s->wdb, def->sql, -1, SQLITE_PREPARE_PERSISTENT, &st->insert, NULL) !=
        SQLITE_OK) {
        error_set(err, "store: stream '%s': %s", def->name, sqlite3_errmsg(s->wdb));
        goto fail;
    }
    if (def->record_size * STORE_BATCH > s->batch_size) {
        unsigned char *b = realloc(s->batch, def->record_size * STORE_BATCH);
        if (!b)
            goto oom;
        s->batch = b;
        s->batch_size = def->record_size * STORE_BATCH;
    }
    return s->nstreams++;
oom:
    error_set(err, "out of memory");
fail:
    if (st->queues)
        for (unsigned i = 0; i < def->producers; i++)
            spsc_free(&st->queues[i]);
    free(st->queues);
    free((void *)st->lost);
    free(st->name);
    free(st->sql);
    sqlite3_finalize(st->insert);
    memset(st, 0, sizeof(*st));
    return -1;
}

bool store_push(struct store *s, int stream, unsigned producer, const void *record)
{
    struct stream *st = &s->streams[stream];
    if (spsc_push(&st->queues[producer], record))
        return true;
    atomic_fetch_add_explicit(&st->lost[producer], 1, memory_order_relaxed);
    return false;
}

static void insert_records(struct store *s, struct stream *st, const unsigned char *records,
                           size_t n)
{
    for (size_t k = 0; k < n; k++) {
        st->def.bind(st->insert, records + k * st->def.record_size);
        int rc = sqlite3_step(st->insert);
        sqlite3_reset(st->insert);
        if (rc != SQLITE_DONE && s->writer_error[0] == '\0')
            snprintf(s->writer_error, sizeof(s->writer_error), "%s: %s", st->name,
                     sqlite3_errmsg(s->wdb));
        else if (rc == SQLITE_DONE)
            st->written++;
    }
}

/* The spool of a stream: DIR/<stream>.spool, raw records in arrival order. A file with a name
 * rather than an anonymous one so that a run that crashed leaves it for store_recover_spools. */
static void spool_path(const struct store *s, const struct stream *st, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s.spool", s->dir, st->name);
}

/* Inserts n records read from f, in batches. No transaction of its own. */
static uint64_t insert_file(struct store *s, struct stream *st, FILE *f)
{
    uint64_t count = 0;
    size_t n;
    while ((n = fread(s->batch, st->def.record_size, STORE_BATCH, f)) > 0) {
        insert_records(s, st, s->batch, n);
        count += n;
    }
    return count;
}

/* Inserts what the stream's spool holds and removes it; from then on its records go straight
 * to the database. Inside the caller's transaction. */
static void import_spool(struct store *s, struct stream *st)
{
    if (!st->spool)
        return;
    if (fflush(st->spool) != 0 || fseek(st->spool, 0, SEEK_SET) != 0) {
        if (s->writer_error[0] == '\0')
            snprintf(s->writer_error, sizeof(s->writer_error), "%s: reading the spool: %s",
                     st->name, strerror(errno));
    } else {
        insert_file(s, st, st->spool);
    }
    fclose(st->spool);
    st->spool = NULL;
    char path[PATH_MAX + 64];
    spool_path(s, st, path, sizeof(path));
    unlink(path);
}

/* Appends records to the stream's spool; false when there is no spool or it cannot take them
 * (a full disk: what it holds is inserted at once, so rows stay in arrival order, and the
 * caller inserts these). */
static bool spool_records(struct store *s, struct stream *st, const unsigned char *records,
                          size_t n)
{
    if (!st->spool)
        return false;
    if (fwrite(records, st->def.record_size, n, st->spool) == n)
        return true;
    if (s->writer_error[0] == '\0')
        snprintf(s->writer_error, sizeof(s->writer_error), "%s: spool: %s", st->name,
                 strerror(errno));
    import_spool(s, st);
    return false;
}

/* Moves everything queued so far out of the producers' queues: into the spools while the run
 * goes on (spooling), else into the database, in one transaction. Writer thread only. */
static int drain_all(struct store *s, bool spooling)
{
    if (sqlite3_exec(s->wdb, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    for (int i = 0; i < s->nstreams; i++) {
        struct stream *st = &s->streams[i];
        if (!spooling)
            import_spool(s, st); /* older than what is still queued */
        for (unsigned p = 0; p < st->def.producers; p++) {
            size_t n;
            while ((n = spsc_pop_many(&st->queues[p], s->batch, STORE_BATCH)) > 0)
                if (!spooling || !spool_records(s, st, s->batch, n))
                    insert_records(s, st, s->batch, n);
        }
        /* into the kernel every flush: a run that dies loses at most STORE_FLUSH_MS */
        if (st->spool && fflush(st->spool) != 0 && s->writer_error[0] == '\0')
            snprintf(s->writer_error, sizeof(s->writer_error), "%s: spool: %s", st->name,
                     strerror(errno));
    }
    return sqlite3_exec(s->wdb, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static void *writer_main(void *arg)
{
    struct store *s = arg;
    prctl(PR_SET_NAME, "ls-store"); /* its CPU shows apart in top, perf and the benchmark */
    batch_thread_enter();
    const struct timespec pause = {0, STORE_FLUSH_MS * 1000000L};
    while (!atomic_load(&s->stop_requested)) {
        nanosleep(&pause, NULL);
        drain_all(s, true);
    }
    drain_all(s, false); /* the spools, then what is still queued */
    return NULL;
}

/* NULL when the file cannot be made: then that stream is inserted during the run, as it
 * comes. */
static FILE *open_spool(const struct store *s, const struct stream *st)
{
    char path[PATH_MAX + 64];
    spool_path(s, st, path, sizeof(path));
    FILE *f = fopen(path, "w+e");
    if (!f)
        return NULL;
    /* held while this process lives: store_recover_spools leaves a live run's spool alone */
    if (flock(fileno(f), LOCK_EX | LOCK_NB) != 0) {
        fclose(f);
        return NULL;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    return f;
}

/* True when a stream inserts into `table`. */
static bool streamed_table(const struct store *s, const char *table)
{
    char pattern[256];
    snprintf(pattern, sizeof(pattern), "INTO %s(", table);
    for (int i = 0; i < s->nstreams; i++)
        if (strstr(s->streams[i].sql, pattern))
            return true;
    return false;
}

/* Indexes on streamed tables are dropped while the writer runs and built again when it stops:
 * one sort at the end costs less than updating the index row by row during the run, where
 * the writer shares the CPU with the load generator. Nothing reads by them during a run. */
static int defer_indexes(struct store *s, struct error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT name, tbl_name, sql FROM sqlite_master "
                                  "WHERE type = 'index' AND sql IS NOT NULL", -1, &st, NULL) != SQLITE_OK)
        return error_set(err, "sqlite: %s", sqlite3_errmsg(s->db));
    char names[STORE_MAX_DEFERRED][128];
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && s->ndeferred < STORE_MAX_DEFERRED) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *table = (const char *)sqlite3_column_text(st, 1);
        const char *sql = (const char *)sqlite3_column_text(st, 2);
        if (!name || !table || !sql || !streamed_table(s, table) || strlen(name) >= sizeof(names[0]))
            continue;
        char *copy = strdup(sql);
        if (!copy)
            break;
        snprintf(names[n++], sizeof(names[0]), "%s", name);
        s->deferred[s->ndeferred++] = copy;
    }
    sqlite3_finalize(st);
    for (int i = 0; i < n; i++) {
        char sql[256];
        snprintf(sql, sizeof(sql), "DROP INDEX IF EXISTS \"%.127s\"", names[i]);
        if (store_exec(s, sql, err) != 0)
            return -1;
    }
    return 0;
}

static int build_deferred_indexes(struct store *s, struct error *err)
{
    int rc = 0;
    for (int i = 0; i < s->ndeferred; i++) {
        if (rc == 0 && store_exec(s, s->deferred[i], err) != 0)
            rc = -1;
        free(s->deferred[i]);
    }
    s->ndeferred = 0;
    return rc;
}

int store_writer_start(struct store *s, struct error *err)
{
    if (s->writer_running)
        return 0;
    if (defer_indexes(s, err) != 0)
        return -1;
    if (s->spool_streams)
        for (int i = 0; i < s->nstreams; i++)
            s->streams[i].spool = open_spool(s, &s->streams[i]);
    atomic_store(&s->stop_requested, false);
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0)
        return error_set(err, "store: cannot start the writer thread");
    s->writer_running = true;
    return 0;
}

void store_spool_during_run(struct store *s, bool on)
{
    s->spool_streams = on;
}

int store_recover_spools(struct store *s, uint64_t *recovered, struct error *err)
{
    *recovered = 0;
    if (s->writer_running)
        return error_set(err, "store: spools are recovered before the writer starts");
    for (int i = 0; i < s->nstreams; i++) {
        struct stream *st = &s->streams[i];
        char path[PATH_MAX + 64];
        spool_path(s, st, path, sizeof(path));
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        if (flock(fileno(f), LOCK_EX | LOCK_NB) != 0) {
            fclose(f); /* its run is still going: it inserts the spool itself when it stops */
            continue;
        }
        if (sqlite3_exec(s->wdb, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
            fclose(f);
            return error_set(err, "sqlite: %s", sqlite3_errmsg(s->wdb));
        }
        *recovered += insert_file(s, st, f);
        fclose(f);
        if (sqlite3_exec(s->wdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            return error_set(err, "sqlite: %s", sqlite3_errmsg(s->wdb));
        if (s->writer_error[0])
            return error_set(err, "store: %s", s->writer_error);
        unlink(path);
    }
    /* the run died with its indexes dropped (defer_indexes): the schema builds them again */
    if (*recovered && store_exec(s, store_schema_sql, err) != 0)
        return -1;
    return 0;
}

uint64_t store_stream_lost(struct store *s, int stream)
{
    struct stream *st = &s->streams[stream];
    uint64_t lost = 0;
    for (unsigned p = 0; p < st->def.producers; p++)
        lost += atomic_load_explicit(&st->lost[p], memory_order_relaxed);
    return lost;
}

size_t store_recorded_losses(struct store *s, struct store_loss *out, size_t max)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT stream, count FROM losses ORDER BY stream", -1, &st,
                           NULL) != SQLITE_OK)
        return 0;
    size_t n = 0;
    while (n < max && sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *name = sqlite3_column_text(st, 0);
        sqlite3_int64 count = sqlite3_column_int64(st, 1);
        snprintf(out[n].stream, sizeof(out[n].stream), "%s", name ? (const char *)name : "");
        out[n++].count = count > 0 ? (uint64_t)count : 0;
    }
    sqlite3_finalize(st);
    return n;
}

uint64_t store_stream_written(struct store *s, int stream)
{
    return s->streams[stream].written;
}

int store_writer_stop(struct store *s, struct error *err)
{
    if (!s->writer_running)
        return 0;
    atomic_store(&s->stop_requested, true);
    pthread_join(s->writer, NULL);
    s->writer_running = false;
    if (build_deferred_indexes(s, err) != 0)
        return -1;
    for (int i = 0; i < s->nstreams; i++) {
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "INSERT OR REPLACE INTO losses(stream, count) VALUES ('%s', %llu)",
                 s->streams[i].name, (unsigned long long)store_stream_lost(s, i));
        if (store_exec(s, sql, err) != 0)
            return -1;
    }
    if (s->writer_error[0])
        return error_set(err, "store: %s", s->writer_error);
    return 0;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    store_writer_stop(s, NULL);
    for (int i = 0; i < s->nstreams; i++) {
        struct stream *st = &s->streams[i];
        for (unsigned p = 0; p < st->def.producers; p++)
            spsc_free(&st->queues[p]);
        free(st->queues);
        free((void *)st->lost);
        free(st->name);
        free(st->sql);
        sqlite3_finalize(st->insert);
    }
    for (int i = 0; i < s->ndeferred; i++)
        free(s->deferred[i]);
    free(s->batch);
    sqlite3_close(s->wdb);
    sqlite3_close(s->db);
    free(s);
}
