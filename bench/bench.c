/* Benchmarks W1-W6 of SPEC section 3: median time of fi_direct (class target argmax P,
 * float32 scores; W3 and W4 also with bfloat16 scores, as engines keep gradients) against
 * the floor, a streaming read of the same input bytes in this run.
 * The bfloat16 rows run under FI_RANK_NOISE: under the default FI_RANK_ROUNDOFF a block of
 * p = 4096 >= 1/u = 256 coordinates has rcond >= 1, so rank 0 and FI 0 (docs/api.md,
 * fi_rank_rule), and the row would time nothing. A workload whose FI is 0 on every block is
 * refused for the same reason.
 * Each repetition times the floor and then every configuration (1 and 2 threads; the default
 * checked mode, which reads the input once more to guarantee an untouched out on non-finite
 * input, and FI_SINGLE_PASS), so that a noisy neighbour slows both sides of a ratio alike.
 * Prints one line per configuration: name threads mode rule lib_ms floor_ms ratio, where
 * rule is the FI_OPT_RANK_RULE in force ("roundoff", the default, or "noise").
 * The metric path (single thread, float32 workloads): mode "metric" times
 * fi_metric_from_scores + fi_compute against the floor of the scores, mode "compute" times
 * fi_compute alone against a read of its inputs: the target row and the metric's bytes as
 * src/api/metric.c stores them (p = 1: one double per block; p >= K: a copy of the blocks'
 * scores; else min(p, K) x p doubles per block), read as doubles.
 * Then the real-gradient workloads of bench/real.c (their cache files in $FI_BENCH_DATA,
 * default build/bench).  Usage: bench [--w-only | --real-only | NAME (a W name, or a prefix of
 * real ones)] */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "fi.h"

/* The floor: one streaming pass over n floats. */
static double floor_once(const float *x, int64_t n)
{
    const double t0 = bench_now_ms();
    bench_sink = bench_floor_sum(x, n);
    return bench_now_ms() - t0;
}

/* The floor of fi_compute's metric: one pass over n doubles, 8 independent partial sums. */
static double floor_doubles(const double *x, int64_t n)
{
    const double t0 = bench_now_ms();
    double acc[8] = {0};
    for (int64_t i = 0; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += x[i + j];
    bench_sink = acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
    return bench_now_ms() - t0;
}

static double median(double *t, int n) { return bench_median(t, n); }

typedef struct workload {
    const char *name;
    int64_t K, n, count, size, stride, step;
    int indexed, reps;
    int bf16; /* scores stored as bfloat16 (engines' gradients); the floor reads those bytes */
    int rule; /* FI_OPT_RANK_RULE; 0 is FI_RANK_ROUNDOFF, the default */
} workload;

static const char *rule_name(int rule) { return rule == FI_RANK_NOISE ? "noise" : "roundoff"; }

/* Blocks with FI > 0, so that a row known to time all-zero results is caught. */
static int64_t nonzero_blocks(const double *out, int64_t count)
{
    int64_t k = 0;
    for (int64_t b = 0; b < count; b++) k += out[b] > 0;
    return k;
}

int main(int argc, char **argv)
{
    const char *arg = argc > 1 ? argv[1] : NULL;
    const int w_only = arg && strcmp(arg, "--w-only") == 0;
    const int real_only = arg && strcmp(arg, "--real-only") == 0;
    const char *only = w_only || real_only ? NULL : arg;
    const char *data_dir = getenv("FI_BENCH_DATA") ? getenv("FI_BENCH_DATA") : "build/bench";
    const int64_t M = 4096, IMG = 448;
    const workload w[] = {
        {"W1-element", 4, M * M, M * M, 1, 1, 1, 0, 7, 0, FI_RANK_ROUNDOFF},
        {"W2-pixel", 4, IMG * IMG * 3, IMG * IMG, 3, 1, 3, 0, 15, 0, FI_RANK_ROUNDOFF},
        {"W3-row", 4, M * M, M, M, 1, M, 0, 7, 0, FI_RANK_ROUNDOFF},
        {"W4-column", 4, M * M, M, M, M, 1, 0, 7, 0, FI_RANK_ROUNDOFF},
        {"W5-patch", 4, IMG * IMG * 3, (IMG / 14) * (IMG / 14), 14 * 14 * 3, 0, 0, 1, 15, 0,
         FI_RANK_ROUNDOFF},
        {"W6-row-K16", 16, M * M, M, M, 1, M, 0, 5, 0, FI_RANK_ROUNDOFF},
        {"W3-row-bf16", 4, M * M, M, M, 1, M, 0, 7, 1, FI_RANK_NOISE},
        {"W4-column-bf16", 4, M * M, M, M, M, 1, 0, 7, 1, FI_RANK_NOISE},
    };
    uint64_t seed = 12345;
    for (size_t t = 0; t < sizeof w / sizeof w[0]; t++) {
        const workload *wl = &w[t];
        if (real_only || (only && strcmp(only, wl->name) != 0)) continue;
        const int64_t K = wl->K, n = wl->n;
        float *S = malloc(sizeof(float) * (size_t)(K * n));
        double *out = malloc(sizeof(double) * (size_t)wl->count), P[16], z = 0;
        int64_t *offsets = NULL, *indices = NULL;
        for (int64_t i = 0; i < K * n; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            S[i] = (float)((seed >> 40) * (1.0 / 16777216.0) - 0.5);
        }
        const fi_dtype dt = wl->bf16 ? FI_BF16 : FI_F32;
        if (wl->bf16) { /* in place, front to back: the upper half of each float */
            uint16_t *h = (uint16_t *)S;
            for (int64_t i = 0; i < K * n; i++) {
                uint32_t u;
                memcpy(&u, &S[i], sizeof u);
                h[i] = (uint16_t)(u >> 16);
            }
        }
        for (int64_t i = 0; i < K; i++) z += (P[i] = (double)(i + 1)); /* P ~ 1..K, as the peer */
        for (int64_t i = 0; i < K; i++) P[i] /= z;
        if (wl->indexed) { /* 14x14 patches of an HWC image, all three channels */
            const int64_t per = IMG / 14, p = wl->size;
            offsets = malloc(sizeof(int64_t) * (size_t)(wl->count + 1));
            indices = malloc(sizeof(int64_t) * (size_t)(wl->count * p));
            for (int64_t b = 0, q = 0; b < wl->count; b++) {
                offsets[b] = q;
                for (int64_t y = 0; y < 14; y++)
                    for (int64_t x = 0; x < 14; x++)
                        for (int64_t c = 0; c < 3; c++)
                            indices[q++] = (((b / per) * 14 + y) * IMG + (b % per) * 14 + x) * 3 + c;
            }
            offsets[wl->count] = wl->count * p;
        }
        enum { CONFIGS = 4, MAXREP = 16 };
        const int cfg_threads[CONFIGS] = {1, 1, 2, 2};
        const unsigned cfg_flags[CONFIGS] = {0, FI_SINGLE_PASS, 0, FI_SINGLE_PASS};
        fi_context *ctx[CONFIGS] = {NULL};
        for (int c = 0; c < CONFIGS; c++)
            if (fi_context_create(&ctx[c]) != FI_OK ||
                fi_context_set(ctx[c], FI_OPT_THREADS, cfg_threads[c]) != FI_OK ||
                fi_context_set(ctx[c], FI_OPT_RANK_RULE, wl->rule) != FI_OK)
                return 1;
        double tf[MAXREP], tl[CONFIGS][MAXREP], tm[MAXREP], tc[MAXREP], tcf[MAXREP];
        const int metric_path = !wl->bf16 && K <= 4;
        const int64_t wsize = wl->size == 1   ? wl->count
                              : wl->size >= K ? wl->count * K * wl->size / 2
                                              : wl->count * wl->size * wl->size;
        double *wread = metric_path ? malloc(sizeof(double) * (size_t)wsize) : NULL;
        for (int64_t i = 0; wread && i < wsize; i++) wread[i] = (double)(i & 7);
        const fi_blocks bl = {wl->count, wl->size, wl->stride, wl->step};
        const fi_index_blocks ib = {wl->count, offsets, indices};
        for (int r = 0; r < wl->reps; r++) {
            tf[r] = floor_once(S, wl->bf16 ? K * n / 2 : K * n);
            for (int c = 0; c < CONFIGS; c++) {
                const double t0 = bench_now_ms();
                const int st =
                    wl->indexed
                        ? fi_direct_indexed(ctx[c], K, P, dt, S, n, n, &ib, NULL, K - 1, out,
                                            cfg_flags[c])
                        : fi_direct(ctx[c], K, P, dt, S, n, n, &bl, NULL, K - 1, out,
                                    cfg_flags[c]);
                tl[c][r] = bench_now_ms() - t0;
                if (st != FI_OK) {
                    fprintf(stderr, "%s: %s\n", wl->name, fi_context_error(ctx[c]));
                    return 1;
                }
                if (r == 0 && nonzero_blocks(out, wl->count) == 0) {
                    fprintf(stderr, "%s: FI is 0 on every block under rule %s: nothing to time\n",
                            wl->name, rule_name(wl->rule));
                    return 1;
                }
            }
            if (!metric_path) continue;
            fi_metric *m = NULL;
            const float *target = S + (K - 1) * n; /* class target argmax P, as fi_direct */
            const double t0 = bench_now_ms();
            int st = wl->indexed
                         ? fi_metric_from_scores_indexed(ctx[0], K, P, dt, S, n, n, &ib, &m)
                         : fi_metric_from_scores(ctx[0], K, P, dt, S, n, n, &bl, &m);
            const double t1 = bench_now_ms();
            st = st == FI_OK ? fi_compute(ctx[0], m, dt, target, out, 0) : st;
            const double t2 = bench_now_ms();
            if (st != FI_OK) {
                fprintf(stderr, "%s metric: %s\n", wl->name, fi_context_error(ctx[0]));
                return 1;
            }
            fi_metric_free(m);
            tm[r] = t2 - t0;
            tc[r] = t2 - t1;
            tcf[r] = floor_once(target, n) + floor_doubles(wread, wsize);
        }
        const double fl = median(tf, wl->reps);
        for (int c = 0; c < CONFIGS; c++) {
            const double ms = median(tl[c], wl->reps);
            printf("%s %d %s %s %.2f %.2f %.2f\n", wl->name, cfg_threads[c],
                   cfg_flags[c] ? "1pass" : "checked", rule_name(wl->rule), ms, fl, ms / fl);
            fi_context_free(ctx[c]);
        }
        if (metric_path) {
            const double mm = median(tm, wl->reps), cm = median(tc, wl->reps);
            const double cf = median(tcf, wl->reps);
            printf("%s 1 metric %s %.2f %.2f %.2f\n", wl->name, rule_name(wl->rule), mm, fl,
                   mm / fl);
            printf("%s 1 compute %s %.2f %.2f %.2f\n", wl->name, rule_name(wl->rule), cm, cf,
                   cm / cf);
        }
        free(wread);
        fflush(stdout);
        free(S);
        free(out);
        free(offsets);
        free(indices);
    }
    return w_only ? 0 : bench_real(only, data_dir);
}
