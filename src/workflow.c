/* Shared helpers of the 1.2 workflow objects (see src/workflow.h). */
#include "workflow.h"

int64_t fi__wf_first_nonfinite(fi_dtype dt, const void *x, int64_t n)
{
    enum { CH = 4096 };
    const size_t es = fi_dtype_size(dt);
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
        if (bad) return i0 + fi__first_nonfinite(dt, (const char *)x + (size_t)i0 * es, len);
    }
    return -1;
}
