/* Helpers shared by the two MPI examples (see shard.h). */
#include "shard.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Reads one positive integer option value; -1 when it is not one. */
static int64_t positive(const char *text)
{
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    return (end && *end == '\0' && v > 0) ? (int64_t)v : -1;
}

int parse_options(int argc, char **argv, options *o, int rank)
{
    for (int i = 1; i < argc; i++) {
        int64_t *slot = NULL;
        if (!strcmp(argv[i], "--samples")) slot = &o->samples;
        else if (!strcmp(argv[i], "--width")) slot = &o->width;
        else if (!strcmp(argv[i], "--classes")) slot = &o->classes;
        int64_t v = i + 1 < argc ? positive(argv[i + 1]) : -1;
        if (!strcmp(argv[i], "--seed") && v > 0) {
            o->seed = (uint64_t)v;
            i++;
        } else if (slot && v > 0) {
            *slot = v;
            i++;
        } else {
            if (rank == 0)
                fprintf(stderr, "usage: %s [--samples N] [--width D] [--classes K >= 2] "
                                "[--seed S]\n", argv[0]);
            return -1;
        }
    }
    if (o->classes < 2) {
        if (rank == 0) fprintf(stderr, "%s: --classes must be at least 2\n", argv[0]);
        return -1;
    }
    return 0;
}

void split_range(int64_t total, int ranks, int r, int64_t *first, int64_t *len)
{
    int64_t base = total / ranks, extra = total % ranks;
    *first = r * base + (r < extra ? r : extra);
    *len = base + (r < extra ? 1 : 0);
}

int shard_fi(fi_context *ctx, fi_path path, const model *m, const model_sample *s,
             int64_t first, int64_t len, double *ws, double *out)
{
    const int64_t D = m->width, n = len * D;
    model_scores(m, s, first * D, n, ws, n);
    /* Rows of the shard, renumbered from 0: the shard's own layout, not the model's. */
    fi_blocks rows = {.count = len, .size = D, .stride = 1, .step = D};
    if (path == PATH_DIRECT)
        return fi_direct(ctx, m->classes, s->P, FI_F64, ws, n, n, &rows, NULL, s->predicted,
                         out, 0);
    fi_metric *metric = NULL;
    int st = fi_metric_from_scores(ctx, m->classes, s->P, FI_F64, ws, n, n, &rows, &metric);
    /* Class target k: the paper's f = -log P_k has g = -s_k, and FI is even in g. */
    if (st == FI_OK) st = fi_compute(ctx, metric, FI_F64, ws + s->predicted * n, out, 0);
    fi_metric_free(metric);
    return st;
}

/* The accumulator keeps every sum as a double-double, and sums of non-negative terms agree
 * in any order of adds and merges to a relative 4 * 2^-104 (docs/aggregation.md). Carried
 * to the doubles that fi_accumulator_result reports:
 *  - mean = hi / W: hi (and W) can land on adjacent doubles, so the means differ by at most
 *    3 ulps: |d mean| <= 4 eps |mean| is the bound used.
 *  - std error: var = (S2 - W mean^2) / (W - W2/W) subtracts two sums each known to a few
 *    ulps, so its relative error grows with the cancellation (S2 + W m^2) / (S2 - W m^2)
 *    = 1 + 2 m^2 / v (v the variance, unit weights: v = n se^2), and se's is half that:
 *    |d se| <= 8 eps (1 + 2 m^2 / (n se^2)) se. Where one side reports se = 0 the whole
 *    cancellation is rounding: |d se| <= sqrt(16 eps m^2 / n). */
double merge_bound_ratio(const double *mean_a, const double *se_a, const double *mean_b,
                         const double *se_b, int64_t count, int64_t n, int *identical)
{
    const double eps = DBL_EPSILON;
    double worst = 0;
    *identical = memcmp(mean_a, mean_b, sizeof(double) * (size_t)count) == 0
                 && memcmp(se_a, se_b, sizeof(double) * (size_t)count) == 0;
    for (int64_t b = 0; b < count; b++) {
        double m = fmax(fabs(mean_a[b]), fabs(mean_b[b]));
        double tol_mean = 4 * eps * m;
        double se = fmin(se_a[b], se_b[b]);
        double tol_se = se > 0 ? 8 * eps * (1 + 2 * m * m / ((double)n * se * se)) * se
                               : sqrt(16 * eps * m * m / (double)n);
        double dm = fabs(mean_a[b] - mean_b[b]), ds = fabs(se_a[b] - se_b[b]);
        double r = fmax(dm > 0 ? dm / tol_mean : 0, ds > 0 ? ds / tol_se : 0);
        if (!(r <= worst)) worst = r; /* a NaN (or a 0 tolerance) fails */
    }
    return worst;
}

double max_abs_diff(const double *a, const double *b, int64_t n)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= worst)) worst = d; /* also propagates a NaN */
    }
    return worst;
}

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
