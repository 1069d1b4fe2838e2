/* The engine against real servers on loopback, through its API, once with each transport
 * (curl and raw): every request carries its record's id as X-Request-Id, the record's
 * local_port is the port the server saw (also on reused keep-alive connections), ids are unique
 * across threads, failures are classified from what really happened on the wire and named the
 * same by both transports, the open model keeps its schedule, servers that close kept-alive
 * connections cost no failure, and responses of every shape (chunked and split across reads,
 * Connection: close, HTTP/1.0, IPv6) are read right. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "load/engine.h"
#include "load/stats.h"
#include "load/target.h"
#include "load/transport.h"
#include "support/http_server.h"
#include "support/run_cmd.h"
#include "support/tmpdir.h"

#define MAX_RECORDS 4096

static const char *const ENGINES[] = {"curl", "raw"};

struct sink {
    pthread_mutex_t lock;
    struct client_record records[MAX_RECORDS];
    size_t count;
};

static void collect(void *ctx, const struct client_record *r)
{
    struct sink *s = ctx;
    pthread_mutex_lock(&s->lock);
    if (s->count < MAX_RECORDS)
        s->records[s->count++] = *r;
    pthread_mutex_unlock(&s->lock);
}

static void scenario_for(struct scenario *sc, const char *url, const char *engine)
{
    struct error err = {{0}};
    scenario_init(sc);
    cr_assert_eq(scenario_add_host(sc, url, &err), 0, "%s", err.msg);
    cr_assert_eq(scenario_set(sc, "engine", engine, &err), 0, "%s", err.msg);
}

static void set(struct scenario *sc, const char *key, const char *value)
{
    struct error err = {{0}};
    cr_assert_eq(scenario_set(sc, key, value, &err), 0, "%s", err.msg);
}

/* Runs the scenario (already holding hosts/endpoints) to completion into sink. */
static void run_engines(struct scenario *sc, struct sink *sink, struct engine_counters *ctr)
{
    struct error err = {{0}};
    memset(sink, 0, sizeof(*sink));
    cr_assert_eq(scenario_finish(sc, &err), 0, "%s", err.msg);
    cr_assert_eq(target_resolve(sc, &err), 0, "%s", err.msg);
    struct schedule sched;
    schedule_init(&sched, sc);
    void *ctxs[SCENARIO_MAX_THREADS];
    for (unsigned i = 0; i < sc->threads; i++)
        ctxs[i] = sink;
    pthread_mutex_init(&sink->lock, NULL);
    struct engine_pool *p = engine_pool_start(sc, &sched, clock_now_ns(), collect, ctxs, &err);
    cr_assert_not_null(p, "%s", err.msg);
    cr_assert_str_eq(engine_pool_transport_name(p), scenario_engine_name(sc->engine),
                     "the engine asked for is the one running");
    uint64_t deadline = clock_now_ns() + 60 * NS_PER_SEC;
    while (!engine_pool_done(p) && clock_now_ns() < deadline) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    cr_assert(engine_pool_done(p), "engines did not finish");
    cr_assert_eq(engine_pool_join(p, &err), 0, "%s", err.msg);
    if (ctr)
        engine_pool_counters(p, ctr);
    engine_pool_destroy(p);
}

static void ids_and_ports(const char *engine)
{
    char dir[256], log[512];
    tmpdir_make("engine", dir, sizeof(dir));
    snprintf(log, sizeof(log), "%s/requests.log", dir);
    struct test_server srv;
    struct test_server_opts o = {.log_path = log, .delay_ms = 1};
    cr_assert_eq(test_server_start(&srv, &o), 0);
    struct scenario sc;
    struct error err = {{0}};
    scenario_for(&sc, srv.url, engine);
    set(&sc, "users", "6");
    set(&sc, "threads", "2");
    set(&sc, "max-requests", "600");
    scenario_add_endpoint(&sc, "GET /a", &err);
    scenario_add_endpoint(&sc, "POST /b body=hello", &err);
    static struct sink sink;
    struct engine_counters ctr;
    run_engines(&sc, &sink, &ctr);
    cr_assert_eq(sink.count, 600);
    cr_expect_eq(ctr.completed, 600);
    cr_expect_eq(ctr.aborted, 0);

    char *text = file_read_all(log, NULL);
    cr_assert_not_null(text);
    cr_assert_eq(text_line_count(text), 600, "the server saw every request once");
    size_t reused = 0, threads_seen[2] = {0}, connects = 0;
    for (size_t i = 0; i < sink.count; i++) {
        const struct client_record *r = &sink.records[i];
        char id[17];
        snprintf(id, sizeof(id), "%016llx", (unsigned long long)r->request_id);
        char needle[64];
        snprintf(needle, sizeof(needle), "%u %s %s %s %u\n", r->local_port, id,
                 r->endpoint == 1 ? "POST" : "GET", r->endpoint == 1 ? "/b" : "/a",
                 r->endpoint == 1 ? 5 : 0);
        cr_expect(strstr(text, needle), "server log has no '%s' (record %zu)", needle, i);
        cr_expect_eq(r->request_id >> 56, r->thread, "thread in the top byte");
        cr_expect_eq(r->status, 200);
        cr_expect_eq(r->failure, FAILURE_NONE);
        cr_expect_eq(r->error_code, 0);
        cr_expect(r->end_ns > r->start_ns && r->start_ns >= r->intended_ns);
        cr_expect_eq(r->bytes_out, r->endpoint == 1 ? 5 : 0);
        cr_expect_eq(r->bytes_in, 2, "the server's body: \"ok\"");
        /* the server sleeps 1 ms: the times say so, and the phases lie inside the total */
        cr_expect(r->end_ns - r->start_ns >= NS_PER_MS);
        cr_expect(r->total_us >= 1000 && r->total_us <= (r->end_ns - r->start_ns) / 1000 + 5,
                  "total %u us vs %llu ns", r->total_us,
                  (unsigned long long)(r->end_ns - r->start_ns));
        cr_expect(r->ttfb_us >= 1000 && r->ttfb_us <= r->total_us);
        cr_expect(r->local_port > 0);
        if (!r->reused) {
            connects++;
            cr_expect(r->connect_us > 0 && r->connect_us <= r->ttfb_us, "connect %u us",
                      r->connect_us);
        }
        reused += r->reused;
        threads_seen[r->thread & 1]++;
        for (size_t k = 0; k < i; k++)
            cr_assert_neq(sink.records[k].request_id, r->request_id, "duplicate id");
    }
    cr_expect(reused >= 590, "keep-alive: only the first request of each user connects (%zu)", reused);
    cr_expect_eq(connects + reused, 600);
    cr_expect_eq(threads_seen[0], 300);
    cr_expect_eq(threads_seen[1], 300);
    /* the request lines carry the ids in lowercase hex, 16 digits */
    char line[256];
    cr_assert_eq(text_line(text, 0, line, sizeof(line)), 0);
    char idtext[64];
    cr_assert_eq(sscanf(line, "%*u %63s", idtext), 1);
    cr_expect_eq(strlen(idtext), 16);
    cr_expect_eq(strspn(idtext, "0123456789abcdef"), 16);
    free(text);
    scenario_free(&sc);
    test_server_stop(&srv);
    tmpdir_remove(dir);
}

Test(engine, curl_request_ids_and_local_ports_match_what_the_server_saw)
{
    ids_and_ports("curl");
}

Test(engine, raw_request_ids_and_local_ports_match_what_the_server_saw)
{
    ids_and_ports("raw");
}

/* Three requests against a server behaving as o says (or nobody listening); all must end the
 * same way. Returns the first record. */
static struct client_record failure_of(const char *engine, struct test_server_opts *o,
                                       const char *timeout, bool no_server)
{
    struct test_server srv = {0};
    char url[64];
    if (no_server) {
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", test_server_free_port());
    } else {
        cr_assert_eq(test_server_start(&srv, o), 0);
        snprintf(url, sizeof(url), "%s", srv.url);
    }
    struct scenario sc;
    scenario_for(&sc, url, engine);
    set(&sc, "max-requests", "3");
    if (timeout)
        set(&sc, "timeout", timeout);
    static struct sink sink;
    run_engines(&sc, &sink, NULL);
    cr_assert_eq(sink.count, 3);
    for (size_t i = 1; i < sink.count; i++) {
        cr_expect_eq(sink.records[i].failure, sink.records[0].failure);
        cr_expect_eq(sink.records[i].error_code, sink.records[0].error_code);
    }
    scenario_free(&sc);
    test_server_stop(&srv);
    return sink.records[0];
}

static void failures(const char *engine)
{
    struct test_server_opts none = {0};
    struct client_record r = failure_of(engine, &none, NULL, true);
    cr_expect_eq(r.failure, FAILURE_CONNECT_REFUSED);
    cr_expect_eq(r.status, 0);
    cr_expect_eq(r.error_code, 7, "CURLE_COULDNT_CONNECT");
    struct test_server_opts e500 = {.status = 500};
    r = failure_of(engine, &e500, NULL, false);
    cr_expect_eq(r.failure, FAILURE_HTTP_STATUS);
    cr_expect_eq(r.status, 500);
    cr_expect_eq(r.error_code, 0);
    cr_expect_eq(r.bytes_in, 2);
    struct test_server_opts hang = {.hang = true};
    uint64_t t0 = clock_now_ns();
    r = failure_of(engine, &hang, "300ms", false);
    cr_expect_eq(r.failure, FAILURE_TIMEOUT);
    cr_expect_eq(r.error_code, 28, "CURLE_OPERATION_TIMEDOUT");
    cr_expect(r.total_us >= 299000 && r.total_us < 400000, "timed out after %u us", r.total_us);
    uint64_t took = clock_now_ns() - t0;
    cr_expect(took >= 900 * NS_PER_MS && took < 5 * NS_PER_SEC, "3 x 300 ms timeouts took %llu ms",
              (unsigned long long)(took / NS_PER_MS));
    struct test_server_opts reset = {.reset = true};
    r = failure_of(engine, &reset, NULL, false);
    cr_expect_eq(r.failure, FAILURE_RESET);
    cr_expect_eq(r.error_code, 56, "CURLE_RECV_ERROR");
    cr_expect_gt(r.local_port, 0);
    /* the message stats and every report show */
    struct stats_failure f = {.kind = r.failure, .error_code = r.error_code};
    char msg[128];
    cr_expect_str_eq(stats_failure_message(&f, msg, sizeof(msg)), "connection reset");
}

Test(engine, curl_failures_are_classified)
{
    failures("curl");
}

Test(engine, raw_failures_are_classified)
{
    failures("raw");
}

static void open_model(const char *engine)
{
    struct test_server srv;
    struct test_server_opts o = {0};
    cr_assert_eq(test_server_start(&srv, &o), 0);
    struct scenario sc;
    scenario_for(&sc, srv.url, engine);
    set(&sc, "rate", "200");
    set(&sc, "connections", "8");
    set(&sc, "max-requests", "300");
    static struct sink sink;
    uint64_t t0 = clock_now_ns();
    run_engines(&sc, &sink, NULL);
    double took = (double)(clock_now_ns() - t0) / 1e9;
    cr_assert_eq(sink.count, 300);
    cr_expect(took > 1.4 && took < 2.5, "300 requests at 200/s took %.2f s", took);
    uint64_t first = UINT64_MAX, last = 0, late = 0;
    for (size_t i = 0; i < sink.count; i++) {
        const struct client_record *r = &sink.records[i];
        first = r->intended_ns < first ? r->intended_ns : first;
        last = r->intended_ns > last ? r->intended_ns : last;
        late += r->start_ns - r->intended_ns > 5 * NS_PER_MS;
        cr_expect_eq(r->users, 0);
        cr_expect_eq(r->failure, FAILURE_NONE);
    }
    cr_expect(llabs((long long)(last - first) - 1495000000LL) < 1000000,
              "intended times span 299 intervals of 5 ms: %llu", (unsigned long long)(last - first));
    cr_expect(late < 15, "%llu of 300 sends more than 5 ms late", (unsigned long long)late);
    scenario_free(&sc);
    test_server_stop(&srv);
}

Test(engine, curl_open_model_sends_on_schedule)
{
    open_model("curl");
}

Test(engine, raw_open_model_sends_on_schedule)
{
    open_model("raw");
}

/* ---- a scripted server: response shapes the shared test server does not make ---------------- */

enum shape {
    SHAPE_LENGTH,     /* Content-Length: 5, keep-alive */
    SHAPE_CHUNKED,    /* chunked, sent in three pieces 2 ms apart */
    SHAPE_CLOSE,      /* Connection: close, then closes */
    SHAPE_HTTP10,     /* HTTP/1.0 without keep-alive, then closes */
    SHAPE_EOF_BODY,   /* HTTP/1.1 without a length: the body ends with the close */
};

struct script {
    int family;      /* AF_INET or AF_INET6 */
    enum shape shape;
    int close_after; /* > 0: closes the connection, without a word, after that many answers */
    const char *capture; /* appends every request (head and body) to this file */
};

struct script_server {
    pid_t pid;
    char url[64];
};

struct script_conn {
    const struct script *sc;
    int fd;
    pthread_mutex_t *lock;
};

static void send_str(int fd, const char *s)
{
    if (send(fd, s, strlen(s), MSG_NOSIGNAL) < 0) { /* the client went away: fine */ }
}

static void pause_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void answer(int fd, enum shape shape)
{
    switch (shape) {
    case SHAPE_LENGTH:
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        break;
    case SHAPE_CHUNKED:
        send_str(fd, "HTTP/1.1 200 OK\r\nTransfer-Enc");
        pause_ms(2);
        send_str(fd, "oding: chunked\r\n\r\n2\r\nhe\r\n3\r");
        pause_ms(2);
        send_str(fd, "\nllo\r\n0\r\n\r\n");
        break;
    case SHAPE_CLOSE:
        send_str(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello");
        break;
    case SHAPE_HTTP10:
        send_str(fd, "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        break;
    case SHAPE_EOF_BODY:
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhel");
        pause_ms(2);
        send_str(fd, "lo");
        break;
    }
}

static void *script_serve(void *arg)
{
    struct script_conn *c = arg;
    char buf[65536];
    size_t len = 0;
    int answered = 0;
    for (;;) {
        char *end = NULL;
        while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
            ssize_t n = recv(c->fd, buf + len, sizeof(buf) - len, 0);
            if (n <= 0)
                goto out;
            len += (size_t)n;
        }
        size_t head = (size_t)(end - buf) + 4, body = 0;
        const char *cl = memmem(buf, head, "Content-Length: ", 16);
        if (cl)
            body = strtoul(cl + 16, NULL, 10);
        while (len < head + body) {
            ssize_t n = recv(c->fd, buf + len, sizeof(buf) - len, 0);
            if (n <= 0)
                goto out;
            len += (size_t)n;
        }
        if (c->sc->capture) {
            pthread_mutex_lock(c->lock);
            FILE *f = fopen(c->sc->capture, "a");
            fwrite(buf, 1, head + body, f);
            fputs("\n=====\n", f);
            fclose(f);
            pthread_mutex_unlock(c->lock);
        }
        answer(c->fd, c->sc->shape);
        answered++;
        if (c->sc->shape != SHAPE_LENGTH && c->sc->shape != SHAPE_CHUNKED)
            break;
        if (c->sc->close_after > 0 && answered == c->sc->close_after)
            break;
        memmove(buf, buf + head + body, len - head - body);
        len -= head + body;
    }
out:
    close(c->fd);
    free(c);
    return NULL;
}

static void script_child(const struct script *sc, int lfd)
{
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        struct script_conn *c = malloc(sizeof(*c));
        *c = (struct script_conn){sc, fd, &lock};
        pthread_t t;
        if (pthread_create(&t, NULL, script_serve, c) == 0)
            pthread_detach(t);
    }
}

static void script_start(struct script_server *s, const struct script *sc)
{
    int fd = socket(sc->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len;
    if (sc->family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a);
    }
    cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0, "bind: %m");
    cr_assert_eq(listen(fd, 128), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    int port = ntohs(sc->family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                            : ((struct sockaddr_in *)&ss)->sin_port);
    snprintf(s->url, sizeof(s->url), sc->family == AF_INET6 ? "http://[::1]:%d" : "http://127.0.0.1:%d",
             port);
    pid_t parent = getpid();
    s->pid = fork();
    cr_assert_geq(s->pid, 0);
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(0);
        signal(SIGPIPE, SIG_IGN);
        script_child(sc, fd);
        _exit(0);
    }
    close(fd);
}

static void script_stop(struct script_server *s)
{
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
}

/* Runs n requests from `users` users against a scripted server; no failure allowed. */
static void run_script(const char *engine, const struct script *sc, const char *users,
                       const char *wait, int n, struct sink *sink)
{
    struct script_server srv;
    script_start(&srv, sc);
    struct scenario s;
    scenario_for(&s, srv.url, engine);
    set(&s, "users", users);
    char max[16];
    snprintf(max, sizeof(max), "%d", n);
    set(&s, "max-requests", max);
    if (wait)
        set(&s, "wait", wait);
    run_engines(&s, sink, NULL);
    script_stop(&srv);
    scenario_free(&s);
    cr_assert_eq(sink->count, (size_t)n);
    for (size_t i = 0; i < sink->count; i++) {
        const struct client_record *r = &sink->records[i];
        cr_expect_eq(r->failure, FAILURE_NONE, "%s: record %zu failed: kind %u code %u", engine, i,
                     r->failure, r->error_code);
        cr_expect_eq(r->status, 200);
        cr_expect_eq(r->bytes_in, 5, "%s: record %zu: %u body bytes", engine, i, r->bytes_in);
    }
}

static size_t reused_count(const struct sink *sink)
{
    size_t n = 0;
    for (size_t i = 0; i < sink->count; i++)
        n += sink->records[i].reused;
    return n;
}

static void shapes(const char *engine)
{
    static struct sink sink;
    struct script chunked = {.family = AF_INET, .shape = SHAPE_CHUNKED};
    run_script(engine, &chunked, "3", NULL, 60, &sink);
    cr_expect_eq(reused_count(&sink), 57, "chunked responses keep the connection");
    struct script close = {.family = AF_INET, .shape = SHAPE_CLOSE};
    run_script(engine, &close, "3", NULL, 30, &sink);
    cr_expect_eq(reused_count(&sink), 0, "Connection: close: a new connection every time");
    struct script http10 = {.family = AF_INET, .shape = SHAPE_HTTP10};
    run_script(engine, &http10, "2", NULL, 20, &sink);
    cr_expect_eq(reused_count(&sink), 0, "HTTP/1.0: a new connection every time");
    struct script eof = {.family = AF_INET, .shape = SHAPE_EOF_BODY};
    run_script(engine, &eof, "2", NULL, 20, &sink);
    cr_expect_eq(reused_count(&sink), 0, "a body ended by the close");
    struct script v6 = {.family = AF_INET6, .shape = SHAPE_LENGTH};
    run_script(engine, &v6, "2", NULL, 40, &sink);
    cr_expect_eq(reused_count(&sink), 38, "IPv6, kept alive");
}

Test(engine, curl_reads_responses_of_every_shape)
{
    shapes("curl");
}

Test(engine, raw_reads_responses_of_every_shape)
{
    shapes("raw");
}

/* A server that closes each connection after 3 answers without saying so (like a keep-alive
 * timeout or limit): a request sent on the dead connection goes again on a new one, unnoticed
 * by the results; with think time the close is seen while idle. */
static void server_closes_idle(const char *engine)
{
    char dir[256], capture[512];
    tmpdir_make("closes", dir, sizeof(dir));
    snprintf(capture, sizeof(capture), "%s/requests", dir);
    static struct sink sink;
    struct script sc = {.family = AF_INET, .shape = SHAPE_LENGTH, .close_after = 3,
                        .capture = capture};
    run_script(engine, &sc, "4", NULL, 240, &sink);
    size_t reused = reused_count(&sink);
    cr_expect(reused >= 150 && reused <= 180, "%s: 240 requests on connections of 3: %zu reused",
              engine, reused);
    char *text = file_read_all(capture, NULL);
    cr_assert_not_null(text);
    size_t seen = 0;
    for (const char *p = text; (p = strstr(p, "\n=====\n")); p++)
        seen++;
    cr_expect_eq(seen, 240, "the server answered each request once");
    free(text);
    unlink(capture);
    run_script(engine, &sc, "2", "constant:20ms", 30, &sink);
    tmpdir_remove(dir);
}

Test(engine, curl_servers_closing_kept_alive_connections_cost_no_failure)
{
    server_closes_idle("curl");
}

Test(engine, raw_servers_closing_kept_alive_connections_cost_no_failure)
{
    server_closes_idle("raw");
}

/* The header lines (any order) of the first request in a capture file. */
static size_t header_lines(const char *text, char lines[][256], size_t max)
{
    size_t n = 0;
    const char *p = strstr(text, "\r\n") + 2;
    while (n < max && strncmp(p, "\r\n", 2) != 0) {
        const char *e = strstr(p, "\r\n");
        snprintf(lines[n++], 256, "%.*s", (int)(e - p), p);
        p = e + 2;
    }
    return n;
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Both transports send the same request: line, headers (order aside) and body. */
Test(engine, both_transports_send_the_same_request)
{
    char dir[256], capture[2][512];
    tmpdir_make("capture", dir, sizeof(dir));
    char lines[2][32][256];
    size_t counts[2];
    char *texts[2];
    for (int k = 0; k < 2; k++) {
        snprintf(capture[k], sizeof(capture[k]), "%s/%s", dir, ENGINES[k]);
        struct script sc = {.family = AF_INET, .shape = SHAPE_LENGTH, .capture = capture[k]};
        struct script_server srv;
        script_start(&srv, &sc);
        struct scenario s;
        struct error err = {{0}};
        scenario_for(&s, srv.url, ENGINES[k]);
        set(&s, "max-requests", "1");
        cr_assert_eq(scenario_add_endpoint(&s, "PATCH /v1/items?id=7 header=Authorization:Bearer_x "
                                               "header=X-Tenant:acme body='{\"n\": [1, 2]}'", &err), 0);
        static struct sink sink;
        run_engines(&s, &sink, NULL);
        script_stop(&srv);
        scenario_free(&s);
        texts[k] = file_read_all(capture[k], NULL);
        cr_assert_not_null(texts[k]);
        counts[k] = header_lines(texts[k], lines[k], 32);
        char host[80];
        snprintf(host, sizeof(host), "Host: %s", srv.url + 7); /* after http:// */
        for (size_t i = 0; i < counts[k]; i++) {
            if (!strncmp(lines[k][i], "X-Request-Id: ", 14))
                strcpy(lines[k][i], "X-Request-Id: (id)");
            if (!strcmp(lines[k][i], host))
                strcpy(lines[k][i], "Host: (this server)");
        }
        qsort(lines[k], counts[k], sizeof(lines[k][0]), cmp_lines);
    }
    cr_expect(!strncmp(texts[1], "PATCH /v1/items?id=7 HTTP/1.1\r\n", 31), "%s", texts[1]);
    cr_expect(!strncmp(texts[0], texts[1], 31), "same request line");
    cr_expect_eq(counts[0], counts[1], "same number of headers: %zu vs %zu", counts[0], counts[1]);
    for (size_t i = 0; i < counts[0] && i < counts[1]; i++)
        cr_expect_str_eq(lines[1][i], lines[0][i]);
    cr_expect(strstr(texts[0], "\r\n\r\n{\"n\": [1, 2]}\n====="), "curl's body");
    cr_expect(strstr(texts[1], "\r\n\r\n{\"n\": [1, 2]}\n====="), "raw's body");
    free(texts[0]);
    free(texts[1]);
    tmpdir_remove(dir);
}

/* auto picks raw for http:// hosts; https needs libcurl, and raw refuses it. */
Test(engine, auto_picks_raw_for_plain_http_only)
{
    struct scenario sc;
    struct error err = {{0}};
    scenario_init(&sc);
    scenario_add_host(&sc, "http://127.0.0.1:1", &err);
    cr_assert_eq(scenario_finish(&sc, &err), 0, "%s", err.msg);
    cr_expect_eq(sc.engine, SCENARIO_ENGINE_AUTO);
    cr_expect(scenario_plain_http(&sc));
    cr_expect_eq(transport_for(&sc), &transport_raw_ops);
    scenario_free(&sc);
    scenario_init(&sc);
    scenario_add_host(&sc, "http://127.0.0.1:1", &err);
    scenario_add_host(&sc, "https://127.0.0.1:2", &err);
    cr_assert_eq(scenario_finish(&sc, &err), 0, "%s", err.msg);
    cr_expect_not(scenario_plain_http(&sc));
    cr_expect_eq(transport_for(&sc), &transport_curl_ops);
    sc.engine = SCENARIO_ENGINE_CURL;
    cr_expect_eq(transport_for(&sc), &transport_curl_ops);
    scenario_free(&sc);
    scenario_init(&sc);
    scenario_add_host(&sc, "https://127.0.0.1:2", &err);
    scenario_set(&sc, "engine", "raw", &err);
    cr_expect_eq(scenario_finish(&sc, &err), -1);
    cr_expect(strstr(err.msg, "plain http://"), "%s", err.msg);
    scenario_free(&sc);
    cr_expect_eq(scenario_set(&sc, "engine", "fast", &err), -1);
}
