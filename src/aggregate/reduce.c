/* Reduction of per-element values over groups: channel FI from element FI (docs/math.md fact 8). */
#include "core/validate.h"

/* out[g] = op over the values of group g, groups an affine layout over the n values
 * (groups may overlap or leave values out). All checks come first: on failure out is
 * untouched. */
int fi_reduce(fi_context *ctx, const double *values, int64_t n, const fi_blocks *groups, int op,
              double *out)
{
    if (!ctx) return FI_ERR_NULL;
    if (!values) return fi__fail(ctx, FI_ERR_NULL, "values is NULL");
    if (!out) return fi__fail(ctx, FI_ERR_NULL, "out is NULL");
    if (n < 1) return fi__fail(ctx, FI_ERR_DIMENSION, "n must be >= 1 (got %lld)", (long long)n);
    if (op != FI_REDUCE_SUM && op != FI_REDUCE_MEAN && op != FI_REDUCE_MAX)
        return fi__fail(ctx, FI_ERR_OPTION, "unknown reduction %d (FI_REDUCE_SUM=0, MEAN=1, MAX=2)",
                        op);
    fi_layout l;
    int status = fi__layout_affine(ctx, groups, n, &l);
    if (status != FI_OK) return status;
    const int64_t bad = fi__first_nonfinite(FI_F64, values, n);
    if (bad >= 0)
        return fi__fail(ctx, FI_ERR_NONFINITE, "values[%lld] is not finite", (long long)bad);
    const int64_t p = l.affine.size;
    for (int64_t g = 0; g < l.count; g++) {
        double acc = op == FI_REDUCE_MAX ? -INFINITY : 0.0;
        for (int64_t j = 0; j < p; j++) {
            const double v = values[fi__block_coord(&l, g, j)];
            acc = op == FI_REDUCE_MAX ? (v > acc ? v : acc) : acc + v;
        }
        if (op == FI_REDUCE_MEAN) {
            if (isfinite(acc))
                acc /= (double)p;
            else { /* the sum overflowed; the mean of finite values does not */
                acc = 0.0;
                for (int64_t j = 0; j < p; j++) acc += values[fi__block_coord(&l, g, j)] / (double)p;
            }
        }
        out[g] = acc;
    }
    fi__ok(ctx);
    return FI_OK;
}
