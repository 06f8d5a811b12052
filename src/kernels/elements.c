/* p = 1 (elements) of a contiguous layout: FI = g^2 / sum_i P_i s_i^2, four elements per
 * vector, specialized for K in {2, 3, 4} and the dtype; any other K runs the same body with a
 * run-time K. The target only chooses where g is read (gbase), so it needs no variant. */
#include "kernels/simd.h"

/* FI of elements b..b+n (one per lane) into *r, 0 where the lane is not decided here; returns
 * the lanes that are (d in [1e-280, DBL_MAX] and a finite quotient), and, when zero_exact is
 * all ones, the lanes whose scores are all exactly zero with a finite target: FI 0 (rank 0, as
 * the SVD of a zero block). Real gradients have many such coordinates (ReLU zeros). */
INLINE v4l element_vec(const int K, const fi_dtype dt, const fi_problem *pb, const void *gbase,
                       const v4d *P, v4d floor2, v4l zero_exact, int64_t b, int64_t n, v4d *r)
{
    v4d d = splat(0);
    for (int i = 0; i < K; i++) {
        const v4d x = load_n(dt, pb->scores, i * pb->ld + b, n);
        d += P[i] * x * x;
    }
    const v4d g = load_n(dt, gbase, b, n);
    const v4d fi = g * g / d, huge = splat(DBL_MAX);
    const v4l ok = (d >= splat(1e-280)) & (d <= huge) & (fi <= huge);
    /* sigma = sqrt(d) counts when sigma > max(atol, rcond*sigma): d > atol^2 and rcond < 1 */
    *r = (v4d)((v4l)fi & ok & (d > floor2));
    return ok | (zero_exact & (d == splat(0)) & (g * g <= huge));
}

enum { ELEM_CHUNK = 256, STREAM_MIN = 1 << 20 };

#ifdef __AVX2__
#define STREAMING_STORES 1
INLINE void store_fence(bool streamed)
{
    if (streamed) _mm_sfence();
}
#else
#define STREAMING_STORES 0
INLINE void store_fence(bool streamed) { (void)streamed; }
#endif

INLINE int64_t elements_k(const int K, const fi_dtype dt, const fi_problem *pb, const void *gbase,
                          double rcond, double atol, int64_t first, int64_t last, double *out,
                          bool accumulate)
{
    const v4d floor2 = splat(rcond < 1 ? atol * atol : INFINITY);
    v4d P[FI_GRAM_WIDE_K];
    /* d = sum_i P_i s_i^2 == 0 proves every score zero when they are float32 or narrower
     * (|s| >= 2^-149 if nonzero) and every P_i >= 2^-600: a nonzero term is >= 2^-898. Float64
     * scores could underflow: their zero lanes keep the scalar path. */
    bool zero_exact = dt != FI_F64;
    for (int i = 0; i < K; i++) {
        P[i] = splat(pb->prob[i]);
        zero_exact = zero_exact && pb->prob[i] >= 0x1p-600;
    }
    const v4l zero_lanes = zero_exact ? (v4l){-1, -1, -1, -1} : (v4l){0, 0, 0, 0};
    /* Outputs far beyond the caches bypass them (no read for ownership of out): a first chunk
     * of up to 3 elements brings the vectors to 32-byte alignment. Lanes are independent, so
     * how elements are grouped never changes a value. */
    const bool stream_out = STREAMING_STORES && !accumulate && last - first >= STREAM_MIN &&
                            ((uintptr_t)out & 7) == 0;
    const int64_t head = stream_out ? (int64_t)((32 - ((uintptr_t)(out + first) & 31)) & 31) / 8 : 0;
    int64_t bad_at = -1, len;
    for (int64_t b0 = first; b0 < last && bad_at < 0; b0 += len) {
        len = b0 == first && head ? head : last - b0 < ELEM_CHUNK ? last - b0 : ELEM_CHUNK;
        v4l bad = {0, 0, 0, 0};
        for (int64_t j = 0; j < len; j += W) {
            const int64_t n = len - j < W ? len - j : W;
            v4d r;
            v4l ok = element_vec(K, dt, pb, gbase, P, floor2, zero_lanes, b0 + j, n, &r);
            for (int64_t l = n; l < W; l++) ok[l] = -1; /* padding lanes */
            bad |= ~ok;
            if (accumulate) r += load_n(FI_F64, out, b0 + j, n);
#ifdef __AVX2__
            if (stream_out && n == W) {
                _mm256_stream_pd(out + b0 + j, (__m256d)r);
                continue;
            }
#endif
            store_n(out + b0 + j, r, n);
        }
        if (!(bad[0] | bad[1] | bad[2] | bad[3])) continue;
        /* zero, extreme or non-finite lanes: the same vectors again tell which, and the
         * scalar closed form (with rescaling) adds their value to the 0 written for them */
        store_fence(stream_out);
        for (int64_t j = 0; j < len && bad_at < 0; j += W) {
            const int64_t n = len - j < W ? len - j : W;
            v4d r;
            const v4l ok = element_vec(K, dt, pb, gbase, P, floor2, zero_lanes, b0 + j, n, &r);
            for (int64_t l = 0; l < n && bad_at < 0; l++) {
                if (ok[l]) continue;
                const int64_t c = b0 + j + l;
                double s[FI_GRAM_WIDE_K] = {0};
                const double g = fi__load(dt, gbase, c);
                bool finite = isfinite(g);
                for (int i = 0; i < K; i++) {
                    s[i] = fi__load(dt, pb->scores, i * pb->ld + c);
                    finite = finite && isfinite(s[i]);
                }
                if (!finite) bad_at = c;
                else out[c] += fi__element_fi(pb->prob, s, K, g, rcond, atol);
            }
        }
    }
    store_fence(stream_out); /* the streaming stores are visible before the caller reads out */
    return bad_at;
}

#define ELEMENTS(K_, DT_) elements_k(K_, DT_, pb, gbase, rcond, atol, first, last, out, accumulate)

int64_t KFN(elements)(const fi_problem *pb, const void *gbase, double rcond, double atol,
                      int64_t first, int64_t last, double *out, bool accumulate)
{
    switch (pb->k_eff) { /* K >= 2: n_classes >= 2 is validated */
    case 2: return BY_DTYPE(ELEMENTS, 2);
    case 3: return BY_DTYPE(ELEMENTS, 3);
    case 4: return BY_DTYPE(ELEMENTS, 4);
    default: return BY_DTYPE(ELEMENTS, (int)pb->k_eff);
    }
}
