/* The workflow around fi_direct at scale (issue 13): accumulation, selection across arrays and
 * class streaming, each as a ratio to a reference measured in the same run. Single thread,
 * float32 scores, the class target of bench/bench.c. Prints `key value` lines that
 * docs/performance.md's workflow table quotes (regenerate: make bench-workflow).
 *  accumulate: W1 (16.8M elements, K = 4): 8 samples of fi_mean_add_direct against 8 fi_direct
 *    calls alone (target <= 1.5x), both in the checked mode and with FI_SINGLE_PASS;
 *    fi_mean_add from an FI array per block and sample; the exact fi_accumulator for
 *    comparison (create + one add); bytes per block.
 *  select: the top 1% of 16.8M doubles in 64 arrays of different sizes, never concatenated
 *    (4 radix rounds + masks), against one read of the values and against fi_select_top on
 *    the concatenation; FI-Low's draw over the same arrays.
 *  stream: elements n = 1M, K = 4 and K = 1024 classes fed one at a time: time, bytes held,
 *    and the bytes all K x n scores would take (fi_direct's input). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fi.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof t[0], cmp);
    return t[n / 2];
}

static uint64_t seed = 12345;
static float unit(void)
{
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((seed >> 40) * (1.0 / 16777216.0) - 0.5);
}

#define CHECK(call)                                                                        \
    do {                                                                                   \
        if ((call) != FI_OK) {                                                             \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, fi_context_error(ctx));     \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

static volatile double sink;

static void accumulate(fi_context *ctx)
{
    const int64_t K = 4, n = 4096 * 4096;
    enum { SAMPLES = 8, REPS = 3 };
    float *S = malloc(sizeof(float) * (size_t)(K * n));
    double *out = malloc(sizeof(double) * (size_t)n), P[4], z = 0;
    for (int64_t i = 0; i < K * n; i++) S[i] = unit();
    for (int64_t i = 0; i < K; i++) z += (P[i] = (double)(i + 1));
    for (int64_t i = 0; i < K; i++) P[i] /= z;
    const fi_blocks bl = {n, 1, 1, 1};
    fi_mean *m = NULL;
    fi_accumulator *exact = NULL;
    double t0 = now_ms();
    CHECK(fi_mean_create(ctx, n, &m));
    const double t_create = now_ms() - t0;
    double td[REPS], tf[REPS], ta[REPS], td1[REPS], tf1[REPS];
    for (int r = 0; r < REPS; r++) {
        t0 = now_ms();
        for (int s = 0; s < SAMPLES; s++)
            CHECK(fi_direct(ctx, K, P, FI_F32, S, n, n, &bl, NULL, K - 1, out, FI_SINGLE_PASS));
        td1[r] = now_ms() - t0;
        t0 = now_ms();
        for (int s = 0; s < SAMPLES; s++)
            CHECK(fi_mean_add_direct(ctx, m, 1.0, K, P, FI_F32, S, n, n, &bl, NULL, K - 1,
                                     FI_SINGLE_PASS));
        tf1[r] = now_ms() - t0;
        t0 = now_ms();
        for (int s = 0; s < SAMPLES; s++)
            CHECK(fi_direct(ctx, K, P, FI_F32, S, n, n, &bl, NULL, K - 1, out, 0));
        td[r] = now_ms() - t0;
        t0 = now_ms();
        for (int s = 0; s < SAMPLES; s++)
            CHECK(fi_mean_add_direct(ctx, m, 1.0, K, P, FI_F32, S, n, n, &bl, NULL, K - 1, 0));
        tf[r] = now_ms() - t0;
        t0 = now_ms();
        for (int s = 0; s < SAMPLES; s++) CHECK(fi_mean_add(ctx, m, out, 1.0));
        ta[r] = now_ms() - t0;
    }
    t0 = now_ms();
    CHECK(fi_accumulator_create(ctx, n, &exact));
    CHECK(fi_accumulator_add(ctx, exact, out, 1.0));
    const double t_exact = now_ms() - t0;
    const double d = median(td, REPS), f = median(tf, REPS), a = median(ta, REPS);
    const double d1 = median(td1, REPS), f1 = median(tf1, REPS);
    printf("accumulate.direct_1pass_x8_ms %.1f\n", d1);
    printf("accumulate.fused_1pass_x8_ms %.1f\n", f1);
    printf("accumulate.fused_1pass_over_direct_1pass %.2f\n", f1 / d1);
    printf("accumulate.fused_1pass_over_direct %.2f\n", f1 / d);
    /* what the add costs on top of computing FI: the fused call minus fi_direct alone */
    printf("accumulate.fused_add_ns_per_block %.2f\n", (f1 - d1) / SAMPLES / (double)n * 1e6);
    printf("accumulate.direct_x8_ms %.1f\n", d);
    printf("accumulate.fused_x8_ms %.1f\n", f);
    printf("accumulate.fused_over_direct %.2f\n", f / d);
    printf("accumulate.add_ns_per_block %.2f\n", a / SAMPLES / (double)n * 1e6);
    printf("accumulate.create_ms %.1f\n", t_create);
    printf("accumulate.bytes_per_block %.0f\n", (double)fi_mean_serialized_size(m) / (double)n);
    printf("accumulate.exact_create_add_ns_per_block %.1f\n", t_exact / (double)n * 1e6);
    printf("accumulate.exact_bytes_per_block %.0f\n",
           (double)fi_accumulator_serialized_size(exact) / (double)n);
    fi_mean_free(m);
    fi_accumulator_free(exact);
    free(S);
    free(out);
}

static void selection(fi_context *ctx)
{
    enum { NA = 64, REPS = 3 };
    const int64_t total_target = 4096 * 4096;
    int64_t n[NA], total = 0;
    double *v[NA];
    for (int a = 0; a < NA; a++) { /* sizes from 1/4 to 7/4 of the mean */
        n[a] = total_target / NA / 4 + (int64_t)(total_target / NA * 1.5 * a / (NA - 1));
        v[a] = malloc(sizeof(double) * (size_t)n[a]);
        for (int64_t i = 0; i < n[a]; i++) { /* FI-like: >= 0, 10% exact zeros */
            const float x = unit();
            v[a][i] = x < -0.4f ? 0.0 : (double)(x + 0.5f) * (double)(x + 0.5f) * 1e3;
        }
        total += n[a];
    }
    const int64_t k = fi_fraction_count(total, 0.01);
    uint8_t *mask = malloc((size_t)total);
    double tr[REPS], ts[REPS], tt[REPS] = {0}, tl[REPS];
    for (int r = 0; r < REPS; r++) {
        double t0 = now_ms(), acc = 0;
        for (int a = 0; a < NA; a++)
            for (int64_t i = 0; i < n[a]; i++) acc += v[a][i];
        sink = acc;
        tr[r] = now_ms() - t0;
        t0 = now_ms();
        fi_threshold *sel = NULL;
        CHECK(fi_threshold_create(ctx, &sel));
        for (int done = 0; !done;) {
            for (int a = 0; a < NA; a++) CHECK(fi_threshold_add(ctx, sel, v[a], n[a]));
            CHECK(fi_threshold_narrow(ctx, sel, k, &done));
        }
        int64_t ties = 0, off = 0;
        for (int a = 0; a < NA; off += n[a], a++)
            CHECK(fi_threshold_mask(ctx, sel, v[a], n[a], &ties, mask + off));
        ts[r] = now_ms() - t0;
        fi_threshold_free(sel);
        t0 = now_ms();
        fi_threshold *rnd = NULL;
        CHECK(fi_threshold_create_random(ctx, 7, &rnd));
        for (int done = 0; !done;) {
            off = 0;
            for (int a = 0; a < NA; off += n[a], a++)
                CHECK(fi_threshold_add_random(ctx, rnd, a, n[a], mask + off));
            CHECK(fi_threshold_narrow(ctx, rnd, k, &done));
        }
        tl[r] = now_ms() - t0;
        fi_threshold_free(rnd);
        if (r == 0) { /* the single-array path, on the concatenation it needs */
            double *all = malloc(sizeof(double) * (size_t)total);
            int64_t *idx = malloc(sizeof(int64_t) * (size_t)k);
            off = 0;
            for (int a = 0; a < NA; off += n[a], a++)
                memcpy(all + off, v[a], sizeof(double) * (size_t)n[a]);
            t0 = now_ms();
            CHECK(fi_select_top(ctx, all, total, k, idx));
            tt[0] = now_ms() - t0;
            free(all);
            free(idx);
        }
    }
    const double rd = median(tr, REPS), s = median(ts, REPS), l = median(tl, REPS);
    printf("select.values %lld\n", (long long)total);
    printf("select.arrays %d\n", NA);
    printf("select.read_ms %.1f\n", rd);
    printf("select.top1pct_ms %.1f\n", s);
    printf("select.top1pct_over_read %.2f\n", s / rd);
    printf("select.histogram_bytes %zu\n", (size_t)65536 * 8);
    printf("select.select_top_concatenated_ms %.1f\n", tt[0]);
    printf("select.fi_low_draw_ms %.1f\n", l);
    for (int a = 0; a < NA; a++) free(v[a]);
    free(mask);
}

static void stream(fi_context *ctx, int64_t K)
{
    const int64_t n = 1 << 20;
    enum { POOL = 8 };
    float *pool[POOL];
    for (int j = 0; j < POOL; j++) { /* K score vectors cycled from a pool: memory stays O(n) */
        pool[j] = malloc(sizeof(float) * (size_t)n);
        for (int64_t c = 0; c < n; c++) pool[j][c] = unit();
    }
    const fi_blocks bl = {n, 1, 1, 1};
    double *out = malloc(sizeof(double) * (size_t)n), *out2 = malloc(sizeof(double) * (size_t)n);
    const double t0 = now_ms();
    fi_class_stream *cs = NULL;
    CHECK(fi_class_stream_create(ctx, n, &bl, K - 1, &cs));
    for (int64_t i = 0; i < K; i++)
        CHECK(fi_class_stream_add(ctx, cs, 1.0 / (double)K, FI_F32, pool[i % POOL]));
    CHECK(fi_class_stream_finish(ctx, cs, FI_F32, NULL, out, 0));
    const double ts = now_ms() - t0;
    size_t bytes = 0;
    CHECK(fi_class_stream_info(cs, NULL, NULL, &bytes));
    fi_class_stream_free(cs);
    printf("stream.K%lld.n %lld\n", (long long)K, (long long)n);
    printf("stream.K%lld.ms %.1f\n", (long long)K, ts);
    printf("stream.K%lld.ns_per_element_class %.2f\n", (long long)K, ts / (double)(n * K) * 1e6);
    printf("stream.K%lld.bytes_held %zu\n", (long long)K, bytes);
    printf("stream.K%lld.all_scores_bytes %lld\n", (long long)K, (long long)(K * n * 4));
    if (K <= POOL) { /* fi_direct on the same K x n scores, gathered into one array */
        float *S = malloc(sizeof(float) * (size_t)(K * n));
        double P[POOL];
        for (int64_t i = 0; i < K; i++) {
            memcpy(S + i * n, pool[i], sizeof(float) * (size_t)n);
            P[i] = 1.0 / (double)K;
        }
        const double t1 = now_ms();
        CHECK(fi_direct(ctx, K, P, FI_F32, S, n, n, &bl, NULL, K - 1, out2, 0));
        printf("stream.K%lld.direct_ms %.1f\n", (long long)K, now_ms() - t1);
        double worst = 0;
        for (int64_t c = 0; c < n; c++) {
            const double d = out[c] - out2[c], r = (d < 0 ? -d : d) / (out2[c] > 0 ? out2[c] : 1);
            worst = r > worst ? r : worst;
        }
        printf("stream.K%lld.max_rel_diff_to_direct %.1e\n", (long long)K, worst);
        free(S);
    }
    for (int j = 0; j < POOL; j++) free(pool[j]);
    free(out);
    free(out2);
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    fi_context *ctx = NULL;
    if (fi_context_create(&ctx) != FI_OK) return 1;
    if (!only || !strcmp(only, "accumulate")) accumulate(ctx);
    if (!only || !strcmp(only, "select")) selection(ctx);
    if (!only || !strcmp(only, "stream")) {
        stream(ctx, 4);
        stream(ctx, 1024);
    }
    fi_context_free(ctx);
    return 0;
}
