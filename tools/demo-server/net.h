/* Sockets and whole-buffer I/O shared by the HTTP workers, the broker and the downstream
 * helper. Every call is blocking; SIGPIPE never fires (MSG_NOSIGNAL). */
#ifndef DEMO_NET_H
#define DEMO_NET_H

#include <stddef.h>
#include <stdint.h>

/* A listening TCP socket on addr:port (port 0 = ephemeral), O_NONBLOCK so that workers
 * racing for one connection do not block in accept(). Returns the fd or -1 with err set. */
int net_listen(const char *addr, int port, int backlog, char *err, size_t errlen);

/* The local port of a bound socket, or -1. */
int net_local_port(int fd);

/* A blocking TCP connection to 127.0.0.1:port with TCP_NODELAY, or -1. */
int net_connect_local(int port);

/* Serves listen_fd forever, a detached thread per connection running serve(fd, ctx), which
 * owns fd. Tells ready_fd once accepting (proc_ready). Returns -1 only when accept() fails
 * for good (the message to stderr names `who`); ctx must outlive the process. */
int net_serve_threads(int listen_fd, int ready_fd, const char *who,
                      void (*serve)(int fd, void *ctx), void *ctx);

/* Writes or reads exactly len bytes. 0 on success; -1 on error, timeout or end of stream. */
int net_write_all(int fd, const void *buf, size_t len);
int net_read_all(int fd, void *buf, size_t len);

/* Framed messages between API workers, the broker and model workers. */
enum wire_type {
    WIRE_HELLO_API = 1,   /* an API worker connects to the broker */
    WIRE_HELLO_MODEL = 2, /* a model worker connects to the broker */
    WIRE_JOB = 3,         /* payload: the image bytes */
    WIRE_RESULT = 4,      /* payload: struct predict_result */
    WIRE_FAILED = 5,      /* the job could not be computed */
};

struct wire_hdr {
    uint32_t type;
    uint32_t len; /* payload bytes that follow */
    uint64_t t0;  /* meaning depends on type (submit time, start time) */
    uint64_t t1;
};

int wire_send(int fd, uint32_t type, uint64_t t0, uint64_t t1, const void *payload,
              uint32_t len);
int wire_recv_hdr(int fd, struct wire_hdr *h);

#endif
