/* Reference path: compact SVD of one block's B through LAPACK (docs/math.md, section 2). */
#include "linalg/svd.h"

#include <lapacke.h>

static int64_t svd_query(int64_t p, int64_t k)
{
    double opt = 0, dummy = 0;
    lapack_int info = LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, 'S', 'N', (lapack_int)p,
                                          (lapack_int)k, &dummy, (lapack_int)p, &dummy, &dummy,
                                          (lapack_int)p, &dummy, 1, &opt, -1);
    int64_t mn = p < k ? p : k, mx = p > k ? p : k;
    int64_t minimal = 3 * mn + mx > 5 * mn ? 3 * mn + mx : 5 * mn;
    int64_t q = info == 0 ? (int64_t)opt : 0;
    return q > minimal ? q : minimal;
}

int fi__svd_workspace(fi_context *ctx, const fi_allocator *mem, int64_t p_max, int64_t k,
                      fi_svd_work *w)
{
    memset(w, 0, sizeof *w);
    if (p_max > INT32_MAX || k > INT32_MAX)
        return fi__fail(ctx, FI_ERR_DIMENSION, "block of %lld x %lld exceeds LAPACK's int range",
                        (long long)p_max, (long long)k);
    const int64_t mn = p_max < k ? p_max : k;
    w->lwork = svd_query(p_max, k);
    int64_t alt = svd_query(mn, k);
    if (alt > w->lwork) w->lwork = alt;
    w->vecs = fi__calloc(mem, (size_t)(p_max * mn), sizeof(double));
    w->sigma = fi__calloc(mem, (size_t)mn, sizeof(double));
    w->work = fi__calloc(mem, (size_t)w->lwork, sizeof(double));
    if (!w->vecs || !w->sigma || !w->work) {
        fi__svd_workspace_free(mem, w);
        return fi__fail(ctx, FI_ERR_NOMEM, "out of memory for the SVD workspace of a %lld x %lld "
                                           "block", (long long)p_max, (long long)k);
    }
    return FI_OK;
}

void fi__svd_workspace_free(const fi_allocator *mem, fi_svd_work *w)
{
    fi__free(mem, w->vecs);
    fi__free(mem, w->sigma);
    fi__free(mem, w->work);
    memset(w, 0, sizeof *w);
}

bool fi__deflate_null(double *B, int64_t p, int64_t k, const double *sqrt_prob, double rcond,
                      double atol)
{
    if (p < k) return false;
    /* every norm on B / 2^e, so that no square overflows or underflows at 1e+-150 */
    double mx = 0, psum = 0, smax2 = 0, bq2 = 0;
    bool nan = false; /* compares, not fmax: a library call per element at -O3 */
    for (int64_t i = 0; i < p * k; i++) {
        const double a = fabs(B[i]);
        mx = a > mx ? a : mx;
        nan |= a != a;
    }
    if (nan || !(mx > 0) || !isfinite(mx)) return false;
    int e;
    frexp(mx, &e);
    /* x * 2^-e by one multiplication where 2^-e is a normal double: exact, as ldexp */
    const bool mul = e > -1000 && e < 1000;
    const double s2 = mul ? ldexp(1.0, -e) : 0;
#define SCALED(x) (mul ? (x) * s2 : ldexp((x), -e))
    for (int64_t i = 0; i < k; i++) psum += sqrt_prob[i] * sqrt_prob[i];
    for (int64_t i = 0; i < k; i++) {
        if (!(sqrt_prob[i] > 0)) continue;
        double n2 = 0;
        for (int64_t j = 0; j < p; j++) n2 += SCALED(B[j + i * p]) * SCALED(B[j + i * p]);
        smax2 = fmax(smax2, n2 / (sqrt_prob[i] * sqrt_prob[i])); /* |s_i|^2 */
    }
    const double nq = sqrt(psum);
    for (int64_t j = 0; j < p; j++) {
        double d = 0;
        for (int64_t i = 0; i < k; i++) d += SCALED(B[j + i * p]) * (sqrt_prob[i] / nq);
        bq2 += d * d;
    }
#undef SCALED
    if (!(sqrt(bq2) <= fmax(ldexp(atol, -e), rcond * sqrt(smax2)))) return false;
    for (int64_t j = 0; j < p; j++) { /* B <- B - (B q) q^T */
        double d = 0;
        for (int64_t i = 0; i < k; i++) d += B[j + i * p] * (sqrt_prob[i] / nq);
        for (int64_t i = 0; i < k; i++) B[j + i * p] -= d * (sqrt_prob[i] / nq);
    }
    return true;
}

int fi__svd_factor(double *B, int64_t p, int64_t k, double rcond, double atol, int64_t max_rank,
                   fi_svd_work *w, int64_t *rank, double *sigma, double *W, int *info)
{
    const int64_t mn = p < k ? p : k;
    double vt_dummy = 0;
    lapack_int rc = LAPACKE_dgesvd_work(LAPACK_COL_MAJOR, 'S', 'N', (lapack_int)p, (lapack_int)k,
                                        B, (lapack_int)p, w->sigma, w->vecs, (lapack_int)p,
                                        &vt_dummy, 1, w->work, (lapack_int)w->lwork);
    *info = (int)rc;
    if (rc != 0) return FI_ERR_LAPACK;
    const double smax = w->sigma[0];
    double cut = rcond * smax;
    if (atol > cut) cut = atol;
    int64_t r = 0;
    while (r < mn && r < max_rank && w->sigma[r] > cut && w->sigma[r] > 0) r++;
    for (int64_t l = 0; l < r; l++) {
        const double inv = 1.0 / w->sigma[l];
        sigma[l] = w->sigma[l];
        for (int64_t j = 0; j < p; j++) W[l * p + j] = w->vecs[j + l * p] * inv;
    }
    *rank = r;
    return FI_OK;
}
