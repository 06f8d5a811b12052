/* The tiny transformer's tests that need the sparsification code (check_transformer's
 * second file): SPEC fact 7 per token substitution, and the sparsification claims. */
#include <math.h>
#include <stdlib.h>

#include "check_tf.h"
#include "tf_runs.h"

/* SPEC fact 7 per edit: for every symbol position t and each of its 7 substitutions d (the
 * r-th other symbol, all positions at once: blocks are independent), (g.d)^2 <= FI_b S^2
 * with FI_b the position's block FI fi[t]. The largest ratio goes into *worst. */
int substitution_cauchy_schwarz(fi_context *ctx, const tf_model *m, const tf_scores *s,
                                       const int *tokens, const double *fi, double *worst)
{
    const int C = m->cfg.channels, T = s->t;
    const fi_blocks positions = {T, C, 1, C};
    const double *wte = tf_tensor(m, m->params, TF_WTE, 0);
    double delta[TF_SEQ_LEN * 64], s2[TF_SEQ_LEN], t2[TF_SEQ_LEN];
    int st = FI_OK;
    for (int r = 1; r < TF_NSYM && st == FI_OK; r++) {
        for (int t = 0; t < T; t++) {
            const int tok = tokens[t], other = tok < TF_NSYM ? (tok + r) % TF_NSYM : tok;
            for (int c = 0; c < C; c++)
                delta[t * C + c] = wte[(size_t)other * C + c] - wte[(size_t)tok * C + c];
        }
        st = fi_perturbation(ctx, TF_K, s->probs, FI_F64, s->input, (int64_t)s->n_input,
                             (int64_t)s->n_input, &positions, NULL, s->predicted, delta, s2, t2);
        for (int t = 0; t < T && st == FI_OK; t++)
            if (s2[t] > 0) *worst = fmax(*worst, t2[t] / (fi[t] * s2[t]));
    }
    return st;
}

/* The asserted sparsification claims (tf_runs.c) on training seed 0, whose model m is: the
 * cells they compare, computed exactly as `make experiments` computes seed 0's. */
int sparsification_claims(fi_context *ctx, tf_model *m, tf_scores *s)
{
    static int crit_p[TF_CRIT_PROMPTS * TF_PROMPT_LEN], seq_p[TF_SEQ_PROMPTS * TF_PROMPT_LEN];
    static int eval_p[TF_EVAL_PROMPTS * TF_PROMPT_LEN], eval_a[TF_EVAL_PROMPTS];
    static tf_seed_result r0;
    tf_param_criteria crit;
    tf_run_prompts(crit_p, seq_p, eval_p, eval_a);
    double *fi_seq = malloc(m->lay.total * sizeof *fi_seq);
    int st = fi_seq && !tf_param_criteria_alloc(&crit, m->lay.total) ? FI_OK : FI_ERR_NOMEM;
    if (st != FI_OK) {
        free(fi_seq);
        return st;
    }
    st = tf_question_criteria(ctx, m, s, crit_p, TF_CRIT_PROMPTS, &crit);
    if (st == FI_OK)
        st = tf_zeroing_experiment(ctx, m, &crit, tf_zero_fractions, TF_ZERO_FRACTIONS, eval_p,
                                   eval_a, TF_EVAL_PROMPTS, 0, &r0.zero[0][0]);
    if (st == FI_OK)
        st = tf_sequence_param_fi(ctx, m, s, seq_p, TF_SEQ_PROMPTS, TF_HORIZON,
                                  TF_SEQ_CONTINUATIONS, 31337, fi_seq);
    /* only the largest fraction of the generation table: its cells are the asserted ones */
    if (st == FI_OK)
        st = tf_generation_experiment(ctx, m, fi_seq, &tf_gen_fractions[TF_GEN_FRACTIONS - 1], 1,
                                      eval_p, TF_EVAL_PROMPTS, TF_HORIZON, 0,
                                      &r0.rouge[TF_GEN_FRACTIONS - 1][0],
                                      &r0.agree[TF_GEN_FRACTIONS - 1][0]);
    for (int c = 0; c < tf_claim_count && st == FI_OK; c++) {
        const tf_claim *cl = &tf_claims[c];
        if (!cl->asserted) continue;
        double d, sd, lo;
        tf_claim_difference(cl, &r0, 1, &d, &sd, &lo);
        check(d > cl->margin, "seed 0: %s: %+.3f > margin %g", cl->text, d, cl->margin);
    }
    tf_param_criteria_free(&crit);
    free(fi_seq);
    return st;
}

