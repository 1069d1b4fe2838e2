/* The Universal Scalability Law fitter on synthetic throughput with known coefficients:
 * noiseless and noisy curves, the faces of the sigma, kappa >= 0 box (Amdahl-only, linear,
 * superlinear data), repeated measurements, a hard CPU cap like the demo's, and inputs that
 * cannot be fitted. */
#include <criterion/criterion.h>
#include <math.h>

#include "sweep/usl.h"

static double law(double lambda, double sigma, double kappa, double n)
{
    return lambda * n / (1 + sigma * (n - 1) + kappa * n * (n - 1));
}

/* A deterministic +-amp relative "noise" that does not average out on few points. */
static double wobble(int i, double amp)
{
    static const double pattern[] = {1, -0.6, 0.2, -1, 0.8, -0.3, 0.5, -0.9, 0.4, -0.1};
    return 1 + amp * pattern[i % 10];
}

Test(sweep_usl, noiseless_curve_gives_back_its_coefficients)
{
    double n[8], x[8];
    for (int i = 0; i < 8; i++) {
        n[i] = i + 1;
        x[i] = law(100, 0.05, 0.02, n[i]);
    }
    struct usl_fit f;
    cr_assert(usl_fit(n, x, 8, &f));
    cr_expect_float_eq(f.lambda, 100, 1e-4);
    cr_expect_float_eq(f.sigma, 0.05, 1e-6);
    cr_expect_float_eq(f.kappa, 0.02, 1e-7);
    cr_expect_gt(f.r2, 0.999999);
    cr_expect_eq(f.free_params, 3);
    cr_expect(!f.exact);
    cr_assert(f.has_peak);
    cr_expect_float_eq(f.peak_n, sqrt(0.95 / 0.02), 1e-4);
    cr_expect_float_eq(f.peak_x, law(100, 0.05, 0.02, sqrt(0.95 / 0.02)), 1e-3);
    cr_expect_eq(f.best_n, 7); /* N* = 6.89: 7 beats 6 */
    cr_expect_float_eq(usl_predict(&f, 3), x[2], 1e-6);
}

Test(sweep_usl, noisy_curve_stays_close)
{
    double n[10], x[10];
    for (int i = 0; i < 10; i++) {
        n[i] = i + 1;
        x[i] = law(80, 0.03, 0.01, n[i]) * wobble(i, 0.02);
    }
    struct usl_fit f;
    cr_assert(usl_fit(n, x, 10, &f));
    cr_expect(fabs(f.lambda - 80) < 4, "lambda %g", f.lambda);
    cr_expect(fabs(f.sigma - 0.03) < 0.03, "sigma %g", f.sigma);
    cr_expect(fabs(f.kappa - 0.01) < 0.004, "kappa %g", f.kappa);
    cr_expect(f.r2 > 0.95, "r2 %g", f.r2);
    cr_expect(f.has_peak && fabs(f.peak_n - sqrt(0.97 / 0.01)) < 2, "peak %g", f.peak_n);
}

Test(sweep_usl, amdahl_data_fits_with_kappa_zero_and_an_asymptote)
{
    double n[] = {1, 2, 4, 8, 16}, x[5];
    for (int i = 0; i < 5; i++)
        x[i] = law(50, 0.3, 0, n[i]);
    struct usl_fit f;
    cr_assert(usl_fit(n, x, 5, &f));
    cr_expect_float_eq(f.sigma, 0.3, 1e-6);
    cr_expect_eq(f.kappa, 0);
    cr_expect(!f.has_peak);
    cr_expect_float_eq(f.asymptote_x, 50 / 0.3, 1e-3);
}

Test(sweep_usl, linear_data_has_no_contention_and_no_peak)
{
    double n[] = {1, 2, 3, 4}, x[] = {40, 80, 120, 160};
    struct usl_fit f;
    cr_assert(usl_fit(n, x, 4, &f));
    cr_expect_float_eq(f.lambda, 40, 1e-6);
    cr_expect_eq(f.sigma, 0);
    cr_expect_eq(f.kappa, 0);
    cr_expect(!f.has_peak);
    cr_expect(isnan(f.asymptote_x));
    cr_expect_eq(f.free_params, 1);
}

/* Unconstrained least squares would want sigma < 0 here (X doubles and then some): the fit
 * stays in the box. */
Test(sweep_usl, superlinear_data_stays_inside_the_box)
{
    double n[] = {1, 2, 4}, x[] = {100, 230, 480};
    struct usl_fit f;
    cr_assert(usl_fit(n, x, 3, &f));
    cr_expect_geq(f.sigma, 0);
    cr_expect_geq(f.kappa, 0);
    cr_expect_gt(f.lambda, 100);
}

/* The demo's known configuration: one CPU-bound worker per replica on 2 cores doubles from 1
 * to 2 replicas and then stays flat: the fit's peak must sit near 2. */
Test(sweep_usl, cpu_cap_at_two_replicas_peaks_near_two)
{
    double n[] = {1, 2, 4}, x[] = {98, 193, 190};
    struct usl_fit f;
    cr_assert(usl_fit(n, x, 3, &f));
    cr_expect_gt(f.kappa, 0);
    cr_assert(f.has_peak);
    cr_expect(f.peak_n > 1.8 && f.peak_n < 3.2, "peak at %g", f.peak_n);
    cr_expect(f.best_n == 2 || f.best_n == 3, "best %d", f.best_n);
    cr_expect(f.peak_x > 185 && f.peak_x < 215, "peak X %g", f.peak_x);

    /* the law has no sharp corner: with more points past the cap its peak moves right
     * (checked against a brute-force grid: lambda 112.2, sigma 0.22, kappa 0.044) */
    double n8[] = {1, 2, 4, 8}, x8[] = {98, 193, 190, 185};
    cr_assert(usl_fit(n8, x8, 4, &f));
    cr_expect(fabs(f.lambda - 112.2) < 0.5 && fabs(f.sigma - 0.22) < 0.005 &&
                  fabs(f.kappa - 0.044) < 0.001,
              "lambda %g sigma %g kappa %g", f.lambda, f.sigma, f.kappa);
    cr_expect(f.peak_n > 2 && f.peak_n < 5, "peak at %g", f.peak_n);
    cr_expect(f.r2 > 0.8, "r2 %g", f.r2);
}

Test(sweep_usl, repeated_measurements_are_averaged_by_the_fit)
{
    double n[8], x[8];
    for (int i = 0; i < 8; i++) {
        n[i] = (double)(1 << (i / 2)); /* 1,1,2,2,4,4,8,8 */
        x[i] = law(60, 0.1, 0.005, n[i]) * (i % 2 ? 1.03 : 0.97);
    }
    struct usl_fit f;
    cr_assert(usl_fit(n, x, 8, &f));
    cr_expect_eq(f.distinct_n, 4);
    cr_expect(fabs(f.lambda - 60) < 3, "lambda %g", f.lambda);
    cr_expect(fabs(f.sigma - 0.1) < 0.03, "sigma %g", f.sigma);
    cr_expect(fabs(f.kappa - 0.005) < 0.003, "kappa %g", f.kappa);
}

Test(sweep_usl, three_points_are_an_exact_fit)
{
    double n[] = {1, 2, 4}, x[3];
    for (int i = 0; i < 3; i++)
        x[i] = law(100, 0.1, 0.05, n[i]);
    struct usl_fit f;
    cr_assert(usl_fit(n, x, 3, &f));
    cr_expect(f.exact);
    cr_expect_float_eq(f.sigma, 0.1, 1e-5);
    cr_expect_float_eq(f.kappa, 0.05, 1e-5);
}

Test(sweep_usl, what_cannot_be_fitted_is_refused)
{
    struct usl_fit f;
    double one_n[] = {2, 2, 2}, x[] = {10, 11, 12};
    cr_expect(!usl_fit(one_n, x, 3, &f));
    cr_expect(!f.ok);
    double zero_n[] = {0, 1, 2};
    cr_expect(!usl_fit(zero_n, x, 3, &f));
    double n[] = {1, 2, 4}, bad[] = {10, NAN, 12};
    cr_expect(!usl_fit(n, bad, 3, &f));
    cr_expect(!usl_fit(n, x, 0, &f));
}
