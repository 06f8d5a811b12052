/* Streaming kernels of fi_direct for the layouts that dominate real use, float32/float64
 * scores used as given (strict class mode): the scalar loop for strided elements, and the
 * choice of the vectorized kernels of src/kernels.c. */
#include "stream.h"

#include "kernels.h"

#define CHUNK 256 /* coordinates converted to double at a time */

static inline void load_row(fi_dtype dt, const void *base, int64_t off, int64_t len, int64_t inc,
                            double scale, double *dst)
{
    if (dt == FI_F32) {
        const float *x = (const float *)base + off;
        for (int64_t j = 0; j < len; j++) dst[j] = scale * (double)x[j * inc];
    } else if (dt == FI_F64) {
        const double *x = (const double *)base + off;
        for (int64_t j = 0; j < len; j++) dst[j] = scale * x[j * inc];
    } else {
        for (int64_t j = 0; j < len; j++) dst[j] = scale * fi__load(dt, base, off + j * inc);
    }
}

bool fi__stream_supported(const fi_problem *pb, const fi_layout *l)
{
    return !l->indexed && pb->adjust == FI_ADJUST_NONE && pb->k_eff <= FI_GRAM_MAX_K;
}

void fi__stream_elements(const fi_problem *pb, const fi_layout *l, const void *target, int64_t k,
                         double rcond, double atol, int64_t first, int64_t last, double *out,
                         bool accumulate)
{
    const int64_t K = pb->k_eff, step = l->affine.step;
    double d[CHUNK], g[CHUNK], x[CHUNK];
    for (int64_t b0 = first; b0 < last; b0 += CHUNK) {
        const int64_t len = last - b0 < CHUNK ? last - b0 : CHUNK;
        for (int64_t j = 0; j < len; j++) d[j] = 0;
        for (int64_t i = 0; i < K; i++) {
            load_row(pb->dtype, pb->scores, i * pb->ld + b0 * step, len, step, 1.0, x);
            const double pi = pb->prob[i];
            for (int64_t j = 0; j < len; j++) d[j] += pi * x[j] * x[j];
            if (!target && i == k)
                for (int64_t j = 0; j < len; j++) g[j] = x[j];
        }
        if (target) load_row(pb->dtype, target, b0 * step, len, step, 1.0, g);
        /* sigma = sqrt(d) counts when sigma > max(atol, rcond*sigma): d > atol^2 and rcond < 1. */
        const double floor2 = rcond < 1 ? atol * atol : INFINITY;
        for (int64_t j = 0; j < len; j++) {
            double fi = (d[j] > 0 && d[j] > floor2) ? g[j] * g[j] / d[j] : 0.0;
            if (!isfinite(fi) || !(d[j] > 1e-280) || !isfinite(d[j])) {
                /* extreme magnitudes: redo this coordinate on rescaled values */
                double s[FI_GRAM_MAX_K];
                const int64_t c = (b0 + j) * step;
                for (int64_t i = 0; i < K; i++) s[i] = fi__load(pb->dtype, pb->scores, i * pb->ld + c);
                const double gj = target ? fi__load(pb->dtype, target, c) : s[k];
                fi = fi__element_fi(pb->prob, s, K, gj, rcond, atol);
            }
            out[b0 + j] = accumulate ? out[b0 + j] + fi : fi;
        }
    }
}

const fi_kernels *fi__kernels(const fi_context *ctx)
{
#if defined(__x86_64__) && defined(FI_HAVE_X86_KERNELS)
    if (ctx->isa == FI_ISA_AUTO) {
        __builtin_cpu_init(); /* idempotent; needed when called before constructors ran */
        const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          __builtin_cpu_supports("f16c");
        if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
            __builtin_cpu_supports("avx512dq"))
            return &fi__kernels_avx512;
        if (avx2) return &fi__kernels_avx2;
    }
#endif
    (void)ctx;
    return &fi__kernels_portable;
}

/* C = D S D and t = D T with D = diag(sqrt P); a class target g = s_k has T_i = S_ik. */
void fi__gram_from_sums(const fi_problem *pb, int64_t K, const double *S, const double *T,
                        bool target, int64_t k, double mean2, fi_gram *gm)
{
    const double *sp = pb->sqrt_prob;
    for (int64_t i = 0; i < K; i++) {
        for (int64_t c = i; c < K; c++) gm->c[i * K + c] = sp[i] * sp[c] * S[i * K + c];
        gm->t[i] = sp[i] * (target ? T[i] : S[i < k ? i * K + k : k * K + i]);
    }
    gm->mean2 = mean2;
}

void fi__column_gram(const fi_problem *pb, const double *acc, int64_t b, bool target, int64_t k,
                     fi_gram *gm)
{
    /* entry e of block b: lane b % 4 of vector e of the entries of columns 4*(b/4).. */
    const int64_t K = pb->k_eff, E = K * (K + 1) / 2, Et = fi__column_entries(K);
    const double *a = acc + (b / 4) * Et * 4 + b % 4;
    double S[FI_GRAM_MAX_K * FI_GRAM_MAX_K], T[FI_GRAM_MAX_K];
    int64_t e = 0;
    for (int64_t i = 0; i < K; i++)
        for (int64_t c = i; c < K; c++, e++) S[i * K + c] = a[e * 4];
    for (int64_t i = 0; i < K; i++) T[i] = a[(E + i) * 4];
    fi__gram_from_sums(pb, K, S, T, target, k, a[(E + K) * 4], gm);
}

int64_t fi__column_entries(int64_t K) { return K * (K + 1) / 2 + K + 1; }

/* As many columns as keep the sums within 128 KiB (L2), a multiple of 4, at most 1024: wide
 * enough that each row segment read is 4 KiB of float32 per class. */
int64_t fi__column_width(int64_t K)
{
    const int64_t w = 16384 / fi__column_entries(K) / 4 * 4;
    return w < 4 ? 4 : w > 1024 ? 1024 : w;
}
