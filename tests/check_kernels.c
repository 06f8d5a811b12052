/* The vectorized kernels of fi_direct (src/kernels/), for every instruction set this CPU runs
 * (FI_OPT_ISA auto, portable, AVX2 and AVX-512 where the CPU has them; the others are skipped
 * loudly): every layout they stream (elements, rows, columns crossing the column-chunk width,
 * dense and strided pixels, index lists), all four dtypes, class and
 * gradient targets, K from 2 to 16, block counts that leave partial vectors. Checked against the
 * independent reference (G formed explicitly and pseudo-inverted by LAPACK dsyev) and against the
 * library's SVD path (FI_METHOD_REFERENCE) on blocks planted to defeat the kernels; results
 * bitwise identical for 1, 2 and 3 threads; non-finite input caught with out untouched. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fi.h"
#include "suites.h"
#include "support/reference.h"

typedef struct layout_case {
    const char *name;
    int64_t K, n;
    fi_blocks bl;
    int indexed; /* 6 x 6 x 3 patches of a 24 x 36 HWC image when set */
} layout_case;

static const layout_case cases[] = {
    {"elements K4", 4, 1003, {1003, 1, 1, 1}, 0},
    {"elements K7", 7, 517, {517, 1, 1, 1}, 0},
    {"rows K4", 4, 9 * 70, {9, 67, 1, 70}, 0},
    {"rows K3", 3, 5 * 41, {5, 41, 1, 41}, 0},
    {"rows K16", 16, 6 * 133, {6, 133, 1, 133}, 0},
    {"rows K6", 6, 4 * 50, {4, 50, 1, 50}, 0},
    {"columns K4 (2 chunks)", 4, 12 * 1030, {1030, 12, 1030, 1}, 0},
    {"columns K16 (2 chunks)", 16, 20 * 150, {150, 20, 150, 1}, 0},
    {"columns K2", 2, 8 * 13, {13, 8, 13, 1}, 0},
    {"pixels HWC K4", 4, 3 * 257, {257, 3, 1, 3}, 0},
    {"pixels CHW K5", 5, 3 * 130, {130, 3, 130, 1}, 0},
    {"pixels p2 K3", 3, 2 * 99, {99, 2, 1, 2}, 0},
    {"pixels p4 K9", 9, 4 * 70, {70, 4, 1, 4}, 0},
    {"patches K4", 4, 24 * 36 * 3, {24, 0, 0, 0}, 1},
};
enum { NCASES = sizeof cases / sizeof cases[0] };

typedef struct problem {
    int64_t K, n, count, *offsets, *indices;
    double P[16], *S, *g; /* S: K x n, row-major; g: n (the exact values of the stored ones) */
    void *Sx, *gx;        /* the same in the dtype under test, when it is not float64 */
} problem;

/* Stores x in dtype dt at dst[i] and returns the value stored, decoded here from the IEEE
 * definitions (bfloat16: the upper half of a binary32, truncated; float16: 5-bit exponent
 * with bias 15 and 10-bit mantissa, truncated, flushed to 0 below 2^-14, clamped at 65504). */
static double store_as(fi_dtype dt, void *dst, int64_t i, double x)
{
    if (dt == FI_F64) return ((double *)dst)[i] = x;
    if (dt == FI_F32) return ((float *)dst)[i] = (float)x;
    uint16_t h;
    double v;
    if (dt == FI_BF16) {
        float f = (float)x;
        uint32_t u;
        memcpy(&u, &f, 4);
        h = (uint16_t)(u >> 16);
        u = (uint32_t)h << 16;
        memcpy(&f, &u, 4);
        v = f;
    } else {
        const double a = fmin(fabs(x), 65504.0);
        if (a < ldexp(1, -14)) {
            h = 0;
            v = 0;
        } else {
            int e = (int)floor(log2(a));
            if (ldexp(1, e) > a) e--;
            const int m = (int)floor((a / ldexp(1, e) - 1) * 1024);
            h = (uint16_t)(((e + 15) << 10) | m);
            v = ldexp(1.0 + m / 1024.0, e);
        }
        if (x < 0 && h) {
            h |= 0x8000;
            v = -v;
        }
    }
    ((uint16_t *)dst)[i] = h;
    return v;
}

static void make_patches(problem *pr)
{
    const int64_t Wd = 36, C = 3, per = Wd / 6, p = 6 * 6 * C;
    pr->offsets = malloc(sizeof(int64_t) * (size_t)(pr->count + 1));
    pr->indices = malloc(sizeof(int64_t) * (size_t)(pr->count * p));
    for (int64_t b = 0, q = 0; b < pr->count; b++) {
        pr->offsets[b] = q;
        for (int64_t y = 0; y < 6; y++)
            for (int64_t x = 0; x < 6; x++)
                for (int64_t c = 0; c < C; c++)
                    pr->indices[q++] = (((b / per) * 6 + y) * Wd + (b % per) * 6 + x) * C + c;
    }
    pr->offsets[pr->count] = pr->count * p;
}

/* Random scores, with a few blocks planted to defeat the fast kernels: exactly zero,
 * duplicated coordinates (rank deficient), nearly parallel ones (ill-conditioned), and
 * (float64) extreme magnitudes. */
static void make_problem(const layout_case *lc, fi_dtype dt, uint64_t seed, problem *pr)
{
    ref_rng r;
    ref_seed(&r, seed);
    memset(pr, 0, sizeof *pr);
    pr->K = lc->K;
    pr->n = lc->n;
    pr->count = lc->bl.count;
    ref_softmax(&r, pr->K, 1.0, pr->P);
    pr->S = malloc(sizeof(double) * (size_t)(pr->K * pr->n));
    pr->g = malloc(sizeof(double) * (size_t)pr->n);
    ref_scores(&r, pr->K, pr->n, pr->n, pr->S);
    for (int64_t c = 0; c < pr->n; c++) pr->g[c] = ref_normal(&r);
    if (lc->indexed) make_patches(pr);
    for (int plant = 0; plant < 4; plant++) {
        const int64_t c = ref_int(&r, 0, pr->n - 2);
        for (int64_t i = 0; i < pr->K; i++) {
            double *s = pr->S + i * pr->n;
            switch (plant) {
            case 0: s[c] = 0; break;                                 /* a zero coordinate */
            case 1: s[c + 1] = s[c]; break;                          /* duplicate */
            case 2: s[c + 1] = s[c] * (1 + 1e-9) + 1e-12; break;    /* nearly parallel */
            case 3: s[c] *= dt == FI_F64 ? 1e140 : dt == FI_F16 ? 1e3 : 1e20; break; /* extreme */
            }
        }
    }
    if (dt != FI_F64) { /* the stored values are the problem; the references read them exactly */
        pr->Sx = malloc(fi_dtype_size(dt) * (size_t)(pr->K * pr->n));
        pr->gx = malloc(fi_dtype_size(dt) * (size_t)pr->n);
        for (int64_t i = 0; i < pr->K * pr->n; i++) pr->S[i] = store_as(dt, pr->Sx, i, pr->S[i]);
        for (int64_t c = 0; c < pr->n; c++) pr->g[c] = store_as(dt, pr->gx, c, pr->g[c]);
    }
}

static void free_problem(problem *pr)
{
    free(pr->S);
    free(pr->g);
    free(pr->Sx);
    free(pr->gx);
    free(pr->offsets);
    free(pr->indices);
}

static int run(fi_context *ctx, const layout_case *lc, const problem *pr, fi_dtype dt,
               int gradient, double *out, unsigned flags)
{
    const void *S = dt == FI_F64 ? (const void *)pr->S : pr->Sx;
    const void *g = !gradient ? NULL : dt == FI_F64 ? (const void *)pr->g : pr->gx;
    if (lc->indexed) {
        const fi_index_blocks ib = {pr->count, pr->offsets, pr->indices};
        return fi_direct_indexed(ctx, pr->K, pr->P, dt, S, pr->n, pr->n, &ib, g, pr->K - 1, out,
                                 flags);
    }
    return fi_direct(ctx, pr->K, pr->P, dt, S, pr->n, pr->n, &lc->bl, g, pr->K - 1, out, flags);
}

static int64_t block_coords(const layout_case *lc, const problem *pr, int64_t b, int64_t *idx)
{
    if (!lc->indexed) {
        ref_affine_coords(&lc->bl, b, idx);
        return lc->bl.size;
    }
    const int64_t p = pr->offsets[b + 1] - pr->offsets[b];
    memcpy(idx, pr->indices + pr->offsets[b], sizeof(int64_t) * (size_t)p);
    return p;
}

/* Blocks that hold a planted coordinate are compared with the SVD path only: the explicit-G
 * reference squares their condition number. */
static int planted(const problem *pr, const int64_t *idx, int64_t p)
{
    for (int64_t j = 0; j < p; j++) {
        double mx = 0;
        for (int64_t i = 0; i < pr->K; i++) mx = fmax(mx, fabs(pr->S[i * pr->n + idx[j]]));
        if (mx == 0 || mx > 1e10) return 1;
        for (int64_t q = 0; q < p; q++) {
            if (q == j) continue;
            double d = 0;
            for (int64_t i = 0; i < pr->K; i++)
                d = fmax(d, fabs(pr->S[i * pr->n + idx[j]] - pr->S[i * pr->n + idx[q]]));
            if (d <= 1e-6 * mx) return 1;
        }
    }
    return 0;
}

START_TEST(test_kernels_against_references)
{
    const layout_case *lc = &cases[_i];
    int64_t *idx = malloc(sizeof(int64_t) * 1024);
    static const fi_dtype dts[] = {FI_F64, FI_F32, FI_BF16, FI_F16};
    static const char *const dnames[] = {"f64", "f32", "bf16", "f16"};
    for (int d = 0; d < 4; d++) {
        const fi_dtype dt = dts[d];
        problem pr;
        make_problem(lc, dt, 1000 + (uint64_t)_i, &pr);
        double *fast = malloc(sizeof(double) * (size_t)pr.count);
        double *svd = malloc(sizeof(double) * (size_t)pr.count);
        double *want = malloc(sizeof(double) * (size_t)pr.count);
        for (int gradient = 0; gradient < 2; gradient++) {
            fi_context *ref = NULL;
            ck_assert_int_eq(fi_context_create(&ref), FI_OK);
            ck_assert_int_eq(fi_context_set(ref, FI_OPT_METHOD, FI_METHOD_REFERENCE), FI_OK);
            ck_assert_int_eq(run(ref, lc, &pr, dt, gradient, svd, 0), FI_OK);
            fi_context_free(ref);
            const double *g = gradient ? pr.g : pr.S + (pr.K - 1) * pr.n;
            /* The explicit-G reference has error ~ kappa(B)^2 eps of its own; float16's 10-bit
             * grid makes kappa(B) ~ 1e3 blocks common, so it is trusted to 1e-8 there (the SVD
             * path, which does not square kappa, stays at 1e-10 for every dtype). */
            const double ref_tol = dt == FI_F16 ? 1e-8 : 1e-10;
            for (int64_t b = 0; b < pr.count; b++) { /* NAN: planted, SVD comparison only */
                const int64_t p = block_coords(lc, &pr, b, idx);
                const double rc = ref_default_rcond(dt, p, pr.K);
                want[b] = planted(&pr, idx, p) ? NAN
                          : gradient ? ref_block_fi(pr.K, pr.P, pr.S, pr.n, idx, p, g, rc, 0, NULL,
                                                    NULL)
                                     : ref_class_leverage(pr.K, pr.P, pr.S, pr.n, idx, p,
                                                          pr.K - 1, rc, 0); /* fact 2 */
            }
            for (int isa = FI_ISA_AUTO; isa <= FI_ISA_AVX512; isa++) {
                fi_context *ctx = NULL;
                ck_assert_int_eq(fi_context_create(&ctx), FI_OK);
                if (fi_context_set(ctx, FI_OPT_ISA, isa) != FI_OK) { /* not on this CPU */
                    ref_skip_once(isa == FI_ISA_AVX2 ? "kernels: AVX2 kernels" : "kernels: AVX-512 kernels",
                                  fi_context_error(ctx));
                    fi_context_free(ctx);
                    continue;
                }
                ck_assert_int_eq(run(ctx, lc, &pr, dt, gradient, fast, 0), FI_OK);
                fi_context_free(ctx);
                for (int64_t b = 0; b < pr.count; b++) {
                    ck_assert_msg(ref_rel(fast[b], svd[b]) <= ref_fast_tol(dt),
                                  "%s %s isa %d gradient %d block %lld: %.17g vs SVD %.17g",
                                  lc->name, dnames[d], isa, gradient, (long long)b,
                                  fast[b], svd[b]);
                    ck_assert_msg(isnan(want[b]) || ref_rel(fast[b], want[b]) <= ref_tol,
                                  "%s %s isa %d gradient %d block %lld: %.17g vs reference %.17g",
                                  lc->name, dnames[d], isa, gradient, (long long)b,
                                  fast[b], want[b]);
                }
            }
        }
        free(fast);
        free(svd);
        free(want);
        free_problem(&pr);
    }
    free(idx);
}
END_TEST

/* 1, 2 and 3 threads, checked and single-pass, plain and accumulated: the same bits. */
START_TEST(test_kernels_threads_bitwise)
{
    const layout_case *lc = &cases[_i];
    problem pr;
    make_problem(lc, FI_F32, 2000 + (uint64_t)_i, &pr);
    const size_t bytes = sizeof(double) * (size_t)pr.count;
    double *base = malloc(bytes), *out = malloc(bytes), *acc = malloc(bytes);
    for (int threads = 1; threads <= 3; threads++)
        for (int mode = 0; mode < 3; mode++) {
            fi_context *ctx = NULL;
            ck_assert_int_eq(fi_context_create(&ctx), FI_OK);
            ck_assert_int_eq(fi_context_set(ctx, FI_OPT_THREADS, threads), FI_OK);
            double *o = threads == 1 && mode == 0 ? base : out;
            if (mode == 2)
                for (int64_t b = 0; b < pr.count; b++) o[b] = acc[b] = 0.25 * (double)b;
            const unsigned flags = mode == 1 ? FI_SINGLE_PASS : mode == 2 ? FI_ACCUMULATE : 0;
            ck_assert_int_eq(run(ctx, lc, &pr, FI_F32, 1, o, flags), FI_OK);
            fi_context_free(ctx);
            if (mode == 2)
                for (int64_t b = 0; b < pr.count; b++) acc[b] += base[b];
            ck_assert_msg(memcmp(o, mode == 2 ? acc : base, bytes) == 0,
                          "%s: %d threads, mode %d differ", lc->name, threads, mode);
        }
    free(base);
    free(out);
    free(acc);
    free_problem(&pr);
}
END_TEST

/* A non-finite score or target anywhere, also in an all-zero (rank 0) block whose FI would
 * ignore it: FI_ERR_NONFINITE, and in the default mode out untouched. */
/* NaN or +-inf in dtype dt at dst[i]. */
static void set_special(fi_dtype dt, void *dst, int64_t i, double v)
{
    if (dt == FI_F32) {
        ((float *)dst)[i] = (float)v;
        return;
    }
    const uint16_t neg = v < 0 ? 0x8000 : 0;
    if (dt == FI_BF16) ((uint16_t *)dst)[i] = isnan(v) ? 0x7fc0 : (uint16_t)(neg | 0x7f80);
    else ((uint16_t *)dst)[i] = isnan(v) ? 0x7e00 : (uint16_t)(neg | 0x7c00);
}

START_TEST(test_kernels_nonfinite)
{
    const layout_case *lc = &cases[_i];
    const double bad[] = {NAN, INFINITY, -INFINITY};
    static const fi_dtype dts[] = {FI_F64, FI_F32, FI_BF16, FI_F16};
    for (int d = 0; d < 4; d++) {
        const fi_dtype dt = dts[d];
        problem pr;
        make_problem(lc, dt, 3000 + (uint64_t)_i, &pr);
        double *out = malloc(sizeof(double) * (size_t)pr.count);
        ref_rng r;
        ref_seed(&r, 77 + (uint64_t)_i);
        for (int trial = 0; trial < 8; trial++) {
            const int in_target = trial % 2;
            const int64_t i = ref_int(&r, 0, pr.K - 1);
            int64_t idx[1024]; /* a coordinate some block reads */
            const int64_t p = block_coords(lc, &pr, ref_int(&r, 0, pr.count - 1), idx);
            const int64_t c = idx[ref_int(&r, 0, p - 1)];
            const double v = bad[trial % 3];
            double *slot = in_target ? &pr.g[c] : &pr.S[i * pr.n + c];
            void *xs = in_target ? pr.gx : pr.Sx;
            const int64_t xi = in_target ? c : i * pr.n + c;
            const double keep = *slot;
            double zeroed[16];
            if (trial == 7 && in_target) /* the whole coordinate zero: rank 0 where p = 1 */
                for (int64_t q = 0; q < pr.K; q++) {
                    zeroed[q] = pr.S[q * pr.n + c];
                    pr.S[q * pr.n + c] = 0;
                    if (d) store_as(dt, pr.Sx, q * pr.n + c, 0);
                }
            *slot = v;
            if (d) set_special(dt, xs, xi, v);
            fi_context *ctx = NULL;
            ck_assert_int_eq(fi_context_create(&ctx), FI_OK);
            for (int64_t b = 0; b < pr.count; b++) out[b] = -7.5;
            ck_assert_int_eq(run(ctx, lc, &pr, dt, in_target, out, 0), FI_ERR_NONFINITE);
            ck_assert_msg(strstr(fi_context_error(ctx), "finite") != NULL, "%s",
                          fi_context_error(ctx));
            for (int64_t b = 0; b < pr.count; b++)
                ck_assert_msg(out[b] == -7.5, "%s: out[%lld] written", lc->name, (long long)b);
            ck_assert_int_eq(run(ctx, lc, &pr, dt, in_target, out, FI_SINGLE_PASS),
                             FI_ERR_NONFINITE);
            fi_context_free(ctx);
            *slot = keep;
            if (d) store_as(dt, xs, xi, keep);
            if (trial == 7 && in_target)
                for (int64_t q = 0; q < pr.K; q++) {
                    pr.S[q * pr.n + c] = zeroed[q];
                    if (d) store_as(dt, pr.Sx, q * pr.n + c, zeroed[q]);
                }
        }
        free(out);
        free_problem(&pr);
    }
}
END_TEST

static Suite *kernels_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_kernels_against_references, 0, NCASES);
    tcase_add_loop_test(tc, test_kernels_threads_bitwise, 0, NCASES);
    tcase_add_loop_test(tc, test_kernels_nonfinite, 0, NCASES);
    suite_add_tcase(s, tc);
    return s;
}
FI_REGISTER_SUITE(kernels_suite)
