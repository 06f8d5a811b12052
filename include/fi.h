/*
 * libfi - first-order local influence (FI) of a perturbation on a classifier's output.
 *
 * The caller brings, for one input, K class probabilities P_i and the K class scores
 * s_i = d log P_i / d omega over n perturbation coordinates, plus a target gradient g.
 * For every block b of coordinates libfi returns
 *
 *     FI_b = g[b]^T G_b^+ g[b],   G_b = sum_i P_i s_i[b] s_i[b]^T,
 *
 * through the compact SVD of B_b = [sqrt(P_1) s_1[b], ..., sqrt(P_K) s_K[b]].
 * docs/math.md has the mathematics, docs/api.md the reference for every function.
 *
 * Rules that hold for every function below (so that ctypes/cffi users need nothing else):
 *  - Fallible calls return an int status: FI_OK (0) or one of the positive FI_ERR_* codes.
 *    On failure nothing the caller passed is modified, outputs are left untouched, and the
 *    context (when one is passed) holds a specific message: fi_context_error().
 *  - The library never aborts, prints, exits, or touches process-wide state (OpenBLAS thread
 *    count, signals, locale, stdio). It creates threads only when FI_OPT_THREADS > 1.
 *  - A context is not safe for concurrent use; separate contexts on separate threads are.
 *    A metric is read-only after creation and may be shared between threads.
 *  - Dimensions and indices are int64_t. Arrays are read-only unless named "out".
 *  - Every *_free function accepts NULL.
 *  - Every constant of this header can be read at run time by name: fi_constant().
 *
 * ABI: version 1, SONAME libfi.so.1. Public structs never change; additions are new
 * functions and new enum values with explicit numbers.
 */
#ifndef FI_H
#define FI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FI_VERSION_MAJOR 1
#define FI_VERSION_MINOR 2
#define FI_VERSION_PATCH 0
#define FI_VERSION_NUMBER (FI_VERSION_MAJOR * 10000 + FI_VERSION_MINOR * 100 + FI_VERSION_PATCH)
#define FI_VERSION_STRING "1.2.0"

#if defined(FI_BUILDING_LIBRARY) && defined(__GNUC__)
#define FI_API __attribute__((visibility("default")))
#else
#define FI_API
#endif

#if defined(__GNUC__) && !defined(FI_NO_NODISCARD)
#define FI_NODISCARD __attribute__((warn_unused_result))
#else
#define FI_NODISCARD
#endif

/* ---------------------------------------------------------------- constants */

/* Status codes. FI_OK is 0; every failure has its own positive code. */
typedef enum fi_status {
    FI_OK = 0,
    FI_ERR_NULL = 1,        /* a required pointer argument is NULL                          */
    FI_ERR_DIMENSION = 2,   /* bad count/size/n/ld/stride/step, block outside [0,n), overflow */
    FI_ERR_PROBABILITY = 3, /* probability negative, non-finite, or sum off 1 (strict mode)  */
    FI_ERR_NONFINITE = 4,   /* NaN or Inf in scores, target, perturbation or values          */
    FI_ERR_NOMEM = 5,       /* an allocation failed                                           */
    FI_ERR_LAPACK = 6,      /* a LAPACK routine reported failure (e.g. SVD did not converge)  */
    FI_ERR_OPTION = 7,      /* unknown option key, or a value outside its documented range    */
    FI_ERR_FLAG = 8,        /* unknown bit in a flags argument                                */
    FI_ERR_DTYPE = 9,       /* unknown fi_dtype value                                         */
    FI_ERR_CLASS = 10,      /* class index outside [0, K)                                     */
    FI_ERR_MISMATCH = 11,   /* objects that must agree do not (e.g. accumulator sizes)        */
    FI_ERR_FORMAT = 12,     /* a serialized buffer is truncated, corrupt or of another version */
    FI_ERR_THREAD = 13,     /* a worker thread could not be started                           */
    FI_ERR_NAME = 14        /* fi_constant: unknown name                                      */
} fi_status;

/* Element types of scores and targets. All are read in place and computed in double. */
typedef enum fi_dtype {
    FI_F64 = 0,
    FI_F32 = 1,
    FI_BF16 = 2, /* bfloat16, stored as uint16_t (upper half of an IEEE binary32) */
    FI_F16 = 3   /* IEEE binary16, stored as uint16_t                            */
} fi_dtype;

/* Flags for the calls that write FI values. */
#define FI_ACCUMULATE 1u  /* add to out[] instead of overwriting it                          */
#define FI_SINGLE_PASS 2u /* fi_direct*, opt-in: no separate finiteness pass (elements) and
                             no result buffer (blocks): one read of the inputs, out written
                             as computed. Non-finite input still returns FI_ERR_NONFINITE, but out
                             may then be partly written: the one exception to the
                             untouched-output rule, and only when the caller asks for it.    */

/* Keys of fi_context_set / fi_context_get. Values are passed as double. */
typedef enum fi_option {
    FI_OPT_RCOND = 1,      /* relative rank tolerance; < 0 means the default of FI_OPT_RANK_RULE
                              (max(p,K) * unit roundoff of the scores' dtype). default -1.
                              sigma_j counts when sigma_j > max(atol, rcond*sigma_max)          */
    FI_OPT_ATOL = 2,       /* absolute floor on singular values, >= 0. default 0                 */
    FI_OPT_PROB_TOL = 3,   /* tolerance on |sum P - 1| (strict mode), >= 0. default 1e-5          */
    FI_OPT_CLASS_MODE = 4, /* an fi_class_mode value. default FI_CLASS_STRICT                      */
    FI_OPT_THREADS = 5,    /* worker threads, integer in [1, 1024]. default 1 (caller's thread)    */
    FI_OPT_METHOD = 6,     /* an fi_method value. default FI_METHOD_AUTO                          */
    FI_OPT_ISA = 7,        /* an fi_isa value. default FI_ISA_AUTO (added in 1.1.0)               */
    FI_OPT_RANK_RULE = 8   /* an fi_rank_rule value, the default rcond when FI_OPT_RCOND < 0.
                              default FI_RANK_ROUNDOFF (added in 1.2.0)                         */
} fi_option;

/* The default relative rank tolerance rcond of a p x K block whose scores are stored in a
 * dtype of unit roundoff u (2^-53 float64, 2^-24 float32, 2^-8 bfloat16, 2^-11 float16). Both
 * rules also drop the softmax null direction when it is below the data's resolution
 * (docs/math.md section 6). (Added in 1.2.0.) */
typedef enum fi_rank_rule {
    FI_RANK_ROUNDOFF = 0, /* rcond = max(p,K) u, as LAPACK and pinv                            */
    FI_RANK_NOISE = 1     /* rcond = max(max(p,K) 2^-53, 2 sqrt(min(p,K)) u): the bound of the
                             input's rounding noise |E|_2 <= u |B|_F <= u sqrt(rank) sigma_max;
                             keeps 16-bit channels (p >= 1/u) that the first rule zeroes     */
} fi_rank_rule;

/* How probabilities that do not sum to 1 are treated (docs/math.md fact 6). */
typedef enum fi_class_mode {
    FI_CLASS_STRICT = 0,      /* reject |sum P - 1| > prob_tol                                */
    FI_CLASS_RENORMALIZE = 1, /* P'_i = P_i / sum P,  s'_i = s_i - sum_j P'_j s_j            */
    FI_CLASS_REMAINDER = 2    /* add class K+1: P = 1 - sum P, score -(sum_i P_i s_i)/(1-sum P) */
} fi_class_mode;

/* Which kernels compute a block. Both give the same FI to the documented accuracy. */
typedef enum fi_method {
    FI_METHOD_AUTO = 0,     /* closed form / small Gram kernels, SVD where ill-conditioned */
    FI_METHOD_REFERENCE = 1 /* LAPACK SVD of every block (the accuracy anchor)             */
} fi_method;

/* Instruction set of the streaming kernels. AUTO takes the widest this CPU runs (AVX-512VL or
 * AVX2+FMA on x86-64); PORTABLE takes the baseline kernels, whose results are the same bits on
 * every CPU of the architecture. AVX2 and AVX512 ask for one x86-64 build by name (to test or
 * pin it); fi_context_set refuses them with FI_ERR_OPTION where this build or CPU lacks them.
 * All give the same FI to the documented accuracy. (AUTO, PORTABLE added in 1.1.0; AVX2,
 * AVX512 in 1.2.0.) */
typedef enum fi_isa {
    FI_ISA_AUTO = 0,
    FI_ISA_PORTABLE = 1,
    FI_ISA_AVX2 = 2,
    FI_ISA_AVX512 = 3
} fi_isa;

/* Reductions of per-element values over groups (fi_reduce). */
typedef enum fi_reduce_op {
    FI_REDUCE_SUM = 0,
    FI_REDUCE_MEAN = 1,
    FI_REDUCE_MAX = 2
} fi_reduce_op;

/* ---------------------------------------------------------------- types */

typedef struct fi_context fi_context;         /* opaque: options, workspace, last error  */
typedef struct fi_metric fi_metric;           /* opaque: per-block factorizations of G   */
typedef struct fi_accumulator fi_accumulator; /* opaque: weighted, mergeable FI sums     */

/* Affine block layout over n coordinates: coordinate j of block b is b*step + j*stride.
 * Elements: {n, 1, 1, 1}. Rows of an R x C row-major matrix: {R, C, 1, C}.
 * Columns: {C, R, C, 1}. RGB pixels in HWC layout: {H*W, 3, 1, 3}. */
typedef struct fi_blocks {
    int64_t count;  /* number of blocks = number of FI values, >= 1                  */
    int64_t size;   /* p, coordinates per block, >= 1                                  */
    int64_t stride; /* distance between consecutive coordinates of one block          */
    int64_t step;   /* distance between the first coordinates of consecutive blocks   */
} fi_blocks;

/* Index-list blocks, for groups no affine layout describes (image patches):
 * block b holds coordinates indices[offsets[b]] .. indices[offsets[b+1]-1].
 * offsets has count+1 non-decreasing entries, offsets[0] = 0; every block non-empty. */
typedef struct fi_index_blocks {
    int64_t count;
    const int64_t *offsets;
    const int64_t *indices;
} fi_index_blocks;

/* Optional allocator for everything a context, and the metrics and accumulators made
 * with it, allocate. alloc returns NULL on failure; free accepts NULL. */
typedef void *(*fi_alloc_fn)(void *opaque, size_t size);
typedef void (*fi_free_fn)(void *opaque, void *ptr);

/* ---------------------------------------------------------------- version, constants */

/* Runtime version, FI_VERSION_NUMBER of the library actually loaded. */
FI_API unsigned fi_version_number(void);
/* Runtime version as static text, e.g. "1.1.0". */
FI_API const char *fi_version_string(void);
/* Value of the public constant called name ("FI_OPT_RCOND", "FI_ERR_NULL", "FI_F32",
 * "FI_ACCUMULATE", "FI_VERSION_NUMBER", ...). FI_ERR_NULL or FI_ERR_NAME on failure. */
FI_API FI_NODISCARD int fi_constant(const char *name, int64_t *value);
/* Bytes per element of dtype, 0 for an unknown dtype. */
FI_API size_t fi_dtype_size(int dtype);

/* ---------------------------------------------------------------- context */

/* Creates a context with default options. *ctx is NULL on failure. */
FI_API FI_NODISCARD int fi_context_create(fi_context **ctx);
/* Frees a context; NULL is a no-op. Metrics and accumulators made with it stay valid. */
FI_API void fi_context_free(fi_context *ctx);
/* Static English text for a status code (never NULL). */
FI_API const char *fi_strerror(int status);
/* Detail of the last failure on ctx ("" if none). Valid until the next call on ctx. */
FI_API const char *fi_context_error(const fi_context *ctx);
/* Sets an option (fi_option key). Integer options must be given integral values. */
FI_API FI_NODISCARD int fi_context_set(fi_context *ctx, int option, double value);
/* Reads an option into *value. ctx is const and may be read concurrently, so a failure
 * (FI_ERR_OPTION: unknown key) records no message: fi_context_error keeps the previous text. */
FI_API FI_NODISCARD int fi_context_get(const fi_context *ctx, int option, double *value);
/* Routes the context's allocations through alloc/free (both NULL restores malloc/free).
 * Must be called before any metric or accumulator is made with ctx. */
FI_API FI_NODISCARD int fi_context_set_allocator(fi_context *ctx, fi_alloc_fn alloc,
                                                 fi_free_fn free_fn, void *opaque);

/* ---------------------------------------------------------------- core */

/* Builds the per-block factorization of G from K = n_classes probabilities (double) and
 * scores: K rows of n values in dtype, row i starting at scores + i*ld elements (ld >= n).
 * The scores are not referenced after the call returns. */
FI_API FI_NODISCARD int fi_metric_from_scores(fi_context *ctx, int64_t n_classes,
                                              const double *probs, fi_dtype dtype,
                                              const void *scores, int64_t n, int64_t ld,
                                              const fi_blocks *blocks, fi_metric **metric);
/* As fi_metric_from_scores, with index-list blocks. */
FI_API FI_NODISCARD int fi_metric_from_scores_indexed(fi_context *ctx, int64_t n_classes,
                                                      const double *probs, fi_dtype dtype,
                                                      const void *scores, int64_t n, int64_t ld,
                                                      const fi_index_blocks *blocks,
                                                      fi_metric **metric);
/* FI per block for a target gradient (n values in dtype) into out[0..count). flags: 0 or
 * FI_ACCUMULATE. A class target is target = scores + k*ld (the raw score of class k). */
FI_API FI_NODISCARD int fi_compute(fi_context *ctx, const fi_metric *metric, fi_dtype dtype,
                                   const void *target, double *out, unsigned flags);
/* Frees a metric; NULL is a no-op. */
FI_API void fi_metric_free(fi_metric *metric);

/* ---------------------------------------------------------------- fused fast path */

/* FI per block straight from the scores, without materializing a metric and without any
 * O(n*K) allocation. target: n values in dtype; or NULL for the class target
 * target_class (0 <= target_class < K, the class mode's adjusted score s_k, computed in
 * the leverage form of docs/math.md fact 2 with nothing extra read). target_class is ignored when
 * target is not NULL. flags: 0, FI_ACCUMULATE, FI_SINGLE_PASS. */
FI_API FI_NODISCARD int fi_direct(fi_context *ctx, int64_t n_classes, const double *probs,
                                  fi_dtype dtype, const void *scores, int64_t n, int64_t ld,
                                  const fi_blocks *blocks, const void *target,
                                  int64_t target_class, double *out, unsigned flags);
/* As fi_direct, with index-list blocks. */
FI_API FI_NODISCARD int fi_direct_indexed(fi_context *ctx, int64_t n_classes,
                                          const double *probs, fi_dtype dtype,
                                          const void *scores, int64_t n, int64_t ld,
                                          const fi_index_blocks *blocks, const void *target,
                                          int64_t target_class, double *out, unsigned flags);

/* ---------------------------------------------------------------- diagnostics */

/* Number of blocks of a metric (0 for NULL). */
FI_API int64_t fi_metric_count(const fi_metric *metric);
/* Number of classes after the class mode (K, or K+1 with a remainder class; 0 for NULL). */
FI_API int64_t fi_metric_classes(const fi_metric *metric);
/* Numerical rank r_b of every block into ranks[0..count). */
FI_API FI_NODISCARD int fi_metric_ranks(fi_context *ctx, const fi_metric *metric, int64_t *ranks);
/* Relative residual ||(I - V V^T) g[b]|| / ||g[b]|| per block (0 where g[b] = 0): the part
 * of the target outside range(B_b) that FI ignores (docs/math.md fact 5). */
FI_API FI_NODISCARD int fi_residual(fi_context *ctx, const fi_metric *metric, fi_dtype dtype,
                                    const void *target, double *out);
/* Class-target ceiling of FI for class k: (1 - P_k)/P_k when the metric's probabilities
 * sum to 1, 1/P_k otherwise (docs/math.md fact 3). */
FI_API FI_NODISCARD int fi_class_bound(fi_context *ctx, const fi_metric *metric, int64_t k,
                                       double *bound);
/* normalized[b] = fi[b] / fi_class_bound (in [0,1] for zero-mean scores); saturated[b] = 1
 * where block b's rank reached K_eff - 1, so its FI equals the bound. Either output may be
 * NULL. */
FI_API FI_NODISCARD int fi_normalize_class(fi_context *ctx, const fi_metric *metric, int64_t k,
                                           const double *fi, double *normalized,
                                           uint8_t *saturated);

/* ---------------------------------------------------------------- perturbations (fact 7) */

/* For a concrete perturbation delta (n doubles) of every block: fisher_len2[b] = S^2 =
 * delta[b]^T G_b delta[b] = sum_i P_i (s_i[b].delta[b])^2, and taylor2[b] = (g[b].delta[b])^2
 * with g = target (dtype) or, when target is NULL, the class target target_class.
 * Either output may be NULL (then target and target_class are not needed for taylor2).
 * (g.d)^2 <= FI_b * S^2 when g[b] lies in range(B_b). */
FI_API FI_NODISCARD int fi_perturbation(fi_context *ctx, int64_t n_classes, const double *probs,
                                        fi_dtype dtype, const void *scores, int64_t n, int64_t ld,
                                        const fi_blocks *blocks, const void *target,
                                        int64_t target_class, const double *delta,
                                        double *fisher_len2, double *taylor2);

/* ---------------------------------------------------------------- reduction, selection */

/* out[g] = op over values[groups coordinates of group g], values has n entries. Channel
 * FI from element FI: rows of an R x C matrix are groups {R, C, 1, C}. */
FI_API FI_NODISCARD int fi_reduce(fi_context *ctx, const double *values, int64_t n,
                                  const fi_blocks *groups, int op, double *out);
/* Number of items that a fraction in [0,1] of count selects: ceil(fraction*count). */
FI_API int64_t fi_fraction_count(int64_t count, double fraction);
/* indices[0..k) = the k largest values, descending; ties broken by the smaller index. */
FI_API FI_NODISCARD int fi_select_top(fi_context *ctx, const double *values, int64_t count,
                                      int64_t k, int64_t *indices);
/* The paper's FI-Low baseline: k distinct indices drawn uniformly (seeded, deterministic on
 * every platform) among the count - exclude_top blocks that are not in the top exclude_top,
 * returned in ascending order. */
FI_API FI_NODISCARD int fi_select_random_low(fi_context *ctx, const double *values,
                                             int64_t count, int64_t exclude_top, int64_t k,
                                             uint64_t seed, int64_t *indices);
/* The count - k indices in [0,count) not listed in indices[0..k), ascending. */
FI_API FI_NODISCARD int fi_select_complement(fi_context *ctx, int64_t count,
                                             const int64_t *indices, int64_t k, int64_t *out);
/* mask[i] = 1 for the listed indices, 0 elsewhere (count bytes). */
FI_API FI_NODISCARD int fi_indices_to_mask(fi_context *ctx, int64_t count, const int64_t *indices,
                                           int64_t k, uint8_t *mask);

/* ---------------------------------------------------------------- accumulator */

/* An accumulator of count blocks holding, per block, sum w*FI and sum w*FI^2, and the
 * common sum w, sum w^2 and number of samples: enough for the weighted mean and its
 * standard error. Dataset averages and both sequence-generation aggregates of the paper
 * are weighted sums of this kind. */
FI_API FI_NODISCARD int fi_accumulator_create(fi_context *ctx, int64_t count,
                                              fi_accumulator **acc);
FI_API void fi_accumulator_free(fi_accumulator *acc);
/* Adds one sample: fi[0..count) with weight w (finite, >= 0). */
FI_API FI_NODISCARD int fi_accumulator_add(fi_context *ctx, fi_accumulator *acc, const double *fi,
                                           double weight);
/* dst += src (both of the same count). Merging is exact in the sense documented in
 * docs/api.md: the result does not depend on the order of adds and merges beyond it. */
FI_API FI_NODISCARD int fi_accumulator_merge(fi_context *ctx, fi_accumulator *dst,
                                             const fi_accumulator *src);
/* Weighted mean per block and its standard error (either output may be NULL). */
FI_API FI_NODISCARD int fi_accumulator_result(fi_context *ctx, const fi_accumulator *acc,
                                              double *mean, double *std_error);
/* Blocks, samples added, and total weight (any pointer may be NULL). */
FI_API FI_NODISCARD int fi_accumulator_info(const fi_accumulator *acc, int64_t *count,
                                            int64_t *samples, double *total_weight);
/* Bytes needed by fi_accumulator_serialize (0 for NULL). */
FI_API size_t fi_accumulator_serialized_size(const fi_accumulator *acc);
/* Writes a flat, versioned, little-endian image of acc into buf (size bytes). */
FI_API FI_NODISCARD int fi_accumulator_serialize(fi_context *ctx, const fi_accumulator *acc,
                                                 void *buf, size_t size);
/* Reads an image written by fi_accumulator_serialize (on any platform) into a new acc. */
FI_API FI_NODISCARD int fi_accumulator_deserialize(fi_context *ctx, const void *buf, size_t size,
                                                   fi_accumulator **acc);


/* ================================================================ 1.2: the workflow at scale
 * Added in 1.2.0 (symbols in the version node LIBFI_1.2): a 16-byte-per-block mean,
 * selection across many arrays, and FI built from classes streamed one at a time. */

/* ---------------------------------------------------------------- mean accumulator */

typedef struct fi_mean fi_mean; /* opaque: 16 bytes per block, double sums */

/* An accumulator of count blocks holding per block sum w*FI and sum w*FI^2 as two doubles,
 * and the common sum w, sum w^2 and sample count. Terms are non-negative, so every order of
 * adds and merges gives each sum within a relative (N-1)*2^-53 of the exact sum of the
 * rounded terms (N samples); docs/aggregation.md has the bound and why exactness cannot fit. */
FI_API FI_NODISCARD int fi_mean_create(fi_context *ctx, int64_t count, fi_mean **acc);
/* Frees a mean accumulator; NULL is a no-op. */
FI_API void fi_mean_free(fi_mean *acc);
/* Adds one sample: fi[0..count), each finite and >= 0, with weight w (finite, >= 0). */
FI_API FI_NODISCARD int fi_mean_add(fi_context *ctx, fi_mean *acc, const double *fi,
                                    double weight);
/* fi_direct (same arguments) fused with fi_mean_add: the FI of one sample is added with
 * weight w without an FI array (elements stream in chunks through the cache). flags: 0, or
 * FI_SINGLE_PASS (no separate finiteness pass; non-finite input still fails, but may leave
 * acc partly updated: the opt-in exception, as in fi_direct). */
FI_API FI_NODISCARD int fi_mean_add_direct(fi_context *ctx, fi_mean *acc, double weight,
                                           int64_t n_classes, const double *probs,
                                           fi_dtype dtype, const void *scores, int64_t n,
                                           int64_t ld, const fi_blocks *blocks,
                                           const void *target, int64_t target_class,
                                           unsigned flags);
/* dst += src (both of the same count). */
FI_API FI_NODISCARD int fi_mean_merge(fi_context *ctx, fi_mean *dst, const fi_mean *src);
/* Weighted mean per block and its standard error (either output may be NULL). */
FI_API FI_NODISCARD int fi_mean_result(fi_context *ctx, const fi_mean *acc, double *mean,
                                       double *std_error);
/* Blocks, samples added, and total weight (any pointer may be NULL). */
FI_API FI_NODISCARD int fi_mean_info(const fi_mean *acc, int64_t *count, int64_t *samples,
                                     double *total_weight);
/* Bytes needed by fi_mean_serialize (0 for NULL). */
FI_API size_t fi_mean_serialized_size(const fi_mean *acc);
/* Writes a flat, versioned, little-endian image of acc into buf (size bytes). */
FI_API FI_NODISCARD int fi_mean_serialize(fi_context *ctx, const fi_mean *acc, void *buf,
                                          size_t size);
/* Reads an image written by fi_mean_serialize (on any platform) into a new accumulator. */
FI_API FI_NODISCARD int fi_mean_deserialize(fi_context *ctx, const void *buf, size_t size,
                                            fi_mean **acc);

/* ---------------------------------------------------------------- selection across arrays */

typedef struct fi_threshold fi_threshold; /* opaque: a radix histogram of 65536 counts */

/* The top k values across many arrays that are never concatenated (one per layer, on any
 * number of processes), selected by an exact threshold in 4 rounds of radix passes. A round:
 * fi_threshold_add every array (any order, any shard), fi_threshold_merge the shards, then
 * fi_threshold_narrow. After the 4th round fi_threshold_mask marks each array's selection:
 * values above the k-th largest, and of the values equal to it the first ones in the order
 * (array, index). Creates a selector of the largest values. */
FI_API FI_NODISCARD int fi_threshold_create(fi_context *ctx, fi_threshold **sel);
/* FI-Low's draw over the same multi-array space: a selector of k elements drawn uniformly
 * (seeded, the same on every platform and shard split) among those no exclude mask marks. */
FI_API FI_NODISCARD int fi_threshold_create_random(fi_context *ctx, uint64_t seed,
                                                   fi_threshold **sel);
/* Frees a selector; NULL is a no-op. */
FI_API void fi_threshold_free(fi_threshold *sel);
/* Counts values[0..count) (no NaN) into the current round's histogram (top selector). */
FI_API FI_NODISCARD int fi_threshold_add(fi_context *ctx, fi_threshold *sel, const double *values,
                                         int64_t count);
/* Counts the count elements of array array_id (random selector); exclude: count bytes, a
 * nonzero byte takes the element out of the draw (e.g. a top mask), or NULL. */
FI_API FI_NODISCARD int fi_threshold_add_random(fi_context *ctx, fi_threshold *sel,
                                                int64_t array_id, int64_t count,
                                                const uint8_t *exclude);
/* dst's histogram += src's (same kind, seed, round and k). */
FI_API FI_NODISCARD int fi_threshold_merge(fi_context *ctx, fi_threshold *dst,
                                           const fi_threshold *src);
/* Ends a round with all elements counted: keeps the histogram bin holding the k-th largest
 * key and clears the counts. *done = 1 once the threshold is exact (after round 4). */
FI_API FI_NODISCARD int fi_threshold_narrow(fi_context *ctx, fi_threshold *sel, int64_t k,
                                            int *done);
/* The exact threshold (the k-th largest value; NaN for a random selector), how many elements
 * lie above it, and how many of those equal to it are selected (any pointer may be NULL). */
FI_API FI_NODISCARD int fi_threshold_result(fi_context *ctx, const fi_threshold *sel,
                                            double *threshold, int64_t *above,
                                            int64_t *ties_taken);
/* mask[i] = 1 if values[i] is selected, else 0. *ties_seen: on entry, the number of values
 * equal to the threshold in the arrays before this one; on return, plus this array's. */
FI_API FI_NODISCARD int fi_threshold_mask(fi_context *ctx, const fi_threshold *sel,
                                          const double *values, int64_t count,
                                          int64_t *ties_seen, uint8_t *mask);
/* As fi_threshold_mask, for a random selector and the array given to fi_threshold_add_random. */
FI_API FI_NODISCARD int fi_threshold_mask_random(fi_context *ctx, const fi_threshold *sel,
                                                 int64_t array_id, int64_t count,
                                                 const uint8_t *exclude, int64_t *ties_seen,
                                                 uint8_t *mask);
/* Bytes needed by fi_threshold_serialize (0 for NULL). */
FI_API size_t fi_threshold_serialized_size(const fi_threshold *sel);
/* Writes a flat, versioned, little-endian image of sel into buf (size bytes). */
FI_API FI_NODISCARD int fi_threshold_serialize(fi_context *ctx, const fi_threshold *sel,
                                               void *buf, size_t size);
/* Reads an image written by fi_threshold_serialize into a new selector. */
FI_API FI_NODISCARD int fi_threshold_deserialize(fi_context *ctx, const void *buf, size_t size,
                                                 fi_threshold **sel);

/* ---------------------------------------------------------------- class streaming */

typedef struct fi_class_stream fi_class_stream; /* opaque: O(n) running sums over classes */

/* FI of elements and small blocks (size <= 8) from classes fed one at a time, holding running
 * sums instead of K x n scores. blocks: an affine layout over n coordinates. target_class:
 * the class (in the order fed) whose score is kept as it streams by for a class target, or
 * -1 for none. The context's class mode is fixed here; its other options are read by
 * fi_class_stream_finish. */
FI_API FI_NODISCARD int fi_class_stream_create(fi_context *ctx, int64_t n,
                                               const fi_blocks *blocks, int64_t target_class,
                                               fi_class_stream **cs);
/* Frees a class stream; NULL is a no-op. */
FI_API void fi_class_stream_free(fi_class_stream *cs);
/* Feeds the next class: its probability and its n scores in dtype. */
FI_API FI_NODISCARD int fi_class_stream_add(fi_context *ctx, fi_class_stream *cs, double prob,
                                            fi_dtype dtype, const void *scores);
/* FI per block into out[0..count), as fi_direct on all classes fed: target (n values in
 * dtype), or NULL for the class target given at creation (the class mode's adjusted score;
 * in remainder mode the index K fed so far names the remainder class). flags: 0 or
 * FI_ACCUMULATE. May be called again, e.g. for another target. */
FI_API FI_NODISCARD int fi_class_stream_finish(fi_context *ctx, const fi_class_stream *cs,
                                               fi_dtype dtype, const void *target, double *out,
                                               unsigned flags);
/* Classes fed, their probability sum and the bytes the stream holds (any may be NULL). */
FI_API FI_NODISCARD int fi_class_stream_info(const fi_class_stream *cs, int64_t *classes,
                                             double *prob_sum, size_t *bytes);

#ifdef __cplusplus
}
#endif

#endif /* FI_H */
