/*
 * Tests of the tiny transformer example: every hand-written gradient against central finite
 * differences in double, the causal mask, and what FI finds on the trained model (against
 * independent references: the task's ground truth measured by exact forward passes, SPEC
 * facts 1, 3 and 6 written out here, and plain sums for the sequence aggregates), and the
 * sparsification claims of docs/transformer.md on training seed 0.
 *
 * A plain program: prints one line per check and "N passed, M failed"; exits 1 on failure.
 */
#include "fi.h"
#include "tf_fi.h"
#include "tf_model.h"
#include "tf_probe.h"
#include "check_tf.h"
#include "tf_seq.h"
#include "tf_task.h"
#include "tf_train.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int passed, failed;

/* Records one check and prints it. */
void check(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s  ", ok ? "ok  " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (ok)
        passed++;
    else
        failed++;
}

/* ------------------------------------------------------------------ finite differences */

/* Central differences use h = 1e-5: the truncation error h^2 f'''/6 and the rounding error
 * ~ eps |f| / h are both ~1e-10 for these O(1-10) objectives, so an analytic gradient is
 * accepted when |analytic - fd| <= FD_ATOL + FD_RTOL |fd|. A wrong term in a backward pass
 * shows up at the size of the gradient itself (1e-3 .. 1), far above that. */
#define FD_H 1e-5
#define FD_ATOL 1e-7
#define FD_RTOL 1e-5

/* The objective a test differentiates, evaluated at the model's current parameters (or,
 * for inputs, its current acts.encoded). */
typedef double (*objective_fn)(tf_model *m, void *arg);

typedef struct lin_arg { /* f = sum_{b,t,v} c[b,t,v] log p[b,t,v] */
    const int *tokens;
    int b, t;
    const double *c;
    int from_encoded; /* 1: rerun from acts.encoded instead of the tokens */
} lin_arg;

static double lin_value(const tf_model *m, const double *c)
{
    const size_t n = (size_t)m->b * m->t * m->cfg.vocab;
    double f = 0;
    for (size_t i = 0; i < n; i++) f += c[i] * log(m->acts.probs[i]);
    return f;
}

static double lin_objective(tf_model *m, void *arg)
{
    lin_arg *a = arg;
    if (a->from_encoded)
        tf_forward_from_encoded(m);
    else
        tf_forward(m, a->tokens, a->b, a->t);
    return lin_value(m, a->c);
}

/* d f / d logits of the linear objective: c - p * sum_v c (per position). */
static void lin_dlogits(const tf_model *m, const double *c, double *dlogits)
{
    const int V = m->cfg.vocab;
    for (int i = 0; i < m->b * m->t; i++) {
        double sc = 0;
        for (int v = 0; v < V; v++) sc += c[(size_t)i * V + v];
        for (int v = 0; v < V; v++)
            dlogits[(size_t)i * V + v] =
                c[(size_t)i * V + v] - m->acts.probs[(size_t)i * V + v] * sc;
    }
}

/* Largest violation ratio |an - fd| / (ATOL + RTOL |fd|) over coordinates idx[0..n) of x,
 * where f is re-evaluated after x[idx] +- h. Also reports the largest |fd|. */
static double fd_compare(tf_model *m, objective_fn f, void *arg, double *x, const size_t *idx,
                         size_t n, const double *analytic, double *max_abs)
{
    double worst = 0;
    *max_abs = 0;
    for (size_t j = 0; j < n; j++) {
        const size_t i = idx ? idx[j] : j;
        const double keep = x[i];
        x[i] = keep + FD_H;
        const double fp = f(m, arg);
        x[i] = keep - FD_H;
        const double fm = f(m, arg);
        x[i] = keep;
        const double fd = (fp - fm) / (2 * FD_H), an = analytic[idx ? i : j];
        const double ratio = fabs(an - fd) / (FD_ATOL + FD_RTOL * fabs(fd));
        if (ratio > worst) worst = ratio;
        if (fabs(fd) > *max_abs) *max_abs = fabs(fd);
    }
    return worst;
}

/* Small model used for the exhaustive checks: every parameter and every input coordinate. */
static tf_config small_config(void)
{
    tf_config c = {.vocab = TF_VOCAB, .max_t = TF_SEQ_LEN, .channels = 8, .heads = 2, .layers = 2};
    return c;
}

/* Random tokens (any vocabulary entry) and random objective weights. */
static void random_problem(tf_rng *rng, int *tokens, int n_tok, double *c, size_t n_c)
{
    for (int i = 0; i < n_tok; i++) tokens[i] = tf_rng_int(rng, TF_VOCAB);
    for (size_t i = 0; i < n_c; i++) c[i] = tf_rng_normal(rng);
}

/* Every parameter tensor and the input embeddings: a random linear functional of all
 * log-probabilities, a batch of 2 sequences shorter than max_t, a non-trivial init
 * (std 0.4: attention far from uniform, GELU far from linear). */
static void test_gradients_all_parameters(void)
{
    tf_config cfg = small_config();
    tf_model m;
    if (tf_model_create(&m, &cfg, 2, 0.4, 11)) {
        check(0, "model allocation");
        return;
    }
    const int B = 2, T = 11, V = cfg.vocab;
    int tokens[2 * 11];
    double *c = malloc(sizeof(double) * B * T * V), *dlogits = malloc(sizeof(double) * B * T * V);
    double *denc = malloc(sizeof(double) * B * T * cfg.channels);
    double *grads = malloc(sizeof(double) * m.lay.total);
    tf_rng rng;
    tf_rng_seed(&rng, 5);
    random_problem(&rng, tokens, B * T, c, (size_t)B * T * V);

    tf_forward(&m, tokens, B, T);
    lin_dlogits(&m, c, dlogits);
    memset(m.grads, 0, m.lay.total * sizeof *m.grads);
    tf_backward(&m, dlogits, denc);
    memcpy(grads, m.grads, m.lay.total * sizeof *grads);

    lin_arg arg = {tokens, B, T, c, 0};
    for (int w = 0; w < TF_NTENSORS; w++) {
        double mx;
        const double worst = fd_compare(&m, lin_objective, &arg, m.params + m.lay.offset[w], NULL,
                                        m.lay.size[w], grads + m.lay.offset[w], &mx);
        check(worst <= 1.0,
              "d/d %-8s (%4zu params) vs central FD: worst err/tol %.3f, max |g| %.2e",
              tf_tensor_name(w), m.lay.size[w], worst, mx);
    }
    /* input embeddings: rerun from a perturbed copy of acts.encoded */
    tf_forward(&m, tokens, B, T);
    arg.from_encoded = 1;
    double mx;
    const double worst = fd_compare(&m, lin_objective, &arg, m.acts.encoded, NULL,
                                    (size_t)B * T * cfg.channels, denc, &mx);
    check(worst <= 1.0,
          "d/d input embeddings (%d x %d x %d) vs central FD: worst err/tol %.3f, max |g| %.2e", B,
          T, cfg.channels, worst, mx);
    free(c);
    free(dlogits);
    free(denc);
    free(grads);
    tf_model_free(&m);
}

typedef struct ce_arg {
    const int *tokens, *targets;
    int b, t;
    double *scratch;
} ce_arg;

static double ce_objective(tf_model *m, void *arg)
{
    ce_arg *a = arg;
    tf_forward(m, a->tokens, a->b, a->t);
    return tf_cross_entropy(m, a->targets, a->scratch);
}

/* The training gradient: masked mean cross-entropy on task sequences. */
static void test_gradients_training_loss(void)
{
    tf_config cfg = small_config();
    tf_model m;
    if (tf_model_create(&m, &cfg, 3, 0.4, 12)) {
        check(0, "model allocation");
        return;
    }
    const int B = 3, T = TF_SEQ_LEN, V = cfg.vocab;
    int tokens[3 * TF_SEQ_LEN], targets[3 * TF_SEQ_LEN];
    double *dl = malloc(sizeof(double) * B * T * V), *scratch = malloc(sizeof(double) * B * T * V);
    double *grads = malloc(sizeof(double) * m.lay.total);
    tf_rng rng;
    tf_rng_seed(&rng, 6);
    for (int b = 0; b < B; b++) tf_task_sample(&rng, 0.2, tokens + b * T, targets + b * T);
    tf_forward(&m, tokens, B, T);
    tf_cross_entropy(&m, targets, dl);
    memset(m.grads, 0, m.lay.total * sizeof *m.grads);
    tf_backward(&m, dl, NULL);
    memcpy(grads, m.grads, m.lay.total * sizeof *grads);
    ce_arg arg = {tokens, targets, B, T, scratch};
    double mx;
    const double worst =
        fd_compare(&m, ce_objective, &arg, m.params, NULL, m.lay.total, grads, &mx);
    check(worst <= 1.0,
          "training loss: all %zu params vs central FD: worst err/tol %.3f, max |g| %.2e",
          m.lay.total, worst, mx);
    free(dl);
    free(scratch);
    free(grads);
    tf_model_free(&m);
}

typedef struct class_arg { /* f = log P_vocab(option i) at position pos */
    const int *tokens;
    int t, pos, option, from_encoded;
} class_arg;

static double class_objective(tf_model *m, void *arg)
{
    class_arg *a = arg;
    if (a->from_encoded)
        tf_forward_from_encoded(m);
    else
        tf_forward(m, a->tokens, 1, a->t);
    return log(m->acts.probs[(size_t)a->pos * m->cfg.vocab + TF_TOK_A + a->option]);
}

/* The class scores FI consumes: tf_class_scores rows vs FD of log P(option i), for all four
 * options, on coordinates idx (all when NULL). pos < t - 1 also checks that tokens after
 * the scored position get exactly zero score (the causal mask). */
static void check_class_scores(tf_model *m, const int *tokens, int t, int pos, const size_t *idx,
                               size_t n_idx, const char *label)
{
    tf_scores s;
    if (tf_scores_alloc(&s, m)) {
        check(0, "scores allocation");
        return;
    }
    tf_class_scores(m, tokens, t, pos, &s);
    double worst_p = 0, worst_x = 0, mx_p = 0, mx_x = 0, after = 0;
    for (int i = 0; i < TF_K; i++) {
        class_arg arg = {tokens, t, pos, i, 0};
        double mx;
        double w = fd_compare(m, class_objective, &arg, m->params, idx, idx ? n_idx : s.n_param,
                              s.param + (size_t)i * s.n_param, &mx);
        worst_p = fmax(worst_p, w);
        mx_p = fmax(mx_p, mx);
        tf_forward(m, tokens, 1, t);
        arg.from_encoded = 1;
        w = fd_compare(m, class_objective, &arg, m->acts.encoded, NULL, s.n_input,
                       s.input + (size_t)i * s.n_input, &mx);
        worst_x = fmax(worst_x, w);
        mx_x = fmax(mx_x, mx);
        for (size_t j = (size_t)(pos + 1) * m->cfg.channels; j < s.n_input; j++)
            after = fmax(after, fabs(s.input[(size_t)i * s.n_input + j]));
    }
    check(worst_p <= 1.0,
          "%s: d log P_i/d theta, 4 options, %zu params vs FD: worst err/tol %.3f, max |s| %.2e",
          label, idx ? n_idx : s.n_param, worst_p, mx_p);
    check(worst_x <= 1.0,
          "%s: d log P_i/d input, 4 options, %zu coords vs FD: worst err/tol %.3f, max |s| %.2e",
          label, s.n_input, worst_x, mx_x);
    if (pos < t - 1)
        check(after == 0.0,
              "%s: scores of the %d tokens after the scored position are exactly 0 (max %.1e)",
              label, t - 1 - pos, after);
    tf_scores_free(&s);
}

static void test_class_scores(void)
{
    tf_rng rng;
    tf_rng_seed(&rng, 7);
    int tokens[TF_SEQ_LEN], targets[TF_SEQ_LEN];
    tf_task_sample(&rng, 0.0, tokens, targets);
    {
        tf_config cfg = small_config();
        tf_model m;
        if (tf_model_create(&m, &cfg, 1, 0.4, 13)) {
            check(0, "model allocation");
            return;
        }
        check_class_scores(&m, tokens, TF_PROMPT_LEN, TF_PROMPT_LEN - 1, NULL, 0,
                           "small, question");
        check_class_scores(&m, tokens, TF_SEQ_LEN, TF_PROMPT_LEN + 1, NULL, 0,
                           "small, answer 3 in a 13-token context");
        tf_model_free(&m);
    }
    { /* the demo's shape (4 heads of 6 channels): every input, 400 random parameters */
        tf_config cfg = tf_demo_config();
        tf_model m;
        if (tf_model_create(&m, &cfg, 1, 0.3, 14)) {
            check(0, "model allocation");
            return;
        }
        size_t idx[400];
        for (int i = 0; i < 400; i++) idx[i] = (size_t)(tf_rng_u64(&rng) % m.lay.total);
        check_class_scores(&m, tokens, TF_PROMPT_LEN, TF_PROMPT_LEN - 1, idx, 400, "demo shape");
        tf_model_free(&m);
    }
}

/* Changing tokens after position t leaves the distribution at t bit-for-bit unchanged. */
static void test_causal_forward(void)
{
    tf_config cfg = small_config();
    tf_model m;
    if (tf_model_create(&m, &cfg, 1, 0.4, 15)) {
        check(0, "model allocation");
        return;
    }
    int a[TF_SEQ_LEN], b[TF_SEQ_LEN], targets[TF_SEQ_LEN];
    tf_rng rng;
    tf_rng_seed(&rng, 8);
    tf_task_sample(&rng, 0.0, a, targets);
    memcpy(b, a, sizeof a);
    for (int t = TF_PROMPT_LEN; t < TF_SEQ_LEN; t++) b[t] = (a[t] + 1) % TF_VOCAB;
    const size_t n = (size_t)TF_PROMPT_LEN * cfg.vocab;
    double *pa = malloc(n * sizeof *pa);
    tf_forward(&m, a, 1, TF_SEQ_LEN);
    memcpy(pa, m.acts.probs, n * sizeof *pa);
    tf_forward(&m, b, 1, TF_SEQ_LEN);
    check(memcmp(pa, m.acts.probs, n * sizeof *pa) == 0,
          "causal mask: distributions at positions 0..8 ignore the tokens at 9..12");
    free(pa);
    tf_model_free(&m);
}

/* ------------------------------------------------------------------ the trained model */

/* The task's ground truth measured on the model itself by exact forward passes: the
 * fraction of single-symbol substitutions at each position that flip the predicted option. */
static void measured_flip_rates(tf_model *m, const int *prompts, int n, double *flip)
{
    for (int t = 0; t < TF_PROMPT_LEN; t++) flip[t] = 0;
    int tok[TF_PROMPT_LEN];
    for (int z = 0; z < n; z++) {
        const int *p = prompts + (size_t)z * TF_PROMPT_LEN;
        tf_forward(m, p, 1, TF_PROMPT_LEN);
        const int pred = tf_predicted_option(m, 0, TF_PROMPT_LEN - 1);
        for (int t = 0; t < TF_PROMPT_LEN - 1; t++)
            for (int r = 1; r < TF_NSYM; r++) {
                memcpy(tok, p, sizeof tok);
                tok[t] = (p[t] + r) % TF_NSYM;
                tf_forward(m, tok, 1, TF_PROMPT_LEN);
                flip[t] += (tf_predicted_option(m, 0, TF_PROMPT_LEN - 1) != pred) /
                           (double)(n * (TF_NSYM - 1));
            }
    }
}

/* Fact 1 with fact 6(b) written out: element FI = s'_k^2 / sum_i P'_i s'_i^2 with
 * P' = P / sum P, s'_i = s_i - sum_j P'_j s_j (evaluated as (s_i - s_0) - sum_j P'_j (s_j - s_0),
 * the same value without the cancellation); the worst of |lib - ref| / (|ref| + 1e-12 ceiling)
 * over the coordinates. */
static double element_fi_reference_err(const tf_scores *s, const double *rows, size_t n,
                                       const double *lib)
{
    double P[TF_K], sum = 0, worst = 0;
    for (int i = 0; i < TF_K; i++) sum += s->probs[i];
    for (int i = 0; i < TF_K; i++) P[i] = s->probs[i] / sum;
    const double ceiling = (1 - P[s->predicted]) / P[s->predicted];
    for (size_t j = 0; j < n; j++) {
        double dev = 0, sp[TF_K], den = 0;
        const double s0 = rows[j];
        for (int i = 0; i < TF_K; i++) dev += P[i] * (rows[(size_t)i * n + j] - s0);
        for (int i = 0; i < TF_K; i++) {
            sp[i] = (rows[(size_t)i * n + j] - s0) - dev;
            den += P[i] * sp[i] * sp[i];
        }
        const double ref = den > 0 ? sp[s->predicted] * sp[s->predicted] / den : 0.0;
        worst = fmax(worst, fabs(lib[j] - ref) / (ref + 1e-12 * ceiling));
    }
    return worst;
}

/* Element FI of every parameter on one sample: the closed form of fact 1 with 6(b), and
 * exactly 0 for the LM-head rows of the 9 non-option tokens. Those rows move every option's
 * vocabulary probability by the same factor, so P' does not depend on them: their 4 raw
 * scores are equal and must centre to exactly 0 (rank 0), not to a rounding residue. */
static int param_fi_checks(fi_context *ctx, const tf_model *m, const tf_scores *s)
{
    double *el = malloc(s->n_param * sizeof *el);
    if (!el) return FI_ERR_NOMEM;
    const int st = tf_element_fi(ctx, s, el, NULL);
    if (st == FI_OK) {
        const double err = element_fi_reference_err(s, s->param, s->n_param, el);
        check(err <= 1e-9,
              "element FI of all %zu parameters = closed form (facts 1, 6b): worst rel err %.1e",
              s->n_param, err);
        const double *head = el + m->lay.offset[TF_HEADW];
        const int C = m->cfg.channels;
        double other = 0, options = 0;
        for (int v = 0; v < m->cfg.vocab; v++)
            for (int c = 0; c < C; c++) {
                const double x = head[(size_t)v * C + c];
                if (v >= TF_TOK_A && v < TF_TOK_A + TF_K)
                    options = fmax(options, x);
                else
                    other = fmax(other, x);
            }
        check(other == 0.0 && options > 0.0,
              "LM-head rows of non-option tokens: element FI exactly 0 (max %.1e; option rows up "
              "to %.2e)",
              other, options);
    }
    free(el);
    return st;
}

static void test_trained_model(void)
{
    tf_config cfg = tf_demo_config();
    tf_train_opts opts = tf_demo_train_opts();
    tf_model m;
    tf_scores s;
    fi_context *ctx = NULL;
    if (tf_model_create(&m, &cfg, opts.batch, 0.02, 1)) {
        check(0, "model allocation");
        return;
    }
    if (tf_scores_alloc(&s, &m) || fi_context_create(&ctx) != FI_OK) {
        tf_model_free(&m);
        {
            check(0, "allocation");
            return;
        }
    }
    tf_train(&m, &opts, NULL, 0);
    double acc, steps[TF_STEPS];
    tf_evaluate(&m, 4242, 500, &acc, steps);
    check(acc >= 0.97,
          "trained model answers the question: accuracy %.3f >= 0.97 (500 fresh prompts)", acc);

    enum { NZ = 100 };
    int prompts[NZ * TF_PROMPT_LEN], tok[TF_SEQ_LEN], targets[TF_SEQ_LEN];
    tf_rng rng;
    tf_rng_seed(&rng, 4343);
    for (int z = 0; z < NZ; z++) {
        tf_task_sample(&rng, 0.0, tok, targets);
        memcpy(prompts + z * TF_PROMPT_LEN, tok, sizeof(int) * TF_PROMPT_LEN);
    }

    /* ground truth: only positions 2 and 5 can change the answer */
    double flip[TF_PROMPT_LEN];
    measured_flip_rates(&m, prompts, NZ, flip);
    double other_flip = 0;
    for (int t = 0; t < TF_PROMPT_LEN - 1; t++)
        if (t != TF_PLANTED_1 && t != TF_PLANTED_2) other_flip = fmax(other_flip, flip[t]);
    check(flip[TF_PLANTED_1] > 0.4 && flip[TF_PLANTED_2] > 0.4 && other_flip == 0.0,
          "measured: substitutions flip the answer at positions 2, 5 (%.2f, %.2f), never elsewhere "
          "(max %.2f)",
          flip[TF_PLANTED_1], flip[TF_PLANTED_2], other_flip);

    /* FI per position, renormalized classes */
    int st = fi_context_set(ctx, FI_OPT_CLASS_MODE, FI_CLASS_RENORMALIZE);
    double s2[TF_PROMPT_LEN] = {0}, t2[TF_PROMPT_LEN] = {0}, one_s2[TF_PROMPT_LEN],
           one_t2[TF_PROMPT_LEN];
    double worst_el = 0, worst_sat = 0, worst_rem = 0, worst_cs = 0;
    int n_sat = 0, n_blocks = 0;
    double *el = malloc(sizeof(double) * TF_PROMPT_LEN * cfg.channels);
    for (int z = 0; z < NZ && st == FI_OK; z++) {
        const int *p = prompts + z * TF_PROMPT_LEN;
        tf_class_scores(&m, p, TF_PROMPT_LEN, TF_PROMPT_LEN - 1, &s);
        st = tf_substitution_fisher(ctx, &m, &s, p, one_s2, one_t2);
        for (int t = 0; t < TF_PROMPT_LEN && st == FI_OK; t++) {
            s2[t] += one_s2[t] / NZ;
            t2[t] += one_t2[t] / NZ;
        }
        if (st == FI_OK) st = tf_element_fi(ctx, &s, NULL, el);
        if (st == FI_OK && z < 10)
            worst_el = fmax(worst_el, element_fi_reference_err(&s, s.input, s.n_input, el));
        if (st == FI_OK && z == 0) st = param_fi_checks(ctx, &m, &s);
        if (st == FI_OK && z < 10) { /* fact 3: position blocks saturate at (1-P'_k)/P'_k */
            double fi[TF_PROMPT_LEN], norm[TF_PROMPT_LEN], sum = 0;
            uint8_t sat[TF_PROMPT_LEN];
            st = tf_position_block_fi(ctx, &m, &s, fi, norm, sat);
            for (int i = 0; i < TF_K; i++) sum += s.probs[i];
            const double pk = s.probs[s.predicted] / sum, bound = (1 - pk) / pk;
            for (int t = 0; t < TF_PROMPT_LEN && st == FI_OK; t++) {
                worst_sat = fmax(worst_sat, fabs(fi[t] - bound) / bound);
                n_sat += sat[t];
                n_blocks++;
            }
            if (st == FI_OK) st = substitution_cauchy_schwarz(ctx, &m, &s, p, fi, &worst_cs);
        }
        if (st == FI_OK &&
            z < 10) { /* fact 6(c): with a remainder class the ceiling is (1-P_k)/P_k, raw P */
            double fi[TF_PROMPT_LEN];
            st = fi_context_set(ctx, FI_OPT_CLASS_MODE, FI_CLASS_REMAINDER);
            if (st == FI_OK) st = tf_position_block_fi(ctx, &m, &s, fi, NULL, NULL);
            const double pk = s.probs[s.predicted], bound = (1 - pk) / pk;
            for (int t = 0; t < TF_PROMPT_LEN && st == FI_OK; t++)
                worst_rem = fmax(worst_rem, fabs(fi[t] - bound) / bound);
            if (st == FI_OK) st = fi_context_set(ctx, FI_OPT_CLASS_MODE, FI_CLASS_RENORMALIZE);
        }
    }
    check(st == FI_OK, "libfi calls on 100 prompts succeed%s%s", st == FI_OK ? "" : ": ",
          st == FI_OK ? "" : fi_context_error(ctx));
    if (st != FI_OK) goto done;
    check(worst_el <= 1e-9,
          "element FI per input coordinate = s'_k^2 / sum P'_i s'_i^2 (fact 1, renormalized): "
          "worst rel err %.1e",
          worst_el);
    check(worst_sat <= 1e-8 && n_sat == n_blocks,
          "block FI per position saturates at (1-P'_k)/P'_k (fact 3): worst rel err %.1e, %d/%d "
          "flagged",
          worst_sat, n_sat, n_blocks);
    check(worst_cs <= 1.0 + 1e-9,
          "token substitution: (g.d)^2 <= FI_b S^2 (fact 7) for each of the 7 x 8 substitutions of "
          "10 prompts: worst ratio %.3f", worst_cs);
    check(worst_rem <= 1e-8,
          "remainder class mode: position blocks saturate at (1-P_k)/P_k, raw P_k (fact 6c): worst "
          "rel err %.1e",
          worst_rem);

    /* the planted positions, by the Fisher length of a token substitution, with a margin */
    double other = 0;
    for (int t = 0; t < TF_PROMPT_LEN - 1; t++)
        if (t != TF_PLANTED_1 && t != TF_PLANTED_2) other = fmax(other, s2[t]);
    const double margin = fmin(s2[TF_PLANTED_1], s2[TF_PLANTED_2]) / other;
    check(margin >= 5.0,
          "S^2 of a token substitution singles out positions 2, 5: %.2e, %.2e vs <= %.2e elsewhere "
          "(x%.1f >= 5)",
          s2[TF_PLANTED_1], s2[TF_PLANTED_2], other, margin);

    /* strict mode refuses the raw vocabulary probabilities (they do not sum to 1) */
    {
        int st2 = fi_context_set(ctx, FI_OPT_CLASS_MODE, FI_CLASS_STRICT);
        if (st2 == FI_OK) st2 = tf_element_fi(ctx, &s, NULL, el);
        check(st2 == FI_ERR_PROBABILITY,
              "strict class mode rejects raw option probabilities: status %d (%s)", st2,
              fi_strerror(st2));
        if (fi_context_set(ctx, FI_OPT_CLASS_MODE, FI_CLASS_RENORMALIZE) != FI_OK) goto done;
    }

    /* sequence FI: the accumulator aggregates equal the plain formulas on its own FI_l */
    {
        tf_group groups[TF_MAX_GROUPS];
        const int ng = tf_matrix_groups(&m, groups, TF_MAX_GROUPS);
        tf_seq_opts so = {.horizon = 5, .continuations = 3, .gamma = 0.5, .seed = 99};
        tf_seq_result r;
        if (tf_seq_result_alloc(&r, ng, so.horizon)) goto done;
        st = tf_sequence_fi(ctx, &m, &s, prompts, 2, &so, groups, ng, &r);
        double worst_fixed = 0, worst_disc = 0, worst_sum = 0;
        for (int g = 0; g < ng && st == FI_OK; g++) {
            double fixed = 0, disc = 0, wsum = 0;
            for (int l = 0; l < so.horizon; l++) {
                const double v = r.step_mean[l * ng + g], w = (1 - so.gamma) * pow(so.gamma, l);
                fixed += v / so.horizon;
                disc += w * v;
                wsum += w;
            }
            worst_fixed = fmax(worst_fixed, fabs(r.fixed[g] - fixed) / fixed);
            worst_sum = fmax(worst_sum, fabs(r.discounted_sum[g] - disc) / disc);
            worst_disc = fmax(worst_disc, fabs(r.discounted[g] - disc / wsum) / (disc / wsum));
        }
        check(st == FI_OK && worst_fixed <= 1e-12 && worst_sum <= 1e-12 && worst_disc <= 1e-12,
              "sequence FI: accumulator gives (1/L) sum FI_l and (1-g) sum g^(l-1) FI_l (rel err "
              "%.1e, %.1e, %.1e)",
              worst_fixed, worst_sum, worst_disc);
        tf_seq_result_free(&r);
    }
    st = fi_context_set(ctx, FI_OPT_CLASS_MODE, FI_CLASS_RENORMALIZE);
    if (st == FI_OK) st = sparsification_claims(ctx, &m, &s);
    check(st == FI_OK, "sparsification experiments on seed 0 run%s%s", st == FI_OK ? "" : ": ",
          st == FI_OK ? "" : fi_context_error(ctx));
done:
    free(el);
    fi_context_free(ctx);
    tf_scores_free(&s);
    tf_model_free(&m);
}

int main(void)
{
    test_gradients_all_parameters();
    test_gradients_training_loss();
    test_class_scores();
    test_causal_forward();
    test_trained_model();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
