/* From the raw sums of the kernels of src/kernels/ to a block's fi_gram. Compiled once, for the
 * baseline instruction set, whichever kernels produced the sums. */
#include "core/block.h"

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
    return w < 4 ? 4 : w > FI_COLUMN_WIDTH_MAX ? FI_COLUMN_WIDTH_MAX : w;
}

/* True when every diagonal Gram sum is 0: for float32 and narrower scores the block is zero
 * (fi__gram_fi proves it); float64 scores below 2^-537 square to 0, so see fi__zero_columns_f64. */
bool fi__gram_diagonal_zero(const fi_gram *gm, int64_t K)
{
    for (int64_t i = 0; i < K; i++)
        if (gm->c[i * K + i] != 0) return false;
    return true;
}

/* Which of the chunk's nb float64 column blocks (consecutive columns b0.., p coordinates
 * stride apart) are exactly zero in every class: one pass over the chunk's rows, where the
 * blocks' scores lie side by side, instead of each block's strided gather by the general paths
 * (ReLU layers make half the columns zero). */
void fi__zero_columns_f64(const fi_problem *pb, int64_t b0, int64_t nb, int64_t p,
                             int64_t stride, unsigned char *zero)
{
    const double *S = pb->scores;
    for (int64_t j = 0; j < nb; j++) zero[j] = 1;
    for (int64_t t = 0; t < p; t++)
        for (int64_t i = 0; i < pb->k_eff; i++) {
            const double *row = S + i * pb->ld + b0 + t * stride;
            for (int64_t j = 0; j < nb; j++) zero[j] &= row[j] == 0;
        }
}
