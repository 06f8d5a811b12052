/* FI and its baselines on the trained MLP, through libfi's public API only. */
#include "study.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                                            \
    do {                                                                                       \
        int st_ = (call);                                                                      \
        if (st_ != FI_OK) {                                                                    \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, fi_strerror(st_),          \
                    fi_context_error(ctx));                                                    \
            return -1;                                                                         \
        }                                                                                      \
    } while (0)

static double sp[MLP_OUT * MLP_NPARAM], sx[MLP_OUT * MLP_IN];

int study_saliency(fi_context *ctx, const double *theta, const double (*x)[MLP_IN], int count,
                   saliency *out)
{
    const fi_blocks elements = {MLP_NPARAM, 1, 1, 1}, pixels = {MLP_IN, 1, 1, 1};
    fi_accumulator *acc_fi = NULL, *acc_px = NULL;
    CHECK(fi_accumulator_create(ctx, MLP_NPARAM, &acc_fi));
    CHECK(fi_accumulator_create(ctx, MLP_IN, &acc_px));
    static double fi[MLP_NPARAM], s2[MLP_NPARAM], t2[MLP_NPARAM], d[MLP_NPARAM], pfi[MLP_IN];
    memset(out, 0, sizeof *out);
    for (int p = 0; p < MLP_NPARAM; p++) d[p] = -theta[p]; /* zeroing */
    for (int s = 0; s < count; s++) {
        mlp_cache c;
        const int k = mlp_forward(theta, x[s], &c);
        mlp_scores(theta, &c, sp, sx);
        /* f = -log P_k gives g = -s_k: the same FI as the class target k. */
        CHECK(fi_direct(ctx, MLP_OUT, c.prob, FI_F64, sp, MLP_NPARAM, MLP_NPARAM, &elements, NULL,
                        k, fi, 0));
        CHECK(fi_accumulator_add(ctx, acc_fi, fi, 1.0));
        CHECK(fi_direct(ctx, MLP_OUT, c.prob, FI_F64, sx, MLP_IN, MLP_IN, &pixels, NULL, k, pfi, 0));
        CHECK(fi_accumulator_add(ctx, acc_px, pfi, 1.0));
        CHECK(fi_perturbation(ctx, MLP_OUT, c.prob, FI_F64, sp, MLP_NPARAM, MLP_NPARAM, &elements,
                              NULL, k, d, s2, t2));
        for (int p = 0; p < MLP_NPARAM; p++) {
            double fd = 0;
            for (int i = 0; i < MLP_OUT; i++) fd += c.prob[i] * sp[i * MLP_NPARAM + p] * sp[i * MLP_NPARAM + p];
            out->fisher[p] += fd / count;
            out->taylor[p] += sqrt(t2[p]) / count; /* |g . d| = |s_k w| */
            out->fi_s2[p] += fi[p] * s2[p] / count;
        }
    }
    CHECK(fi_accumulator_result(ctx, acc_fi, out->fi, out->fi_se));
    CHECK(fi_accumulator_result(ctx, acc_px, out->pixel_fi, NULL));
    fi_accumulator_free(acc_fi);
    fi_accumulator_free(acc_px);
    return 0;
}

static void print_top(const char *what, const double *v, int n, int top)
{
    int idx[64];
    for (int t = 0; t < top && t < 64; t++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            int used = 0;
            for (int u = 0; u < t; u++) used |= idx[u] == i;
            if (!used && (best < 0 || v[i] > v[best])) best = i;
        }
        idx[t] = best;
    }
    printf("  %-34s", what);
    for (int t = 0; t < top; t++) printf(" %d", idx[t]);
    printf("\n");
}

int study_channels(fi_context *ctx, const double *theta, const double (*x)[MLP_IN], const saliency *sal)
{
    double rows[MLP_H], cols[MLP_IN];
    const fi_blocks w1_rows = {MLP_H, MLP_IN, 1, MLP_IN}, w1_cols = {MLP_IN, MLP_H, MLP_IN, 1};
    CHECK(fi_reduce(ctx, sal->fi + MLP_W1, MLP_H * MLP_IN, &w1_rows, FI_REDUCE_SUM, rows));
    CHECK(fi_reduce(ctx, sal->fi + MLP_W1, MLP_H * MLP_IN, &w1_cols, FI_REDUCE_SUM, cols));
    printf("\nChannels of W1 (element FI summed over the channel, SPEC fact 8):\n");
    print_top("top output channels (hidden units):", rows, MLP_H, 8);
    print_top("top input channels (pixels):", cols, MLP_IN, 8);
    /* Block FI of a whole row: p = 64 >= K-1 = 9, so it saturates at (1-P_k)/P_k (fact 3). */
    mlp_cache c;
    const int k = mlp_forward(theta, x[0], &c);
    mlp_scores(theta, &c, sp, NULL);
    fi_metric *m = NULL;
    double bfi[MLP_H], norm[MLP_H];
    uint8_t sat[MLP_H];
    CHECK(fi_metric_from_scores(ctx, MLP_OUT, c.prob, FI_F64, sp + MLP_W1, MLP_H * MLP_IN,
                                MLP_NPARAM, &w1_rows, &m));
    CHECK(fi_compute(ctx, m, FI_F64, sp + (long)k * MLP_NPARAM + MLP_W1, bfi, 0));
    CHECK(fi_normalize_class(ctx, m, k, bfi, norm, sat));
    int nsat = 0;
    for (int j = 0; j < MLP_H; j++) nsat += sat[j];
    double lo = 1, hi = 0;
    for (int j = 0; j < MLP_H; j++)
        if (bfi[j] > 0) { lo = fmin(lo, norm[j]); hi = fmax(hi, norm[j]); }
    printf("  block FI of whole rows (image 0): %d of %d rows saturated, normalized FI in "
           "[%.6f, %.6f]\n  (rows of dead units have rank 0 and FI 0): block FI cannot rank "
           "channels here, element FI can.\n", nsat, MLP_H, lo, hi);
    fi_metric_free(m);
    return 0;
}

/* Indices of the top k values (the library's deterministic selection). */
static int top_k(fi_context *ctx, const double *v, int n, int k, int64_t *idx)
{
    CHECK(fi_select_top(ctx, v, n, k, idx));
    return 0;
}

int study_zeroing(fi_context *ctx, const double *theta, const double (*x)[MLP_IN], const int *y,
                  int count, const saliency *sal)
{
    static double pruned[MLP_NPARAM], absw[MLP_NPARAM], rnd[MLP_NPARAM];
    static int64_t idx[MLP_NPARAM];
    const double fractions[] = {0.01, 0.02, 0.03, 0.05, 0.10};
    unsigned long long s = 99;
    for (int p = 0; p < MLP_NPARAM; p++) {
        absw[p] = fabs(theta[p]);
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        rnd[p] = (double)(s >> 11);
    }
    const struct { const char *name; const double *v; } crit[] = {
        {"FI (element)", sal->fi}, {"|w|", absw}, {"Fisher diag", sal->fisher},
        {"Taylor |g w|", sal->taylor}, {"FI*S^2 (d=-w)", sal->fi_s2}, {"random", rnd},
    };
    const int nc = sizeof crit / sizeof crit[0];
    printf("\n(a) Test accuracy after zeroing the top x%% of the %d parameters by each criterion\n"
           "    (base accuracy %.4f; FI-Low = the same number drawn at random among the\n"
           "    parameters outside the FI top x%%; lower = the criterion found more important weights)\n",
           MLP_NPARAM, mlp_accuracy(theta, x, y, count));
    printf("    %-6s", "x");
    for (int c = 0; c < nc; c++) printf(" %14s", crit[c].name);
    printf(" %14s\n", "FI-Low");
    for (size_t f = 0; f < sizeof fractions / sizeof fractions[0]; f++) {
        const int k = (int)fi_fraction_count(MLP_NPARAM, fractions[f]);
        printf("    %4.0f%% ", fractions[f] * 100);
        for (int c = 0; c <= nc; c++) {
            memcpy(pruned, theta, sizeof pruned);
            if (c < nc) {
                if (top_k(ctx, crit[c].v, MLP_NPARAM, k, idx)) return -1;
            } else {
                CHECK(fi_select_random_low(ctx, sal->fi, MLP_NPARAM, k, k, 7 + f, idx));
            }
            for (int t = 0; t < k; t++) pruned[idx[t]] = 0;
            printf(" %14.4f", mlp_accuracy(pruned, x, y, count));
        }
        printf("\n");
    }
    return 0;
}

/* Uniform symmetric b-bit quantization of one row (1 bit: sign times mean |w|). */
static void quantize_row(const double *w, double *q, int n, int bits)
{
    double mx = 0, mean = 0;
    for (int i = 0; i < n; i++) { mx = fmax(mx, fabs(w[i])); mean += fabs(w[i]) / n; }
    const int levels = (1 << (bits - 1)) - 1;
    for (int i = 0; i < n; i++)
        q[i] = bits == 1 ? (w[i] >= 0 ? mean : -mean)
                         : (mx > 0 ? round(w[i] / mx * levels) * mx / levels : 0);
}

int study_quantization(fi_context *ctx, const double *theta, const double (*xs)[MLP_IN], int ns,
                       const double (*x)[MLP_IN], const int *y, int count, const saliency *sal)
{
    static double q[MLP_NPARAM], d[MLP_NPARAM], s2[MLP_H], bfi[MLP_H];
    const fi_blocks rows = {MLP_H, MLP_IN, 1, MLP_IN};
    const int bits[] = {1, 4};
    const double keep[] = {0.0, 0.125, 0.25, 0.5};
    printf("\n(b) Quantizing W1 to b bits, keeping the top x%% of its %d output channels in full\n"
           "    precision, channels ranked by reduced element FI, by the perturbation-aware\n"
           "    FI_b*S^2 of the quantization error d = Q(w)-w (fact 7), or at random: test accuracy\n",
           MLP_H);
    for (int bi = 0; bi < 2; bi++) {
        memcpy(q, theta, sizeof q);
        for (int j = 0; j < MLP_H; j++)
            quantize_row(theta + MLP_W1 + j * MLP_IN, q + MLP_W1 + j * MLP_IN, MLP_IN, bits[bi]);
        for (int p = 0; p < MLP_NPARAM; p++) d[p] = q[p] - theta[p];
        double rowfi[MLP_H], aware[MLP_H] = {0}, rnd[MLP_H];
        CHECK(fi_reduce(ctx, sal->fi + MLP_W1, MLP_H * MLP_IN, &rows, FI_REDUCE_SUM, rowfi));
        for (int s = 0; s < ns; s++) {
            mlp_cache c;
            const int k = mlp_forward(theta, xs[s], &c);
            mlp_scores(theta, &c, sp, NULL);
            CHECK(fi_perturbation(ctx, MLP_OUT, c.prob, FI_F64, sp + MLP_W1, MLP_H * MLP_IN,
                                  MLP_NPARAM, &rows, NULL, -1, d + MLP_W1, s2, NULL));
            CHECK(fi_direct(ctx, MLP_OUT, c.prob, FI_F64, sp + MLP_W1, MLP_H * MLP_IN, MLP_NPARAM,
                            &rows, NULL, k, bfi, 0));
            for (int j = 0; j < MLP_H; j++) aware[j] += bfi[j] * s2[j] / ns;
        }
        unsigned long long sd = 5 + bi;
        for (int j = 0; j < MLP_H; j++) {
            sd = sd * 6364136223846793005ull + 1442695040888963407ull;
            rnd[j] = (double)(sd >> 11);
        }
        printf("    %d-bit   %6s %14s %14s %14s\n", bits[bi], "keep", "element FI", "FI_b*S^2", "random");
        for (size_t kk = 0; kk < sizeof keep / sizeof keep[0]; kk++) {
            const int k = (int)fi_fraction_count(MLP_H, keep[kk]);
            printf("            %5.1f%%", keep[kk] * 100);
            const double *rank[] = {rowfi, aware, rnd};
            for (int r = 0; r < 3; r++) {
                static double mix[MLP_NPARAM];
                int64_t idx[MLP_H];
                memcpy(mix, q, sizeof mix);
                if (top_k(ctx, rank[r], MLP_H, k, idx)) return -1;
                for (int t = 0; t < k; t++)
                    memcpy(mix + MLP_W1 + idx[t] * MLP_IN, theta + MLP_W1 + idx[t] * MLP_IN,
                           MLP_IN * sizeof(double));
                printf(" %14.4f", mlp_accuracy(mix, x, y, count));
            }
            printf("\n");
        }
    }
    return 0;
}

int study_pixels(fi_context *ctx, const double *theta, const double (*x)[MLP_IN], int count,
                 const char *pgm_path, const saliency *sal)
{
    /* The dataset-average pixel FI map: a PGM heat map (8x8 scaled to 64x64) and ASCII. */
    /* Linear between the smallest and largest average: element FI is a ratio, so the map's
     * contrast is in the spread, not in the distance from zero. */
    double mx = -INFINITY, mn = INFINITY;
    for (int i = 0; i < MLP_IN; i++) {
        mx = fmax(mx, sal->pixel_fi[i]);
        mn = fmin(mn, sal->pixel_fi[i]);
    }
    const double span = mx > mn ? mx - mn : 1;
    FILE *f = fopen(pgm_path, "wb");
    if (f) {
        fprintf(f, "P5\n64 64\n255\n");
        for (int r = 0; r < 64; r++)
            for (int c = 0; c < 64; c++)
                fputc((int)lround(255 * (sal->pixel_fi[(r / 8) * 8 + c / 8] - mn) / span), f);
        fclose(f);
    }
    const char *shade = " .:-=+*#%@";
    printf("\nAverage pixel FI, min %.3g (blank) to max %.3g (@); written to %s:\n", mn, mx, pgm_path);
    for (int r = 0; r < 8; r++) {
        printf("    ");
        for (int c = 0; c < 8; c++) {
            int l = (int)(9.999 * (sal->pixel_fi[r * 8 + c] - mn) / span);
            printf("%c%c", shade[l], shade[l]);
        }
        printf("\n");
    }
    /* (c) per image: mask (zero) the top-m FI pixels vs m random pixels: prediction flips. */
    printf("\n(c) Masking the m pixels of highest per-image FI vs m random pixels: how often the\n"
           "    prediction flips, over %d test images\n    %4s %12s %12s\n", count, "m", "FI top-m",
           "random m");
    const fi_blocks pixels = {MLP_IN, 1, 1, 1};
    const int ms[] = {2, 4, 8};
    unsigned long long rs = 11;
    for (int mi = 0; mi < 3; mi++) {
        int flips_fi = 0, flips_rnd = 0;
        for (int s = 0; s < count; s++) {
            mlp_cache c;
            const int k = mlp_forward(theta, x[s], &c);
            double pfi[MLP_IN], xm[MLP_IN];
            int64_t idx[MLP_IN];
            mlp_scores(theta, &c, NULL, sx);
            CHECK(fi_direct(ctx, MLP_OUT, c.prob, FI_F64, sx, MLP_IN, MLP_IN, &pixels, NULL, k, pfi, 0));
            CHECK(fi_select_top(ctx, pfi, MLP_IN, ms[mi], idx));
            memcpy(xm, x[s], sizeof xm);
            for (int t = 0; t < ms[mi]; t++) xm[idx[t]] = 0;
            flips_fi += mlp_forward(theta, xm, &c) != k;
            memcpy(xm, x[s], sizeof xm);
            for (int t = 0; t < ms[mi]; t++) {
                rs = rs * 6364136223846793005ull + 1442695040888963407ull;
                xm[(rs >> 33) % MLP_IN] = 0;
            }
            flips_rnd += mlp_forward(theta, xm, &c) != k;
        }
        printf("    %4d %11.1f%% %11.1f%%\n", ms[mi], 100.0 * flips_fi / count, 100.0 * flips_rnd / count);
    }
    return 0;
}
