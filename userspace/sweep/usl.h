/* Universal Scalability Law (Gunther) fitted to measured throughput X at scale N (replicas):
 *
 *     X(N) = lambda N / (1 + sigma (N - 1) + kappa N (N - 1))
 *
 * lambda is the throughput of one unit with no interference, sigma the contention (the
 * serialized share: Amdahl), kappa the coherency cost (pairwise crosstalk: what makes
 * throughput fall past a peak). The fit is nonlinear least squares on X (Levenberg-Marquardt)
 * with sigma, kappa >= 0 and lambda > 0: the bounded optimum lies inside one face of the
 * box, so the fit solves each face (both free, kappa = 0, sigma = 0, both 0) and keeps the
 * feasible solution with the smallest squared error.
 *
 * With kappa > 0 the curve peaks at N* = sqrt((1 - sigma) / kappa).
 */
#ifndef LOADSCOPE_SWEEP_USL_H
#define LOADSCOPE_SWEEP_USL_H

#include <stdbool.h>
#include <stddef.h>

struct usl_fit {
    bool ok;          /* false: fewer than 2 distinct N, or no face converged */
    double lambda;    /* throughput of one unit */
    double sigma;     /* contention */
    double kappa;     /* coherency */
    double r2;        /* 1 - SSE/SST over the points (NaN when every X is equal) */
    double rmse;      /* root mean squared error, in X's unit */
    int points;       /* measurements used */
    int distinct_n;   /* distinct N among them */
    int free_params;  /* parameters the chosen face fitted (1..3) */
    bool exact;       /* as many distinct N as free parameters: R^2 says nothing */
    bool has_peak;    /* kappa > 0: X peaks at peak_n (>= 1) */
    double peak_n;    /* N* (real) */
    double peak_x;    /* X(N*) */
    int best_n;       /* the integer N >= 1 with the highest predicted X */
    double best_x;
    double asymptote_x; /* kappa == 0 and sigma > 0: X approaches lambda / sigma; else NaN */
};

/* Fits n measurements (x[i] measured at n_units[i] >= 1; repeats allowed). Returns fit->ok. */
bool usl_fit(const double *n_units, const double *x, size_t n, struct usl_fit *fit);

/* X(N) with the fitted coefficients. */
double usl_predict(const struct usl_fit *fit, double n_units);

#endif
