/* Blocks of p in {2, 3, 4} < K coordinates (pixels, channels): the p x p metric of four blocks
 * at once and its LDL^T, specialized for p, the dtype and dense (HWC) layouts. The target only
 * chooses where g is read (gbase, grow), so it needs no variant. */
#include "kernels/simd.h"

/* G = L D L^T with unit lower L; FI = sum_a z_a^2 / D_a, z = L^-1 g. The block is decided
 * here when G is safely full rank by the bound of src/solve/eigen.c: lambda_max <= trace G and
 * lambda_min >= 1/||D^-1/2 L^-1||_F^2 with trace * ||.||_F^2 <= PIXEL_MAX_COND and the smallest singular
 * value clear of the rank cut-off. */
/* G is formed from K <= 16 products per entry and LDL^T is backward stable, so FI has relative
 * error below about (K + p) * eps * kappa(G) <= 20 * 1.1e-16 * 1e4 = 2.2e-11 here; p is tiny,
 * unlike the Gram path of src/solve/eigen.c, whose error grows with p and keeps kappa <= 1e3. */
#define PIXEL_MAX_COND 1e4

/* x[a] = coordinate a of the n <= 4 blocks b.. (zero lanes beyond n). Dense layouts (step p,
 * stride 1: HWC pixels) read the 4p values with vector loads and transpose them. */
INLINE void pixel_load(const int p, const fi_dtype dt, const bool dense, const void *base,
                       int64_t row, const fi_blocks *bl, int64_t b, int64_t n, v4d *x)
{
    if (dense && n == W) {
        double t[16];
#pragma GCC unroll 4
        for (int q = 0; q < p; q++) {
            const v4d y = load4(dt, base, row + b * p + q * W);
            memcpy(t + q * W, &y, sizeof y);
        }
#pragma GCC unroll 4
        for (int a = 0; a < p; a++) x[a] = (v4d){t[a], t[p + a], t[2 * p + a], t[3 * p + a]};
        return;
    }
#pragma GCC unroll 4
    for (int a = 0; a < p; a++) {
        x[a] = splat(0);
        for (int l = 0; l < n; l++)
            x[a][l] = l < n ? load1(dt, base, row + (b + l) * bl->step + a * bl->stride) : 0.0;
    }
}

INLINE void pixels_p(const int p, const fi_dtype dt, const bool dense, const fi_problem *pb,
                     const fi_blocks *bl, int64_t b0, int64_t nb, const void *gbase,
                     int64_t grow, double rcond, double atol, double *fi_out,
                     unsigned char *ok_out)
{
    const int64_t K = pb->k_eff, ld = pb->ld;
    const double cut_a = atol * atol, cut_r = rcond * rcond;
    for (int64_t v = 0; v * W < nb; v++) {
        const int64_t n = nb - v * W < W ? nb - v * W : W, b = b0 + v * W;
        v4d G[4][4], g[4];
#pragma GCC unroll 4
        for (int a = 0; a < p; a++)
#pragma GCC unroll 4
            for (int c = 0; c <= a; c++) G[a][c] = splat(0);
        for (int64_t i = 0; i < K; i++) {
            v4d x[4];
            const v4d Pi = splat(pb->prob[i]);
            pixel_load(p, dt, dense, pb->scores, i * ld, bl, b, n, x);
#pragma GCC unroll 4
            for (int a = 0; a < p; a++) {
                const v4d y = Pi * x[a];
#pragma GCC unroll 4
                for (int c = 0; c <= a; c++) G[a][c] += y * x[c];
            }
        }
        pixel_load(p, dt, dense, gbase, grow, bl, b, n, g);
        v4d L[4][4], Wm[4][4], r[4], trace = splat(0);
        v4l ok = (v4l){-1, -1, -1, -1};
#pragma GCC unroll 4
        for (int a = 0; a < p; a++) {
            trace += G[a][a];
#pragma GCC unroll 4
            for (int c = 0; c < a; c++) {
                v4d w = G[a][c];
#pragma GCC unroll 4
                for (int e = 0; e < c; e++) w -= Wm[a][e] * L[c][e];
                Wm[a][c] = w;
                L[a][c] = w * r[c];
            }
            v4d d = G[a][a];
            for (int e = 0; e < a; e++) d -= Wm[a][e] * L[a][e];
            ok &= d > splat(0);
            r[a] = splat(1) / d;
        }
        v4d z[4], fi = splat(0), fro = splat(0);
        for (int a = 0; a < p; a++) {
            z[a] = g[a];
            for (int e = 0; e < a; e++) z[a] -= L[a][e] * z[e];
            fi += z[a] * z[a] * r[a];
        }
        v4d Li[4][4]; /* the unit lower L^-1; row a weighted by 1/D_a gives ||.||_F^2 */
        for (int a = 0; a < p; a++) {
            v4d row = splat(1);
            for (int c = 0; c < a; c++) {
                v4d s = L[a][c];
                for (int e = c + 1; e < a; e++) s += L[a][e] * Li[e][c];
                Li[a][c] = -s;
                row += s * s;
            }
            fro += r[a] * row;
        }
        const v4d cut2 = select(splat(cut_a) > splat(cut_r) * trace, splat(cut_a), splat(cut_r) * trace);
        ok &= (trace >= splat(1e-150)) & (trace <= splat(1e150)) & (trace * fro <= splat(PIXEL_MAX_COND)) &
              (splat(1.002001) * cut2 * fro < splat(1)) & (fi <= splat(DBL_MAX));
        for (int64_t l = 0; l < n; l++) {
            fi_out[v * W + l] = fi[l];
            ok_out[v * W + l] = ok[l] != 0;
        }
    }
}

#define PIX(P_, DT_, D_) pixels_p(P_, DT_, D_, pb, bl, b0, nb, gbase, grow, rcond, atol, fi, ok)
#define PIX_D(P_, DT_) (dense ? PIX(P_, DT_, true) : PIX(P_, DT_, false))

void KFN(pixels)(const fi_problem *pb, const fi_blocks *bl, int64_t b0, int64_t nb,
                 const void *gbase, int64_t grow, double rcond, double atol, double *fi,
                 unsigned char *ok)
{
    const bool dense = bl->step == bl->size && bl->stride == 1;
    switch (bl->size) {
    case 2: BY_DTYPE(PIX_D, 2); break;
    case 3: BY_DTYPE(PIX_D, 3); break;
    case 4: BY_DTYPE(PIX_D, 4); break;
    default: memset(ok, 0, (size_t)nb); break;
    }
}
