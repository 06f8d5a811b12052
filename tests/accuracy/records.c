/* Reading the suite's records, and rounding float64 scores to float32, bfloat16 and float16
 * as storage would (round to nearest, ties to even, with float16 subnormals). */
#include "records.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void acc_record_free(acc_record *r)
{
    free(r->probs);
    free(r->scores);
    free(r->target);
    memset(r, 0, sizeof *r);
}

int acc_record_read(const char *path, fi_dtype dtype, acc_record *r)
{
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    int64_t hdr[3];
    int bad = fread(hdr, sizeof hdr, 1, f) != 1 || hdr[0] < 2 || hdr[0] > 64 || hdr[1] < 1 ||
              hdr[2] < 0 || hdr[2] >= hdr[0];
    if (!bad) {
        const size_t es = fi_dtype_size(dtype), K = (size_t)hdr[0], n = (size_t)hdr[1];
        r->K = hdr[0], r->n = hdr[1], r->label = hdr[2], r->dtype = dtype;
        r->probs = malloc(K * sizeof(double));
        r->scores = malloc(K * n * es);
        r->target = malloc(n * es);
        bad = !r->probs || !r->scores || !r->target || fread(r->probs, sizeof(double), K, f) != K ||
              fread(r->scores, es, K * n, f) != K * n || fread(r->target, es, n, f) != n;
    }
    fclose(f);
    if (bad) acc_record_free(r);
    return bad ? -1 : 0;
}

int acc_layout_read(const char *path, acc_layout *l)
{
    memset(l, 0, sizeof *l);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[256], kind[16];
    while (fgets(line, sizeof line, f) && l->count < 32) {
        acc_segment *s = &l->seg[l->count];
        long long off, d[3] = {0, 0, 0};
        int got = sscanf(line, "%63s %lld %15s %lld %lld %lld", s->name, &off, kind, &d[0], &d[1], &d[2]);
        if (got < 4) continue;
        s->offset = off;
        s->kind = !strcmp(kind, "matrix") ? ACC_MATRIX : !strcmp(kind, "image") ? ACC_IMAGE : ACC_VECTOR;
        for (int i = 0; i < 3; i++) s->dims[i] = d[i];
        l->count++;
    }
    fclose(f);
    return l->count > 0 ? 0 : -1;
}

/* x rounded to a binary format with `mant` explicit mantissa bits and minimum normal exponent
 * emin (no overflow handling needed: scores are far below the formats' maxima). */
static double round_to(double x, int mant, int emin)
{
    if (x == 0 || !isfinite(x)) return x;
    int e;
    frexp(x, &e); /* x = m 2^e, 0.5 <= |m| < 1 */
    const int q = (e - 1 < emin ? emin : e - 1) - mant; /* exponent of the last kept bit */
    return ldexp(nearbyint(ldexp(x, -q)), q);            /* default rounding: ties to even */
}

static uint16_t bf16_bits(double x)
{
    const float f = (float)round_to(x, 7, -126);
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (uint16_t)(u >> 16); /* exact: the low half is zero after rounding */
}

static uint16_t f16_bits(double x)
{
    const double y = round_to(x, 10, -14);
    const uint16_t sign = signbit(y) ? 0x8000 : 0;
    const double a = fabs(y);
    if (a == 0) return sign;
    int e;
    const double m = frexp(a, &e); /* a = m 2^e */
    if (e - 1 < -14) return sign | (uint16_t)ldexp(a, 24); /* subnormal: a / 2^-24 */
    return sign | (uint16_t)((e - 1 + 15) << 10) | (uint16_t)(ldexp(m, 11) - 1024);
}

int acc_record_round(const acc_record *r, fi_dtype dtype, acc_record *out)
{
    memset(out, 0, sizeof *out);
    const size_t es = fi_dtype_size(dtype), total = (size_t)(r->K * r->n);
    *out = *r;
    out->dtype = dtype;
    out->probs = malloc((size_t)r->K * sizeof(double));
    out->scores = malloc(total * es);
    out->target = malloc((size_t)r->n * es);
    if (!out->probs || !out->scores || !out->target) {
        acc_record_free(out);
        return -1;
    }
    memcpy(out->probs, r->probs, (size_t)r->K * sizeof(double));
    const double *src[2] = {r->scores, r->target};
    void *dst[2] = {out->scores, out->target};
    const size_t len[2] = {total, (size_t)r->n};
    for (int a = 0; a < 2; a++)
        for (size_t i = 0; i < len[a]; i++) {
            const double x = src[a][i];
            if (dtype == FI_F32) ((float *)dst[a])[i] = (float)x;
            else if (dtype == FI_BF16) ((uint16_t *)dst[a])[i] = bf16_bits(x);
            else ((uint16_t *)dst[a])[i] = f16_bits(x);
        }
    return 0;
}
