/* Sequence-generation FI: sampled continuations, per-step FI, fixed and discounted aggregates. */
#include "tf_seq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tf_seq_result_alloc(tf_seq_result *r, int n_groups, int horizon)
{
    memset(r, 0, sizeof *r);
    r->n_groups = n_groups;
    r->horizon = horizon;
    const size_t sg = (size_t)n_groups;
    r->step_mean = calloc(sg * horizon, sizeof(double));
    r->step_se = calloc(sg * horizon, sizeof(double));
    r->fixed = calloc(sg, sizeof(double));
    r->discounted = calloc(sg, sizeof(double));
    r->discounted_sum = calloc(sg, sizeof(double));
    if (!r->step_mean || !r->step_se || !r->fixed || !r->discounted || !r->discounted_sum) {
        tf_seq_result_free(r);
        return -1;
    }
    return 0;
}

void tf_seq_result_free(tf_seq_result *r)
{
    free(r->step_mean);
    free(r->step_se);
    free(r->fixed);
    free(r->discounted);
    free(r->discounted_sum);
    memset(r, 0, sizeof *r);
}

/* Draws an option from the renormalized option probabilities. */
static int sample_option(tf_rng *rng, const double *probs)
{
    double total = 0;
    for (int i = 0; i < TF_K; i++) total += probs[i];
    double u = tf_rng_uniform(rng) * total;
    for (int i = 0; i < TF_K - 1; i++) {
        if (u < probs[i]) return i;
        u -= probs[i];
    }
    return TF_K - 1;
}

int tf_sequence_fi(fi_context *ctx, tf_model *m, tf_scores *s, const int *prompts, int n_prompts,
                   const tf_seq_opts *o, const tf_group *groups, int n_groups, tf_seq_result *r)
{
    const int L = o->horizon;
    if (L < 1 || L > 16 || m->cfg.max_t > 64 || TF_PROMPT_LEN + L - 1 > m->cfg.max_t ||
        o->continuations < 1 || n_prompts < 1 || !(o->gamma > 0 && o->gamma < 1) ||
        r->horizon != L || r->n_groups != n_groups)
        return FI_ERR_DIMENSION;
    fi_accumulator *step_acc[16] = {NULL}, *fixed = NULL, *disc = NULL;
    double *elem = malloc(s->n_param * sizeof *elem);
    double *vec = malloc((size_t)n_groups * sizeof *vec);
    double *prompt_mean = malloc((size_t)L * n_groups * sizeof *prompt_mean);
    int st = elem && vec && prompt_mean ? FI_OK : FI_ERR_NOMEM;
    for (int l = 0; l < L && st == FI_OK; l++)
        st = fi_accumulator_create(ctx, n_groups, &step_acc[l]);
    if (st == FI_OK) st = fi_accumulator_create(ctx, n_groups, &fixed);
    if (st == FI_OK) st = fi_accumulator_create(ctx, n_groups, &disc);

    tf_rng rng;
    tf_rng_seed(&rng, o->seed);
    int tokens[64];
    long sampled = 0, off = 0;
    double conf[16] = {0};
    for (int z = 0; z < n_prompts && st == FI_OK; z++) {
        /* A prompt's continuations share its step-1 context and are correlated: they are
         * averaged first, and the accumulators see one sample per prompt, so that the
         * standard errors are over independent prompts (docs/aggregation.md). */
        memset(prompt_mean, 0, (size_t)L * n_groups * sizeof *prompt_mean);
        for (int n = 0; n < o->continuations && st == FI_OK; n++) {
            memcpy(tokens, prompts + (size_t)z * TF_PROMPT_LEN, sizeof(int) * TF_PROMPT_LEN);
            for (int l = 1; l <= L && st == FI_OK; l++) {
                const int t = TF_PROMPT_LEN + l - 1; /* context: prompt + l-1 generated tokens */
                tf_class_scores(m, tokens, t, t - 1, s);
                st = tf_element_fi(ctx, s, elem, NULL);
                if (st == FI_OK)
                    st = tf_reduce_groups(ctx, groups, n_groups, elem, FI_REDUCE_MEAN, vec);
                for (int g = 0; g < n_groups && st == FI_OK; g++)
                    prompt_mean[(size_t)(l - 1) * n_groups + g] += vec[g] / o->continuations;
                double total = 0;
                for (int i = 0; i < TF_K; i++) total += s->probs[i];
                conf[l - 1] += s->probs[s->predicted] / total;
                if (l < L) { /* the next step's context: one more sampled token */
                    const int y = sample_option(&rng, s->probs);
                    tokens[t] = TF_TOK_A + y;
                    sampled++;
                    off += y != s->predicted;
                }
            }
        }
        for (int l = 0; l < L && st == FI_OK; l++)
            st = fi_accumulator_add(ctx, step_acc[l], prompt_mean + (size_t)l * n_groups, 1.0);
    }
    for (int l = 0; l < L && st == FI_OK; l++) {
        double *mean = r->step_mean + (size_t)l * n_groups;
        st = fi_accumulator_result(ctx, step_acc[l], mean, r->step_se + (size_t)l * n_groups);
        if (st == FI_OK) st = fi_accumulator_add(ctx, fixed, mean, 1.0 / L);
        if (st == FI_OK)
            st = fi_accumulator_add(ctx, disc, mean, (1.0 - o->gamma) * pow(o->gamma, l));
    }
    double disc_weight = 0;
    if (st == FI_OK) st = fi_accumulator_result(ctx, fixed, r->fixed, NULL);
    if (st == FI_OK) st = fi_accumulator_result(ctx, disc, r->discounted, NULL);
    if (st == FI_OK) st = fi_accumulator_info(disc, NULL, NULL, &disc_weight);
    if (st == FI_OK) {
        for (int g = 0; g < n_groups; g++) r->discounted_sum[g] = r->discounted[g] * disc_weight;
        const double per_step = (double)n_prompts * o->continuations;
        for (int l = 0; l < L; l++) r->step_confidence[l] = conf[l] / per_step;
        r->off_argmax = sampled ? (double)off / (double)sampled : 0.0;
    }
    for (int l = 0; l < L; l++) fi_accumulator_free(step_acc[l]);
    fi_accumulator_free(fixed);
    fi_accumulator_free(disc);
    free(prompt_mean);
    free(elem);
    free(vec);
    return st;
}
