/* One training seed of the tiny transformer through the sparsification experiments, and the
 * claims docs/transformer.md makes about them: `make experiments` runs the seeds
 * 0 .. TF_SEEDS-1 and writes the tables, check_transformer asserts the claims. */
#ifndef TF_RUNS_H
#define TF_RUNS_H

#include <stdio.h>

#include "tf_sparsify.h"

enum { TF_SEEDS = 5 };
enum { TF_ZERO_FRACTIONS = 5, TF_GEN_FRACTIONS = 4 };
extern const double tf_zero_fractions[TF_ZERO_FRACTIONS]; /* 1, 2, 3, 5, 10 % */
extern const double tf_gen_fractions[TF_GEN_FRACTIONS];   /* 1, 2, 5, 10 %    */

/* The sizes of one run: prompts for the dataset criteria, (prompts x continuations) for
 * sequence FI, evaluation prompts, horizon L. */
enum { TF_CRIT_PROMPTS = 100, TF_SEQ_PROMPTS = 20, TF_SEQ_CONTINUATIONS = 4,
       TF_EVAL_PROMPTS = 400, TF_HORIZON = 5 };

typedef struct tf_seed_result {
    unsigned seed;
    double loss, accuracy; /* final training loss; answer-1 accuracy on the evaluation set */
    tf_cell zero[TF_ZERO_FRACTIONS][TC_COUNT];  /* accuracy after zeroing               */
    tf_cell rouge[TF_GEN_FRACTIONS][TC_COUNT];  /* ROUGE-1 vs the unperturbed model     */
    tf_cell agree[TF_GEN_FRACTIONS][TC_COUNT];  /* token agreement vs the unperturbed   */
    int top_tensor[TC_COUNT][TF_NTENSORS];      /* where each criterion's top 1% sits    */
} tf_seed_result;

/* The prompt sets of every run (clean, drawn from fixed seeds, the same for every training
 * seed): crit [TF_CRIT_PROMPTS][TF_PROMPT_LEN] for the dataset criteria, seq
 * [TF_SEQ_PROMPTS][..] for sequence FI, eval [TF_EVAL_PROMPTS][..] and their answer-1
 * classes for the evaluation. */
void tf_run_prompts(int *crit, int *seq, int *eval, int *eval_answers);

/* Trains the model of training seed t (initialization seed 1 + t, data seed
 * tf_demo_train_opts().seed + t) and runs both experiments. A libfi status, or -1 when out
 * of memory. */
int tf_run_seed(fi_context *ctx, unsigned t, tf_seed_result *out);

/* A directional claim: cell hi exceeds cell lo, compared seed by seed. Training five
 * transformers takes a minute, so check_transformer asserts a claim on training seed 0 (the
 * model its other tests train): seed 0's difference must exceed the margin. The margins are
 * chosen above the difference's sd over the seeds and below its smallest value, and the
 * claims table says when a run of `make experiments` breaks that. */
enum { TF_T_ZERO, TF_T_ROUGE, TF_T_AGREE };
typedef struct tf_claim {
    const char *text;
    int table, f_hi, c_hi, f_lo, c_lo;
    double margin;
    int asserted;
} tf_claim;
extern const tf_claim tf_claims[];
extern const int tf_claim_count;
void tf_claim_difference(const tf_claim *c, const tf_seed_result *r, int n, double *mean,
                         double *sd, double *min);

/* Markdown tables over n seeds (mean ± sd; drawn baselines over seeds x draws). */
void tf_table_zeroing(FILE *f, const tf_seed_result *r, int n);
void tf_table_generation(FILE *f, const tf_seed_result *r, int n);
void tf_table_claims(FILE *f, const tf_seed_result *r, int n);
void tf_table_top_tensors(FILE *f, const tf_seed_result *r, int n);

#endif
