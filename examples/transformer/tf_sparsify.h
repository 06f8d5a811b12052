/*
 * Sparsifying the tiny transformer by FI: the paper's figure 3 (zero the top x% of the
 * weights by a dataset-averaged criterion, accuracy on the multiple-choice question) and its
 * table 1 (zero the top x% by sequence FI, then compare the generated answer chains with the
 * unperturbed model's: ROUGE-1 and position-wise token agreement).
 *
 * Every FI here is for the class target y_pred with the option probabilities renormalized
 * over "A".."D" (FI_CLASS_RENORMALIZE, set by the caller on the context). The other
 * criteria use the same renormalized scores s'_i = s_i - sum_j P'_j s_j, written out here
 * the way their users compute them.
 */
#ifndef TF_SPARSIFY_H
#define TF_SPARSIFY_H

#include "tf_fi.h"

/* Random baselines are drawn this many times per training seed and cell. */
enum { TF_DRAWS = 5 };

/* One cell of one training seed: a ranking criterion's value, or one value per draw. */
typedef struct tf_cell {
    int n;
    double v[TF_DRAWS];
} tf_cell;
double tf_cell_mean(const tf_cell *c);

/* Per-parameter criteria, dataset averages over the question of each prompt. */
enum tf_criterion {
    TC_FI,      /* element FI                                          */
    TC_FI_LOW,  /* as many at random outside the FI top x% (paper)     */
    TC_RANDOM,  /* as many uniformly at random                         */
    TC_ABS_W,   /* |w|                                                 */
    TC_TAYLOR,  /* |g w|, g = s'_k                                     */
    TC_FISHER,  /* Fisher diagonal sum_i P'_i s'_i^2                   */
    TC_S2,      /* F w^2, the Fisher length of zeroing                 */
    TC_COUNT
};
extern const char *const tf_criterion_names[TC_COUNT];

typedef struct tf_param_criteria {
    size_t n;
    double *v[TC_COUNT]; /* NULL for the drawn ones */
} tf_param_criteria;
int tf_param_criteria_alloc(tf_param_criteria *c, size_t n);
void tf_param_criteria_free(tf_param_criteria *c);

/* Dataset averages over prompts [n_prompts][TF_PROMPT_LEN] (distribution at the "?").
 * A libfi status. */
int tf_question_criteria(fi_context *ctx, tf_model *m, tf_scores *s, const int *prompts,
                         int n_prompts, tf_param_criteria *out);

/* Sequence FI per parameter: (1/L) sum_{l=1..L} FI_l, each FI_l the mean element FI of step
 * l over the prompts and `continuations` continuations per prompt, sampled token by token
 * from P' (seeded). Into fi_seq[0..n_param). A libfi status. */
int tf_sequence_param_fi(fi_context *ctx, tf_model *m, tf_scores *s, const int *prompts,
                         int n_prompts, int horizon, int continuations, uint64_t seed,
                         double *fi_seq);

/* Accuracy of answer 1 over prompts (greedy over the options) with the current parameters. */
double tf_question_accuracy(tf_model *m, const int *prompts, const int *answers, int count);

/* Greedy answer chains: for each prompt the `horizon` options generated token by token
 * (argmax over "A".."D") into out[count][horizon] (classes 0..3). */
void tf_generate(tf_model *m, const int *prompts, int count, int horizon, int *out);

/* ROUGE-1 F1 of two token sequences of the same length L (unigram multiset overlap / L) and
 * the fraction of positions where they agree. */
double tf_rouge1(const int *a, const int *b, int len);
double tf_token_agreement(const int *a, const int *b, int len);

/* Figure 3: for each fraction f and criterion c, zero the top fractions[f] of all
 * parameters by criterion c (drawn for FI-Low and random) and measure answer-1 accuracy on
 * the evaluation prompts: out[f * TC_COUNT + c]. m->params are restored. A libfi status. */
int tf_zeroing_experiment(fi_context *ctx, tf_model *m, const tf_param_criteria *crit,
                          const double *fractions, int n_fractions, const int *prompts,
                          const int *answers, int count, uint64_t seed, tf_cell *out);

/* Table 1: criteria ranked are sequence FI (as TC_FI, with TC_FI_LOW outside its top),
 * random and |w|; out_rouge / out_agree [f * TC_COUNT + c] (other criteria left n = 0).
 * Generations of `horizon` tokens on the evaluation prompts, scored against the unperturbed
 * model's. m->params are restored. A libfi status. */
int tf_generation_experiment(fi_context *ctx, tf_model *m, const double *fi_seq,
                             const double *fractions, int n_fractions, const int *prompts,
                             int count, int horizon, uint64_t seed, tf_cell *out_rouge,
                             tf_cell *out_agree);

#endif
