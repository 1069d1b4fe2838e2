/* A configurable HTTP/1.1 test server in a child process, on 127.0.0.1 (keep-alive, one thread
 * per connection), for tests that need a server with known behaviour: a fixed delay, a status
 * code, hanging forever, resetting connections, stalling once, checking an upload, and a log
 * of every request (client port, X-Request-Id) to compare with what the client recorded.
 * The child dies with the test process (PR_SET_PDEATHSIG), so no orphans. */
#ifndef LOADSCOPE_TESTS_HTTP_SERVER_H
#define LOADSCOPE_TESTS_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct test_server_opts {
    int delay_ms;        /* sleep before answering each request */
    int status;          /* response status (default 200) */
    bool hang;           /* read requests, never answer */
    bool reset;          /* read the request, then reset the connection (RST) */
    int stall_after;     /* > 0: the Nth request starts a stall of stall_ms for every request */
    int stall_ms;
    const char *upload_file;  /* POST bodies must carry this file as a multipart part: 200 if
                                 intact, 422 otherwise */
    const char *log_path;     /* one line per request: "PORT REQUEST_ID METHOD PATH BODY_LEN" */
    size_t body_size;         /* response body bytes (default 2) */
};

struct test_server {
    pid_t pid;
    int port;
    char url[64]; /* http://127.0.0.1:PORT */
};

/* Starts the server; returns 0 or -1. */
int test_server_start(struct test_server *s, const struct test_server_opts *o);
void test_server_stop(struct test_server *s);
/* A port on 127.0.0.1 where nobody listens (bound then closed). */
int test_server_free_port(void);

#endif
