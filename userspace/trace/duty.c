#include "trace/duty.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

double duty_cost_share(uint64_t events, unsigned cost_ns, uint64_t oncpu_ns, uint64_t span_ns,
                       unsigned min_cores_div)
{
    uint64_t least = span_ns / (min_cores_div ? min_cores_div : 1);
    double cpu = (double)(oncpu_ns > least ? oncpu_ns : least);
    return cpu > 0 ? (double)events * cost_ns / cpu : 0;
}

unsigned duty_period(double share, double budget)
{
    double period = budget > 0 ? ceil(share / budget) : 1;
    return period < 1 ? 1 : period > DUTY_MAX_PERIOD ? DUTY_MAX_PERIOD : (unsigned)period;
}

int duty_budget_parse(const char *option, const char *text, double *out, struct error *err)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno || (*end && strcmp(end, "%")) || !(v >= 0.01 && v <= 100))
        return error_set(err, "bad --%s '%s' (a percentage, 0.01..100)", option, text);
    *out = v / 100;
    return 0;
}
