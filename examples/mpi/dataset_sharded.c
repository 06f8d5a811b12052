/*
 * Dataset-sharded average FI over MPI.
 *
 * Every rank holds the whole (small) model, regenerates its own contiguous slice of the
 * samples from the seed, computes each sample's per-block FI with libfi's one-shot fast
 * path (fi_direct, class target) and adds it to a local accumulator. The accumulators are
 * then combined with one MPI_Allreduce of their serialized images (acc_mpi.c), and, as a
 * cross-check, with MPI_Allgather + merge.
 *
 * Rank 0 then recomputes the whole data set in one process and one accumulator and checks
 *   - distributed mean and standard error == single-process ones, for both collectives,
 *     within the merge-order bound of docs/aggregation.md (a few ulps; in practice the bits
 *     agree, and the output says whether they did);
 *   - the result is the same to the bit on every rank (the merge is commutative to the bit,
 *     and both partners of each MPI reduction step combine the same two images);
 *   - every per-sample FI against the model's closed form (model_oracle), and the mean and
 *     standard error against the same statistics computed here from the closed forms.
 * Exit status 0 when all hold, 1 otherwise. Run: mpirun -np 2 ./dataset_sharded
 */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acc_mpi.h"
#include "fi.h"
#include "model.h"
#include "shard.h"

/* Per-sample agreement of libfi with the closed form. A rank-1 block's FI is a ratio of
 * two sums of K squares, so the SVD path and the closed form agree to a few hundred ulps
 * of the bound K - 1 >= FI; 1e-10 leaves room without hiding a wrong formula. */
#define ORACLE_TOL 1e-10

/* Ends the whole job after a failure that leaves this rank unable to take part in the
 * collectives that follow. */
static void die(const char *what, fi_context *ctx, int st)
{
    fprintf(stderr, "dataset_sharded: %s: %s (%s)\n", what, fi_strerror(st),
            ctx ? fi_context_error(ctx) : "");
    MPI_Abort(MPI_COMM_WORLD, 1);
}

/* An independent copy of acc, through its own image. */
static fi_accumulator *clone(fi_context *ctx, const fi_accumulator *acc)
{
    size_t size = fi_accumulator_serialized_size(acc);
    void *buf = malloc(size ? size : 1);
    fi_accumulator *copy = NULL;
    if (!buf) die("clone", NULL, FI_ERR_NOMEM);
    int st = fi_accumulator_serialize(ctx, acc, buf, size);
    if (st == FI_OK) st = fi_accumulator_deserialize(ctx, buf, size, &copy);
    free(buf);
    if (st != FI_OK) die("clone", ctx, st);
    return copy;
}

/* Adds FI of samples [first, first + len) to acc. If oracle is given, also stores the
 * closed-form values there (len x blocks). *seconds: time spent in libfi (FI and add),
 * *correct: samples whose prediction is their label. Returns the largest
 * |libfi - closed form|. */
static double run_slice(fi_context *ctx, const model *m, int64_t first, int64_t len,
                        fi_accumulator *acc, double *oracle, double *seconds, int64_t *correct)
{
    const int64_t nb = model_blocks(m);
    model_sample s;
    double *ws = malloc(sizeof(double) * (size_t)(m->classes * model_coords(m)));
    double *fi = malloc(sizeof(double) * (size_t)nb);
    double *ref = malloc(sizeof(double) * (size_t)nb);
    if (!ws || !fi || !ref || model_sample_alloc(m, &s) != 0) die("alloc", NULL, FI_ERR_NOMEM);
    double worst = 0;
    *seconds = 0;
    *correct = 0;
    for (int64_t i = first; i < first + len; i++) {
        model_draw(m, i, &s);
        *correct += s.predicted == s.label;
        double t0 = now_seconds();
        int st = shard_fi(ctx, PATH_DIRECT, m, &s, 0, nb, ws, fi);
        if (st == FI_OK) st = fi_accumulator_add(ctx, acc, fi, 1.0);
        *seconds += now_seconds() - t0;
        if (st != FI_OK) die("FI of a sample", ctx, st);
        model_oracle(m, &s, s.predicted, 0, nb, ref);
        double d = max_abs_diff(fi, ref, nb);
        if (!(d <= worst)) worst = d;
        if (oracle) memcpy(oracle + (i - first) * nb, ref, sizeof(double) * (size_t)nb);
    }
    model_sample_free(&s);
    free(ws);
    free(fi);
    free(ref);
    return worst;
}

/* Mean and standard error of an accumulator into freshly allocated arrays. */
static void results(fi_context *ctx, const fi_accumulator *acc, int64_t nb, double **mean,
                    double **se)
{
    *mean = malloc(sizeof(double) * (size_t)nb);
    *se = malloc(sizeof(double) * (size_t)nb);
    if (!*mean || !*se) die("alloc", NULL, FI_ERR_NOMEM);
    int st = fi_accumulator_result(ctx, acc, *mean, *se);
    if (st != FI_OK) die("accumulator result", ctx, st);
}

/* How two results compare, for the report. */
static const char *verdict_text(int identical, double ratio)
{
    if (identical) return "bit-identical";
    return ratio <= 1 ? "within the merge-order bound" : "OUTSIDE the merge-order bound";
}

/* 1 when every rank of comm holds the same bits in x[0..n). */
static int ranks_agree(const double *x, int64_t n, MPI_Comm comm)
{
    int64_t bytes = (int64_t)sizeof(double) * n;
    unsigned char *hi = malloc((size_t)bytes), *lo = malloc((size_t)bytes);
    if (!hi || !lo) die("alloc", NULL, FI_ERR_NOMEM);
    MPI_Allreduce(x, hi, (int)bytes, MPI_UNSIGNED_CHAR, MPI_MAX, comm);
    MPI_Allreduce(x, lo, (int)bytes, MPI_UNSIGNED_CHAR, MPI_MIN, comm);
    int same = memcmp(hi, x, (size_t)bytes) == 0 && memcmp(lo, x, (size_t)bytes) == 0;
    free(hi);
    free(lo);
    return same;
}

/* 1 when acc_allreduce, given accumulators of different block counts on different ranks
 * (the last rank's has one block more), returns an error on this rank instead of merging
 * or hanging. Trivially 1 on a single rank, where nothing can disagree. */
static int mismatch_refused(fi_context *ctx, int64_t nb, int rank, int ranks)
{
    if (ranks == 1) return 1;
    fi_accumulator *odd = NULL;
    int st = fi_accumulator_create(ctx, rank == ranks - 1 ? nb + 1 : nb, &odd);
    if (st != FI_OK) die("accumulator", ctx, st);
    char err[256] = "";
    int rc = acc_allreduce(ctx, &odd, MPI_COMM_WORLD, err, sizeof err);
    fi_accumulator_free(odd);
    return rc != 0 && strstr(err, "differ in size") != NULL;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank = 0, ranks = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);

    options opt = {.samples = 1001, .width = 24, .classes = 5, .seed = 7};
    if (parse_options(argc, argv, &opt, rank) != 0) {
        MPI_Finalize();
        return 2;
    }
    model m;
    if (model_init(&m, opt.width, opt.classes, opt.seed) != 0) die("model", NULL, FI_ERR_NOMEM);
    const int64_t nb = model_blocks(&m), N = opt.samples;
    fi_context *ctx = NULL;
    int st = fi_context_create(&ctx);
    if (st != FI_OK) die("context", NULL, st);

    /* 1. This rank's slice of the data set, into its own accumulator. */
    int64_t first, len;
    split_range(N, ranks, rank, &first, &len);
    fi_accumulator *acc = NULL;
    st = fi_accumulator_create(ctx, nb, &acc);
    if (st != FI_OK) die("accumulator", ctx, st);
    double t_local = 0;
    int64_t correct = 0;
    double oracle_err = run_slice(ctx, &m, first, len, acc, NULL, &t_local, &correct);
    fi_accumulator *acc2 = clone(ctx, acc);
    size_t image = fi_accumulator_serialized_size(acc);

    /* 2. Combine: one allreduce of the images, and allgather + merge as a cross-check. */
    char err[256] = "";
    int refuses = mismatch_refused(ctx, nb, rank, ranks);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = now_seconds();
    if (acc_allreduce(ctx, &acc, MPI_COMM_WORLD, err, sizeof err) != 0) {
        fprintf(stderr, "rank %d: acc_allreduce: %s\n", rank, err);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    double t_allreduce = now_seconds() - t0;
    if (acc_allgather_merge(ctx, &acc2, MPI_COMM_WORLD, err, sizeof err) != 0) {
        fprintf(stderr, "rank %d: acc_allgather_merge: %s\n", rank, err);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    double *mean, *se, *mean2, *se2;
    results(ctx, acc, nb, &mean, &se);
    results(ctx, acc2, nb, &mean2, &se2);
    int64_t samples = 0;
    double weight = 0;
    st = fi_accumulator_info(acc, NULL, &samples, &weight);
    if (st != FI_OK) die("accumulator info", ctx, st);

    int counts_ok = samples == N && weight == (double)N, same_ag = 0;
    double ratio_ag = merge_bound_ratio(mean, se, mean2, se2, nb, N, &same_ag);
    int agree = ranks_agree(mean, nb, MPI_COMM_WORLD) & ranks_agree(se, nb, MPI_COMM_WORLD);
    double worst_oracle = 0, t_slowest = 0, worst_ag = 0;
    MPI_Reduce(&oracle_err, &worst_oracle, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&t_local, &t_slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&ratio_ag, &worst_ag, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    int flags[3] = {counts_ok, same_ag, refuses}, all_flags[3] = {0, 0, 0};
    MPI_Reduce(flags, all_flags, 3, MPI_INT, MPI_MIN, 0, MPI_COMM_WORLD);

    /* 3. Rank 0: the same thing in one process, and the closed-form statistics. */
    int verdict = 0;
    if (rank == 0) {
        fi_accumulator *single = NULL;
        st = fi_accumulator_create(ctx, nb, &single);
        if (st != FI_OK) die("accumulator", ctx, st);
        double *oracle = malloc(sizeof(double) * (size_t)(N * nb));
        if (!oracle) die("alloc", NULL, FI_ERR_NOMEM);
        double t_single = 0;
        double single_err = run_slice(ctx, &m, 0, N, single, oracle, &t_single, &correct);
        double *mean1, *se1;
        results(ctx, single, nb, &mean1, &se1);

        /* Closed-form mean and standard error of the mean, sqrt(var / N) with the
         * unbiased variance (docs/aggregation.md, weights all 1). */
        double mean_err = 0, se_err = 0;
        for (int64_t b = 0; b < nb; b++) {
            double mu = 0, var = 0;
            for (int64_t i = 0; i < N; i++) mu += oracle[i * nb + b];
            mu /= (double)N;
            for (int64_t i = 0; i < N; i++)
                var += (oracle[i * nb + b] - mu) * (oracle[i * nb + b] - mu);
            var /= (double)(N > 1 ? N - 1 : 1);
            double sterr = sqrt(var / (double)N);
            mean_err = fmax(mean_err, fabs(mean1[b] - mu));
            se_err = fmax(se_err, fabs(se1[b] - sterr));
        }
        int same_single = 0;
        double ratio_single = merge_bound_ratio(mean, se, mean1, se1, nb, N, &same_single);
        double dist_diff = max_abs_diff(mean, mean1, nb);
        worst_oracle = fmax(worst_oracle, single_err);
        int oracle_ok = worst_oracle <= ORACLE_TOL && mean_err <= ORACLE_TOL
                        && se_err <= ORACLE_TOL;

        printf("dataset-sharded FI: %d ranks, %lld samples, %lld blocks of %lld weights, "
               "K = %lld, model accuracy %.1f%%\n", ranks, (long long)N, (long long)nb,
               (long long)m.width, (long long)m.classes, 100.0 * (double)correct / (double)N);
        printf("  accumulator image        %zu bytes per rank and allreduce\n", image);
        printf("  distributed vs 1 process %s (max |diff| of the mean %.3g, %.2g of the "
               "merge-order bound)\n", verdict_text(same_single, ratio_single), dist_diff,
               ratio_single);
        printf("  allreduce vs allgather   %s; all ranks bit-identical: %s; %lld samples, "
               "total weight %s\n", verdict_text(all_flags[1], worst_ag), agree ? "yes" : "NO",
               (long long)samples, all_flags[0] ? "right" : "WRONG");
        printf("  libfi vs closed form     per sample %.3g, mean %.3g, std error %.3g "
               "(tolerance %.0e)\n", worst_oracle, mean_err, se_err, ORACLE_TOL);
        printf("  libfi time               %.1f us per sample; %.3f s in 1 process, %.3f s "
               "on the slowest rank; allreduce %.1f us\n",
               1e6 * t_single / (double)N, t_single, t_slowest, 1e6 * t_allreduce);
        int64_t top = 0;
        for (int64_t b = 1; b < nb; b++)
            if (mean1[b] > mean1[top]) top = b;
        printf("  most influential block   %s row %lld: mean FI %.4f +- %.4f\n",
               top < m.width ? "hidden-layer" : "output-layer",
               (long long)(top < m.width ? top : top - m.width), mean1[top], se1[top]);
        printf("  mismatched block counts  %s\n", all_flags[2]
                   ? "refused with an error on every rank (no rank left in the collective)"
                   : "NOT REFUSED on every rank");
        verdict = (ratio_single <= 1 && worst_ag <= 1 && agree && all_flags[0] && all_flags[2]
                   && oracle_ok) ? 0 : 1;
        printf("%s\n", verdict ? "FAIL" : "OK");
        free(mean1);
        free(se1);
        free(oracle);
        fi_accumulator_free(single);
    }
    MPI_Bcast(&verdict, 1, MPI_INT, 0, MPI_COMM_WORLD);

    free(mean);
    free(se);
    free(mean2);
    free(se2);
    fi_accumulator_free(acc);
    fi_accumulator_free(acc2);
    fi_context_free(ctx);
    model_free(&m);
    MPI_Finalize();
    return verdict;
}
