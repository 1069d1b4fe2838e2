/* Unit tests for userspace/common: durations, the histogram and the JSON writer. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "common/histogram.h"
#include "common/json_writer.h"

static uint64_t parse_ok(const char *text)
{
    uint64_t ns = 0;
    struct error err;
    cr_assert_eq(duration_parse(text, &ns, &err), 0, "'%s' should parse: %s", text, err.msg);
    return ns;
}

Test(duration, parses_what_people_type)
{
    cr_expect_eq(parse_ok("30s"), 30000000000ULL);
    cr_expect_eq(parse_ok("3m"), 180000000000ULL);
    cr_expect_eq(parse_ok("1h30m"), 5400000000000ULL);
    cr_expect_eq(parse_ok("250ms"), 250000000ULL);
    cr_expect_eq(parse_ok("1.5s"), 1500000000ULL);
    cr_expect_eq(parse_ok("500us"), 500000ULL);
    cr_expect_eq(parse_ok("45"), 45000000000ULL);
    cr_expect_eq(parse_ok("2m30s"), 150000000000ULL);
}

Test(duration, rejects_garbage_with_a_message)
{
    const char *bad[] = {"", "3x", "abc", "-5s", "1h30", "s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t ns;
        struct error err = {{0}};
        cr_expect_eq(duration_parse(bad[i], &ns, &err), -1, "'%s' should be rejected", bad[i]);
        cr_expect(strlen(err.msg) > 0);
    }
}

Test(duration, formats_compactly)
{
    char buf[32];
    cr_expect_str_eq(duration_format(5400000000000ULL, buf, sizeof(buf)), "1h30m");
    cr_expect_str_eq(duration_format(2500000000ULL, buf, sizeof(buf)), "2.5s");
    cr_expect_str_eq(duration_format(250000000ULL, buf, sizeof(buf)), "250ms");
}

Test(histogram, buckets_are_contiguous_and_narrow)
{
    for (uint32_t b = 1; b < HIST_BUCKETS; b++) {
        cr_assert_eq(hist_bucket_low(b), hist_bucket_high(b - 1) + 1, "gap before bucket %u", b);
        uint64_t lo = hist_bucket_low(b), hi = hist_bucket_high(b);
        if (lo >= 1000)
            cr_assert((double)(hi - lo + 1) / (double)lo <= 1.0 / 128 + 1e-12);
    }
    for (uint64_t v = 1; v < HIST_MAX_NS; v = v * 3 + 7) {
        uint32_t b = hist_bucket_of(v);
        cr_assert(hist_bucket_low(b) <= v && v <= hist_bucket_high(b), "value %llu", (unsigned long long)v);
    }
}

Test(histogram, percentiles_within_one_percent_from_1us_to_100s)
{
    static struct histogram h;
    /* 1..100000 scaled: values spread log-uniformly from 1 us to 100 s */
    enum { N = 100001 };
    static uint64_t values[N];
    hist_reset(&h);
    for (int i = 0; i < N; i++) {
        values[i] = (uint64_t)(1e3 * pow(1e8, (double)i / (N - 1)));
        hist_record(&h, values[i]);
    }
    const double ps[] = {1, 10, 50, 66, 75, 90, 95, 99, 99.9, 99.99};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        size_t rank = (size_t)ceil(ps[i] / 100.0 * N);
        double truth = (double)values[rank - 1];
        double got = (double)hist_percentile(&h, ps[i]);
        cr_expect(fabs(got - truth) / truth <= 0.01, "p%g: got %g want %g", ps[i], got, truth);
    }
    cr_expect_eq(hist_percentile(&h, 100), values[N - 1]);
    cr_expect_eq(hist_percentile(&h, 0), values[0]);
    cr_expect_eq(h.count, (uint64_t)N);
}

Test(histogram, merge_equals_recording_everything_once)
{
    static struct histogram a, b, all;
    hist_reset(&a);
    hist_reset(&b);
    hist_reset(&all);
    for (uint64_t v = 1000; v < 50000000; v += 997) {
        hist_record((v & 1) ? &a : &b, v);
        hist_record(&all, v);
    }
    hist_merge(&a, &b);
    cr_expect_eq(a.count, all.count);
    cr_expect_eq(a.sum_ns, all.sum_ns);
    cr_expect_eq(a.min_ns, all.min_ns);
    cr_expect_eq(a.max_ns, all.max_ns);
    cr_expect_eq(hist_percentile(&a, 99), hist_percentile(&all, 99));
    cr_expect_eq(memcmp(a.buckets, all.buckets, sizeof(a.buckets)), 0);
}

Test(histogram, empty_reports_zero)
{
    static struct histogram h;
    hist_reset(&h);
    cr_expect_eq(hist_percentile(&h, 50), 0);
    cr_expect_eq(hist_mean(&h), 0.0);
}

static char *write_json(void (*fill)(struct json_writer *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct json_writer w;
    json_init(&w, f, false);
    fill(&w);
    fclose(f);
    return buf;
}

static void fill_nested(struct json_writer *w)
{
    json_object_begin(w);
    json_kv_string(w, "name", "POST /predict");
    json_kv_double(w, "p95", 12.25);
    json_kv_double(w, "nan", NAN);
    json_key(w, "list");
    json_array_begin(w);
    json_int(w, -3);
    json_uint(w, 18446744073709551615ULL);
    json_bool(w, true);
    json_array_end(w);
    json_key(w, "empty");
    json_object_begin(w);
    json_object_end(w);
    json_object_end(w);
}

Test(json_writer, writes_nested_structures)
{
    char *s = write_json(fill_nested);
    cr_expect_str_eq(s, "{\"name\":\"POST /predict\",\"p95\":12.25,\"nan\":null,"
                        "\"list\":[-3,18446744073709551615,true],\"empty\":{}}");
    free(s);
}

static void fill_hostile(struct json_writer *w)
{
    json_string(w, "</script><img src=x onerror=alert(1)>\"\\\n\x01\xff\xe2\x80\xa8ok \xc3\xa9");
}

Test(json_writer, escapes_markup_control_bytes_and_bad_utf8)
{
    char *s = write_json(fill_hostile);
    cr_expect_str_eq(s, "\"\\u003c/script\\u003e\\u003cimg src=x onerror=alert(1)\\u003e\\\"\\\\\\n"
                        "\\u0001\\ufffd\\u2028ok \xc3\xa9\"");
    free(s);
}
