/*
 * FI for sequence generation (paper section 2, SPEC section 1 "Aggregation").
 *
 * From a prompt z (the 8 symbols and "?") the model generates the answer chain token by
 * token. Step l (1..L) is the distribution of the l-th generated token given z and the
 * l - 1 tokens generated before it; its classes are the 4 option tokens.
 *
 *  - continuations: N per prompt, each token drawn from the model's option probabilities
 *    renormalized over "A".."D" (temperature 1, seeded); step l of continuation n uses the
 *    continuation truncated at l - 1 tokens as its context;
 *  - per-step target: the predicted option (argmax of the step's option probabilities)
 *    given that context, f = -log P'(y_pred), as for the single question;
 *  - FI_l = mean over the prompts of the mean over their N continuations (one accumulator
 *    sample per prompt: its continuations are correlated) of the per-group FI (element FI
 *    reduced with FI_REDUCE_MEAN over each weight matrix), one accumulator per step;
 *  - fixed horizon: FI_seq^L = (1/L) sum_{l=1..L} FI_l, an accumulator fed FI_l with weight 1/L;
 *  - discounted: FI_seq^gamma = (1 - gamma) sum_{l>=1} gamma^(l-1) FI_l (the paper's sum from
 *    l = 0 with the first generated token first), an accumulator fed FI_l with weight
 *    (1 - gamma) gamma^(l-1). Truncated at L its weights sum to 1 - gamma^L; the accumulator's
 *    weighted mean divides by that (the estimate if the tail behaved like the first L
 *    steps), and mean * total weight is the plain truncated sum. Both are reported.
 */
#ifndef TF_SEQ_H
#define TF_SEQ_H

#include "tf_fi.h"

typedef struct tf_seq_opts {
    int horizon;       /* L                          */
    int continuations; /* N per prompt               */
    double gamma;      /* discount, in (0, 1)        */
    uint64_t seed;     /* sampling seed              */
} tf_seq_opts;

typedef struct tf_seq_result {
    int n_groups, horizon;
    double *step_mean;          /* horizon x n_groups: FI_l                              */
    double *step_se;            /* horizon x n_groups: its standard error over the prompts */
    double *fixed;              /* n_groups: (1/L) sum FI_l                              */
    double *discounted;         /* n_groups: weighted mean, weights (1-gamma) gamma^(l-1) */
    double *discounted_sum;     /* n_groups: the truncated sum (1-gamma) sum gamma^(l-1) FI_l */
    double step_confidence[16]; /* mean P'(y_pred) per step (horizon <= 16)         */
    double off_argmax;          /* fraction of sampled tokens that were not the argmax  */
} tf_seq_result;

int tf_seq_result_alloc(tf_seq_result *r, int n_groups, int horizon);
void tf_seq_result_free(tf_seq_result *r);

/* Runs the estimate over n_prompts prompts (each TF_PROMPT_LEN tokens, row-major).
 * s must come from tf_scores_alloc(m). horizon <= 16 and TF_PROMPT_LEN + horizon - 1 <=
 * max_t. A libfi status (FI_ERR_DIMENSION / FI_ERR_NOMEM for bad options / memory). */
int tf_sequence_fi(fi_context *ctx, tf_model *m, tf_scores *s, const int *prompts, int n_prompts,
                   const tf_seq_opts *o, const tf_group *groups, int n_groups, tf_seq_result *r);

#endif
