/*
 * libfi example: a tiny decoder-only transformer trained in C on a synthetic
 * multiple-choice task (tf_task.h), and what FI finds in it.
 *
 *   build/examples/transformer_demo [prompts]      (make demo-transformer)
 *
 * Prints: training and accuracy; one question with its raw vocabulary probabilities and
 * the class modes of SPEC fact 6; FI per weight matrix, per attention head and per input
 * token position (element FI reduced over the group, next to block FI, which saturates,
 * and next to the perturbation-aware quantities of SPEC fact 7 and the effect measured by
 * actually making the edit); sequence-generation FI with horizon L = 5 from N = 10 sampled
 * continuations, fixed-horizon and discounted.
 */
#include "fi.h"
#include "tf_fi.h"
#include "tf_model.h"
#include "tf_probe.h"
#include "tf_seq.h"
#include "tf_task.h"
#include "tf_train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PROMPTS 2000
#define SEQ_PROMPTS 20

/* Everything the sections share. */
typedef struct demo {
    tf_model m;
    tf_scores s;
    fi_context *ctx;
    int n_prompts;
    int *prompts; /* n_prompts x TF_PROMPT_LEN, clean test prompts */
    int *answers; /* correct class of answer 1 */
    tf_group mats[TF_MAX_GROUPS];
    int n_mats;
} demo;

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

/* Prints a libfi failure and returns 1 (for `return fail(...)` in main's sections). */
static int fail(const demo *d, int st, const char *what)
{
    fprintf(stderr, "transformer_demo: %s: %s (%s)\n", what, fi_strerror(st),
            fi_context_error(d->ctx));
    return 1;
}

/* Answer-1 accuracy of the current parameters on the demo's prompts (argmax over options). */
static double prompt_accuracy(demo *d)
{
    int hit = 0;
    for (int z = 0; z < d->n_prompts; z++) {
        tf_forward(&d->m, d->prompts + (size_t)z * TF_PROMPT_LEN, 1, TF_PROMPT_LEN);
        hit += tf_predicted_option(&d->m, 0, TF_PROMPT_LEN - 1) == d->answers[z];
    }
    return (double)hit / d->n_prompts;
}

/* Accuracy with parameter range g set to zero (restored afterwards). */
static double accuracy_zeroed(demo *d, const tf_group *g)
{
    double *keep = malloc(g->size * sizeof *keep);
    if (!keep) return NAN;
    memcpy(keep, d->m.params + g->offset, g->size * sizeof *keep);
    memset(d->m.params + g->offset, 0, g->size * sizeof *keep);
    const double acc = prompt_accuracy(d);
    memcpy(d->m.params + g->offset, keep, g->size * sizeof *keep);
    free(keep);
    return acc;
}

/* Average ranks (1-based, ties share their mean rank) of v[0..n), n <= 64. */
static void ranks(const double *v, int n, double *r)
{
    for (int i = 0; i < n; i++) {
        int less = 0, equal = 0;
        for (int j = 0; j < n; j++) {
            less += v[j] < v[i];
            equal += v[j] == v[i];
        }
        r[i] = less + (equal + 1) / 2.0;
    }
}

/* Spearman's rank correlation of a and b (the Pearson correlation of their ranks). */
static double spearman(const double *a, const double *b, int n)
{
    double ra[64], rb[64], ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    if (n < 2 || n > 64) return NAN;
    ranks(a, n, ra);
    ranks(b, n, rb);
    for (int i = 0; i < n; i++) {
        ma += ra[i] / n;
        mb += rb[i] / n;
    }
    for (int i = 0; i < n; i++) {
        sab += (ra[i] - ma) * (rb[i] - mb);
        saa += (ra[i] - ma) * (ra[i] - ma);
        sbb += (rb[i] - mb) * (rb[i] - mb);
    }
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : NAN;
}

/* ------------------------------------------------------------------ [1] training */

static int section_training(demo *d)
{
    const tf_train_opts o = tf_demo_train_opts();
    printf("[1] training: AdamW, %d steps of %d sequences, lr %.0e (cosine), %.0f%% label noise, "
           "seed %llu\n",
           o.steps, o.batch, o.lr, 100 * o.label_noise, (unsigned long long)o.seed);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const double loss = tf_train(&d->m, &o, stdout, 150);
    const double secs = seconds_since(&t0);
    double acc, steps[TF_STEPS];
    tf_evaluate(&d->m, 777, 1000, &acc, steps);
    /* with 10% uniform label noise the best achievable loss is the noise entropy */
    const double q = 1 - o.label_noise + o.label_noise / TF_K, r = o.label_noise / TF_K;
    printf("  %.1f s; final loss %.4f (Bayes floor with this noise %.4f)\n", secs, loss,
           -q * log(q) - (TF_K - 1) * r * log(r));
    printf("  accuracy on 1000 fresh clean prompts: answer 1 %.1f%%; chain, teacher-forced:",
           100 * acc);
    for (int s = 0; s < TF_STEPS; s++) printf(" %.1f%%", 100 * steps[s]);
    printf("\n\n");
    return 0;
}

/* ------------------------------------------------------------------ [2] one question */

static int section_question(demo *d)
{
    const int *p = d->prompts;
    tf_class_scores(&d->m, p, TF_PROMPT_LEN, TF_PROMPT_LEN - 1, &d->s);
    printf("[2] one question\n  prompt:");
    for (int t = 0; t < TF_PROMPT_LEN; t++) printf(" %s", tf_token_name(p[t]));
    printf("   (x2 = %s, x5 = %s -> correct option %s)\n", tf_token_name(p[TF_PLANTED_1]),
           tf_token_name(p[TF_PLANTED_2]), tf_token_name(TF_TOK_A + d->answers[0]));
    double sum = 0;
    printf("  raw vocabulary probabilities:");
    for (int i = 0; i < TF_K; i++) {
        printf(" P(%s) = %.4f", tf_token_name(TF_TOK_A + i), d->s.probs[i]);
        sum += d->s.probs[i];
    }
    printf("\n  they sum to %.6f, not 1: the 4 options are a subset of the 13-token vocabulary\n",
           sum);

    /* SPEC fact 6: strict refuses, renormalize and remainder make a K-class problem */
    double el[TF_PROMPT_LEN * 64], bound;
    int st = fi_context_set(d->ctx, FI_OPT_CLASS_MODE, FI_CLASS_STRICT);
    if (st != FI_OK) return fail(d, st, "fi_context_set");
    st = tf_element_fi(d->ctx, &d->s, NULL, el);
    printf("  FI_CLASS_STRICT:      %s: %s\n", fi_strerror(st), fi_context_error(d->ctx));
    static const int modes[2] = {FI_CLASS_REMAINDER, FI_CLASS_RENORMALIZE};
    static const char *const names[2] = {"FI_CLASS_REMAINDER: ", "FI_CLASS_RENORMALIZE:"};
    static const char *const what[2] = {"5th class 'other' P = 1 - sum", "P'_i = P_i / sum"};
    for (int i = 0; i < 2; i++) {
        st = fi_context_set(d->ctx, FI_OPT_CLASS_MODE, modes[i]);
        if (st == FI_OK) st = tf_class_ceiling(d->ctx, &d->s, &bound);
        if (st != FI_OK) return fail(d, st, "class ceiling");
        printf("  %s %-31s predicted %s, FI ceiling %.5f\n", names[i], what[i],
               tf_token_name(TF_TOK_A + d->s.predicted), bound);
    }
    printf("  (the rest of this report uses FI_CLASS_RENORMALIZE: FI of f = -log P'(y_pred))\n\n");
    return 0;
}

/* ------------------------------------------------------------------ [3] [4] parameters */

/* Per weight matrix and per head, averaged over the prompts with fi_accumulator. */
static int section_parameters(demo *d)
{
    tf_model *m = &d->m;
    const int NH = m->cfg.heads, NL = m->cfg.layers, nheads = NH * NL;
    const int C = m->cfg.channels, hs = C / NH;
    tf_group vrows[64];
    for (int l = 0; l < NL; l++)
        for (int h = 0; h < NH; h++) {
            tf_group *g = &vrows[l * NH + h];
            snprintf(g->name, sizeof g->name, "L%d.h%d", l, h);
            g->offset = (size_t)(tf_tensor(m, m->params, TF_QKVW, l) - m->params) +
                        (size_t)(2 * C + h * hs) * C;
            g->size = (size_t)hs * C;
        }
    const int nm = d->n_mats, width = 3 * nm + 6 * nheads;
    double *elem = malloc(m->lay.total * sizeof *elem), *vec = malloc(sizeof(double) * width);
    double *mean = malloc(sizeof(double) * width), *se = malloc(sizeof(double) * width);
    fi_accumulator *acc = NULL;
    int st = elem && vec && mean && se ? FI_OK : FI_ERR_NOMEM;
    if (st == FI_OK) st = fi_accumulator_create(d->ctx, width, &acc);
    /* one accumulator row: [mean elem FI | max elem FI | S^2 zeroing] per matrix, then
     * [q k v o mean] per head and S^2 of zeroing the head's W_v rows */
    for (int z = 0; z < d->n_prompts && st == FI_OK; z++) {
        tf_class_scores(m, d->prompts + (size_t)z * TF_PROMPT_LEN, TF_PROMPT_LEN, TF_PROMPT_LEN - 1,
                        &d->s);
        st = tf_element_fi(d->ctx, &d->s, elem, NULL);
        if (st == FI_OK) st = tf_reduce_groups(d->ctx, d->mats, nm, elem, FI_REDUCE_MEAN, vec);
        if (st == FI_OK) st = tf_reduce_groups(d->ctx, d->mats, nm, elem, FI_REDUCE_MAX, vec + nm);
        if (st == FI_OK) st = tf_zeroing_fisher(d->ctx, m, &d->s, d->mats, nm, vec + 2 * nm);
        if (st == FI_OK) st = tf_reduce_heads(d->ctx, m, elem, vec + 3 * nm);
        if (st == FI_OK)
            st = tf_zeroing_fisher(d->ctx, m, &d->s, vrows, nheads, vec + 3 * nm + 5 * nheads);
        if (st == FI_OK) st = fi_accumulator_add(d->ctx, acc, vec, 1.0);
    }
    if (st == FI_OK) st = fi_accumulator_result(d->ctx, acc, mean, se);
    if (st != FI_OK) {
        free(elem);
        free(vec);
        free(mean);
        free(se);
        fi_accumulator_free(acc);
        return fail(d, st, "FI per parameter group");
    }

    const double base = prompt_accuracy(d);
    double drop_m[TF_MAX_GROUPS], drop_h[64], crit[64];
    for (int g = 0; g < nm; g++) drop_m[g] = base - accuracy_zeroed(d, &d->mats[g]);
    for (int h = 0; h < nheads; h++) drop_h[h] = base - accuracy_zeroed(d, &vrows[h]);
    printf("[3] FI per weight matrix: mean over %d prompts (fi_accumulator) of element FI reduced\n"
           "    over the matrix (fi_reduce MEAN, MAX); S^2 = d^T G d of zeroing the matrix as one\n"
           "    block (fi_perturbation); accuracy measured with the matrix zeroed (base %.1f%%)\n",
           d->n_prompts, 100 * base);
    printf("  %-18s %6s  %-21s %9s  %9s  %8s\n", "matrix", "coords", "mean element FI +- se",
           "max el FI", "S^2 zero", "acc zero");
    for (int g = 0; g < nm; g++)
        printf("  %-18s %6zu  %.3e +- %.1e   %9.3e  %9.3e  %7.1f%%\n", d->mats[g].name,
               d->mats[g].size, mean[g], se[g], mean[nm + g], mean[2 * nm + g],
               100 * (base - drop_m[g]));
    printf("  Spearman rank correlation with the measured accuracy drop: mean element FI %+.2f,\n"
           "  max element FI %+.2f, S^2 of zeroing %+.2f\n",
           spearman(mean, drop_m, nm), spearman(mean + nm, drop_m, nm),
           spearman(mean + 2 * nm, drop_m, nm));
    printf(
        "\n[4] FI per attention head: mean element FI over the head's rows of W_q, W_k, W_v and\n"
        "    its columns of W_o (fi_reduce SUM per part, W_o per column then per head); S^2 and\n"
        "    accuracy for zeroing the head's W_v rows (its output then carries only the bias)\n");
    printf("  %-6s %9s %9s %9s %9s %9s  %9s  %8s\n", "head", "W_q", "W_k", "W_v", "W_o", "mean",
           "S^2 zero", "acc zero");
    for (int h = 0; h < nheads; h++) {
        const double *v = mean + 3 * nm + 5 * h;
        printf("  %-6s %9.3e %9.3e %9.3e %9.3e %9.3e  %9.3e  %7.1f%%\n", vrows[h].name, v[0], v[1],
               v[2], v[3], v[4], mean[3 * nm + 5 * nheads + h], 100 * (base - drop_h[h]));
        crit[h] = v[4];
    }
    printf("  Spearman rank correlation with the measured accuracy drop: mean element FI %+.2f,\n"
           "  S^2 of zeroing W_v rows %+.2f\n",
           spearman(crit, drop_h, nheads), spearman(mean + 3 * nm + 5 * nheads, drop_h, nheads));
    printf("\n");
    free(elem);
    free(vec);
    free(mean);
    free(se);
    fi_accumulator_free(acc);
    return 0;
}

/* ------------------------------------------------------------------ [5] positions */

/* Fraction of single-symbol substitutions at each position that flip the prediction. */
static void flip_rates(demo *d, double *flip)
{
    int tok[TF_PROMPT_LEN];
    for (int t = 0; t < TF_PROMPT_LEN; t++) flip[t] = 0;
    for (int z = 0; z < d->n_prompts; z++) {
        const int *p = d->prompts + (size_t)z * TF_PROMPT_LEN;
        tf_forward(&d->m, p, 1, TF_PROMPT_LEN);
        const int pred = tf_predicted_option(&d->m, 0, TF_PROMPT_LEN - 1);
        for (int t = 0; t < TF_PROMPT_LEN - 1; t++)
            for (int r = 1; r < TF_NSYM; r++) {
                memcpy(tok, p, sizeof tok);
                tok[t] = (p[t] + r) % TF_NSYM;
                tf_forward(&d->m, tok, 1, TF_PROMPT_LEN);
                flip[t] += tf_predicted_option(&d->m, 0, TF_PROMPT_LEN - 1) != pred;
            }
    }
    for (int t = 0; t < TF_PROMPT_LEN; t++) flip[t] /= (double)d->n_prompts * (TF_NSYM - 1);
}

/* Positions ranked by value (descending), printed as "5 2 0 ...". */
static void print_ranking(const char *label, const double *v, int n)
{
    int idx[TF_PROMPT_LEN];
    for (int i = 0; i < n; i++) idx[i] = i;
    for (int i = 1; i < n; i++) /* insertion sort; ties keep the smaller position first */
        for (int j = i; j > 0 && v[idx[j]] > v[idx[j - 1]]; j--) {
            const int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    printf("  %-34s", label);
    for (int i = 0; i < n; i++) printf(" %d", idx[i]);
    const int hit = (idx[0] == TF_PLANTED_1 || idx[0] == TF_PLANTED_2) &&
                    (idx[1] == TF_PLANTED_1 || idx[1] == TF_PLANTED_2);
    printf("   -> planted {2,5} on top: %s\n", hit ? "yes" : "no");
}

static int section_positions(demo *d)
{
    tf_model *m = &d->m;
    const int T = TF_PROMPT_LEN, C = m->cfg.channels;
    enum { W = 7 * TF_PROMPT_LEN };
    double el[TF_PROMPT_LEN * 64], vec[W], mean[W], se[W], bfi[TF_PROMPT_LEN], norm[TF_PROMPT_LEN];
    uint8_t sat[TF_PROMPT_LEN];
    long n_sat = 0;
    fi_accumulator *acc = NULL;
    if (C > 64) return 1;
    int st = fi_accumulator_create(d->ctx, W, &acc);
    /* row: mean el FI | max el FI | block FI / bound | S^2 | FI_b S^2 | (g.d)^2 | ceiling */
    for (int z = 0; z < d->n_prompts && st == FI_OK; z++) {
        const int *p = d->prompts + (size_t)z * TF_PROMPT_LEN;
        tf_class_scores(m, p, T, T - 1, &d->s);
        st = tf_element_fi(d->ctx, &d->s, NULL, el);
        if (st == FI_OK) st = tf_reduce_positions(d->ctx, m, &d->s, el, FI_REDUCE_MEAN, vec);
        if (st == FI_OK) st = tf_reduce_positions(d->ctx, m, &d->s, el, FI_REDUCE_MAX, vec + T);
        if (st == FI_OK) st = tf_position_block_fi(d->ctx, m, &d->s, bfi, norm, sat);
        if (st == FI_OK) st = tf_substitution_fisher(d->ctx, m, &d->s, p, vec + 3 * T, vec + 5 * T);
        for (int t = 0; t < T && st == FI_OK; t++) {
            vec[2 * T + t] = norm[t];
            vec[4 * T + t] = bfi[t] * vec[3 * T + t];
            vec[6 * T + t] = bfi[t] / norm[t];
            n_sat += sat[t];
        }
        if (st == FI_OK) st = fi_accumulator_add(d->ctx, acc, vec, 1.0);
    }
    if (st == FI_OK) st = fi_accumulator_result(d->ctx, acc, mean, se);
    fi_accumulator_free(acc);
    if (st != FI_OK) return fail(d, st, "FI per position");
    double flip[TF_PROMPT_LEN];
    flip_rates(d, flip);

    printf(
        "[5] FI per input token position of the question (the answer hinges on positions 2 and 5)\n"
        "    omega = the C = %d input-embedding coordinates of a position; mean over %d prompts.\n"
        "    element FI reduced over the position (fi_reduce MEAN, MAX); block FI of the position\n"
        "    (p = %d >= K-1: saturated in %ld of %ld blocks, so FI/ceiling = 1 everywhere); token\n"
        "    substitution d = wte[other] - wte[x_t], mean over the 7 other symbols: Fisher length\n"
        "    S^2 = d^T G d, FI_b S^2 and the first-order change (g.d)^2 (fi_perturbation); and\n"
        "    the measured fraction of substitutions that flip the answer (exact forward passes)\n",
        C, d->n_prompts, C, n_sat, (long)d->n_prompts * T);
    printf("  %-6s %-21s %9s %8s %9s %9s %9s %6s\n", "pos", "mean element FI +- se", "max el FI",
           "FI/ceil", "S^2 subst", "FI_b S^2", "(g.d)^2", "flips");
    for (int t = 0; t < T; t++) {
        const char *tag = t == TF_PLANTED_1 || t == TF_PLANTED_2 ? "*" : t == T - 1 ? "?" : " ";
        printf("  %d %s    %.3e +- %.1e   %9.3e %8.4f %9.3e %9.3e %9.3e %5.1f%%\n", t, tag, mean[t],
               se[t], mean[T + t], mean[2 * T + t], mean[3 * T + t], mean[4 * T + t],
               mean[5 * T + t], 100 * flip[t]);
    }
    printf(
        "  (mean class ceiling (1-P'_k)/P'_k over the prompts: %.4f; '*' planted, '?' the query)\n",
        mean[6 * T]);
    printf("  rankings of the 8 symbol positions:\n");
    print_ranking("mean element FI", mean, T - 1);
    print_ranking("max element FI", mean + T, T - 1);
    print_ranking("S^2 of a substitution", mean + 3 * T, T - 1);
    print_ranking("(g.d)^2 of a substitution", mean + 5 * T, T - 1);
    print_ranking("measured flip rate", flip, T - 1);
    printf("\n");
    return 0;
}

/* ------------------------------------------------------------------ [6] sequences */

static int section_sequence(demo *d)
{
    const tf_seq_opts o = {.horizon = 5, .continuations = 10, .gamma = 0.5, .seed = 31337};
    const int nz = d->n_prompts < SEQ_PROMPTS ? d->n_prompts : SEQ_PROMPTS, nm = d->n_mats;
    tf_seq_result r;
    if (tf_seq_result_alloc(&r, nm, o.horizon)) return 1;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const int st = tf_sequence_fi(d->ctx, &d->m, &d->s, d->prompts, nz, &o, d->mats, nm, &r);
    if (st != FI_OK) {
        tf_seq_result_free(&r);
        return fail(d, st, "sequence FI");
    }
    printf(
        "[6] sequence-generation FI: %d prompts, N = %d continuations each sampled from P' over\n"
        "    the options, horizon L = %d; step l scores the predicted option given the prompt and\n"
        "    the continuation truncated at l-1 tokens; values = mean element FI per matrix.\n"
        "    FI_seq^L = (1/L) sum FI_l; discounted gamma = %.1f: weights (1-gamma) gamma^(l-1),\n"
        "    accumulator mean (renormalized over the L steps) and the truncated sum.  (%.1f s)\n",
        nz, o.continuations, o.horizon, o.gamma, seconds_since(&t0));
    printf("  mean P'(y_pred) per step:");
    for (int l = 0; l < o.horizon; l++) printf(" %.3f", r.step_confidence[l]);
    printf("; sampled tokens that were not the argmax: %.1f%%\n", 100 * r.off_argmax);
    printf("  %-18s", "matrix");
    for (int l = 1; l <= o.horizon; l++) printf("      FI_%d", l);
    printf("   FI_seq^L  disc.mean   disc.sum\n");
    for (int g = 0; g < nm; g++) {
        printf("  %-18s", d->mats[g].name);
        for (int l = 0; l < o.horizon; l++) printf(" %9.3e", r.step_mean[l * nm + g]);
        printf("  %9.3e  %9.3e  %9.3e\n", r.fixed[g], r.discounted[g], r.discounted_sum[g]);
    }
    printf("  (standard errors of FI_l over the %d prompts, each the mean of its %d\n"
           "  continuations, relative, at most: ", nz, o.continuations);
    double worst = 0;
    for (int i = 0; i < nm * o.horizon; i++)
        if (r.step_mean[i] > 0) worst = fmax(worst, r.step_se[i] / r.step_mean[i]);
    printf("%.1f%%)\n", 100 * worst);
    tf_seq_result_free(&r);
    return 0;
}

int main(int argc, char **argv)
{
    demo d;
    memset(&d, 0, sizeof d);
    d.n_prompts = argc > 1 ? atoi(argv[1]) : 200;
    if (d.n_prompts < 1 || d.n_prompts > MAX_PROMPTS) {
        fprintf(stderr, "usage: %s [prompts 1..%d]\n", argv[0], MAX_PROMPTS);
        return 2;
    }
    const tf_config cfg = tf_demo_config();
    const tf_train_opts o = tf_demo_train_opts();
    d.prompts = malloc(sizeof(int) * (size_t)d.n_prompts * TF_PROMPT_LEN);
    d.answers = malloc(sizeof(int) * (size_t)d.n_prompts);
    if (!d.prompts || !d.answers || tf_model_create(&d.m, &cfg, o.batch, 0.02, 1) ||
        tf_scores_alloc(&d.s, &d.m) || fi_context_create(&d.ctx) != FI_OK) {
        fprintf(stderr, "transformer_demo: out of memory\n");
        return 1;
    }
    d.n_mats = tf_matrix_groups(&d.m, d.mats, TF_MAX_GROUPS);
    tf_rng rng;
    tf_rng_seed(&rng, 4343);
    for (int z = 0; z < d.n_prompts; z++) {
        int tok[TF_SEQ_LEN], tgt[TF_SEQ_LEN];
        tf_task_sample(&rng, 0.0, tok, tgt);
        memcpy(d.prompts + (size_t)z * TF_PROMPT_LEN, tok, sizeof(int) * TF_PROMPT_LEN);
        d.answers[z] = tgt[TF_PROMPT_LEN - 1] - TF_TOK_A;
    }

    printf("libfi %s - tiny decoder-only transformer on a synthetic multiple-choice task\n",
           fi_version_string());
    printf("  task: symbols a..h (a-d low, e-h high), \"?\", options A..D; x0..x7 ? -> answer 1 =\n"
           "        option 2*[x2 high] + [x5 high]; then a chain: answer l = 2*[x_Q high] +\n"
           "        [answer l-1 in {C,D}], Q = 7,0,3,6 (tf_task.h)\n");
    printf("  model: V = %d, maxT = %d, C = %d, %d heads, %d layers, pre-LN, GELU, untied LM\n"
           "         head: %zu parameters, double precision, hand-written backward\n\n",
           cfg.vocab, cfg.max_t, cfg.channels, cfg.heads, cfg.layers, d.m.lay.total);

    int rc = section_training(&d);
    if (!rc) rc = section_question(&d);
    if (!rc) rc = section_parameters(&d);
    if (!rc) rc = section_positions(&d);
    if (!rc) rc = section_sequence(&d);

    fi_context_free(d.ctx);
    tf_scores_free(&d.s);
    tf_model_free(&d.m);
    free(d.prompts);
    free(d.answers);
    return rc;
}
