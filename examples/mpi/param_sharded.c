/*
 * Parameter-sharded FI over MPI.
 *
 * The blocks (rows of the weight matrices) are split into contiguous ranges, one per rank,
 * as a tensor- or pipeline-parallel model holds its parameters. Every rank sees every
 * sample (the forward pass is replicated here; in a real sharded model the activations it
 * needs arrive from its neighbours), computes the class scores of ITS parameters only and
 * libfi's FI for its blocks (fi_metric_from_scores + fi_compute), and averages them over
 * the samples in an accumulator of its own block count. Rank 0 gathers the per-block means
 * and standard errors with MPI_Gatherv.
 *
 * Each rank also computes its blocks a second way, from the full score matrix with the
 * scores pointer offset to its first block (the way to split one process's work), and
 * rank 0 computes the whole model in one process. Checks:
 *   - shard-local == pointer-offset FI, bit for bit, on every rank and sample;
 *   - gathered means and standard errors == the single-process ones, bit for bit (a
 *     block's FI depends on that block's scores only; each block sums the same values in
 *     the same order wherever it lives);
 *   - every FI against the model's closed form (model_oracle).
 * Exit status 0 when all hold, 1 otherwise. Run: mpirun -np 2 ./param_sharded
 */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fi.h"
#include "model.h"
#include "shard.h"

/* See dataset_sharded.c: rank-1 blocks, SVD path vs closed form. */
#define ORACLE_TOL 1e-10

static void die(const char *what, fi_context *ctx, int st)
{
    fprintf(stderr, "param_sharded: %s: %s (%s)\n", what, fi_strerror(st),
            ctx ? fi_context_error(ctx) : "");
    MPI_Abort(MPI_COMM_WORLD, 1);
}

static double *doubles(int64_t n)
{
    double *p = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (!p) die("alloc", NULL, FI_ERR_NOMEM);
    return p;
}

/* FI of blocks [first, first + len) from the FULL score matrix (K rows of n, ld = n):
 * offset the scores pointer to the block's first coordinate, shrink n to what is left,
 * keep ld, and number the blocks from 0. */
static int offset_fi(fi_context *ctx, const model *m, const model_sample *s, const double *full,
                     int64_t first, int64_t len, double *out)
{
    const int64_t D = m->width, n = model_coords(m), skip = first * D;
    fi_blocks rows = {.count = len, .size = D, .stride = 1, .step = D};
    fi_metric *metric = NULL;
    int st = fi_metric_from_scores(ctx, m->classes, s->P, FI_F64, full + skip, n - skip, n,
                                   &rows, &metric);
    if (st == FI_OK)
        st = fi_compute(ctx, metric, FI_F64, full + s->predicted * n + skip, out, 0);
    fi_metric_free(metric);
    return st;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank = 0, ranks = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);

    options opt = {.samples = 300, .width = 24, .classes = 5, .seed = 11};
    if (parse_options(argc, argv, &opt, rank) != 0) {
        MPI_Finalize();
        return 2;
    }
    model m;
    if (model_init(&m, opt.width, opt.classes, opt.seed) != 0) die("model", NULL, FI_ERR_NOMEM);
    const int64_t nb = model_blocks(&m), n = model_coords(&m), K = m.classes, N = opt.samples;
    if (ranks > nb) {
        if (rank == 0) fprintf(stderr, "param_sharded: more ranks (%d) than blocks (%lld)\n",
                               ranks, (long long)nb);
        MPI_Finalize();
        return 2;
    }
    fi_context *ctx = NULL;
    int st = fi_context_create(&ctx);
    if (st != FI_OK) die("context", NULL, st);

    /* 1. This rank's blocks, over all samples. */
    int64_t b0, bl;
    split_range(nb, ranks, rank, &b0, &bl);
    fi_accumulator *acc = NULL;
    st = fi_accumulator_create(ctx, bl, &acc);
    if (st != FI_OK) die("accumulator", ctx, st);
    model_sample s;
    if (model_sample_alloc(&m, &s) != 0) die("alloc", NULL, FI_ERR_NOMEM);
    double *ws = doubles(K * bl * m.width), *full = doubles(K * n);
    double *fi = doubles(bl), *fi_off = doubles(bl), *ref = doubles(bl);
    int offset_same = 1;
    double oracle_err = 0, t_shard = 0;
    for (int64_t i = 0; i < N; i++) {
        model_draw(&m, i, &s);
        double t0 = now_seconds();
        st = shard_fi(ctx, PATH_METRIC, &m, &s, b0, bl, ws, fi);
        t_shard += now_seconds() - t0;
        if (st != FI_OK) die("FI of the shard", ctx, st);
        model_scores(&m, &s, 0, n, full, n);
        st = offset_fi(ctx, &m, &s, full, b0, bl, fi_off);
        if (st != FI_OK) die("FI from the offset pointer", ctx, st);
        offset_same &= memcmp(fi, fi_off, sizeof(double) * (size_t)bl) == 0;
        model_oracle(&m, &s, s.predicted, b0, bl, ref);
        oracle_err = fmax(oracle_err, max_abs_diff(fi, ref, bl));
        st = fi_accumulator_add(ctx, acc, fi, 1.0);
        if (st != FI_OK) die("accumulator add", ctx, st);
    }
    double *mean = doubles(bl), *se = doubles(bl);
    st = fi_accumulator_result(ctx, acc, mean, se);
    if (st != FI_OK) die("accumulator result", ctx, st);

    /* 2. Gather the per-block results on rank 0 in block order. */
    int *counts = NULL, *displs = NULL;
    double *all_mean = NULL, *all_se = NULL;
    if (rank == 0) {
        counts = malloc(sizeof(int) * (size_t)ranks);
        displs = malloc(sizeof(int) * (size_t)ranks);
        if (!counts || !displs) die("alloc", NULL, FI_ERR_NOMEM);
        for (int r = 0; r < ranks; r++) {
            int64_t f, l;
            split_range(nb, ranks, r, &f, &l);
            counts[r] = (int)l;
            displs[r] = (int)f;
        }
        all_mean = doubles(nb);
        all_se = doubles(nb);
    }
    MPI_Gatherv(mean, (int)bl, MPI_DOUBLE, all_mean, counts, displs, MPI_DOUBLE, 0,
                MPI_COMM_WORLD);
    MPI_Gatherv(se, (int)bl, MPI_DOUBLE, all_se, counts, displs, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    int all_offset_same = 0;
    double worst_oracle = 0, t_slowest = 0;
    MPI_Reduce(&offset_same, &all_offset_same, 1, MPI_INT, MPI_MIN, 0, MPI_COMM_WORLD);
    MPI_Reduce(&oracle_err, &worst_oracle, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&t_shard, &t_slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);

    /* 3. Rank 0: the whole model in one process. */
    int verdict = 0;
    if (rank == 0) {
        fi_accumulator *single = NULL;
        st = fi_accumulator_create(ctx, nb, &single);
        if (st != FI_OK) die("accumulator", ctx, st);
        double *fi1 = doubles(nb), *ref1 = doubles(nb), t_single = 0;
        for (int64_t i = 0; i < N; i++) {
            model_draw(&m, i, &s);
            double t0 = now_seconds();
            st = shard_fi(ctx, PATH_METRIC, &m, &s, 0, nb, full, fi1);
            t_single += now_seconds() - t0;
            if (st != FI_OK) die("FI of the whole model", ctx, st);
            model_oracle(&m, &s, s.predicted, 0, nb, ref1);
            worst_oracle = fmax(worst_oracle, max_abs_diff(fi1, ref1, nb));
            st = fi_accumulator_add(ctx, single, fi1, 1.0);
            if (st != FI_OK) die("accumulator add", ctx, st);
        }
        double *mean1 = doubles(nb), *se1 = doubles(nb);
        st = fi_accumulator_result(ctx, single, mean1, se1);
        if (st != FI_OK) die("accumulator result", ctx, st);
        int match = memcmp(all_mean, mean1, sizeof(double) * (size_t)nb) == 0
                    && memcmp(all_se, se1, sizeof(double) * (size_t)nb) == 0;
        int oracle_ok = worst_oracle <= ORACLE_TOL;

        printf("parameter-sharded FI: %d ranks, %lld blocks of %lld weights (%lld..%lld per "
               "rank), %lld samples, K = %lld\n", ranks, (long long)nb, (long long)m.width,
               (long long)(nb / ranks), (long long)((nb + ranks - 1) / ranks), (long long)N,
               (long long)K);
        printf("  gathered vs 1 process    %s (max |diff| of the mean %.3g)\n",
               match ? "bit-identical" : "DIFFERENT", max_abs_diff(all_mean, mean1, nb));
        printf("  shard scores vs offset   %s\n",
               all_offset_same ? "bit-identical" : "DIFFERENT");
        printf("  libfi vs closed form     max |diff| %.3g (tolerance %.0e)\n", worst_oracle,
               ORACLE_TOL);
        printf("  FI time per sample       %.1f us for the whole model; %.1f us on the "
               "slowest rank's shard\n", 1e6 * t_single / (double)N,
               1e6 * t_slowest / (double)N);
        verdict = (match && all_offset_same && oracle_ok) ? 0 : 1;
        printf("%s\n", verdict ? "FAIL" : "OK");
        free(fi1);
        free(ref1);
        free(mean1);
        free(se1);
        fi_accumulator_free(single);
    }
    MPI_Bcast(&verdict, 1, MPI_INT, 0, MPI_COMM_WORLD);

    free(counts);
    free(displs);
    free(all_mean);
    free(all_se);
    free(mean);
    free(se);
    free(ws);
    free(full);
    free(fi);
    free(fi_off);
    free(ref);
    model_sample_free(&s);
    fi_accumulator_free(acc);
    fi_context_free(ctx);
    model_free(&m);
    MPI_Finalize();
    return verdict;
}
