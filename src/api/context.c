/* Entry points of the context: options, error text, allocator; version, status texts, dtype
 * sizes and constants by name. */
#include "core/core.h"
#include "core/dtype.h"
#include "solve/dispatch.h"

#include <stdio.h>
#include <stdlib.h>

unsigned fi_version_number(void) { return FI_VERSION_NUMBER; }

const char *fi_version_string(void) { return FI_VERSION_STRING; }

int fi_context_create(fi_context **ctx)
{
    if (!ctx) return FI_ERR_NULL;
    *ctx = NULL;
    fi_context *c = malloc(sizeof *c);
    if (!c) return FI_ERR_NOMEM;
    c->rcond = -1.0;
    c->atol = 0.0;
    c->prob_tol = FI_DEFAULT_PROB_TOL;
    c->class_mode = FI_CLASS_STRICT;
    c->threads = 1;
    c->method = FI_METHOD_AUTO;
    c->isa = FI_ISA_AUTO;
    c->rank_rule = FI_RANK_ROUNDOFF;
    c->mem = fi__default_allocator();
    c->error[0] = '\0';
    *ctx = c;
    return FI_OK;
}

void fi_context_free(fi_context *ctx) { free(ctx); }

const char *fi_context_error(const fi_context *ctx)
{
    return ctx ? ctx->error : "context is NULL";
}

const char *fi_strerror(int status)
{
    switch (status) {
    case FI_OK: return "success";
    case FI_ERR_NULL: return "a required pointer argument is NULL";
    case FI_ERR_DIMENSION: return "bad dimension, stride or block layout";
    case FI_ERR_PROBABILITY: return "bad probabilities";
    case FI_ERR_NONFINITE: return "non-finite value (NaN or Inf) in the input";
    case FI_ERR_NOMEM: return "out of memory";
    case FI_ERR_LAPACK: return "a LAPACK routine failed";
    case FI_ERR_OPTION: return "unknown option or option value out of range";
    case FI_ERR_FLAG: return "unknown flag";
    case FI_ERR_DTYPE: return "unknown dtype";
    case FI_ERR_CLASS: return "class index out of range";
    case FI_ERR_MISMATCH: return "objects do not match";
    case FI_ERR_FORMAT: return "serialized buffer is truncated, corrupt or of another version";
    case FI_ERR_THREAD: return "could not start a worker thread";
    case FI_ERR_NAME: return "unknown constant name";
    default: return "unknown status code";
    }
}

static bool is_integral(double v) { return isfinite(v) && v == floor(v); }

int fi_context_set(fi_context *ctx, int option, double value)
{
    if (!ctx) return FI_ERR_NULL;
    switch (option) {
    case FI_OPT_RCOND:
        if (isnan(value) || isinf(value))
            return fi__fail(ctx, FI_ERR_OPTION, "FI_OPT_RCOND must be finite (got %g); "
                                                "a negative value selects the default", value);
        ctx->rcond = value < 0 ? -1.0 : value;
        break;
    case FI_OPT_ATOL:
        if (!(value >= 0) || isinf(value))
            return fi__fail(ctx, FI_ERR_OPTION, "FI_OPT_ATOL must be finite and >= 0 (got %g)",
                            value);
        ctx->atol = value;
        break;
    case FI_OPT_PROB_TOL:
        if (!(value >= 0) || isinf(value))
            return fi__fail(ctx, FI_ERR_OPTION,
                            "FI_OPT_PROB_TOL must be finite and >= 0 (got %g)", value);
        ctx->prob_tol = value;
        break;
    case FI_OPT_CLASS_MODE:
        if (!is_integral(value) || value < FI_CLASS_STRICT || value > FI_CLASS_REMAINDER)
            return fi__fail(ctx, FI_ERR_OPTION,
                            "FI_OPT_CLASS_MODE must be 0 (strict), 1 (renormalize) or "
                            "2 (remainder class); got %g", value);
        ctx->class_mode = (int)value;
        break;
    case FI_OPT_THREADS:
        if (!is_integral(value) || value < 1 || value > FI_MAX_THREADS)
            return fi__fail(ctx, FI_ERR_OPTION,
                            "FI_OPT_THREADS must be an integer in [1, %d]; got %g",
                            FI_MAX_THREADS, value);
        ctx->threads = (int)value;
        break;
    case FI_OPT_METHOD:
        if (!is_integral(value) || value < FI_METHOD_AUTO || value > FI_METHOD_REFERENCE)
            return fi__fail(ctx, FI_ERR_OPTION,
                            "FI_OPT_METHOD must be 0 (auto) or 1 (reference SVD); got %g", value);
        ctx->method = (int)value;
        break;
    case FI_OPT_ISA:
        if (!is_integral(value) || value < FI_ISA_AUTO || value > FI_ISA_AVX512)
            return fi__fail(ctx, FI_ERR_OPTION,
                            "FI_OPT_ISA must be 0 (auto), 1 (portable), 2 (AVX2) or "
                            "3 (AVX-512) kernels; got %g", value);
        if (!fi__isa_available((int)value))
            return fi__fail(ctx, FI_ERR_OPTION,
                            "FI_OPT_ISA %g: this build or CPU does not run the %s kernels", value,
                            value == FI_ISA_AVX2 ? "AVX2+FMA+F16C" : "AVX-512VL");
        ctx->isa = (int)value;
        break;
    case FI_OPT_RANK_RULE:
        if (!is_integral(value) || value < FI_RANK_ROUNDOFF || value > FI_RANK_NOISE)
            return fi__fail(ctx, FI_ERR_OPTION,
                            "FI_OPT_RANK_RULE must be 0 (max(p,K) u) or 1 (2 sqrt(min(p,K)) u, "
                            "the rounding-noise bound); got %g", value);
        ctx->rank_rule = (int)value;
        break;
    default:
        return fi__fail(ctx, FI_ERR_OPTION, "unknown option key %d", option);
    }
    fi__ok(ctx);
    return FI_OK;
}

int fi_context_get(const fi_context *ctx, int option, double *value)
{
    if (!ctx || !value) return FI_ERR_NULL;
    double v;
    switch (option) {
    case FI_OPT_RCOND: v = ctx->rcond; break;
    case FI_OPT_ATOL: v = ctx->atol; break;
    case FI_OPT_PROB_TOL: v = ctx->prob_tol; break;
    case FI_OPT_CLASS_MODE: v = ctx->class_mode; break;
    case FI_OPT_THREADS: v = ctx->threads; break;
    case FI_OPT_METHOD: v = ctx->method; break;
    case FI_OPT_ISA: v = ctx->isa; break;
    case FI_OPT_RANK_RULE: v = ctx->rank_rule; break;
    default:
        /* No message: writing ctx->error through a cast would be defined (contexts are
         * malloc'd), but concurrent readers are allowed (docs/api.md), and two failing
         * readers would race on the buffer. The status says it all. */
        return FI_ERR_OPTION;
    }
    *value = v;
    return FI_OK;
}

int fi_context_set_allocator(fi_context *ctx, fi_alloc_fn alloc, fi_free_fn free_fn, void *opaque)
{
    if (!ctx) return FI_ERR_NULL;
    if (!alloc != !free_fn)
        return fi__fail(ctx, FI_ERR_NULL, "alloc and free must both be set or both be NULL");
    if (alloc) {
        ctx->mem.alloc = alloc;
        ctx->mem.free = free_fn;
        ctx->mem.opaque = opaque;
    } else {
        ctx->mem = fi__default_allocator();
    }
    fi__ok(ctx);
    return FI_OK;
}

size_t fi_dtype_size(int dtype)
{
    switch (dtype) {
    case FI_F64: return 8;
    case FI_F32: return 4;
    case FI_BF16:
    case FI_F16: return 2;
    default: return 0;
    }
}

#define C(name) {#name, (int64_t)(name)}
static const struct {
    const char *name;
    int64_t value;
} constants[] = {
    C(FI_VERSION_MAJOR), C(FI_VERSION_MINOR), C(FI_VERSION_PATCH), C(FI_VERSION_NUMBER),
    C(FI_OK), C(FI_ERR_NULL), C(FI_ERR_DIMENSION), C(FI_ERR_PROBABILITY), C(FI_ERR_NONFINITE),
    C(FI_ERR_NOMEM), C(FI_ERR_LAPACK), C(FI_ERR_OPTION), C(FI_ERR_FLAG), C(FI_ERR_DTYPE),
    C(FI_ERR_CLASS), C(FI_ERR_MISMATCH), C(FI_ERR_FORMAT), C(FI_ERR_THREAD), C(FI_ERR_NAME),
    C(FI_F64), C(FI_F32), C(FI_BF16), C(FI_F16),
    C(FI_ACCUMULATE), C(FI_SINGLE_PASS),
    C(FI_OPT_RCOND), C(FI_OPT_ATOL), C(FI_OPT_PROB_TOL), C(FI_OPT_CLASS_MODE),
    C(FI_OPT_THREADS), C(FI_OPT_METHOD), C(FI_OPT_ISA), C(FI_OPT_RANK_RULE),
    C(FI_CLASS_STRICT), C(FI_CLASS_RENORMALIZE), C(FI_CLASS_REMAINDER),
    C(FI_METHOD_AUTO), C(FI_METHOD_REFERENCE),
    C(FI_ISA_AUTO), C(FI_ISA_PORTABLE), C(FI_ISA_AVX2), C(FI_ISA_AVX512),
    C(FI_RANK_ROUNDOFF), C(FI_RANK_NOISE),
    C(FI_REDUCE_SUM), C(FI_REDUCE_MEAN), C(FI_REDUCE_MAX),
};
#undef C

int fi_constant(const char *name, int64_t *value)
{
    if (!name || !value) return FI_ERR_NULL;
    for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
        if (strcmp(constants[i].name, name) == 0) {
            *value = constants[i].value;
            return FI_OK;
        }
    }
    return FI_ERR_NAME;
}
