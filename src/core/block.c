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
