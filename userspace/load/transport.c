/* What both transports share (load/transport.h): one failure classification and the choice of
 * transport for a scenario. */
#include "load/transport.h"

#include <errno.h>

#include "common/clock.h"

uint8_t transport_classify(int code, int os_errno, unsigned status)
{
    switch (code) {
    case TCODE_OK:
        return status >= 400 ? FAILURE_HTTP_STATUS : FAILURE_NONE;
    case TCODE_COULDNT_CONNECT:
        return os_errno == ECONNREFUSED ? FAILURE_CONNECT_REFUSED : FAILURE_CONNECT;
    case TCODE_COULDNT_RESOLVE_HOST:
    case TCODE_COULDNT_RESOLVE_PROXY:
        return FAILURE_CONNECT;
    case TCODE_OPERATION_TIMEDOUT:
        return FAILURE_TIMEOUT;
    case TCODE_RECV_ERROR:
    case TCODE_SEND_ERROR:
    case TCODE_GOT_NOTHING:
    case TCODE_PARTIAL_FILE:
        return FAILURE_RESET;
    default:
        return FAILURE_OTHER;
    }
}

uint64_t transport_connect_timeout(const struct scenario *sc)
{
    uint64_t cap = 10 * NS_PER_SEC;
    return sc->timeout_ns < cap ? sc->timeout_ns : cap;
}

const struct transport_ops *transport_for(const struct scenario *sc)
{
    switch (sc->engine) {
    case SCENARIO_ENGINE_CURL:
        return &transport_curl_ops;
    case SCENARIO_ENGINE_RAW:
        return &transport_raw_ops;
    default:
        return scenario_plain_http(sc) ? &transport_raw_ops : &transport_curl_ops;
    }
}
