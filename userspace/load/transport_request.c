#include "load/transport_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The endpoint's header named `name`: 1 with a value, 0 with an empty value (it removes ours),
 * -1 when the endpoint has none. */
static int endpoint_header(const struct scenario_endpoint *ep, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < ep->header_count; i++) {
        const char *h = ep->headers[i];
        if (!strncasecmp(h, name, n) && h[n] == ':') {
            const char *v = h + n + 1;
            v += strspn(v, " \t");
            return *v ? 1 : 0;
        }
    }
    return -1;
}

/* One of our own headers, unless the endpoint names it (its own goes out with the others). */
static void own_header(FILE *f, const struct scenario_endpoint *ep, const char *name,
                       const char *value)
{
    if (endpoint_header(ep, name) < 0)
        fprintf(f, "%s: %s\r\n", name, value);
}

static void host_value(const struct scenario_host *h, char *buf, size_t len)
{
    bool v6 = strchr(h->hostname, ':') != NULL;
    int default_port = strcmp(h->scheme, "https") ? 80 : 443;
    if (h->port == default_port)
        snprintf(buf, len, "%s%s%s", v6 ? "[" : "", h->hostname, v6 ? "]" : "");
    else
        snprintf(buf, len, "%s%s%s:%d", v6 ? "[" : "", h->hostname, v6 ? "]" : "", h->port);
}

int transport_request_build(struct transport_request *rq, const struct scenario *sc, size_t host,
                            size_t endpoint, struct error *err)
{
    memset(rq, 0, sizeof(*rq));
    const struct scenario_host *h = &sc->hosts[host];
    const struct scenario_endpoint *ep = &sc->endpoints[endpoint];
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return error_set(err, "out of memory");
    char hostv[300];
    host_value(h, hostv, sizeof(hostv));
    fprintf(f, "%s %s%s HTTP/1.1\r\n", ep->method, h->base_path, ep->path);
    own_header(f, ep, "Host", hostv);
    own_header(f, ep, "User-Agent", "loadscope/0.1");
    own_header(f, ep, "Accept", "*/*");
    fputs("X-Request-Id: ", f);
    fflush(f);
    size_t before = len;
    fputs("\r\n", f);
    for (size_t i = 0; i < ep->header_count; i++) {
        const char *colon = strchr(ep->headers[i], ':');
        const char *v = colon + 1;
        v += strspn(v, " \t");
        if (*v) /* "Name:" with nothing after it only removes our header of that name */
            fprintf(f, "%s\r\n", ep->headers[i]);
    }
    if (ep->body) {
        if (ep->content_type)
            fprintf(f, "Content-Type: %s\r\n", ep->content_type);
        else
            own_header(f, ep, "Content-Type", "application/x-www-form-urlencoded");
        if (endpoint_header(ep, "Content-Length") < 0)
            fprintf(f, "Content-Length: %zu\r\n", ep->body_len);
    }
    fputs("\r\n", f);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return error_set(err, "out of memory");
    }
    rq->head = buf;
    rq->before_len = before;
    rq->after = buf + before;
    rq->after_len = len - before;
    rq->body = ep->body;
    rq->body_len = ep->body ? ep->body_len : 0;
    rq->head_method = !strcmp(ep->method, "HEAD");
    return 0;
}

void transport_request_free(struct transport_request *rq)
{
    free(rq->head);
    memset(rq, 0, sizeof(*rq));
}

size_t transport_request_size(const struct transport_request *rq)
{
    return rq->before_len + TRANSPORT_REQUEST_ID_LEN + rq->after_len + rq->body_len;
}
