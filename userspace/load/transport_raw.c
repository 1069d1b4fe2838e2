/* The raw transport (load/transport.h): HTTP/1.1 over plain non-blocking sockets, for http://
 * hosts, with the work per request cut to what the wire needs — one sendmsg of pre-built bytes
 * (load/transport_request.h, only the X-Request-Id digits differ), one read per response in the
 * common case, parsed in place (load/http_parse.h), one clock read.
 *
 * Connections: one per (slot, host), opened when first needed and kept alive: a closed-model
 * user keeps its connection like a Locust FastHttpUser, an open-model slot is one of the -c
 * connections. The local port is read once per connection (getsockname). An idle connection
 * stays registered for input: if it becomes readable the server closed it, and it is closed
 * here too, so the next request connects afresh. A request sent on a kept-alive connection
 * that dies before any response byte arrives (the server closed it as the request went out) is
 * sent again once on a new connection, as libcurl and browsers do.
 *
 * Timeouts: each request's deadline (the endpoint's timeout; while connecting also libcurl's
 * connect timeout) is checked by a sweep over the slots at the earliest deadline known, so a
 * request costs no timer operation; requests started later can only move that earlier with
 * a shorter timeout, which start() notes.
 *
 * Failures are classified like libcurl's (transport_classify with the CURLcode libcurl would
 * report) and always handed to the engine after the current epoll batch, never from inside
 * start(): a port that refuses at once does not recurse. */
#include "load/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/clock.h"
#include "load/http_parse.h"
#include "load/transport_request.h"

#define READ_BUFFER (64 * 1024)
#define GEN_MASK 0x7fffffu /* epoll tag: slot (bits 0-31), host (32-39), generation (40-62) */

enum phase { PH_IDLE, PH_CONNECTING, PH_SENDING, PH_RECEIVING };

/* A connection of one slot to one host. */
struct raw_conn {
    int fd; /* -1: none */
    uint32_t gen; /* bumps with every socket, so events of a closed one are recognized */
    uint16_t local_port;
    bool registered, want_out; /* what epoll watches: EPOLLIN, and EPOLLOUT when want_out */
};

struct raw_slot {
    struct client_record *rec;
    const struct transport_request *rq;
    struct raw_conn *conn; /* the connection the request is on */
    uint8_t phase;
    bool reused_conn; /* sent on a kept-alive connection: may be sent again once */
    bool retried;
    bool got_bytes;
    bool pending; /* failed, waiting to be handed back after the batch */
    uint16_t carry_len;
    uint64_t deadline, connect_deadline;
    size_t sent;
    struct http_response resp;
    char id[TRANSPORT_REQUEST_ID_LEN];
    char *carry; /* an incomplete line kept between reads (allocated the first time) */
};

struct transport {
    struct transport_config cfg;
    const struct scenario *sc;
    struct raw_slot *slots;
    struct raw_conn *conns; /* [slot * host_count + host] */
    struct transport_request *requests; /* [host * endpoint_count + endpoint] */
    struct sockaddr_storage *addrs;     /* per host */
    socklen_t *addr_lens;
    uint64_t *timeouts; /* per endpoint */
    uint64_t connect_timeout;
    uint64_t next_sweep;
    uint32_t *pending; /* failed slots to hand back (2 per slot: see process_pending) */
    uint32_t pending_len;
    char *buf; /* one read buffer for every connection: bodies are counted, not kept */
};

static uint32_t us_between(uint64_t from, uint64_t to)
{
    uint64_t us = to > from ? (to - from) / NS_PER_US : 0;
    return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void write_hex16(char *out, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        out[i] = digits[v & 0xF];
        v >>= 4;
    }
}

static uint32_t slot_of(const struct transport *t, const struct raw_slot *s)
{
    return (uint32_t)(s - t->slots);
}

/* ---- connections ----------------------------------------------------------------------------- */

static uint64_t conn_tag(const struct transport *t, const struct raw_conn *c)
{
    size_t i = (size_t)(c - t->conns);
    uint64_t slot = i / t->sc->host_count, host = i % t->sc->host_count;
    return slot | host << 32 | (uint64_t)(c->gen & GEN_MASK) << 40;
}

/* Makes epoll watch input, plus output when out; no syscall when it already does. */
static void conn_watch(struct transport *t, struct raw_conn *c, bool out)
{
    if (c->registered && c->want_out == out)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u64 = conn_tag(t, c)};
    epoll_ctl(t->cfg.epfd, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev);
    c->registered = true;
    c->want_out = out;
}

static void conn_close(struct raw_conn *c)
{
    if (c->fd < 0)
        return;
    close(c->fd); /* also leaves the epoll set: nothing else holds the socket */
    c->fd = -1;
    c->registered = c->want_out = false;
    c->local_port = 0;
}

/* ---- ends of a request ------------------------------------------------------------------------ */

/* Fails the request: the record is filled now, the engine gets it after the batch. */
static void fail(struct transport *t, struct raw_slot *s, int code, int os_errno, uint64_t now)
{
    struct client_record *r = s->rec;
    r->end_ns = now;
    r->status = s->resp.head_done ? s->resp.status : 0;
    r->total_us = us_between(r->start_ns, now);
    r->bytes_in = s->resp.body_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)s->resp.body_bytes;
    r->failure = transport_classify(code, os_errno, r->status);
    r->error_code = (uint8_t)code;
    conn_close(s->conn);
    s->phase = PH_IDLE;
    s->pending = true;
    t->pending[t->pending_len++] = slot_of(t, s);
}

/* The response is complete. keep: the connection may carry the next request. */
static void complete(struct transport *t, struct raw_slot *s, uint64_t now, bool keep)
{
    struct client_record *r = s->rec;
    r->end_ns = now;
    r->status = s->resp.status;
    r->total_us = us_between(r->start_ns, now);
    r->bytes_in = s->resp.body_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)s->resp.body_bytes;
    r->failure = transport_classify(TCODE_OK, 0, r->status);
    if (!keep || !s->resp.keep_alive || s->phase != PH_RECEIVING)
        conn_close(s->conn); /* the server closes it, or it was answered before the body went */
    s->phase = PH_IDLE;
    t->cfg.on_done(t->cfg.engine, slot_of(t, s), now); /* may start the next request at once */
}

static void open_conn(struct transport *t, struct raw_slot *s, uint64_t now);

/* The connection broke before the response completed: a kept-alive connection the server had
 * closed gets the request once more on a new one, anything else is a failure. */
static void broken(struct transport *t, struct raw_slot *s, int code, int os_errno, uint64_t now)
{
    if (s->reused_conn && !s->retried && !s->got_bytes) {
        s->retried = true;
        conn_close(s->conn);
        s->sent = 0;
        s->carry_len = 0;
        http_parse_begin(&s->resp, s->rq->head_method);
        open_conn(t, s, now);
        return;
    }
    fail(t, s, code, os_errno, now);
}

/* ---- sending and receiving -------------------------------------------------------------------- */

/* Sends what is left of the request: usually all of it in one call. */
static void send_request(struct transport *t, struct raw_slot *s, uint64_t now)
{
    const struct transport_request *rq = s->rq;
    struct iovec parts[4] = {
        {(void *)rq->head, rq->before_len},
        {s->id, TRANSPORT_REQUEST_ID_LEN},
        {(void *)rq->after, rq->after_len},
        {(void *)rq->body, rq->body_len},
    };
    struct iovec iov[4];
    int n = 0;
    size_t skip = s->sent;
    for (int i = 0; i < 4; i++) {
        if (skip >= parts[i].iov_len) {
            skip -= parts[i].iov_len;
            continue;
        }
        iov[n].iov_base = (char *)parts[i].iov_base + skip;
        iov[n].iov_len = parts[i].iov_len - skip;
        skip = 0;
        n++;
    }
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t w;
    do
        w = sendmsg(s->conn->fd, &msg, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        broken(t, s, TCODE_SEND_ERROR, errno, now);
        return;
    }
    if (w > 0)
        s->sent += (size_t)w;
    bool all = s->sent == transport_request_size(rq);
    s->phase = all ? PH_RECEIVING : PH_SENDING;
    conn_watch(t, s->conn, !all);
}

/* Keeps an incomplete line for the next read. */
static bool keep_carry(struct raw_slot *s, const char *data, size_t len)
{
    if (!s->carry && !(s->carry = malloc(HTTP_PARSE_MAX_LINE)))
        return false;
    memcpy(s->carry, data, len);
    s->carry_len = (uint16_t)len;
    return true;
}

/* Reads what arrived and parses it. */
static void receive(struct transport *t, struct raw_slot *s, uint64_t now)
{
    for (;;) {
        size_t off = s->carry_len;
        if (off)
            memcpy(t->buf, s->carry, off);
        ssize_t n = read(s->conn->fd, t->buf + off, READ_BUFFER - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                broken(t, s, TCODE_RECV_ERROR, errno, now);
            return;
        }
        if (n == 0) {
            if (s->got_bytes && http_parse_eof(&s->resp) == HTTP_PARSE_DONE)
                complete(t, s, now, false);
            else
                broken(t, s, s->got_bytes ? TCODE_PARTIAL_FILE : TCODE_GOT_NOTHING, 0, now);
            return;
        }
        if (!s->got_bytes) {
            s->got_bytes = true;
            s->rec->ttfb_us = us_between(s->rec->start_ns, now);
        }
        size_t avail = off + (size_t)n, used;
        s->carry_len = 0;
        enum http_parse_result r = http_parse_feed(&s->resp, t->buf, avail, &used);
        if (r == HTTP_PARSE_DONE) {
            complete(t, s, now, used == avail); /* bytes beyond the response: do not reuse */
            return;
        }
        if (r == HTTP_PARSE_ERROR || (used < avail && !keep_carry(s, t->buf + used, avail - used))) {
            fail(t, s, TCODE_WEIRD_SERVER_REPLY, 0, now);
            return;
        }
        if (avail < READ_BUFFER)
            return; /* level-triggered epoll reports what comes next */
    }
}

/* The connect finished, at once or later. */
static void connected(struct transport *t, struct raw_slot *s, uint64_t now)
{
    struct raw_conn *c = s->conn;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(c->fd, (struct sockaddr *)&ss, &len) == 0)
        c->local_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                       : ((struct sockaddr_in *)&ss)->sin_port);
    s->rec->local_port = c->local_port;
    s->rec->connect_us = us_between(s->rec->start_ns, now);
    send_request(t, s, now);
}

static void note_deadline(struct transport *t, uint64_t deadline)
{
    if (deadline < t->next_sweep)
        t->next_sweep = deadline;
}

static void open_conn(struct transport *t, struct raw_slot *s, uint64_t now)
{
    struct raw_conn *c = s->conn;
    struct client_record *r = s->rec;
    s->reused_conn = false;
    r->reused = 0;
    r->local_port = 0;
    const struct sockaddr_storage *addr = &t->addrs[r->host];
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail(t, s, TCODE_COULDNT_CONNECT, errno, now);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* as libcurl's TCP_NODELAY */
    c->fd = fd;
    c->gen++;
    int rc;
    do
        rc = connect(fd, (const struct sockaddr *)addr, t->addr_lens[r->host]);
    while (rc < 0 && errno == EINTR);
    if (rc == 0) {
        connected(t, s, now);
        return;
    }
    if (errno != EINPROGRESS) {
        fail(t, s, TCODE_COULDNT_CONNECT, errno, now);
        return;
    }
    s->phase = PH_CONNECTING;
    s->connect_deadline = now + t->connect_timeout; /* a resend gets its own connect time */
    note_deadline(t, s->connect_deadline);
    conn_watch(t, c, true);
}

/* ---- transport_ops ---------------------------------------------------------------------------- */

static int raw_start(struct transport *t, uint32_t slot, struct client_record *rec, uint64_t now,
                     struct error *err)
{
    (void)err;
    struct raw_slot *s = &t->slots[slot];
    size_t hosts = t->sc->host_count;
    s->rec = rec;
    s->rq = &t->requests[rec->host * t->sc->endpoint_count + rec->endpoint];
    s->conn = &t->conns[slot * hosts + rec->host];
    write_hex16(s->id, rec->request_id);
    s->sent = 0;
    s->retried = s->got_bytes = false;
    s->carry_len = 0;
    http_parse_begin(&s->resp, s->rq->head_method);
    s->deadline = now + t->timeouts[rec->endpoint];
    note_deadline(t, s->deadline);
    if (s->conn->fd >= 0) {
        s->reused_conn = true;
        rec->reused = 1;
        rec->local_port = s->conn->local_port;
        send_request(t, s, now);
    } else {
        open_conn(t, s, now);
    }
    return 0;
}

static void raw_abort(struct transport *t, uint32_t slot)
{
    struct raw_slot *s = &t->slots[slot];
    s->pending = false; /* its entry in the pending list is skipped */
    if (s->phase != PH_IDLE)
        conn_close(s->conn);
    s->phase = PH_IDLE;
}

static void raw_event(struct transport *t, uint64_t tag, uint32_t events)
{
    uint32_t slot = (uint32_t)tag, host = (uint32_t)(tag >> 32) & 0xff;
    uint32_t gen = (uint32_t)(tag >> 40) & GEN_MASK;
    if (slot >= t->cfg.slot_count || host >= t->sc->host_count)
        return;
    struct raw_slot *s = &t->slots[slot];
    struct raw_conn *c = &t->conns[slot * t->sc->host_count + host];
    if (c->fd < 0 || (c->gen & GEN_MASK) != gen)
        return; /* a socket closed earlier in this batch */
    if (s->phase == PH_IDLE || s->conn != c) {
        conn_close(c); /* an idle kept-alive connection: the server closed it */
        return;
    }
    uint64_t now = clock_now_ns();
    if (s->phase == PH_CONNECTING) {
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            soerr = errno;
        if (soerr)
            fail(t, s, TCODE_COULDNT_CONNECT, soerr, now);
        else if (events & EPOLLOUT)
            connected(t, s, now);
        return;
    }
    if (s->phase == PH_SENDING && (events & EPOLLOUT))
        send_request(t, s, now);
    bool same = s->conn == c && c->gen == gen && c->fd >= 0;
    if (same && (s->phase == PH_RECEIVING || s->phase == PH_SENDING) &&
        (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        receive(t, s, now);
}

/* Hands failed requests back. Only those failed before this call: a slot restarted here that
 * fails again waits for the next batch (the array holds up to two entries per slot). */
static void process_pending(struct transport *t, uint64_t now)
{
    uint32_t n = t->pending_len;
    for (uint32_t i = 0; i < n; i++) {
        struct raw_slot *s = &t->slots[t->pending[i]];
        if (!s->pending)
            continue;
        s->pending = false;
        t->cfg.on_done(t->cfg.engine, t->pending[i], now);
    }
    t->pending_len -= n;
    memmove(t->pending, t->pending + n, t->pending_len * sizeof(*t->pending));
}

static void sweep(struct transport *t, uint64_t now)
{
    t->next_sweep = UINT64_MAX;
    for (uint32_t i = 0; i < t->cfg.slot_count; i++) {
        struct raw_slot *s = &t->slots[i];
        if (s->phase == PH_IDLE)
            continue;
        uint64_t due = s->deadline;
        if (s->phase == PH_CONNECTING && s->connect_deadline < due)
            due = s->connect_deadline;
        if (due <= now)
            fail(t, s, TCODE_OPERATION_TIMEDOUT, 0, now);
        else
            note_deadline(t, due);
    }
}

static void raw_timers(struct transport *t, uint64_t now)
{
    if (now >= t->next_sweep)
        sweep(t, now);
    if (t->pending_len)
        process_pending(t, now);
}

static uint64_t raw_deadline(const struct transport *t)
{
    return t->pending_len ? 0 : t->next_sweep;
}

/* ---- setup ---------------------------------------------------------------------------------- */

static int host_address(const struct scenario_host *h, struct sockaddr_storage *ss,
                        socklen_t *len, struct error *err)
{
    memset(ss, 0, sizeof(*ss));
    if (strchr(h->address, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)h->port);
        *len = sizeof(*a);
        if (inet_pton(AF_INET6, h->address, &a->sin6_addr) == 1)
            return 0;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)h->port);
        *len = sizeof(*a);
        if (inet_pton(AF_INET, h->address, &a->sin_addr) == 1)
            return 0;
    }
    return error_set(err, "host %s: '%s' is not a resolved address", h->url, h->address);
}

static void raw_destroy(struct transport *t);

static struct transport *raw_create(const struct transport_config *cfg, struct error *err)
{
    struct transport *t = calloc(1, sizeof(*t));
    if (!t) {
        error_set(err, "out of memory");
        return NULL;
    }
    t->cfg = *cfg;
    const struct scenario *sc = t->sc = cfg->sc;
    t->next_sweep = UINT64_MAX;
    t->connect_timeout = transport_connect_timeout(sc);
    size_t slots = cfg->slot_count ? cfg->slot_count : 1;
    t->slots = calloc(slots, sizeof(*t->slots));
    t->conns = calloc(slots * sc->host_count, sizeof(*t->conns));
    t->requests = calloc(sc->host_count * sc->endpoint_count, sizeof(*t->requests));
    t->addrs = calloc(sc->host_count, sizeof(*t->addrs));
    t->addr_lens = calloc(sc->host_count, sizeof(*t->addr_lens));
    t->timeouts = calloc(sc->endpoint_count, sizeof(*t->timeouts));
    t->pending = calloc(2 * slots, sizeof(*t->pending));
    t->buf = malloc(READ_BUFFER);
    if (!t->slots || !t->conns || !t->requests || !t->addrs || !t->addr_lens || !t->timeouts ||
        !t->pending || !t->buf) {
        error_set(err, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < slots * sc->host_count; i++)
        t->conns[i].fd = -1;
    for (size_t e = 0; e < sc->endpoint_count; e++)
        t->timeouts[e] = scenario_endpoint_timeout(sc, e);
    for (size_t h = 0; h < sc->host_count; h++) {
        if (strcmp(sc->hosts[h].scheme, "http") != 0) {
            error_set(err, "the raw engine speaks plain http://, not %s", sc->hosts[h].url);
            goto fail;
        }
        if (host_address(&sc->hosts[h], &t->addrs[h], &t->addr_lens[h], err) < 0)
            goto fail;
        for (size_t e = 0; e < sc->endpoint_count; e++)
            if (transport_request_build(&t->requests[h * sc->endpoint_count + e], sc, h, e,
                                        err) < 0)
                goto fail;
    }
    return t;
fail:
    raw_destroy(t);
    return NULL;
}

static void raw_destroy(struct transport *t)
{
    const struct scenario *sc = t->sc;
    size_t slots = t->cfg.slot_count ? t->cfg.slot_count : 1;
    for (size_t i = 0; t->conns && i < slots * sc->host_count; i++)
        conn_close(&t->conns[i]);
    for (size_t i = 0; t->slots && i < slots; i++)
        free(t->slots[i].carry);
    for (size_t i = 0; t->requests && i < sc->host_count * sc->endpoint_count; i++)
        transport_request_free(&t->requests[i]);
    free(t->slots);
    free(t->conns);
    free(t->requests);
    free(t->addrs);
    free(t->addr_lens);
    free(t->timeouts);
    free(t->pending);
    free(t->buf);
    free(t);
}

const struct transport_ops transport_raw_ops = {
    .name = "raw",
    .create = raw_create,
    .destroy = raw_destroy,
    .start = raw_start,
    .abort = raw_abort,
    .event = raw_event,
    .timers = raw_timers,
    .deadline = raw_deadline,
};
