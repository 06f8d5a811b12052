/* How the cost of fi_direct grows with the number of classes K (issue 16): elements, rows and
 * columns of an R x C matrix at K = 4 .. 64, single thread, float32, class target, on scores
 * with the structure of real gradients and on uniformly random scores. A fast path that stops
 * at some K shows as a jump in ns/coord/class; the floor is one read of the same bytes.
 *
 * Real structure (as bench/real.c's S-* workloads): s_i[r, c] = delta_i[r] x[c], x a ReLU
 * output (half exactly zero), delta softmax-centred (sum_i P_i delta_i[r] = 0) with half of the
 * units dead, so a row block has rank 1 or 0 and a column block rank K - 1 or 0.
 *
 * Prints one line per (K, layout, structure): milliseconds (median), ns per coordinate, ns per
 * coordinate per class, the floor's ns per coordinate per class and the ratio to the floor.
 * Usage: ksweep [K ...] (default 4 5 8 10 16 17 24 32 48 64). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fi.h"
#include "bench.h"

enum { R = 512, C = 1024, MAXK = 64 };

static uint64_t lcg(uint64_t *seed)
{
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    return *seed >> 40;
}

static double uniform01(uint64_t *seed) { return (double)lcg(seed) * (1.0 / 16777216.0); }

static void real_scores(float *S, int64_t K, const double *P, uint64_t seed)
{
    static float x[C], delta[MAXK][R];
    for (int64_t c = 0; c < C; c++) {
        const double u = uniform01(&seed);
        x[c] = u < 0.5 ? 0.0f : (float)(2 * (u - 0.5));
    }
    for (int64_t r = 0; r < R; r++) {
        double w[MAXK], mean = 0;
        const int alive = uniform01(&seed) >= 0.5;
        for (int64_t i = 0; i < K; i++) mean += P[i] * (w[i] = uniform01(&seed) - 0.5);
        for (int64_t i = 0; i < K; i++) delta[i][r] = alive ? (float)(w[i] - mean) : 0.0f;
    }
    for (int64_t i = 0; i < K; i++)
        for (int64_t r = 0; r < R; r++)
            for (int64_t c = 0; c < C; c++) S[(i * R + r) * C + c] = delta[i][r] * x[c];
}

/* Median milliseconds of fi_direct over reps runs (fewer when one run is slow). */
static double time_direct(fi_context *ctx, int64_t K, const double *P, const float *S,
                          const fi_blocks *bl, double *out, int *bad)
{
    double t[5];
    int reps = 0;
    double used = 0;
    while (reps < 5 && (reps < 2 || used < 1500)) {
        const double t0 = bench_now_ms();
        if (fi_direct(ctx, K, P, FI_F32, S, R * C, R * C, bl, NULL, K - 1, out, 0) != FI_OK) {
            fprintf(stderr, "ksweep: %s\n", fi_context_error(ctx));
            *bad = 1;
            return 0;
        }
        t[reps] = bench_now_ms() - t0;
        used += t[reps++];
        if (t[0] > 3000) break;
    }
    return bench_median(t, reps);
}

int main(int argc, char **argv)
{
    static const int64_t defaults[] = {4, 5, 8, 10, 16, 17, 24, 32, 48, 64};
    int64_t Ks[32];
    int nk = 0;
    for (int a = 1; a < argc && nk < 32; a++) {
        const long k = strtol(argv[a], NULL, 10);
        if (k >= 2 && k <= MAXK) Ks[nk++] = k;
    }
    if (!nk)
        for (size_t j = 0; j < sizeof defaults / sizeof defaults[0]; j++) Ks[nk++] = defaults[j];
    fi_context *ctx = NULL;
    if (fi_context_create(&ctx) != FI_OK || fi_context_set(ctx, FI_OPT_THREADS, 1) != FI_OK)
        return 1;
    float *S = malloc(sizeof(float) * (size_t)(MAXK * R * C));
    double *out = malloc(sizeof(double) * (size_t)(R * C));
    if (!S || !out) return 1;
    const fi_blocks layouts[3] = {{R * C, 1, 1, 1}, {R, C, 1, C}, {C, R, C, 1}};
    const char *names[3] = {"elements", "rows", "columns"};
    printf("# fi_direct, 1 thread, float32, class target; rows: %d blocks of p = %d, columns: %d "
           "blocks of p = %d\n", R, C, C, R);
    printf("%-3s %-8s %-6s %9s %9s %12s %12s %9s\n", "K", "layout", "scores", "ms", "ns/coord",
           "ns/coord/K", "floor/coord/K", "x floor");
    int bad = 0;
    for (int q = 0; q < nk && !bad; q++) {
        const int64_t K = Ks[q];
        double P[MAXK], z = 0;
        for (int64_t i = 0; i < K; i++) z += (P[i] = (double)(i + 1));
        for (int64_t i = 0; i < K; i++) P[i] /= z;
        for (int structure = 0; structure < 2 && !bad; structure++) {
            uint64_t seed = 99 + (uint64_t)K;
            if (structure == 0) real_scores(S, K, P, seed);
            else
                for (int64_t i = 0; i < K * R * C; i++) S[i] = (float)(uniform01(&seed) - 0.5);
            double f[5];
            for (int r = 0; r < 5; r++) {
                const double t0 = bench_now_ms();
                bench_sink += bench_floor_sum(S, K * R * C);
                f[r] = bench_now_ms() - t0;
            }
            const double floor_ms = bench_median(f, 5);
            for (int j = 0; j < 3 && !bad; j++) {
                const double ms = time_direct(ctx, K, P, S, &layouts[j], out, &bad);
                const double nc = ms * 1e6 / (R * C), fc = floor_ms * 1e6 / (R * C);
                printf("%-3lld %-8s %-6s %9.2f %9.2f %12.3f %12.3f %9.1f\n", (long long)K,
                       names[j], structure ? "random" : "real", ms, nc, nc / K, fc / K, ms / floor_ms);
                fflush(stdout);
            }
        }
    }
    free(S);
    free(out);
    fi_context_free(ctx);
    return bad;
}
