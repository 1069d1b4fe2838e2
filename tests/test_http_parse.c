/* The raw transport's HTTP/1.x response parser (load/http_parse.h) and its request bytes
 * (load/transport_request.h): every way a response can be delimited, responses split anywhere
 * across reads, responses without a body, connection reuse rules, and garbage. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/http_parse.h"
#include "load/scenario.h"
#include "load/transport_request.h"

struct outcome {
    enum http_parse_result result;
    size_t used; /* bytes of the input that belonged to the response */
    struct http_response resp;
};

/* Feeds text in pieces of `piece` bytes the way the transport does: bytes the parser did not
 * use (an incomplete line) are presented again in front of the next piece. Stops at DONE or
 * ERROR; at the end of the input, eof says whether the server then closed. */
static struct outcome feed(const char *text, size_t len, size_t piece, bool head, bool eof)
{
    struct outcome o = {HTTP_PARSE_MORE, 0, {0}};
    http_parse_begin(&o.resp, head);
    char buf[65536];
    size_t carry = 0, pos = 0;
    while (pos < len) {
        size_t n = len - pos < piece ? len - pos : piece;
        cr_assert(carry + n <= sizeof(buf));
        memcpy(buf + carry, text + pos, n);
        pos += n;
        size_t avail = carry + n, used;
        o.result = http_parse_feed(&o.resp, buf, avail, &used);
        cr_assert(used <= avail);
        o.used = pos - (avail - used);
        if (o.result != HTTP_PARSE_MORE)
            return o;
        memmove(buf, buf + used, avail - used);
        carry = avail - used;
    }
    if (eof)
        o.result = http_parse_eof(&o.resp);
    return o;
}

static struct outcome feed_str(const char *text, size_t piece)
{
    return feed(text, strlen(text), piece, false, false);
}

/* The same response split at every size gives the same answer. */
static void expect_any_split(const char *text, uint16_t status, uint64_t body, bool keep,
                             size_t used)
{
    for (size_t piece = 1; piece <= strlen(text); piece++) {
        struct outcome o = feed_str(text, piece);
        cr_assert_eq(o.result, HTTP_PARSE_DONE, "pieces of %zu", piece);
        cr_expect_eq(o.resp.status, status, "pieces of %zu", piece);
        cr_expect_eq(o.resp.body_bytes, body, "pieces of %zu: %llu body bytes", piece,
                     (unsigned long long)o.resp.body_bytes);
        cr_expect_eq(o.resp.keep_alive, keep, "pieces of %zu", piece);
        cr_expect_eq(o.used, used, "pieces of %zu: used %zu", piece, o.used);
    }
}

Test(http_parse, content_length_in_one_piece_and_split_anywhere)
{
    const char *r = "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 11\r\n"
                    "Content-Type: text/plain\r\n\r\nhello world";
    expect_any_split(r, 200, 11, true, strlen(r));
}

Test(http_parse, chunked_body_counts_decoded_bytes_split_anywhere)
{
    const char *r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n1;ext=1\r\n \r\n"
                    "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: yes\r\n\r\n";
    expect_any_split(r, 200, 5 + 1 + 26, true, strlen(r));
}

Test(http_parse, chunked_with_uppercase_header_and_bare_newlines)
{
    const char *r = "HTTP/1.1 201 Created\nTRANSFER-ENCODING: gzip, Chunked\n\n3\nabc\n0\n\n";
    expect_any_split(r, 201, 3, true, strlen(r));
}

Test(http_parse, content_length_zero_ends_with_the_head)
{
    const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    expect_any_split(r, 200, 0, true, strlen(r));
}

Test(http_parse, no_body_for_204_304_and_head_whatever_the_length_says)
{
    const char *head = "HTTP/1.1 204 No Content\r\nContent-Length: 40\r\n\r\n";
    char twice[256];
    snprintf(twice, sizeof(twice), "%sHTTP/1.1 200 OK\r\n", head);
    struct outcome o = feed_str(twice, sizeof(twice));
    cr_expect_eq(o.result, HTTP_PARSE_DONE);
    cr_expect_eq(o.resp.status, 204);
    cr_expect_eq(o.used, strlen(head), "the bytes after the head are not the body");
    o = feed_str("HTTP/1.1 304 Not Modified\r\nContent-Length: 812\r\nETag: \"x\"\r\n\r\n", 7);
    cr_expect_eq(o.result, HTTP_PARSE_DONE);
    cr_expect_eq(o.resp.status, 304);
    cr_expect_eq(o.resp.body_bytes, 0);
    cr_expect(o.resp.keep_alive);
    const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
    o = feed(h, strlen(h), 5, true, false);
    cr_expect_eq(o.result, HTTP_PARSE_DONE, "HEAD: done at the end of the head");
    cr_expect_eq(o.resp.body_bytes, 0);
    o = feed(h, strlen(h), 5, false, false);
    cr_expect_eq(o.result, HTTP_PARSE_MORE, "GET: 1234 body bytes still to come");
}

Test(http_parse, connection_close_and_http_1_0_end_the_connection)
{
    struct outcome o = feed_str("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 64);
    cr_expect_eq(o.result, HTTP_PARSE_DONE);
    cr_expect_not(o.resp.keep_alive);
    o = feed_str("HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 0\r\n\r\n", 64);
    cr_expect_not(o.resp.keep_alive);
    o = feed_str("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 64);
    cr_expect_eq(o.result, HTTP_PARSE_DONE);
    cr_expect_not(o.resp.keep_alive, "HTTP/1.0 closes by default");
    o = feed_str("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", 64);
    cr_expect(o.resp.keep_alive, "HTTP/1.0 with keep-alive stays open");
}

Test(http_parse, a_body_without_length_runs_to_the_close)
{
    const char *r = "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>twenty bytes</html>";
    struct outcome o = feed(r, strlen(r), 9, false, false);
    cr_expect_eq(o.result, HTTP_PARSE_MORE, "without the close the end is unknown");
    o = feed(r, strlen(r), 9, false, true);
    cr_expect_eq(o.result, HTTP_PARSE_DONE);
    cr_expect_eq(o.resp.body_bytes, 25);
    cr_expect_not(o.resp.keep_alive);
    /* a transfer coding other than chunked also ends with the close */
    r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxyz";
    o = feed(r, strlen(r), 100, false, true);
    cr_expect_eq(o.result, HTTP_PARSE_DONE);
    cr_expect_eq(o.resp.body_bytes, 3);
}

Test(http_parse, a_close_before_the_end_is_an_error)
{
    const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this";
    struct outcome o = feed(r, strlen(r), 4, false, true);
    cr_expect_eq(o.result, HTTP_PARSE_ERROR);
    cr_expect_eq(o.resp.body_bytes, 9);
    cr_expect(o.resp.head_done);
    r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc";
    cr_expect_eq(feed(r, strlen(r), 4, false, true).result, HTTP_PARSE_ERROR);
    r = "HTTP/1.1 200 OK\r\nContent-Le";
    o = feed(r, strlen(r), 4, false, true);
    cr_expect_eq(o.result, HTTP_PARSE_ERROR);
    cr_expect_not(o.resp.head_done);
}

Test(http_parse, interim_1xx_responses_are_skipped)
{
    const char *r = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 3\r\n\r\nbad";
    expect_any_split(r, 500, 3, true, strlen(r));
}

Test(http_parse, empty_lines_before_the_status_line_are_ignored)
{
    expect_any_split("\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, 2, true, 44);
}

Test(http_parse, bytes_after_the_response_are_not_used)
{
    const char *one = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    char two[256];
    snprintf(two, sizeof(two), "%sHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", one);
    struct outcome o = feed_str(two, sizeof(two));
    cr_expect_eq(o.result, HTTP_PARSE_DONE);
    cr_expect_eq(o.used, strlen(one));
    cr_expect_eq(o.resp.body_bytes, 2);
}

Test(http_parse, garbage_is_an_error)
{
    const char *bad[] = {
        "HELLO WORLD\r\n\r\n",
        "HTTP/1.1 abc OK\r\n\r\n",
        "HTTP/2 200\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
        "HTTP/1.1 101 Switching Protocols\r\n\r\n",
        "\x16\x03\x01\x02\xff\x01\x01\xfc\x03\x03\n", /* a TLS hello */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(feed_str(bad[i], 1).result, HTTP_PARSE_ERROR, "byte by byte: %s", bad[i]);
        cr_expect_eq(feed_str(bad[i], 4096).result, HTTP_PARSE_ERROR, "whole: %s", bad[i]);
    }
    /* the same with one tolerated variant each, so the checks above can fail */
    cr_expect_eq(feed_str("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", 3).result,
                 HTTP_PARSE_DONE, "repeated equal lengths are fine");
    cr_expect_eq(feed_str("HTTP/1.1 200\r\nContent-Length:2\r\n\r\nok", 3).result, HTTP_PARSE_DONE,
                 "no reason phrase, no space after the colon");
}

Test(http_parse, an_endless_line_is_an_error_not_a_buffer_overflow)
{
    size_t n = HTTP_PARSE_MAX_LINE + 100;
    char *r = malloc(n + 64);
    strcpy(r, "HTTP/1.1 200 OK\r\nX-Big: ");
    size_t k = strlen(r);
    memset(r + k, 'a', n - k);
    r[n] = 0;
    cr_expect_eq(feed(r, n, 1000, false, false).result, HTTP_PARSE_ERROR);
    /* just under the limit is fine */
    size_t ok_len = HTTP_PARSE_MAX_LINE - 10;
    memset(r + k, 'a', ok_len - k);
    strcpy(r + ok_len, "\r\nContent-Length: 0\r\n\r\n");
    cr_expect_eq(feed(r, strlen(r), 1000, false, false).result, HTTP_PARSE_DONE);
    free(r);
}

/* ---- request bytes ---------------------------------------------------------------------- */

static char *request_text(struct scenario *sc, size_t host, size_t endpoint,
                          struct transport_request *rq)
{
    struct error err = {{0}};
    cr_assert_eq(scenario_finish(sc, &err), 0, "%s", err.msg);
    cr_assert_eq(transport_request_build(rq, sc, host, endpoint, &err), 0, "%s", err.msg);
    size_t total = transport_request_size(rq);
    char *out = malloc(total + 1);
    memcpy(out, rq->head, rq->before_len);
    memcpy(out + rq->before_len, "0123456789abcdef", TRANSPORT_REQUEST_ID_LEN);
    memcpy(out + rq->before_len + 16, rq->after, rq->after_len);
    if (rq->body_len)
        memcpy(out + rq->before_len + 16 + rq->after_len, rq->body, rq->body_len);
    out[total] = 0;
    return out;
}

Test(http_request, a_get_says_what_libcurl_says)
{
    struct scenario sc;
    struct error err = {{0}};
    scenario_init(&sc);
    cr_assert_eq(scenario_add_host(&sc, "http://127.0.0.1:8080/api/", &err), 0);
    cr_assert_eq(scenario_add_endpoint(&sc, "GET /health?x=1 header=X-Tenant:acme", &err), 0);
    struct transport_request rq;
    char *text = request_text(&sc, 0, 0, &rq);
    cr_expect_str_eq(text, "GET /api/health?x=1 HTTP/1.1\r\n"
                           "Host: 127.0.0.1:8080\r\n"
                           "User-Agent: loadscope/0.1\r\n"
                           "Accept: */*\r\n"
                           "X-Request-Id: 0123456789abcdef\r\n"
                           "X-Tenant: acme\r\n"
                           "\r\n");
    cr_expect_not(rq.head_method);
    free(text);
    transport_request_free(&rq);
    scenario_free(&sc);
}

Test(http_request, bodies_get_their_type_and_length_and_headers_replace_ours)
{
    struct scenario sc;
    struct error err = {{0}};
    scenario_init(&sc);
    cr_assert_eq(scenario_add_host(&sc, "http://[::1]", &err), 0);
    cr_assert_eq(scenario_add_endpoint(&sc, "POST /predict body='{\"a\": 1}' header=User-Agent:me "
                                            "header=Accept:", &err), 0);
    cr_assert_eq(scenario_add_endpoint(&sc, "PUT /form body=a=1", &err), 0);
    cr_assert_eq(scenario_add_endpoint(&sc, "HEAD /", &err), 0);
    struct transport_request rq;
    char *text = request_text(&sc, 0, 0, &rq);
    cr_expect_str_eq(text, "POST /predict HTTP/1.1\r\n"
                           "Host: [::1]\r\n"
                           "X-Request-Id: 0123456789abcdef\r\n"
                           "User-Agent: me\r\n"
                           "Content-Type: application/json\r\n"
                           "Content-Length: 8\r\n"
                           "\r\n"
                           "{\"a\": 1}");
    free(text);
    transport_request_free(&rq);
    text = request_text(&sc, 0, 1, &rq);
    cr_expect(strstr(text, "Content-Type: application/x-www-form-urlencoded\r\n"
                           "Content-Length: 3\r\n\r\na=1"), "%s", text);
    free(text);
    transport_request_free(&rq);
    text = request_text(&sc, 0, 2, &rq);
    cr_expect(!strncmp(text, "HEAD / HTTP/1.1\r\n", 17));
    cr_expect_null(strstr(text, "Content-Length"));
    cr_expect(rq.head_method);
    free(text);
    transport_request_free(&rq);
    scenario_free(&sc);
}
