/* Helpers shared by the two MPI examples: work splitting, one sample's FI through libfi,
 * command-line options and result comparison. */
#ifndef FIMPI_SHARD_H
#define FIMPI_SHARD_H

#include <stdint.h>

#include "fi.h"
#include "model.h"

typedef struct options {
    int64_t samples;
    int64_t width;
    int64_t classes;
    uint64_t seed;
} options;

/* Parses --samples N --width D --classes K --seed S over the given defaults.
 * Returns 0, or -1 with a usage message on stderr (rank 0 only prints). */
int parse_options(int argc, char **argv, options *o, int rank);

/* The contiguous share [*first, *first + *len) of `total` items that rank r of `ranks`
 * owns; shares differ by at most one item. */
void split_range(int64_t total, int ranks, int r, int64_t *first, int64_t *len);

/* Which libfi entry point computes a sample's FI. */
typedef enum fi_path {
    PATH_DIRECT = 0, /* fi_direct with the class target: the one-shot fast path */
    PATH_METRIC = 1  /* fi_metric_from_scores + fi_compute with target = scores + k*ld */
} fi_path;

/* FI of blocks [first, first + len) of sample s for its predicted class, into out[0..len).
 * Computes only that shard's scores (K x len*width doubles into ws), the way a rank that
 * holds a shard of the parameters would, and runs libfi on them with the shard's own block
 * layout. Returns an fi_status. */
int shard_fi(fi_context *ctx, fi_path path, const model *m, const model_sample *s,
             int64_t first, int64_t len, double *ws, double *out);

/* How far two accumulator results of the same samples, combined in different orders, are
 * apart, in units of the merge-order bound (docs/aggregation.md): <= 1 is within it.
 * Unit weights, n samples. Also sets *identical to whether all bits agree. */
double merge_bound_ratio(const double *mean_a, const double *se_a, const double *mean_b,
                         const double *se_b, int64_t count, int64_t n, int *identical);

/* max_i |a_i - b_i|. */
double max_abs_diff(const double *a, const double *b, int64_t n);

/* Wall-clock seconds (monotonic). */
double now_seconds(void);

#endif
