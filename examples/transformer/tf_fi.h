/*
 * FI of the tiny transformer through the public libfi API.
 *
 * One sample = one context and the distribution at one position; its classes are the 4
 * option tokens. All FI values here are for the paper's objective f = -log P'(y_pred),
 * P' the option probabilities renormalized over "A".."D" (the context's class mode decides
 * how the raw vocabulary probabilities become a K-class problem: SPEC fact 6).
 *
 * Groups of coordinates (a weight matrix, a head, a token position) hold p >= K - 1 = 3
 * coordinates, so their block FI saturates at the class bound (SPEC fact 3): the rankings
 * here come from ELEMENT FI (p = 1, informative) reduced over the group with fi_reduce, and
 * from the perturbation-aware quantities of SPEC fact 7 for a concrete edit.
 */
#ifndef TF_FI_H
#define TF_FI_H

#include "fi.h"
#include "tf_model.h"
#include "tf_probe.h"

/* A contiguous range of the flat parameter array with a display name. */
typedef struct tf_group {
    char name[24];
    size_t offset;
    size_t size;
} tf_group;

#define TF_MAX_GROUPS 64

/* The weight matrices, in forward order: wte, wpe, per layer W_q, W_k, W_v, W_o, W_fc,
 * W_proj, then the LM head. Returns the count (<= max). */
int tf_matrix_groups(const tf_model *m, tf_group *groups, int max);

/* Element FI (blocks of one coordinate) of the class target s->predicted for every
 * parameter into fi_param[0..n_param) and every input-embedding coordinate into
 * fi_input[0..n_input); either may be NULL. A libfi status. */
int tf_element_fi(fi_context *ctx, const tf_scores *s, double *fi_param, double *fi_input);

/* out[g] = op (an fi_reduce_op) of values over group g of the flat parameter array. */
int tf_reduce_groups(fi_context *ctx, const tf_group *groups, int n_groups, const double *values,
                     int op, double *out);

/* Per attention head (layer-major, NL*NH heads) the MEAN element FI over the head's rows of
 * W_q, W_k, W_v and its columns of W_o: out[5*h + 0..3] = q, k, v, o; out[5*h + 4] = the
 * mean over all four. Built from fi_reduce sums (columns of W_o are summed per column,
 * then per head). */
int tf_reduce_heads(fi_context *ctx, const tf_model *m, const double *fi_param, double *out);

/* out[t] = op of the element FI of the t-th token's C input coordinates, t < s->t. */
int tf_reduce_positions(fi_context *ctx, const tf_model *m, const tf_scores *s,
                        const double *fi_input, int op, double *out);

/* Token substitution (SPEC fact 7): for every symbol position t (< 8) and every other
 * symbol r, the edit d = wte[r] - wte[x_t] of position t's input embedding; the means over
 * the 7 substitutions of the Fisher length S^2 = d^T G_t d and of the first-order change
 * (g.d)^2 go to s2[t] and taylor2[t] (0 at the query position). */
int tf_substitution_fisher(fi_context *ctx, const tf_model *m, const tf_scores *s,
                           const int *tokens, double *s2, double *taylor2);

/* Fisher length S^2 = d^T G d of zeroing each group (d = -theta over the group, the group
 * as one block) into s2[0..n_groups). */
int tf_zeroing_fisher(fi_context *ctx, const tf_model *m, const tf_scores *s,
                      const tf_group *groups, int n_groups, double *s2);

/* Block FI with one block per token position (p = C >= K - 1, so every block is expected
 * to saturate): fi[t], fi/bound into normalized[t] and the saturation flag (rank K_eff - 1
 * reached) into saturated[t], t < s->t. */
int tf_position_block_fi(fi_context *ctx, const tf_model *m, const tf_scores *s, double *fi,
                         double *normalized, uint8_t *saturated);

/* Class-target ceiling of FI for this sample under the context's class mode, through a
 * one-block metric: (1 - P'_k)/P'_k with renormalized probabilities (SPEC fact 3). */
int tf_class_ceiling(fi_context *ctx, const tf_scores *s, double *bound);

#endif
