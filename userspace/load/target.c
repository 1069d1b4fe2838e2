#include "load/target.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int target_resolve(struct scenario *sc, struct error *err)
{
    for (size_t i = 0; i < sc->host_count; i++) {
        struct scenario_host *h = &sc->hosts[i];
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        struct addrinfo *res = NULL;
        int rc = getaddrinfo(h->hostname, NULL, &hints, &res);
        if (rc != 0 || !res)
            return error_set(err, "cannot resolve host '%s' in %s: %s", h->hostname, h->url,
                             gai_strerror(rc));
        /* Prefer IPv4: loopback targets usually listen on 127.0.0.1 only. */
        struct addrinfo *pick = res;
        for (struct addrinfo *a = res; a; a = a->ai_next)
            if (a->ai_family == AF_INET) {
                pick = a;
                break;
            }
        const void *addr = pick->ai_family == AF_INET
                               ? (const void *)&((struct sockaddr_in *)pick->ai_addr)->sin_addr
                               : (const void *)&((struct sockaddr_in6 *)pick->ai_addr)->sin6_addr;
        inet_ntop(pick->ai_family, addr, h->address, sizeof(h->address));
        freeaddrinfo(res);
    }
    return 0;
}

static int connect_once(const struct scenario_host *h, int timeout_ms, struct error *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    if (strchr(h->address, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)h->port);
        inet_pton(AF_INET6, h->address, &s6->sin6_addr);
        len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)h->port);
        inet_pton(AF_INET, h->address, &s4->sin_addr);
        len = sizeof(*s4);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return error_set(err, "socket: %s", strerror(errno));
    int rc = connect(fd, (struct sockaddr *)&ss, len);
    if (rc < 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        rc = poll(&p, 1, timeout_ms);
        if (rc == 0) {
            close(fd);
            return error_set(err, "host %s is unreachable: no answer within %d ms "
                                  "(--no-check starts anyway)", h->url, timeout_ms);
        }
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        errno = soerr;
        rc = soerr ? -1 : 0;
    }
    int saved = errno;
    close(fd);
    if (rc < 0)
        return error_set(err, "host %s is unreachable: %s (--no-check starts anyway)", h->url,
                         strerror(saved));
    return 0;
}

int target_check(const struct scenario *sc, uint64_t timeout_ns, struct error *err)
{
    int ms = (int)(timeout_ns / 1000000);
    for (size_t i = 0; i < sc->host_count; i++)
        if (connect_once(&sc->hosts[i], ms > 0 ? ms : 1, err) < 0)
            return -1;
    return 0;
}
