/* The demo server as a child process of loadscope: start it with a set of flags, wait until
 * it printed its ready line and every replica answers GET /health, stop it with SIGTERM and
 * reap it, and make sure nothing it started is left behind.
 *
 * The server runs in its own process group (so a terminal's Ctrl-C reaches loadscope, which
 * stops it in order) and dies with the thread that started it (PR_SET_PDEATHSIG): call
 * demo_server_start from a thread that outlives the server, e.g. the main thread. */
#ifndef LOADSCOPE_DEMO_SERVER_H
#define LOADSCOPE_DEMO_SERVER_H

#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

#define DEMO_MAX_PORTS 64

struct demo_server {
    pid_t pid;                 /* the server's master; also its process group id */
    int ports[DEMO_MAX_PORTS]; /* one per replica, from the ready line */
    int n_ports;
    double model_ms;           /* CPU ms of one /predict measured at its startup */
    char ready_line[1024];     /* the whole line, without the newline */
};

/* Finds the server binary: $DEMO_SERVER_BIN, else loadscope-demo-server next to the running
 * executable. Returns buf, or NULL with err set. */
const char *demo_server_binary(char *buf, size_t len, struct error *err);

/* Starts `binary flags...` (flags NULL-terminated; pass "--port", "0" for ephemeral ports)
 * and waits up to timeout_ns for its ready line and a 200 from GET /health on every port.
 * Its stderr is inherited. Returns 0, or -1 with err set and nothing left running. */
int demo_server_start(struct demo_server *srv, const char *binary, const char *const flags[],
                      uint64_t timeout_ns, struct error *err);

/* SIGTERM, then waits up to grace_ns for the master to exit (SIGKILL to the whole group
 * after that). *exit_code gets its exit status (128 + signal when killed). Returns 0, or -1
 * with err set when it had to be killed or left processes behind in its group (which are
 * then killed). */
int demo_server_stop(struct demo_server *srv, uint64_t grace_ns, int *exit_code,
                     struct error *err);

/* One blocking GET on 127.0.0.1:port. Returns the HTTP status, or -1. */
int demo_http_get_status(int port, const char *path, uint64_t timeout_ns);

#endif
