/*
 * Cost of combining accumulators across ranks, for docs/distributed.md.
 *
 * For an accumulator of COUNT blocks (default 1,000,000) holding a few samples per rank,
 * times, best of REPEAT runs:
 *   - acc_allreduce        (one MPI_Allreduce of the images, merge as a user MPI_Op),
 *   - acc_allgather_merge  (MPI_Allgather of the images, merge in rank order),
 *   - MPI_Allreduce MPI_SUM of 2*COUNT doubles: what summing two plain per-block arrays
 *     (sum w*FI, sum w*FI^2) would cost, the floor for any format,
 * and prints the image size. Not a test: run by hand, e.g.
 *   mpirun -np 2 build/mpi/allreduce_bench 1000000 5
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "acc_mpi.h"
#include "fi.h"
#include "shard.h"

static void check(int st, fi_context *ctx, const char *what)
{
    if (st == FI_OK) return;
    fprintf(stderr, "allreduce_bench: %s: %s (%s)\n", what, fi_strerror(st),
            fi_context_error(ctx));
    MPI_Abort(MPI_COMM_WORLD, 1);
}

/* An accumulator of count blocks with three samples of pseudo-random FI values. */
static fi_accumulator *filled(fi_context *ctx, int64_t count, int rank, double *fi)
{
    fi_accumulator *acc = NULL;
    check(fi_accumulator_create(ctx, count, &acc), ctx, "create");
    uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(rank + 1);
    for (int s = 0; s < 3; s++) {
        for (int64_t b = 0; b < count; b++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            fi[b] = (double)(x >> 11) * 0x1.0p-53 * 3.0;
        }
        check(fi_accumulator_add(ctx, acc, fi, 1.0), ctx, "add");
    }
    return acc;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank = 0, ranks = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    int64_t count = argc > 1 ? atoll(argv[1]) : 1000000;
    int repeat = argc > 2 ? atoi(argv[2]) : 5;
    if (count < 1 || repeat < 1) {
        if (rank == 0) fprintf(stderr, "usage: %s [COUNT >= 1] [REPEAT >= 1]\n", argv[0]);
        MPI_Finalize();
        return 2;
    }
    fi_context *ctx = NULL;
    if (fi_context_create(&ctx) != FI_OK) MPI_Abort(MPI_COMM_WORLD, 1);
    double *fi = malloc(sizeof(double) * (size_t)count * 2);
    if (!fi) MPI_Abort(MPI_COMM_WORLD, 1);

    double best[3] = {1e30, 1e30, 1e30};
    size_t image = 0;
    char err[256];
    for (int r = 0; r < repeat; r++) {
        for (int method = 0; method < 2; method++) {
            fi_accumulator *acc = filled(ctx, count, rank, fi);
            image = fi_accumulator_serialized_size(acc);
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = now_seconds();
            int rc = method == 0 ? acc_allreduce(ctx, &acc, MPI_COMM_WORLD, err, sizeof err)
                                 : acc_allgather_merge(ctx, &acc, MPI_COMM_WORLD, err,
                                                       sizeof err);
            double t = now_seconds() - t0;
            if (rc != 0) {
                fprintf(stderr, "allreduce_bench: %s\n", err);
                MPI_Abort(MPI_COMM_WORLD, 1);
            }
            MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            if (t < best[method]) best[method] = t;
            fi_accumulator_free(acc);
        }
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = now_seconds();
        MPI_Allreduce(MPI_IN_PLACE, fi, (int)(2 * count), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        double t = now_seconds() - t0;
        MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (t < best[2]) best[2] = t;
    }
    if (rank == 0) {
        printf("%d ranks, %lld blocks, image %zu bytes (%.2f per block)\n", ranks,
               (long long)count, image, (double)image / (double)count);
        printf("  acc_allreduce        %9.3f ms\n", 1e3 * best[0]);
        printf("  acc_allgather_merge  %9.3f ms\n", 1e3 * best[1]);
        printf("  MPI_SUM 2 doubles/b  %9.3f ms  (%zu bytes)\n", 1e3 * best[2],
               (size_t)count * 16);
    }
    free(fi);
    fi_context_free(ctx);
    MPI_Finalize();
    return 0;
}
