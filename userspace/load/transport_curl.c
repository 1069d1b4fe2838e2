/* The libcurl transport (load/transport.h): libcurl's multi interface driven by the engine's
 * epoll through curl_multi_socket_action. One easy handle per slot, reused for every request
 * (so HTTP/1.1 keep-alive connections are reused too); hosts go to the address resolved once,
 * through CURLOPT_RESOLVE. Sockets are tagged in epoll with their fd. */
#include "load/transport.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/clock.h"

#define SAME_CODE(ours, curl) ((int)(ours) == (int)(curl))
_Static_assert(SAME_CODE(TCODE_COULDNT_CONNECT, CURLE_COULDNT_CONNECT) &&
                   SAME_CODE(TCODE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_HOST) &&
                   SAME_CODE(TCODE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_RESOLVE_PROXY) &&
                   SAME_CODE(TCODE_WEIRD_SERVER_REPLY, CURLE_WEIRD_SERVER_REPLY) &&
                   SAME_CODE(TCODE_PARTIAL_FILE, CURLE_PARTIAL_FILE) &&
                   SAME_CODE(TCODE_OPERATION_TIMEDOUT, CURLE_OPERATION_TIMEDOUT) &&
                   SAME_CODE(TCODE_GOT_NOTHING, CURLE_GOT_NOTHING) &&
                   SAME_CODE(TCODE_SEND_ERROR, CURLE_SEND_ERROR) &&
                   SAME_CODE(TCODE_RECV_ERROR, CURLE_RECV_ERROR),
               "transport codes are CURLcode values");

enum { FD_IN = 1, FD_OUT = 2, FD_CURL = 4 }; /* FD_CURL: libcurl watches it */

struct curl_slot {
    CURL *easy;
    struct transport *t;
    uint32_t index;
    bool in_flight;
    uint16_t host, endpoint;     /* options currently set on the handle */
    struct curl_slist id_header; /* "X-Request-Id: ..." then the endpoint's shared list */
    char id_line[32];
    struct client_record *rec;
};

struct transport {
    struct transport_config cfg;
    const struct scenario *sc;
    CURLM *multi;
    struct curl_slot *slots;
    uint8_t *fd_watch; /* per fd: what epoll watches (FD_IN|FD_OUT) */
    size_t fd_cap;
    uint64_t curl_deadline;
    struct curl_slist **headers; /* per endpoint */
    struct curl_slist *resolve;
    CURLU **urls; /* [host * endpoint_count + endpoint], parsed once */
    bool global_init;
};

/* ---- epoll bookkeeping for libcurl's sockets ---------------------------------------------- */

static int ensure_fd(struct transport *t, int fd)
{
    if ((size_t)fd < t->fd_cap)
        return 0;
    size_t cap = t->fd_cap ? t->fd_cap : 1024;
    while (cap <= (size_t)fd)
        cap *= 2;
    uint8_t *bigger = realloc(t->fd_watch, cap); /* only when a new fd number appears */
    if (!bigger)
        return -1;
    memset(bigger + t->fd_cap, 0, cap - t->fd_cap);
    t->fd_watch = bigger;
    t->fd_cap = cap;
    return 0;
}

static uint32_t epoll_bits(uint8_t w)
{
    return ((w & FD_IN) ? EPOLLIN : 0) | ((w & FD_OUT) ? EPOLLOUT : 0);
}

/* Makes epoll watch exactly `want` (FD_IN|FD_OUT) on fd; no syscall when it already does. */
static void watch(struct transport *t, int fd, uint8_t want)
{
    uint8_t cur = t->fd_watch[fd] & (FD_IN | FD_OUT);
    if (cur == want)
        return;
    struct epoll_event ev = {.events = epoll_bits(want), .data.u64 = (uint64_t)fd};
    int epfd = t->cfg.epfd;
    if (want == 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
    } else if (cur == 0) {
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 && errno == EEXIST)
            epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
    } else if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) < 0 && errno == ENOENT) {
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }
    t->fd_watch[fd] = (uint8_t)((t->fd_watch[fd] & FD_CURL) | want);
}

/* An idle keep-alive socket stays registered for input when libcurl stops watching it: the
 * next request on it wants input again, so this saves two epoll_ctl calls per request. If the
 * idle socket becomes readable (the server closed it), curl_event drops it then. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    struct transport *t = userp;
    if (ensure_fd(t, fd) < 0)
        return -1;
    if (what == CURL_POLL_REMOVE) {
        t->fd_watch[fd] &= (uint8_t)~FD_CURL;
        if (t->fd_watch[fd] & FD_OUT) /* writable would fire forever */
            watch(t, fd, 0);
        return 0;
    }
    t->fd_watch[fd] |= FD_CURL;
    watch(t, fd, (uint8_t)(((what & CURL_POLL_IN) ? FD_IN : 0) | ((what & CURL_POLL_OUT) ? FD_OUT : 0)));
    return 0;
}

/* A new socket may reuse the number of one closed behind our back: start from a clean state. */
static int on_sockopt(void *clientp, curl_socket_t fd, curlsocktype purpose)
{
    (void)purpose;
    struct transport *t = clientp;
    if (ensure_fd(t, fd) == 0 && t->fd_watch[fd]) {
        epoll_ctl(t->cfg.epfd, EPOLL_CTL_DEL, fd, NULL);
        t->fd_watch[fd] = 0;
    }
    return CURL_SOCKOPT_OK;
}

static int on_close_socket(void *clientp, curl_socket_t fd)
{
    struct transport *t = clientp;
    if ((size_t)fd < t->fd_cap && t->fd_watch[fd]) {
        if (t->fd_watch[fd] & (FD_IN | FD_OUT))
            epoll_ctl(t->cfg.epfd, EPOLL_CTL_DEL, fd, NULL);
        t->fd_watch[fd] = 0;
    }
    return close(fd);
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct transport *t = userp;
    t->curl_deadline = timeout_ms < 0 ? UINT64_MAX
                                      : clock_now_ns() + (uint64_t)timeout_ms * NS_PER_MS;
    return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    (void)data;
    struct curl_slot *s = userp;
    size_t len = size * n;
    uint64_t total = (uint64_t)s->rec->bytes_in + len;
    s->rec->bytes_in = total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
    return len;
}

/* ---- requests ------------------------------------------------------------------------------ */

static void write_hex16(char *out, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        out[i] = digits[v & 0xF];
        v >>= 4;
    }
}

/* Points the handle at (host, endpoint). Only when it changes: every setopt of a string makes
 * libcurl copy it. */
static void set_target(struct transport *t, struct curl_slot *s, uint16_t host, uint16_t endpoint)
{
    if (s->host == host && s->endpoint == endpoint)
        return;
    const struct scenario_endpoint *ep = &t->sc->endpoints[endpoint];
    CURL *c = s->easy;
    curl_easy_setopt(c, CURLOPT_CURLU, t->urls[host * t->sc->endpoint_count + endpoint]);
    if (s->endpoint != endpoint) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        if (ep->body) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, ep->body);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)ep->body_len);
        } else if (!strcmp(ep->method, "HEAD")) {
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        }
        bool custom = strcmp(ep->method, ep->body ? "POST" : "GET") && strcmp(ep->method, "HEAD");
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, custom ? ep->method : NULL);
        s->id_header.next = t->headers[endpoint];
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(scenario_endpoint_timeout(t->sc, endpoint) /
                                                        NS_PER_MS));
    }
    s->host = host;
    s->endpoint = endpoint;
}

static int curl_start(struct transport *t, uint32_t slot, struct client_record *rec, uint64_t now,
                      struct error *err)
{
    (void)now;
    struct curl_slot *s = &t->slots[slot];
    set_target(t, s, rec->host, rec->endpoint);
    write_hex16(s->id_line + 14, rec->request_id);
    s->rec = rec;
    CURLMcode mc = curl_multi_add_handle(t->multi, s->easy);
    if (mc != CURLM_OK)
        return error_set(err, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
    s->in_flight = true;
    /* Send it now (its timer is due at once), not after the rest of this batch of responses:
     * the server starts on it while the engine handles the others, as wrk does. */
    int running;
    curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    return 0;
}

static uint32_t clamp_us(curl_off_t us)
{
    return us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* The few CURLINFO values the record needs, read once per request. */
static void finish_record(struct curl_slot *s, CURLcode code, uint64_t now)
{
    CURL *c = s->easy;
    struct client_record *r = s->rec;
    long status = 0, port = 0, connects = 0, os_errno = 0;
    curl_off_t t_connect = 0, t_tls = 0, t_ttfb = 0, t_total = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_LOCAL_PORT, &port);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &t_connect);
    curl_easy_getinfo(c, CURLINFO_APPCONNECT_TIME_T, &t_tls);
    curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME_T, &t_ttfb);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &t_total);
    if (code != CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
    r->end_ns = now;
    r->status = (uint16_t)status;
    r->local_port = (uint16_t)port;
    r->reused = connects == 0;
    r->connect_us = clamp_us(t_connect);
    r->tls_us = clamp_us(t_tls);
    r->ttfb_us = clamp_us(t_ttfb);
    r->total_us = clamp_us(t_total);
    r->failure = transport_classify((int)code, (int)os_errno, (unsigned)status);
    r->error_code = code > 255 ? 255 : (uint8_t)code;
}

/* Hands every finished transfer back to the engine. */
static void process_done(struct transport *t)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(t->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode code = m->data.result;
        struct curl_slot *s = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&s);
        uint64_t now = clock_now_ns();
        finish_record(s, code, now);
        curl_multi_remove_handle(t->multi, easy);
        s->in_flight = false;
        t->cfg.on_done(t->cfg.engine, s->index, now);
    }
}

static void curl_abort(struct transport *t, uint32_t slot)
{
    struct curl_slot *s = &t->slots[slot];
    if (!s->in_flight)
        return;
    curl_multi_remove_handle(t->multi, s->easy);
    s->in_flight = false;
}

static void curl_event(struct transport *t, uint64_t tag, uint32_t events)
{
    int fd = (int)tag;
    if ((size_t)fd >= t->fd_cap || !(t->fd_watch[fd] & FD_CURL)) {
        /* an idle keep-alive socket the server closed: stop watching it; libcurl finds it dead
         * when it next tries to reuse it */
        if ((size_t)fd < t->fd_cap)
            watch(t, fd, 0);
        return;
    }
    int flags = 0;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP))
        flags |= CURL_CSELECT_IN;
    if (events & EPOLLOUT)
        flags |= CURL_CSELECT_OUT;
    if (events & EPOLLERR)
        flags |= CURL_CSELECT_ERR;
    int running;
    curl_multi_socket_action(t->multi, fd, flags, &running);
}

static void curl_timers(struct transport *t, uint64_t now)
{
    if (t->curl_deadline <= now) {
        t->curl_deadline = UINT64_MAX;
        int running;
        curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    process_done(t);
}

static uint64_t curl_deadline(const struct transport *t)
{
    return t->curl_deadline;
}

/* ---- setup ---------------------------------------------------------------------------------- */

static int build_requests(struct transport *t, struct error *err)
{
    const struct scenario *sc = t->sc;
    t->urls = calloc(sc->host_count * sc->endpoint_count, sizeof(*t->urls));
    t->headers = calloc(sc->endpoint_count, sizeof(*t->headers));
    if (!t->urls || !t->headers)
        return error_set(err, "out of memory");
    for (size_t h = 0; h < sc->host_count; h++) {
        const struct scenario_host *host = &sc->hosts[h];
        /* An IPv6 literal (http://[::1]:8000) is its own address, and libcurl 7.88 cannot
         * parse one in a CURLOPT_RESOLVE entry. */
        if (!strchr(host->hostname, ':')) {
            char line[512];
            bool v6 = strchr(host->address, ':') != NULL;
            snprintf(line, sizeof(line), "%s:%d:%s%s%s", host->hostname, host->port,
                     v6 ? "[" : "", host->address, v6 ? "]" : "");
            struct curl_slist *l = curl_slist_append(t->resolve, line);
            if (!l)
                return error_set(err, "out of memory");
            t->resolve = l;
        }
        for (size_t i = 0; i < sc->endpoint_count; i++) {
            char *url;
            if (asprintf(&url, "%s%s", host->url, sc->endpoints[i].path) < 0)
                return error_set(err, "out of memory");
            CURLU *u = curl_url();
            CURLUcode uc = u ? curl_url_set(u, CURLUPART_URL, url, CURLU_PATH_AS_IS)
                             : CURLUE_OUT_OF_MEMORY;
            t->urls[h * sc->endpoint_count + i] = u;
            if (uc != CURLUE_OK) {
                error_set(err, "bad URL '%s': %s", url, curl_url_strerror(uc));
                free(url);
                return -1;
            }
            free(url);
        }
    }
    for (size_t i = 0; i < sc->endpoint_count; i++) {
        const struct scenario_endpoint *ep = &sc->endpoints[i];
        struct curl_slist *l = NULL;
        for (size_t k = 0; k < ep->header_count; k++)
            l = curl_slist_append(l, ep->headers[k]);
        if (ep->content_type) {
            char line[512];
            snprintf(line, sizeof(line), "Content-Type: %s", ep->content_type);
            l = curl_slist_append(l, line);
        }
        l = curl_slist_append(l, "Expect:"); /* no 100-continue round trip for big bodies */
        if (!l)
            return error_set(err, "out of memory");
        t->headers[i] = l;
    }
    return 0;
}

static int init_slot(struct transport *t, struct curl_slot *s, uint32_t index, struct error *err)
{
    s->t = t;
    s->index = index;
    s->host = s->endpoint = UINT16_MAX;
    memcpy(s->id_line, "X-Request-Id: 0000000000000000", 31);
    s->id_header.data = s->id_line;
    s->id_header.next = NULL;
    CURL *c = s->easy = curl_easy_init();
    if (!c)
        return error_set(err, "curl_easy_init failed");
    curl_easy_setopt(c, CURLOPT_PRIVATE, (char *)s);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c, CURLOPT_RESOLVE, t->resolve);
    curl_easy_setopt(c, CURLOPT_DNS_CACHE_TIMEOUT, -1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, &s->id_header);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "loadscope/0.1");
    curl_easy_setopt(c, CURLOPT_PROXY, ""); /* no proxy: skips the per-request getenv scan */
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
    curl_easy_setopt(c, CURLOPT_SOCKOPTDATA, t);
    curl_easy_setopt(c, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(c, CURLOPT_CLOSESOCKETDATA, t);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(transport_connect_timeout(t->sc) / NS_PER_MS));
    return 0;
}

static void curl_destroy(struct transport *t);

static struct transport *curl_create(const struct transport_config *cfg, struct error *err)
{
    struct transport *t = calloc(1, sizeof(*t));
    if (!t) {
        error_set(err, "out of memory");
        return NULL;
    }
    t->cfg = *cfg;
    t->sc = cfg->sc;
    t->curl_deadline = UINT64_MAX;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        error_set(err, "curl_global_init failed");
        goto fail;
    }
    t->global_init = true;
    t->slots = calloc(cfg->slot_count ? cfg->slot_count : 1, sizeof(*t->slots));
    t->multi = curl_multi_init();
    if (!t->slots || !t->multi) {
        error_set(err, "libcurl setup failed");
        goto fail;
    }
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t);
    /* Keep one idle connection per slot and host, or libcurl closes keep-alive connections. */
    curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS,
                      (long)(cfg->slot_count * t->sc->host_count + 4));
    curl_multi_setopt(t->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    if (build_requests(t, err) < 0)
        goto fail;
    for (uint32_t i = 0; i < cfg->slot_count; i++)
        if (init_slot(t, &t->slots[i], i, err) < 0)
            goto fail;
    return t;
fail:
    curl_destroy(t);
    return NULL;
}

static void curl_destroy(struct transport *t)
{
    for (uint32_t i = 0; t->slots && i < t->cfg.slot_count; i++) {
        struct curl_slot *s = &t->slots[i];
        if (!s->easy)
            continue;
        if (s->in_flight)
            curl_multi_remove_handle(t->multi, s->easy);
        curl_easy_cleanup(s->easy);
    }
    if (t->multi)
        curl_multi_cleanup(t->multi); /* closes the cached connections */
    for (size_t i = 0; t->headers && i < t->sc->endpoint_count; i++)
        curl_slist_free_all(t->headers[i]);
    for (size_t i = 0; t->urls && i < t->sc->host_count * t->sc->endpoint_count; i++)
        curl_url_cleanup(t->urls[i]);
    curl_slist_free_all(t->resolve);
    free(t->headers);
    free(t->urls);
    free(t->slots);
    free(t->fd_watch);
    if (t->global_init)
        curl_global_cleanup();
    free(t);
}

const struct transport_ops transport_curl_ops = {
    .name = "curl",
    .create = curl_create,
    .destroy = curl_destroy,
    .start = curl_start,
    .abort = curl_abort,
    .event = curl_event,
    .timers = curl_timers,
    .deadline = curl_deadline,
};
