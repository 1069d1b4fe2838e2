/* Whole numbers as command-line options give them ("8000", not "-1", "5x" or ""). */
#ifndef LOADSCOPE_COMMON_NUMBER_H
#define LOADSCOPE_COMMON_NUMBER_H

#include <stdint.h>

/* Parses decimal text within [min, max] into *out. Returns 0, or -1 (the caller names the
 * option in its error). */
int uint_parse(const char *text, uint32_t min, uint32_t max, uint32_t *out);

#endif
