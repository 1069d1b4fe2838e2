/* A log-linear (HDR-style) latency histogram with fixed memory.
 *
 * Values are nanoseconds. Below 128 ns every value has its own bucket; above, each power of two
 * is split into 128 equal buckets, so a bucket is at most 1/128 of its value wide and a reported
 * percentile (the bucket midpoint) is within 0.4% of the truth from 1 us to 1000 s. Values
 * above HIST_MAX_NS land in the last bucket; min, max, count and sum are kept exactly.
 * Memory is ~35 KB whatever the run length.
 *
 * Not thread-safe: each thread records into its own histogram and they are merged. */
#ifndef LOADSCOPE_COMMON_HISTOGRAM_H
#define LOADSCOPE_COMMON_HISTOGRAM_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB_COUNT (1u << HIST_SUB_BITS)
#define HIST_MAX_MSB 39 /* 2^40 ns ~ 1100 s */
#define HIST_BUCKETS ((HIST_MAX_MSB - HIST_SUB_BITS + 2) * HIST_SUB_COUNT)
#define HIST_MAX_NS ((1ULL << (HIST_MAX_MSB + 1)) - 1)

struct histogram {
    uint64_t count;
    uint64_t sum_ns;
    uint64_t min_ns;
    uint64_t max_ns;
    uint64_t buckets[HIST_BUCKETS];
};

void hist_reset(struct histogram *h);
void hist_record(struct histogram *h, uint64_t ns);
void hist_record_n(struct histogram *h, uint64_t ns, uint64_t n);
void hist_merge(struct histogram *dst, const struct histogram *src);

/* Value at percentile p (0..100): the smallest value v such that at least p% of recorded values
 * are <= v, reported as its bucket's midpoint clamped to [min, max]. 0 when empty. */
uint64_t hist_percentile(const struct histogram *h, double p);
double hist_mean(const struct histogram *h);

/* Bucket arithmetic, exposed for tests and for histograms built from BPF log2 buckets. */
uint32_t hist_bucket_of(uint64_t ns);
uint64_t hist_bucket_low(uint32_t bucket);
uint64_t hist_bucket_high(uint32_t bucket); /* inclusive */

#endif
