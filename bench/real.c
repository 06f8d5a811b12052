/* Real-gradient workloads (issue 16): scores with the structure real models give, each timed
 * next to uniformly random scores of the same shape (same K, blocks and bytes) in the same
 * repetition loop, single thread, float32, default (checked) mode.
 *
 * Synthetic (always): one sample's class scores of a Linear layer's weight, R = 1024 units by
 * C = 4096 inputs, s_i[r, c] = delta_i[r] x[c] with
 *   x[c]      the layer input after a ReLU: zero for half of the inputs, so those coordinates
 *             are zero in every class (whole column blocks zero);
 *   delta_i   d log P_i / d h for the layer's pre-activations h: (W2[i] - sum_j P_j W2[j]) times
 *             the ReLU derivative, so sum_i P_i delta_i[r] = 0 (softmax-centred classes) and
 *             half of the units are dead (all-zero row blocks);
 * hence every row block delta[:, r] x^T has rank 1 (or 0) whatever K is, and every column
 * block x[c] delta has rank K - 1 (or 0). K = 10 and K = 4, P proportional to 1..K.
 * The factors are written to DATA/synthetic_K<K>.bin so that bench/peer_torch.py rebuilds
 * bit-identical scores (a float32 product is correctly rounded on both sides).
 *
 * PyTorch (when bench/real_models.py has written DATA/torch_<model>.bin): the scores of a real
 * model's parameters by autograd in float32, and the block layouts the file lists.
 *
 * S-row-K10-f64 and S-column-K10-f64: the same layer computed in float64 (exactly rank-1 row
 * blocks), whose rank-deficient blocks no Gram can decide (the dropped singular values lie
 * below its resolution): the in-house SVD of src/linalg/small_svd.c instead of LAPACK's; the
 * random side is the float32 random scores widened.
 *
 * Prints per workload: "REAL name coords real_ms random_ms floor_ms random_w_ms metric_ms",
 * metric_ms: fi_metric_from_scores + fi_compute on the real scores, class row K - 1. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fi.h"
#include "bench.h"

typedef struct layout {
    char name[32];
    int64_t offset, count, size, stride, step; /* fi_blocks within the scores at offset */
} layout;

typedef struct scores {
    int64_t K, n;
    double P[64];
    float *S;     /* K rows of n */
    double *S64;  /* the same scores computed in float64 (synthetic only), or NULL */
} scores;

static uint64_t lcg(uint64_t *seed)
{
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    return *seed >> 40; /* 24 random bits */
}

static double uniform01(uint64_t *seed) { return (double)lcg(seed) * (1.0 / 16777216.0); }

static void fill_random(float *S, int64_t len, uint64_t seed)
{
    for (int64_t i = 0; i < len; i++) S[i] = (float)(uniform01(&seed) - 0.5);
}

/* The median time of each side, per repetition: the floor, the real scores, random scores with
 * the same probabilities, and random scores with P proportional to 1..K (the W workloads' P:
 * a model's P, graded over orders of magnitude, is itself a structure real input has).
 * Repetitions stop early once the workload has used its time budget (the slow ones). */
static int time_pair_dtype(const char *name, const scores *real, const float *rnd,
                           const layout *l, fi_dtype dt)
{
    enum { MAXREP = 5 };
    const double budget_ms = 6000;
    fi_context *ctx = NULL;
    if (fi_context_create(&ctx) != FI_OK || fi_context_set(ctx, FI_OPT_THREADS, 1) != FI_OK)
        return 1;
    double *out = malloc(sizeof(double) * (size_t)l->count);
    const fi_blocks bl = {l->count, l->size, l->stride, l->step};
    const int64_t coords = l->count * l->size;
    const int64_t span = l->size == 1 ? l->count : (l->count - 1) * l->step + (l->size - 1) * l->stride + 1;
    double tr[MAXREP], tn[MAXREP], tf[MAXREP], tw[MAXREP], used = 0, Pw[64], z = 0;
    for (int64_t i = 0; i < real->K; i++) z += (Pw[i] = (double)(i + 1));
    for (int64_t i = 0; i < real->K; i++) Pw[i] /= z;
    /* float64 rows: the same values widened (the floor then reads twice the bytes) */
    double *real_d = NULL, *rnd_d = NULL;
    const void *Sr = real->S, *Sn = rnd;
    size_t e = sizeof(float);
    if (dt == FI_F64) {
        const int64_t len = real->K * real->n;
        real_d = malloc(sizeof(double) * (size_t)len);
        rnd_d = malloc(sizeof(double) * (size_t)len);
        if (!real_d || !rnd_d) return 1;
        for (int64_t i = 0; i < len; i++) rnd_d[i] = rnd[i];
        if (real->S64) memcpy(real_d, real->S64, sizeof(double) * (size_t)len);
        else
            for (int64_t i = 0; i < len; i++) real_d[i] = real->S[i];
        Sr = real_d, Sn = rnd_d, e = sizeof(double);
    }
    const int64_t floor_scale = (int64_t)(e / sizeof(float));
    int reps = 0, st = FI_OK;
    while (reps < MAXREP && (reps < 1 || used < budget_ms)) {
        double acc = 0;
        const double t0 = bench_now_ms();
        for (int64_t i = 0; i < real->K; i++)
            acc += bench_floor_sum((const float *)((const char *)Sr + (size_t)(i * real->n + l->offset) * e),
                                   span * floor_scale);
        const double t1 = bench_now_ms();
        st = fi_direct(ctx, real->K, real->P, dt, (const char *)Sr + (size_t)l->offset * e, span,
                       real->n, &bl, NULL, real->K - 1, out, 0);
        const double t2 = bench_now_ms();
        if (st != FI_OK) break;
        st = fi_direct(ctx, real->K, real->P, dt, (const char *)Sn + (size_t)l->offset * e, span,
                       real->n, &bl, NULL, real->K - 1, out, 0);
        const double t3 = bench_now_ms();
        if (st != FI_OK) break;
        st = fi_direct(ctx, real->K, Pw, dt, (const char *)Sn + (size_t)l->offset * e, span,
                       real->n, &bl, NULL, real->K - 1, out, 0);
        const double t4 = bench_now_ms();
        if (st != FI_OK) break;
        bench_sink += acc;
        tf[reps] = t1 - t0, tr[reps] = t2 - t1, tn[reps] = t3 - t2, tw[reps] = t4 - t3;
        used += t4 - t0;
        reps++;
    }
    if (dt == FI_F64) {
        free(real_d);
        free(rnd_d);
    }
    /* the metric path on the real scores: fi_metric_from_scores + fi_compute, the class row
     * K - 1 as the target (what the peer computes in one go) */
    double tm[MAXREP];
    int mreps = 0;
    for (double mused = 0; st == FI_OK && mreps < 3 && (mreps < 1 || mused < budget_ms);) {
        fi_metric *m = NULL;
        const double t0 = bench_now_ms();
        st = fi_metric_from_scores(ctx, real->K, real->P, dt, (const char *)Sr + (size_t)l->offset * e,
                                   span, real->n, &bl, &m);
        if (st == FI_OK)
            st = fi_compute(ctx, m, dt,
                            (const char *)Sr + (size_t)((real->K - 1) * real->n + l->offset) * e,
                            out, 0);
        fi_metric_free(m);
        tm[mreps] = bench_now_ms() - t0;
        mused += tm[mreps++];
    }
    if (st != FI_OK) fprintf(stderr, "%s: %s\n", name, fi_context_error(ctx));
    else
        printf("REAL %s %lld %.2f %.2f %.2f %.2f %.2f\n", name, (long long)coords,
               bench_median(tr, reps), bench_median(tn, reps), bench_median(tf, reps),
               bench_median(tw, reps), bench_median(tm, mreps));
    fflush(stdout);
    free(out);
    fi_context_free(ctx);
    return st != FI_OK;
}

static int time_pair(const char *name, const scores *real, const float *rnd, const layout *l)
{
    return time_pair_dtype(name, real, rnd, l, FI_F32);
}

/* The Linear layer of the header comment; returns 0 on success. */
static int synthetic(scores *sc, int64_t K, int64_t R, int64_t C, const char *data_dir)
{
    uint64_t seed = 0x5eed0000u + (uint64_t)K;
    float *delta = malloc(sizeof(float) * (size_t)(K * R)), *x = malloc(sizeof(float) * (size_t)C);
    double *W2 = malloc(sizeof(double) * (size_t)(K * R)), z = 0;
    sc->K = K, sc->n = R * C;
    sc->S = malloc(sizeof(float) * (size_t)(K * R * C));
    if (!delta || !x || !W2 || !sc->S) return 1;
    for (int64_t i = 0; i < K; i++) z += (sc->P[i] = (double)(i + 1));
    for (int64_t i = 0; i < K; i++) sc->P[i] /= z;
    for (int64_t c = 0; c < C; c++) {
        const double u = uniform01(&seed);
        x[c] = u < 0.5 ? 0.0f : (float)(2 * (u - 0.5)); /* ReLU output: half exactly zero */
    }
    for (int64_t i = 0; i < K * R; i++) W2[i] = uniform01(&seed) - 0.5;
    for (int64_t r = 0; r < R; r++) {
        const int alive = uniform01(&seed) >= 0.5; /* dead unit: ReLU'(h_r) = 0 */
        double mean = 0;
        for (int64_t j = 0; j < K; j++) mean += sc->P[j] * W2[j * R + r];
        for (int64_t i = 0; i < K; i++) {
            delta[i * R + r] = alive ? (float)(W2[i * R + r] - mean) : 0.0f;
            W2[i * R + r] = alive ? W2[i * R + r] - mean : 0.0; /* delta in float64 */
        }
    }
    for (int64_t i = 0; i < K; i++)
        for (int64_t r = 0; r < R; r++)
            for (int64_t c = 0; c < C; c++) sc->S[(i * R + r) * C + c] = delta[i * R + r] * x[c];
    /* the same model in float64: delta centred in float64 (sum_i P_i delta_i = 0 to 2^-53;
     * the float32 delta leave a residue of 2^-24, a direction far above float64's rank
     * cut-off) and rank-1 row blocks to float64's rounding (widening the float32 products
     * would add a full-rank perturbation of 2^-24) */
    sc->S64 = malloc(sizeof(double) * (size_t)(K * R * C));
    if (sc->S64)
        for (int64_t i = 0; i < K; i++)
            for (int64_t r = 0; r < R; r++)
                for (int64_t c = 0; c < C; c++)
                    sc->S64[(i * R + r) * C + c] = W2[i * R + r] * (double)x[c];
    char path[512];
    snprintf(path, sizeof path, "%s/synthetic_K%lld.bin", data_dir, (long long)K);
    FILE *f = fopen(path, "wb");
    const int64_t head[3] = {K, R, C};
    int bad = !f || fwrite(head, sizeof head, 1, f) != 1 ||
              fwrite(sc->P, sizeof(double), (size_t)K, f) != (size_t)K ||
              fwrite(delta, sizeof(float), (size_t)(K * R), f) != (size_t)(K * R) ||
              fwrite(x, sizeof(float), (size_t)C, f) != (size_t)C;
    if (f && fclose(f) != 0) bad = 1;
    if (bad) fprintf(stderr, "bench: cannot write %s (the peer will skip it)\n", path);
    free(delta), free(x), free(W2);
    return 0;
}

/* DATA/torch_<model>.bin as bench/real_models.py writes it; 0 when read, 1 when absent. */
static int read_torch(const char *path, scores *sc, layout *ls, int64_t *nl, int64_t max_layouts)
{
    sc->S64 = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return 1;
    int64_t head[4]; /* version, K, n, number of layouts */
    int ok = fread(head, sizeof head, 1, f) == 1 && head[0] == 1 && head[1] >= 2 &&
             head[1] <= 64 && head[2] > 0 && head[3] > 0 && head[3] <= max_layouts;
    if (ok) {
        sc->K = head[1], sc->n = head[2], *nl = head[3];
        ok = fread(sc->P, sizeof(double), (size_t)sc->K, f) == (size_t)sc->K &&
             fread(ls, sizeof *ls, (size_t)*nl, f) == (size_t)*nl;
    }
    if (ok) {
        sc->S = malloc(sizeof(float) * (size_t)(sc->K * sc->n));
        ok = sc->S && fread(sc->S, sizeof(float), (size_t)(sc->K * sc->n), f) ==
                          (size_t)(sc->K * sc->n);
    }
    fclose(f);
    if (!ok) {
        fprintf(stderr, "bench: %s is malformed; delete it to regenerate\n", path);
        return 1;
    }
    return 0;
}

static int wanted(const char *only, const char *name)
{
    return !only || strncmp(only, name, strlen(only)) == 0;
}

int bench_real(const char *only, const char *data_dir)
{
    const int64_t R = 1024, C = 4096, Ks[2] = {10, 4};
    int bad = 0;
    for (int k = 0; k < 2 && !bad; k++) {
        char names[3][32];
        const int64_t K = Ks[k];
        snprintf(names[0], 32, "S-element-K%lld", (long long)K);
        snprintf(names[1], 32, "S-row-K%lld", (long long)K);
        snprintf(names[2], 32, "S-column-K%lld", (long long)K);
        int any = 0; /* a name of this K, or its float64 variant (name-f64) */
        for (int j = 0; j < 3; j++)
            any |= wanted(only, names[j]) || (only && strncmp(only, names[j], strlen(names[j])) == 0);
        if (!any) continue;
        scores sc;
        if (synthetic(&sc, K, R, C, data_dir)) return 1;
        float *rnd = malloc(sizeof(float) * (size_t)(K * sc.n));
        if (!rnd) return 1;
        fill_random(rnd, K * sc.n, 777 + (uint64_t)K);
        const layout ls[3] = {{"", 0, R * C, 1, 1, 1}, {"", 0, R, C, 1, C}, {"", 0, C, R, C, 1}};
        for (int j = 0; j < 3 && !bad; j++)
            if (wanted(only, names[j])) bad = time_pair(names[j], &sc, rnd, &ls[j]);
        for (int j = 1; j < 3 && !bad && K == 10; j++) { /* float64: the in-house SVD's blocks */
            char name[40];
            snprintf(name, sizeof name, "%s-f64", names[j]);
            if (wanted(only, name)) bad = time_pair_dtype(name, &sc, rnd, &ls[j], FI_F64);
        }
        free(rnd);
        free(sc.S);
        free(sc.S64);
    }
    const char *models[2] = {"cnn", "transformer"};
    for (int m = 0; m < 2 && !bad && (!only || strncmp(only, "T-", 2) == 0); m++) {
        char path[512];
        scores sc;
        layout ls[16];
        int64_t nl = 0;
        snprintf(path, sizeof path, "%s/torch_%s.bin", data_dir, models[m]);
        if (read_torch(path, &sc, ls, &nl, 16)) {
            printf("REAL-SKIPPED %s\n", path);
            continue;
        }
        float *rnd = malloc(sizeof(float) * (size_t)(sc.K * sc.n));
        if (!rnd) return 1;
        fill_random(rnd, sc.K * sc.n, 4242 + (uint64_t)m);
        for (int64_t j = 0; j < nl && !bad; j++) {
            ls[j].name[sizeof ls[j].name - 1] = 0;
            char name[40];
            snprintf(name, sizeof name, "T-%.31s", ls[j].name);
            if (wanted(only, name)) bad = time_pair(name, &sc, rnd, &ls[j]);
        }
        free(rnd);
        free(sc.S);
    }
    return bad;
}
