/* Markdown tables of the experiments over n training seeds. */
#include "tables.h"

#include <math.h>

#include "setup.h"

/* A column name in a Markdown table: "|" escaped. */
static void print_name(FILE *f, const char *name)
{
    fprintf(f, " ");
    for (; *name; name++) fprintf(f, *name == '|' ? "\\|" : "%c", *name);
    fprintf(f, " |");
}

/* Mean and sample sd of every value of the cells cells[0..n) (all their draws). */
static void spread(const samples *const *cells, int n, double *mean, double *sd, int *count)
{
    double sum = 0, sum2 = 0;
    int m = 0;
    for (int s = 0; s < n; s++)
        for (int r = 0; r < cells[s]->n; r++, m++) {
            sum += cells[s]->v[r];
            sum2 += cells[s]->v[r] * cells[s]->v[r];
        }
    *mean = m ? sum / m : 0;
    *sd = m > 1 ? sqrt(fmax(0, (sum2 - m * *mean * *mean) / (m - 1))) : 0;
    *count = m;
}

/* "0.880 ± 0.021" (scale 1) or "22.6 ± 1.2" (scale 100); the bare mean for one value. */
static void print_cells(FILE *f, const samples *const *cells, int n, double scale)
{
    double mean, sd;
    int m;
    spread(cells, n, &mean, &sd, &m);
    const char *fmt = scale == 1 ? "%.3f" : "%.1f";
    fprintf(f, " ");
    fprintf(f, fmt, scale * mean);
    if (m > 1) {
        fprintf(f, " ± ");
        fprintf(f, fmt, scale * sd);
    }
    fprintf(f, " |");
}

/* " mean ± sd" of v[0..n) (the bare mean for n = 1). */
static void print_values(FILE *f, const double *v, int n, double scale, const char *fmt)
{
    double sum = 0, sum2 = 0;
    for (int s = 0; s < n; s++) {
        sum += v[s];
        sum2 += v[s] * v[s];
    }
    const double mean = sum / n, sd = n > 1 ? sqrt(fmax(0, (sum2 - n * mean * mean) / (n - 1))) : 0;
    fprintf(f, " ");
    fprintf(f, fmt, scale * mean);
    if (n > 1) {
        fprintf(f, " ± ");
        fprintf(f, fmt, scale * sd);
    }
}

static void seeds_line(FILE *f, int n)
{
    if (n > 1)
        fprintf(f, "Mean ± standard deviation over the training seeds 0-%d (%d models); a "
                   "drawn baseline's spread is over seeds × %d draws.\n\n", n - 1, n,
                RANDOM_DRAWS);
    else
        fprintf(f, "One training seed; a drawn baseline is the mean ± sd of its %d draws.\n\n",
                RANDOM_DRAWS);
}

void table_model(FILE *f, const seed_result *r, int n)
{
    double v[64] = {0};
    const char *names[] = {"W1", "b1", "W2", "b2"};
    seeds_line(f, n);
    fprintf(f, "| quantity | value |\n|---|---|\n");
    fprintf(f, "| train accuracy |");
    for (int s = 0; s < n; s++) v[s] = r[s].train_acc;
    print_values(f, v, n, 1, "%.3f");
    fprintf(f, " |");
    fprintf(f, "\n| test accuracy |");
    for (int s = 0; s < n; s++) v[s] = r[s].test_acc;
    print_values(f, v, n, 1, "%.3f");
    fprintf(f, " |");
    fprintf(f, "\n| share of the total FI in the top 1%% of parameters (%%) |");
    for (int s = 0; s < n; s++) v[s] = r[s].top1_share;
    print_values(f, v, n, 100, "%.1f");
    fprintf(f, " |");
    fprintf(f, "\n| share of the total FI in the top 10%% of parameters (%%) |");
    for (int s = 0; s < n; s++) v[s] = r[s].top10_share;
    print_values(f, v, n, 100, "%.1f");
    fprintf(f, " |");
    fprintf(f, "\n| parameters with FI 0 on every training image |");
    for (int s = 0; s < n; s++) v[s] = r[s].zero_fi_params;
    print_values(f, v, n, 1, "%.0f");
    fprintf(f, " |");
    for (int t = 0; t < 4; t++) {
        fprintf(f, "\n| share of the total FI in %s (%%) |", names[t]);
        for (int s = 0; s < n; s++) v[s] = r[s].tensor_share[t];
        print_values(f, v, n, 100, "%.1f");
    fprintf(f, " |");
    }
    fprintf(f, "\n");
}

void table_zeroing(FILE *f, const seed_result *r, int n)
{
    const samples *cells[64];
    seeds_line(f, n);
    fprintf(f, "| zeroed |");
    for (int c = 0; c < Z_COUNT; c++) print_name(f, zero_names[c]);
    fprintf(f, "\n|---|");
    for (int c = 0; c < Z_COUNT; c++) fprintf(f, "---|");
    fprintf(f, "\n");
    for (int z = 0; z < ZERO_FRACTIONS; z++) {
        fprintf(f, "| %.0f%% |", 100 * zero_fractions[z]);
        for (int c = 0; c < Z_COUNT; c++) {
            for (int s = 0; s < n; s++) cells[s] = &r[s].zero[z][c];
            print_cells(f, cells, n, 1);
        }
        fprintf(f, "\n");
    }
}

void table_quantization(FILE *f, const seed_result *r, int n)
{
    static const char *fam[QUANT_FAMILIES] = {"rows (hidden units)", "columns (pixels)"};
    const samples *cells[64];
    double v[64] = {0};
    seeds_line(f, n);
    for (int b = 0; b < QUANT_BITS; b++)
        for (int g = 0; g < QUANT_FAMILIES; g++) {
            fprintf(f, "%d bit, keep W1 %s; none kept:", quant_bits[b], fam[g]);
            for (int s = 0; s < n; s++) v[s] = r[s].quant.none[b];
            print_values(f, v, n, 1, "%.3f");
            fprintf(f, "\n\n| kept |");
            for (int c = 0; c < Q_COUNT; c++) print_name(f, quant_names[c]);
            fprintf(f, "\n|---|");
            for (int c = 0; c < Q_COUNT; c++) fprintf(f, "---|");
            fprintf(f, "\n");
            for (int kk = 0; kk < QUANT_KEEPS; kk++) {
                fprintf(f, "| %.1f%% |", 100 * quant_keeps[kk]);
                for (int c = 0; c < Q_COUNT; c++) {
                    for (int s = 0; s < n; s++) cells[s] = &r[s].quant.acc[b][g][kk][c];
                    print_cells(f, cells, n, 1);
                }
                fprintf(f, "\n");
            }
            fprintf(f, "\n");
        }
}

void table_masking(FILE *f, const seed_result *r, int n)
{
    const samples *cells[64];
    seeds_line(f, n);
    fprintf(f, "Test images whose prediction changes (%%) when their top-m pixels are set to 0:\n\n"
               "| m |");
    for (int c = 0; c < M_COUNT; c++) print_name(f, mask_names[c]);
    fprintf(f, "\n|---|");
    for (int c = 0; c < M_COUNT; c++) fprintf(f, "---|");
    fprintf(f, "\n");
    for (int m = 0; m < MASK_SIZES; m++) {
        fprintf(f, "| %d |", mask_sizes[m]);
        for (int c = 0; c < M_COUNT; c++) {
            for (int s = 0; s < n; s++) cells[s] = &r[s].mask[m][c];
            print_cells(f, cells, n, 100);
        }
        fprintf(f, "\n");
    }
}

void table_patches(FILE *f, const seed_result *r, int n)
{
    const samples *cells[64];
    double v[64] = {0};
    seeds_line(f, n);
    fprintf(f, "Test images whose prediction changes (%%) when their top-1 s×s patch is set to 0; "
               "patches flagged saturated by `fi_normalize_class` (rank K−1 = 9, FI = the "
               "ceiling); patches whose FI is within 0.1%% of the ceiling (FI / ceiling ≥ 0.999, "
               "from rank K−1 or from few classes carrying the probability); images on which "
               "every patch is at the ceiling (FI ranks nothing there):\n\n"
               "| s | pixels per patch |");
    for (int c = 0; c < P_COUNT; c++) print_name(f, patch_names[c]);
    fprintf(f, " flagged saturated (%%) | at the ceiling (%%) | images where FI ranks nothing "
               "(%%) |\n|---|---|");
    for (int c = 0; c < P_COUNT + 3; c++) fprintf(f, "---|");
    fprintf(f, "\n");
    for (int z = 0; z < PATCH_SIZES; z++) {
        const int s = patch_sides[z], rest = 8 % s;
        if (rest) fprintf(f, "| %d | %d (border: %d, %d) |", s, s * s, s * rest, rest * rest);
        else fprintf(f, "| %d | %d |", s, s * s);
        for (int c = 0; c < P_COUNT; c++) {
            for (int t = 0; t < n; t++) cells[t] = &r[t].patch.flips[z][c];
            print_cells(f, cells, n, 100);
        }
        for (int t = 0; t < n; t++) v[t] = r[t].patch.saturated[z];
        print_values(f, v, n, 100, "%.1f");
    fprintf(f, " |");
        for (int t = 0; t < n; t++) v[t] = r[t].patch.at_ceiling[z];
        print_values(f, v, n, 100, "%.1f");
    fprintf(f, " |");
        for (int t = 0; t < n; t++) v[t] = r[t].patch.ranks_nothing[z];
        print_values(f, v, n, 100, "%.1f");
    fprintf(f, " |");
        fprintf(f, "\n");
    }
}

void table_claims(FILE *f, const seed_result *r, int n)
{
    fprintf(f, "Each claim compares two cells of the tables seed by seed (paired): the difference "
               "hi − lo, its mean ± sd over the %d seeds, and the smallest. `asserted`: "
               "`make check` (check_mlp) requires every seed's difference > 0 and mean > margin "
               "> sd; `consistent`: every seed agrees and mean > sd, not asserted; "
               "`not significant`: otherwise.\n\n"
               "| claim | difference | smallest | status |\n|---|---|---|---|\n", n);
    for (int c = 0; c < claim_count; c++) {
        const claim *cl = &claims[c];
        double mean, sd, lo;
        claim_difference(cl, r, n, &mean, &sd, &lo);
        fprintf(f, "|");
        print_name(f, cl->text);
        fprintf(f, " %+.3f ± %.3f | %+.3f | ", mean, sd, lo);
        if (cl->asserted) fprintf(f, "asserted, margin %g |\n", cl->margin);
        else fprintf(f, "%s |\n", lo > 0 && mean > sd ? "consistent" : "not significant");
    }
}
