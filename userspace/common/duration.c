#include "common/duration.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

struct unit {
    const char *suffix;
    double ns;
};

/* Longest suffixes first so "ms" is not read as "m" followed by "s". */
static const struct unit units[] = {
    {"ns", 1.0},           {"us", 1e3},  {"\xc2\xb5s", 1e3}, {"ms", 1e6},
    {"s", 1e9},            {"m", 60e9},  {"h", 3600e9},      {"d", 86400e9},
};

static const struct unit *match_unit(const char *p, size_t *len)
{
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t n = strlen(units[i].suffix);
        if (strncmp(p, units[i].suffix, n) == 0) {
            *len = n;
            return &units[i];
        }
    }
    return NULL;
}

int duration_parse(const char *text, uint64_t *out_ns, struct error *err)
{
    if (!text || !*text)
        return error_set(err, "empty duration");
    const char *p = text;
    double total = 0;
    int parts = 0;
    while (*p) {
        if (!isdigit((unsigned char)*p) && *p != '.')
            return error_set(err, "bad duration '%s' (expected e.g. 30s, 3m, 1h30m, 250ms)", text);
        char *end;
        double value = strtod(p, &end);
        if (end == p || value < 0 || !isfinite(value))
            return error_set(err, "bad duration '%s'", text);
        p = end;
        size_t ulen = 0;
        const struct unit *u = *p ? match_unit(p, &ulen) : NULL;
        if (*p && !u)
            return error_set(err, "bad duration '%s': unknown unit '%s'", text, p);
        if (!u && parts > 0)
            return error_set(err, "bad duration '%s': number without a unit", text);
        total += value * (u ? u->ns : 1e9); /* a bare number means seconds */
        p += ulen;
        parts++;
    }
    if (total > 1e18)
        return error_set(err, "duration '%s' is too long", text);
    *out_ns = (uint64_t)llround(total);
    return 0;
}

char *duration_format(uint64_t ns, char *buf, size_t len)
{
    if (ns >= 60 * NS_PER_SEC && ns % NS_PER_SEC == 0) {
        uint64_t s = ns / NS_PER_SEC;
        uint64_t h = s / 3600, m = (s % 3600) / 60;
        s %= 60;
        int off = 0;
        if (h)
            off += snprintf(buf + off, len - (size_t)off, "%lluh", (unsigned long long)h);
        if (m && (size_t)off < len)
            off += snprintf(buf + off, len - (size_t)off, "%llum", (unsigned long long)m);
        if (s && (size_t)off < len)
            snprintf(buf + off, len - (size_t)off, "%llus", (unsigned long long)s);
    } else if (ns >= NS_PER_SEC) {
        snprintf(buf, len, "%gs", (double)ns / 1e9);
    } else if (ns >= NS_PER_MS) {
        snprintf(buf, len, "%gms", (double)ns / 1e6);
    } else if (ns >= NS_PER_US) {
        snprintf(buf, len, "%gus", (double)ns / 1e3);
    } else {
        snprintf(buf, len, "%lluns", (unsigned long long)ns);
    }
    return buf;
}
