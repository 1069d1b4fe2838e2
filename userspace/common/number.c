#include "common/number.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

int uint_parse(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
    /* strtoul alone would take " 5", "+5" and wrap "-5" around */
    if (!isdigit((unsigned char)text[0]))
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = (uint32_t)v;
    return 0;
}
