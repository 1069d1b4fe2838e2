#include "sweep/usl.h"

#include <math.h>
#include <string.h>

#define P_LAMBDA 0
#define P_SIGMA 1
#define P_KAPPA 2
#define MAX_ITERATIONS 500
#define MAX_DAMPING 1e16

static double denominator(const double p[3], double n)
{
    return 1 + p[P_SIGMA] * (n - 1) + p[P_KAPPA] * n * (n - 1);
}

/* Squared error of p; false when p leaves the model's domain (lambda <= 0, a denominator
 * <= 0): the fit treats such a step as a failed one. */
static bool sse_of(const double p[3], const double *n, const double *x, size_t count,
                   double *sse)
{
    if (!(p[P_LAMBDA] > 0))
        return false;
    double s = 0;
    for (size_t i = 0; i < count; i++) {
        double d = denominator(p, n[i]);
        if (!(d > 1e-12))
            return false;
        double r = x[i] - p[P_LAMBDA] * n[i] / d;
        s += r * r;
    }
    *sse = s;
    return isfinite(s);
}

/* Solves the m x m system a d = b (m <= 3) by Gaussian elimination with partial pivoting. */
static bool solve(double a[3][3], double b[3], int m, double d[3])
{
    for (int col = 0; col < m; col++) {
        int pivot = col;
        for (int r = col + 1; r < m; r++)
            if (fabs(a[r][col]) > fabs(a[pivot][col]))
                pivot = r;
        if (!(fabs(a[pivot][col]) > 1e-300))
            return false;
        if (pivot != col) {
            for (int k = 0; k < m; k++) {
                double t = a[col][k];
                a[col][k] = a[pivot][k];
                a[pivot][k] = t;
            }
            double t = b[col];
            b[col] = b[pivot];
            b[pivot] = t;
        }
        for (int r = col + 1; r < m; r++) {
            double f = a[r][col] / a[col][col];
            for (int k = col; k < m; k++)
                a[r][k] -= f * a[col][k];
            b[r] -= f * b[col];
        }
    }
    for (int r = m - 1; r >= 0; r--) {
        double s = b[r];
        for (int k = r + 1; k < m; k++)
            s -= a[r][k] * d[k];
        d[r] = s / a[r][r];
    }
    for (int r = 0; r < m; r++)
        if (!isfinite(d[r]))
            return false;
    return true;
}

/* The normal equations J'J and J'r of the free parameters at p. */
static void normal_equations(const double p[3], const int *free_idx, int m, const double *n,
                             const double *x, size_t count, double a[3][3], double g[3])
{
    memset(a, 0, sizeof(double[3][3]));
    memset(g, 0, sizeof(double[3]));
    for (size_t i = 0; i < count; i++) {
        double d = denominator(p, n[i]);
        double r = x[i] - p[P_LAMBDA] * n[i] / d;
        double j[3] = {n[i] / d, -p[P_LAMBDA] * n[i] * (n[i] - 1) / (d * d),
                       -p[P_LAMBDA] * n[i] * n[i] * (n[i] - 1) / (d * d)};
        for (int u = 0; u < m; u++) {
            g[u] += j[free_idx[u]] * r;
            for (int v = 0; v < m; v++)
                a[u][v] += j[free_idx[u]] * j[free_idx[v]];
        }
    }
}

/* Levenberg-Marquardt (Marquardt's diagonal scaling) on the parameters marked free, from p.
 * Returns false when p is outside the domain to begin with. */
static bool levenberg_marquardt(const double *n, const double *x, size_t count,
                                const bool free_param[3], double p[3], double *sse_out)
{
    int free_idx[3], m = 0;
    for (int k = 0; k < 3; k++)
        if (free_param[k])
            free_idx[m++] = k;
    double sse;
    if (!sse_of(p, n, x, count, &sse))
        return false;
    double mu = 1e-3;
    for (int it = 0; it < MAX_ITERATIONS && sse > 0; it++) {
        double a[3][3], g[3];
        normal_equations(p, free_idx, m, n, x, count, a, g);
        double biggest = 0;
        for (int u = 0; u < m; u++)
            biggest = fmax(biggest, a[u][u]);
        bool improved = false, converged = false;
        while (!improved && mu < MAX_DAMPING) {
            double damped[3][3], rhs[3], d[3];
            memcpy(damped, a, sizeof(damped));
            memcpy(rhs, g, sizeof(rhs));
            for (int u = 0; u < m; u++) /* a parameter without effect still gets a diagonal */
                damped[u][u] += mu * fmax(a[u][u], 1e-12 * biggest + 1e-300);
            double q[3] = {p[0], p[1], p[2]}, s2;
            if (solve(damped, rhs, m, d)) {
                double step = 0;
                for (int u = 0; u < m; u++) {
                    q[free_idx[u]] += d[u];
                    step = fmax(step, fabs(d[u]) / (fabs(p[free_idx[u]]) + 1e-9));
                }
                if (sse_of(q, n, x, count, &s2) && s2 < sse) {
                    converged = (sse - s2) <= 1e-13 * sse || step < 1e-12;
                    memcpy(p, q, sizeof(q));
                    sse = s2;
                    improved = true;
                    mu = fmax(mu / 10, 1e-15);
                    break;
                }
            }
            mu *= 10;
        }
        if (!improved || converged)
            break; /* no step lowers the error: a minimum */
    }
    *sse_out = sse;
    return true;
}

/* Starting point on a face: lambda from the smallest N, then sigma and kappa from the
 * linearized law N lambda / X - 1 = sigma (N - 1) + kappa N (N - 1), clamped to >= 0. */
static void initial_guess(const double *n, const double *x, size_t count,
                          const bool free_param[3], double p[3])
{
    double n_min = INFINITY, sum = 0;
    int at_min = 0;
    for (size_t i = 0; i < count; i++)
        n_min = fmin(n_min, n[i]);
    for (size_t i = 0; i < count; i++)
        if (n[i] == n_min)
            sum += x[i], at_min++;
    p[P_LAMBDA] = at_min && sum > 0 ? sum / at_min / n_min : 1;
    p[P_SIGMA] = p[P_KAPPA] = 0;
    double a[3][3] = {{0}}, b[3] = {0}, d[3];
    int idx[2], m = 0;
    if (free_param[P_SIGMA])
        idx[m++] = P_SIGMA;
    if (free_param[P_KAPPA])
        idx[m++] = P_KAPPA;
    if (m == 0)
        return;
    for (size_t i = 0; i < count; i++) {
        if (!(x[i] > 0))
            continue;
        double z = n[i] * p[P_LAMBDA] / x[i] - 1;
        double basis[3] = {0, n[i] - 1, n[i] * (n[i] - 1)};
        for (int u = 0; u < m; u++) {
            b[u] += basis[idx[u]] * z;
            for (int v = 0; v < m; v++)
                a[u][v] += basis[idx[u]] * basis[idx[v]];
        }
    }
    if (solve(a, b, m, d))
        for (int u = 0; u < m; u++)
            p[idx[u]] = fmax(d[u], 0);
}

static int distinct_count(const double *n, size_t count)
{
    int distinct = 0;
    for (size_t i = 0; i < count; i++) {
        bool seen = false;
        for (size_t k = 0; k < i; k++)
            seen = seen || n[k] == n[i];
        distinct += !seen;
    }
    return distinct;
}

double usl_predict(const struct usl_fit *fit, double n_units)
{
    double p[3] = {fit->lambda, fit->sigma, fit->kappa};
    return fit->lambda * n_units / denominator(p, n_units);
}

static double total_squares(const double *x, size_t count)
{
    double mean = 0, sst = 0;
    for (size_t i = 0; i < count; i++)
        mean += x[i] / (double)count;
    for (size_t i = 0; i < count; i++)
        sst += (x[i] - mean) * (x[i] - mean);
    return sst;
}

static void describe(struct usl_fit *fit, const double *x, size_t count, double sse)
{
    double sst = total_squares(x, count);
    fit->r2 = sst > 0 ? 1 - sse / sst : NAN;
    fit->rmse = sqrt(sse / (double)count);
    fit->exact = fit->distinct_n <= fit->free_params;
    fit->asymptote_x = NAN;
    if (fit->kappa > 0) {
        fit->has_peak = true;
        fit->peak_n = fmax(1, sqrt(fmax(0, 1 - fit->sigma) / fit->kappa));
        fit->peak_x = usl_predict(fit, fit->peak_n);
        int lo = (int)floor(fit->peak_n), hi = lo + 1;
        if (lo < 1)
            lo = 1;
        double xl = usl_predict(fit, lo), xh = usl_predict(fit, hi);
        fit->best_n = xh > xl ? hi : lo;
        fit->best_x = fmax(xl, xh);
    } else if (fit->sigma > 0) {
        fit->asymptote_x = fit->lambda / fit->sigma;
    }
}

bool usl_fit(const double *n_units, const double *x, size_t count, struct usl_fit *fit)
{
    memset(fit, 0, sizeof(*fit));
    fit->points = (int)count;
    fit->distinct_n = distinct_count(n_units, count);
    fit->r2 = fit->rmse = fit->peak_n = fit->peak_x = fit->best_x = fit->asymptote_x = NAN;
    for (size_t i = 0; i < count; i++)
        if (!(n_units[i] >= 1) || !isfinite(x[i]) || x[i] < 0)
            return false;
    if (fit->distinct_n < 2)
        return false;
    /* faces of the box sigma, kappa >= 0, simplest first: a richer face must do strictly
     * better to be chosen */
    static const bool faces[4][3] = {
        {true, false, false}, {true, true, false}, {true, false, true}, {true, true, true}};
    /* what "strictly better" means: more than rounding on the data's scale */
    double scale = 0;
    for (size_t i = 0; i < count; i++)
        scale += x[i] * x[i];
    double best_sse = INFINITY;
    for (int f = 0; f < 4; f++) {
        int params = faces[f][P_SIGMA] + faces[f][P_KAPPA] + 1;
        if (fit->distinct_n < params)
            continue;
        for (int start = 0; start < 2; start++) {
            double p[3], sse;
            initial_guess(n_units, x, count, faces[f], p);
            if (start == 1) { /* a second start away from the linearized guess */
                p[P_SIGMA] = faces[f][P_SIGMA] ? 0.1 : 0;
                p[P_KAPPA] = faces[f][P_KAPPA] ? 0.01 : 0;
            }
            if (!levenberg_marquardt(n_units, x, count, faces[f], p, &sse))
                continue;
            if (p[P_SIGMA] < 0 || p[P_KAPPA] < 0)
                continue; /* outside the box: another face holds the optimum */
            if (isfinite(best_sse) && !(sse < best_sse - fmax(1e-6 * best_sse, 1e-12 * scale)))
                continue;
            best_sse = sse;
            fit->lambda = p[P_LAMBDA];
            fit->sigma = p[P_SIGMA];
            fit->kappa = p[P_KAPPA];
            fit->free_params = params;
        }
    }
    if (!isfinite(best_sse))
        return false;
    fit->ok = true;
    describe(fit, x, count, best_sse);
    return true;
}
