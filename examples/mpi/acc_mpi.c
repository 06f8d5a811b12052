/* MPI reduction of libfi accumulators through their serialized images (see acc_mpi.h). */
#include "acc_mpi.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* The commute flag of MPI_Op_create. libfi's merge adds double-double sums with error-free
 * TwoSum steps, whose result does not depend on the order of the two operands: merge(a, b)
 * and merge(b, a) give the same bits. So MPI may pick its fastest algorithm, and the two
 * partners of every reduction step compute the same image, which keeps the result
 * identical on all ranks. Like every MPI_Op (MPI_SUM on doubles included) the merge is
 * associative only up to rounding, here the double-double rounding of docs/aggregation.md:
 * the tree MPI chooses can move the reported mean by a few ulps at most, never more. */
#define ACC_MERGE_COMMUTES 1

static void say(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The user-defined MPI_Op: inout[e] = in[e] merged with inout[e] for each of the *len
 * images. An MPI_Op cannot return an error, so a failure here (out of memory, or an image
 * that is not ours) ends the job, which is the only honest thing left to do. */
static void merge_images(void *in, void *inout, int *len, MPI_Datatype *type)
{
    int bytes = 0;
    MPI_Type_size(*type, &bytes);
    fi_context *ctx = NULL;
    if (fi_context_create(&ctx) != FI_OK) {
        fprintf(stderr, "acc_mpi: cannot create a libfi context in the reduction\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    for (int e = 0; e < *len; e++) {
        const unsigned char *src = (const unsigned char *)in + (size_t)e * (size_t)bytes;
        unsigned char *dst = (unsigned char *)inout + (size_t)e * (size_t)bytes;
        fi_accumulator *a = NULL, *b = NULL;
        int st = fi_accumulator_deserialize(ctx, src, (size_t)bytes, &a);
        if (st == FI_OK) st = fi_accumulator_deserialize(ctx, dst, (size_t)bytes, &b);
        /* a = in + inout keeps the lower ranks on the left, as MPI orders the operands. */
        if (st == FI_OK) st = fi_accumulator_merge(ctx, a, b);
        if (st == FI_OK) st = fi_accumulator_serialize(ctx, a, dst, (size_t)bytes);
        fi_accumulator_free(a);
        fi_accumulator_free(b);
        if (st != FI_OK) {
            fprintf(stderr, "acc_mpi: merging images failed: %s (%s)\n", fi_strerror(st),
                    fi_context_error(ctx));
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
    }
    fi_context_free(ctx);
}

/* Serializes acc into a new buffer and makes every rank agree that all images exist and
 * have the same size, so that no rank enters the collective alone. */
static int serialize_agreed(fi_context *ctx, const fi_accumulator *acc, MPI_Comm comm,
                            unsigned char **image, size_t *size, char *err, size_t errlen)
{
    size_t bytes = fi_accumulator_serialized_size(acc);
    unsigned char *buf = bytes ? malloc(bytes) : NULL;
    int local_ok = buf != NULL;
    if (local_ok) {
        int st = fi_accumulator_serialize(ctx, acc, buf, bytes);
        if (st != FI_OK) {
            say(err, errlen, "serialize: %s", fi_context_error(ctx));
            local_ok = 0;
        }
    } else {
        say(err, errlen, "no image (accumulator NULL or out of memory)");
    }
    /* One collective: the largest size, the smallest size (as ULLONG_MAX - size) and
     * whether any rank failed. */
    unsigned long long v[3] = {bytes, ULLONG_MAX - bytes, (unsigned long long)!local_ok};
    MPI_Allreduce(MPI_IN_PLACE, v, 3, MPI_UNSIGNED_LONG_LONG, MPI_MAX, comm);
    if (v[2] || v[0] != ULLONG_MAX - v[1] || v[0] > INT_MAX) {
        if (local_ok) {
            if (v[2])
                say(err, errlen, "another rank could not serialize its accumulator");
            else if (v[0] != ULLONG_MAX - v[1])
                say(err, errlen, "accumulator images differ in size across ranks "
                                 "(%llu..%llu bytes): block counts disagree",
                    ULLONG_MAX - v[1], v[0]);
            else
                say(err, errlen, "image of %llu bytes exceeds one MPI element (INT_MAX); "
                                 "split the blocks over several accumulators", v[0]);
        }
        free(buf);
        return -1;
    }
    *image = buf;
    *size = bytes;
    return 0;
}

/* Replaces *acc by the accumulator read back from image. */
static int replace(fi_context *ctx, fi_accumulator **acc, const void *image, size_t size,
                   char *err, size_t errlen)
{
    fi_accumulator *merged = NULL;
    if (fi_accumulator_deserialize(ctx, image, size, &merged) != FI_OK) {
        say(err, errlen, "deserialize: %s", fi_context_error(ctx));
        return -1;
    }
    fi_accumulator_free(*acc);
    *acc = merged;
    return 0;
}

int acc_allreduce(fi_context *ctx, fi_accumulator **acc, MPI_Comm comm, char *err,
                  size_t errlen)
{
    unsigned char *image = NULL;
    size_t size = 0;
    if (serialize_agreed(ctx, *acc, comm, &image, &size, err, errlen) != 0) return -1;
    /* One element of `size` bytes: MPI may cut a message into pieces for pipelining but
     * never an element, so the operator always sees whole images. */
    MPI_Datatype type;
    MPI_Op op;
    MPI_Type_contiguous((int)size, MPI_BYTE, &type);
    MPI_Type_commit(&type);
    MPI_Op_create(merge_images, ACC_MERGE_COMMUTES, &op);
    int rc = MPI_Allreduce(MPI_IN_PLACE, image, 1, type, op, comm);
    MPI_Op_free(&op);
    MPI_Type_free(&type);
    int ret = -1;
    if (rc != MPI_SUCCESS)
        say(err, errlen, "MPI_Allreduce failed (%d)", rc);
    else
        ret = replace(ctx, acc, image, size, err, errlen);
    free(image);
    return ret;
}

int acc_allgather_merge(fi_context *ctx, fi_accumulator **acc, MPI_Comm comm, char *err,
                        size_t errlen)
{
    unsigned char *image = NULL;
    size_t size = 0;
    if (serialize_agreed(ctx, *acc, comm, &image, &size, err, errlen) != 0) return -1;
    int ranks = 1;
    MPI_Comm_size(comm, &ranks);
    unsigned char *all = malloc(size * (size_t)ranks);
    int local_ok = all != NULL, ok = 0;
    MPI_Allreduce(&local_ok, &ok, 1, MPI_INT, MPI_MIN, comm);
    if (!ok) {
        say(err, errlen, "out of memory for %d images", ranks);
        free(all);
        free(image);
        return -1;
    }
    MPI_Allgather(image, (int)size, MPI_BYTE, all, (int)size, MPI_BYTE, comm);
    free(image);

    /* Merge in rank order, starting from rank 0's image: every rank computes the same
     * sequence of operations and so the same bits, exact merge or not. */
    fi_accumulator *sum = NULL, *part = NULL;
    int st = fi_accumulator_deserialize(ctx, all, size, &sum);
    for (int r = 1; st == FI_OK && r < ranks; r++) {
        st = fi_accumulator_deserialize(ctx, all + (size_t)r * size, size, &part);
        if (st == FI_OK) st = fi_accumulator_merge(ctx, sum, part);
        fi_accumulator_free(part);
        part = NULL;
    }
    free(all);
    if (st != FI_OK) {
        say(err, errlen, "merging gathered images: %s", fi_context_error(ctx));
        fi_accumulator_free(sum);
        return -1;
    }
    fi_accumulator_free(*acc);
    *acc = sum;
    return 0;
}
