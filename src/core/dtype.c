/* Element types: the float16 decoder and the one non-finite scan of the library. */
#include "core/dtype.h"

double fi__half_to_double(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    double v;
    if (exp == 0)
        v = ldexp((double)mant, -24); /* subnormal: mant * 2^-24 */
    else if (exp == 31)
        v = mant ? NAN : INFINITY;
    else
        v = ldexp((double)(mant | 0x400), exp - 25);
    return sign ? -v : v;
}

/* Chunks are tested with bit tests on the exponent (all ones: Inf or NaN), which vectorize;
 * only a chunk that holds one is searched value by value for the first. */
int64_t fi__first_nonfinite(fi_dtype dt, const void *x, int64_t n)
{
    enum { CH = 4096 };
    for (int64_t i0 = 0; i0 < n; i0 += CH) {
        const int64_t len = n - i0 < CH ? n - i0 : CH;
        int bad = 0;
        if (dt == FI_F32) {
            const uint32_t *u = (const uint32_t *)x + i0;
            for (int64_t j = 0; j < len; j++) bad |= (u[j] & 0x7f800000u) == 0x7f800000u;
        } else if (dt == FI_F64) {
            const uint64_t *u = (const uint64_t *)x + i0;
            for (int64_t j = 0; j < len; j++)
                bad |= (u[j] & 0x7ff0000000000000ull) == 0x7ff0000000000000ull;
        } else { /* exponent all ones: bfloat16 8 bits, float16 5 bits */
            const uint16_t *u = (const uint16_t *)x + i0, e = dt == FI_BF16 ? 0x7f80 : 0x7c00;
            for (int64_t j = 0; j < len; j++) bad |= (u[j] & e) == e;
        }
        if (!bad) continue;
        for (int64_t j = 0; j < len; j++)
            if (!isfinite(fi__load(dt, x, i0 + j))) return i0 + j;
    }
    return -1;
}
