/* Durations as people type them: "30s", "3m", "1h30m", "250ms", "1.5s", "500us", or a bare
 * number of seconds (Locust's -t accepts the same). */
#ifndef LOADSCOPE_COMMON_DURATION_H
#define LOADSCOPE_COMMON_DURATION_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Parses text into nanoseconds. Returns 0, or -1 with err set ("bad duration '3x'"). */
int duration_parse(const char *text, uint64_t *out_ns, struct error *err);

/* Formats ns compactly for people ("1h30m", "2.5s", "250ms", "800us"). Returns buf. */
char *duration_format(uint64_t ns, char *buf, size_t len);

#endif
