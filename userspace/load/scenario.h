/* A scenario: everything a load run needs to know — targets (hosts), requests (endpoints), the
 * load model (closed: users/spawn rate/think time/stages; open: rate/stages/connections), stop
 * conditions, thresholds and output files.
 *
 * It is filled from two sources with one vocabulary: the command line (cli/run.c) and a YAML or
 * JSON scenario file (scenario_load_file). Both go through scenario_set(), so a key means the same
 * thing and is validated the same way in both places; the command line is applied after the file
 * and replaces the file's value (for lists — hosts, endpoints, stages, thresholds — the whole list).
 *
 * After scenario_finish() the scenario is complete and read-only: bodies (literal, @file,
 * multipart) are built, defaults applied, and the engine shares it between threads. */
#ifndef LOADSCOPE_LOAD_SCENARIO_H
#define LOADSCOPE_LOAD_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define SCENARIO_MAX_HOSTS 64
#define SCENARIO_MAX_ENDPOINTS 256
#define SCENARIO_MAX_STAGES 64
#define SCENARIO_MAX_THRESHOLDS 64
#define SCENARIO_MAX_HEADERS 32
#define SCENARIO_MAX_UPLOADS 8
#define SCENARIO_MAX_THREADS 64

struct scenario_host {
    char *url;       /* as given, without a trailing slash: "http://127.0.0.1:8000" */
    char *scheme;    /* "http" or "https" */
    char *hostname;  /* "127.0.0.1", "localhost", "[::1]" without brackets */
    int port;
    char *base_path; /* "" or "/api" (prefix of every endpoint path) */
    unsigned weight;
    char address[64]; /* resolved once (target_resolve): numeric address libcurl connects to */
};

struct scenario_upload {
    char *field;        /* form field name */
    char *path;         /* file to send */
    char *content_type; /* default application/octet-stream */
};

struct scenario_endpoint {
    char *method; /* upper case: GET, POST, ... */
    char *path;   /* "/predict?x=1" */
    char *name;   /* display name (Locust's "name"), default the path */
    unsigned weight;
    char *headers[SCENARIO_MAX_HEADERS]; /* "Key: value" */
    size_t header_count;
    char *body_text;  /* body=TEXT */
    char *body_file;  /* body=@file */
    struct scenario_upload uploads[SCENARIO_MAX_UPLOADS];
    size_t upload_count;
    uint64_t timeout_ns; /* 0: the scenario's timeout */
    /* Built by scenario_finish(): the bytes sent as the request body and its content type. */
    char *body;
    size_t body_len;
    char *content_type; /* NULL: none added */
};

struct scenario_stage {
    uint64_t duration_ns;
    double target; /* users (closed model) or requests/s (open model) at the end of the stage */
};

enum wait_kind { WAIT_NONE = 0, WAIT_CONSTANT, WAIT_BETWEEN };

/* Which transport the engine uses (load/transport.h): auto picks raw when every host is
 * plain http://, curl otherwise. */
enum scenario_engine { SCENARIO_ENGINE_AUTO = 0, SCENARIO_ENGINE_CURL, SCENARIO_ENGINE_RAW };

struct scenario_wait {
    enum wait_kind kind;
    uint64_t min_ns, max_ns; /* constant: min_ns == max_ns */
};

struct scenario {
    struct scenario_host hosts[SCENARIO_MAX_HOSTS];
    size_t host_count;
    struct scenario_endpoint endpoints[SCENARIO_MAX_ENDPOINTS];
    size_t endpoint_count;
    struct scenario_stage stages[SCENARIO_MAX_STAGES];
    size_t stage_count;
    char *thresholds[SCENARIO_MAX_THRESHOLDS]; /* expressions, parsed by load/threshold.h */
    size_t threshold_count;

    /* closed model */
    unsigned users;
    bool users_set;    /* given explicitly (it excludes --rate) */
    double spawn_rate; /* users/s; 0 = all at once */
    struct scenario_wait wait;
    /* open model (rate > 0 or rate stages) */
    double rate;          /* requests/s in total */
    unsigned connections; /* max concurrent requests in the open model */
    bool open_loop;

    uint64_t run_time_ns;     /* 0: until the stages end, --max-requests, or Ctrl-C */
    uint64_t max_requests;    /* 0: no limit */
    uint64_t timeout_ns;      /* per request, default 30 s */
    uint64_t stop_timeout_ns; /* grace for in-flight requests when the run stops */
    unsigned threads;         /* engines, one per thread */
    enum scenario_engine engine; /* --engine auto|curl|raw */
    bool check;               /* check the hosts answer before starting (--no-check clears) */

    char *csv_prefix; /* --csv */
    char *json_path;  /* --json */
    char *file;       /* the scenario file this came from, for messages */
    char *file_dir;   /* its directory: relative @file paths are relative to it */
};

/* An empty scenario with the defaults. */
void scenario_init(struct scenario *sc);
void scenario_free(struct scenario *sc);

/* Sets one option from text, the same for a command-line flag and a file key. key is the long
 * flag name without dashes, '-' and '_' alike ("users", "spawn-rate", "host", "endpoint",
 * "stage", "threshold", ...). List keys append. Returns 0, -1 with err (no "key:" prefix: the
 * caller knows where it came from). Unknown key: -1 with "unknown option 'key'". */
int scenario_set(struct scenario *sc, const char *key, const char *value, struct error *err);

/* Empties one list ("host", "endpoint", "stage", "threshold") so the command line can replace
 * what a file gave. */
void scenario_clear_list(struct scenario *sc, const char *key);

/* True when key names a list option (repeatable flag). */
bool scenario_key_is_list(const char *key);

/* Parses 'METHOD PATH [name=..] [weight=N] [header=K:V]... [body=TEXT|body=@file]
 * [upload=FIELD=@file[;type=T]] [timeout=5s]' and appends the endpoint. */
int scenario_add_endpoint(struct scenario *sc, const char *spec, struct error *err);

/* For the file loader: starts an endpoint from METHOD and PATH, then sets its options one key
 * at a time (name, weight, header, body, upload, timeout) as in the endpoint spec. */
int scenario_endpoint_begin(struct scenario *sc, const char *method, const char *path,
                            struct error *err);
int scenario_endpoint_option(struct scenario_endpoint *e, const char *key, const char *value,
                             struct error *err);

/* Parses 'URL' or 'URL=weight' and appends the host. */
int scenario_add_host(struct scenario *sc, const char *spec, struct error *err);

/* Reads a YAML (or JSON) scenario file into sc. Errors carry "file:line: ". */
int scenario_load_file(struct scenario *sc, const char *path, struct error *err);

/* Applies defaults (GET / when no endpoint), checks consistency (zero users, no host, open
 * and closed options mixed) and builds request bodies (reads @files, assembles multipart).
 * After it the scenario is read-only. */
int scenario_finish(struct scenario *sc, struct error *err);

/* True when every host is plain http:// (the raw transport can run it). */
bool scenario_plain_http(const struct scenario *sc);

/* "auto", "curl" or "raw". */
const char *scenario_engine_name(enum scenario_engine e);

/* The endpoint's effective timeout. */
uint64_t scenario_endpoint_timeout(const struct scenario *sc, size_t endpoint);

/* Duration of all stages together (0 without stages). */
uint64_t scenario_stages_duration(const struct scenario *sc);

#endif
