/* Sparsifying the tiny transformer by FI (see tf_sparsify.h). */
#include "tf_sparsify.h"
#include "tf_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const tf_criterion_names[TC_COUNT] = {"FI", "FI-Low", "random", "|w|",
                                                  "|g w|", "Fisher", "F w^2"};

double tf_cell_mean(const tf_cell *c)
{
    double sum = 0;
    for (int i = 0; i < c->n; i++) sum += c->v[i];
    return c->n ? sum / c->n : NAN;
}

int tf_param_criteria_alloc(tf_param_criteria *c, size_t n)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    for (int k = 0; k < TC_COUNT; k++) {
        if (k == TC_FI_LOW || k == TC_RANDOM) continue;
        if (!(c->v[k] = calloc(n, sizeof(double)))) {
            tf_param_criteria_free(c);
            return -1;
        }
    }
    return 0;
}

void tf_param_criteria_free(tf_param_criteria *c)
{
    for (int k = 0; k < TC_COUNT; k++) {
        free(c->v[k]);
        c->v[k] = NULL;
    }
}

int tf_question_criteria(fi_context *ctx, tf_model *m, tf_scores *s, const int *prompts,
                         int n_prompts, tf_param_criteria *out)
{
    const size_t n = m->lay.total;
    double *fi = malloc(n * sizeof *fi);
    fi_accumulator *acc = NULL;
    int st = fi ? fi_accumulator_create(ctx, (int64_t)n, &acc) : FI_ERR_NOMEM;
    for (int k = 0; k < TC_COUNT; k++)
        if (out->v[k]) memset(out->v[k], 0, n * sizeof(double));
    for (int z = 0; z < n_prompts && st == FI_OK; z++) {
        tf_class_scores(m, prompts + (size_t)z * TF_PROMPT_LEN, TF_PROMPT_LEN,
                        TF_PROMPT_LEN - 1, s);
        st = tf_element_fi(ctx, s, fi, NULL);
        if (st == FI_OK) st = fi_accumulator_add(ctx, acc, fi, 1.0);
        double pn[TF_K], total = 0;
        for (int i = 0; i < TF_K; i++) total += s->probs[i];
        for (int i = 0; i < TF_K; i++) pn[i] = s->probs[i] / total;
        const int k = s->predicted;
        for (size_t p = 0; p < n; p++) {
            /* renormalized scores s'_i = s_i - sum_j P'_j s_j (SPEC fact 6b) */
            double si[TF_K], mean = 0, fisher = 0;
            for (int i = 0; i < TF_K; i++) mean += pn[i] * (si[i] = s->param[i * n + p]);
            for (int i = 0; i < TF_K; i++) fisher += pn[i] * (si[i] - mean) * (si[i] - mean);
            const double w = m->params[p];
            out->v[TC_FISHER][p] += fisher / n_prompts;
            out->v[TC_S2][p] += fisher * w * w / n_prompts;
            out->v[TC_TAYLOR][p] += fabs((si[k] - mean) * w) / n_prompts;
        }
    }
    if (st == FI_OK) st = fi_accumulator_result(ctx, acc, out->v[TC_FI], NULL);
    for (size_t p = 0; p < n && st == FI_OK; p++) out->v[TC_ABS_W][p] = fabs(m->params[p]);
    fi_accumulator_free(acc);
    free(fi);
    return st;
}

/* The option distribution's argmax and a draw from P' at position pos of the last forward. */
static int option_argmax(const tf_model *m, int b, int pos)
{
    return tf_predicted_option(m, b, pos);
}

static int option_sample(const tf_model *m, int pos, tf_rng *rng)
{
    const double *p = m->acts.probs + (size_t)pos * m->cfg.vocab + TF_TOK_A;
    double total = 0;
    for (int i = 0; i < TF_K; i++) total += p[i];
    double u = tf_rng_uniform(rng) * total;
    for (int i = 0; i < TF_K - 1; i++) {
        if (u < p[i]) return i;
        u -= p[i];
    }
    return TF_K - 1;
}

int tf_sequence_param_fi(fi_context *ctx, tf_model *m, tf_scores *s, const int *prompts,
                         int n_prompts, int horizon, int continuations, uint64_t seed,
                         double *fi_seq)
{
    const size_t n = m->lay.total;
    if (horizon < 1 || TF_PROMPT_LEN + horizon - 1 > m->cfg.max_t) return FI_ERR_DIMENSION;
    double *fi = malloc(n * sizeof *fi);
    fi_accumulator *acc = NULL;
    int st = fi ? fi_accumulator_create(ctx, (int64_t)n, &acc) : FI_ERR_NOMEM;
    tf_rng rng;
    tf_rng_seed(&rng, seed);
    for (int z = 0; z < n_prompts && st == FI_OK; z++)
        for (int c = 0; c < continuations && st == FI_OK; c++) {
            int tok[TF_SEQ_LEN + 1];
            memcpy(tok, prompts + (size_t)z * TF_PROMPT_LEN, sizeof(int) * TF_PROMPT_LEN);
            for (int l = 1; l <= horizon && st == FI_OK; l++) {
                /* step l: the context is the prompt and the l-1 tokens sampled so far */
                const int t = TF_PROMPT_LEN + l - 1;
                tf_class_scores(m, tok, t, t - 1, s);
                st = tf_element_fi(ctx, s, fi, NULL);
                if (st == FI_OK) st = fi_accumulator_add(ctx, acc, fi, 1.0 / horizon);
                if (l < horizon) tok[t] = TF_TOK_A + option_sample(m, t - 1, &rng);
            }
        }
    /* the weighted mean with weights 1/L per step is the mean over the prompts' and
     * continuations' (1/L) sum_l FI_l */
    if (st == FI_OK) st = fi_accumulator_result(ctx, acc, fi_seq, NULL);
    fi_accumulator_free(acc);
    free(fi);
    return st;
}

double tf_question_accuracy(tf_model *m, const int *prompts, const int *answers, int count)
{
    int hits = 0;
    for (int z0 = 0; z0 < count; z0 += m->max_b) {
        const int b = count - z0 < m->max_b ? count - z0 : m->max_b;
        tf_forward(m, prompts + (size_t)z0 * TF_PROMPT_LEN, b, TF_PROMPT_LEN);
        for (int i = 0; i < b; i++) hits += option_argmax(m, i, TF_PROMPT_LEN - 1) == answers[z0 + i];
    }
    return (double)hits / count;
}

void tf_generate(tf_model *m, const int *prompts, int count, int horizon, int *out)
{
    const int T = TF_PROMPT_LEN + horizon - 1;
    int *tok = malloc(sizeof(int) * (size_t)m->max_b * T);
    int *packed = malloc(sizeof(int) * (size_t)m->max_b * T);
    if (!tok || !packed) {
        free(packed);
        free(tok);
        return;
    }
    for (int z0 = 0; z0 < count; z0 += m->max_b) {
        const int b = count - z0 < m->max_b ? count - z0 : m->max_b;
        for (int i = 0; i < b; i++)
            memcpy(tok + (size_t)i * T, prompts + (size_t)(z0 + i) * TF_PROMPT_LEN,
                   sizeof(int) * TF_PROMPT_LEN);
        for (int l = 1; l <= horizon; l++) {
            const int t = TF_PROMPT_LEN + l - 1;
            /* the b sequences so far, length t each, packed for tf_forward (B, t) */
            for (int i = 0; i < b; i++) memcpy(packed + i * t, tok + (size_t)i * T, sizeof(int) * t);
            tf_forward(m, packed, b, t);
            for (int i = 0; i < b; i++) {
                const int cls = option_argmax(m, i, t - 1);
                out[(size_t)(z0 + i) * horizon + l - 1] = cls;
                if (l < horizon) tok[(size_t)i * T + t] = TF_TOK_A + cls;
            }
        }
    }
    free(packed);
    free(tok);
}

double tf_rouge1(const int *a, const int *b, int len)
{
    int ca[TF_K] = {0}, cb[TF_K] = {0}, overlap = 0;
    for (int i = 0; i < len; i++) {
        ca[a[i]]++;
        cb[b[i]]++;
    }
    for (int k = 0; k < TF_K; k++) overlap += ca[k] < cb[k] ? ca[k] : cb[k];
    return (double)overlap / len; /* precision = recall = overlap / len: F1 the same */
}

double tf_token_agreement(const int *a, const int *b, int len)
{
    int same = 0;
    for (int i = 0; i < len; i++) same += a[i] == b[i];
    return (double)same / len;
}

/* The seed of one random draw: by training seed, experiment, fraction (its value, so that a
 * run of one fraction draws what the full table drew), criterion and draw. */
static uint64_t draw_seed(uint64_t seed, int experiment, double fraction, int crit, int draw)
{
    return seed * 1000003u + 500000u * (uint64_t)experiment +
           1000u * (uint64_t)llround(fraction * 10000) + 10u * (uint64_t)crit + (uint64_t)draw;
}

/* The indices of the top k by v, or drawn (exclude_top = k for FI-Low, 0 for random). */
static int select_set(fi_context *ctx, const double *v, const double *fi, size_t n, int64_t k,
                      int crit, uint64_t draw, int64_t *idx)
{
    if (crit == TC_FI_LOW || crit == TC_RANDOM)
        return fi_select_random_low(ctx, fi, (int64_t)n, crit == TC_FI_LOW ? k : 0, k, draw, idx);
    return fi_select_top(ctx, v, (int64_t)n, k, idx);
}

int tf_zeroing_experiment(fi_context *ctx, tf_model *m, const tf_param_criteria *crit,
                          const double *fractions, int n_fractions, const int *prompts,
                          const int *answers, int count, uint64_t seed, tf_cell *out)
{
    const size_t n = m->lay.total;
    double *keep = malloc(n * sizeof *keep);
    int64_t *idx = malloc(n * sizeof *idx);
    int st = keep && idx ? FI_OK : FI_ERR_NOMEM;
    if (st == FI_OK) memcpy(keep, m->params, n * sizeof *keep);
    for (int f = 0; f < n_fractions && st == FI_OK; f++) {
        const int64_t k = fi_fraction_count((int64_t)n, fractions[f]);
        for (int c = 0; c < TC_COUNT && st == FI_OK; c++) {
            tf_cell *cell = &out[f * TC_COUNT + c];
            cell->n = c == TC_FI_LOW || c == TC_RANDOM ? TF_DRAWS : 1;
            for (int r = 0; r < cell->n && st == FI_OK; r++) {
                const uint64_t draw = draw_seed(seed, 0, fractions[f], c, r);
                st = select_set(ctx, crit->v[c], crit->v[TC_FI], n, k, c, draw, idx);
                if (st != FI_OK) break;
                for (int64_t t = 0; t < k; t++) m->params[idx[t]] = 0;
                cell->v[r] = tf_question_accuracy(m, prompts, answers, count);
                memcpy(m->params, keep, n * sizeof *keep);
            }
        }
    }
    free(idx);
    free(keep);
    return st;
}

int tf_generation_experiment(fi_context *ctx, tf_model *m, const double *fi_seq,
                             const double *fractions, int n_fractions, const int *prompts,
                             int count, int horizon, uint64_t seed, tf_cell *out_rouge,
                             tf_cell *out_agree)
{
    const size_t n = m->lay.total;
    double *keep = malloc(n * sizeof *keep), *absw = malloc(n * sizeof *absw);
    int64_t *idx = malloc(n * sizeof *idx);
    int *ref = malloc(sizeof(int) * (size_t)count * horizon);
    int *gen = malloc(sizeof(int) * (size_t)count * horizon);
    int st = keep && absw && idx && ref && gen ? FI_OK : FI_ERR_NOMEM;
    if (st == FI_OK) {
        memcpy(keep, m->params, n * sizeof *keep);
        for (size_t p = 0; p < n; p++) absw[p] = fabs(m->params[p]);
        tf_generate(m, prompts, count, horizon, ref);
    }
    const double *ranked[TC_COUNT] = {[TC_FI] = fi_seq, [TC_ABS_W] = absw};
    for (int f = 0; f < n_fractions && st == FI_OK; f++) {
        const int64_t k = fi_fraction_count((int64_t)n, fractions[f]);
        for (int c = 0; c < TC_COUNT && st == FI_OK; c++) {
            tf_cell *cr = &out_rouge[f * TC_COUNT + c], *ca = &out_agree[f * TC_COUNT + c];
            const int drawn = c == TC_FI_LOW || c == TC_RANDOM;
            cr->n = ca->n = drawn ? TF_DRAWS : ranked[c] ? 1 : 0;
            for (int r = 0; r < cr->n && st == FI_OK; r++) {
                const uint64_t draw = draw_seed(seed, 1, fractions[f], c, r);
                st = select_set(ctx, ranked[c], fi_seq, n, k, c, draw, idx);
                if (st != FI_OK) break;
                for (int64_t t = 0; t < k; t++) m->params[idx[t]] = 0;
                tf_generate(m, prompts, count, horizon, gen);
                double rouge = 0, agree = 0;
                for (int z = 0; z < count; z++) {
                    rouge += tf_rouge1(gen + (size_t)z * horizon, ref + (size_t)z * horizon, horizon);
                    agree += tf_token_agreement(gen + (size_t)z * horizon, ref + (size_t)z * horizon, horizon);
                }
                cr->v[r] = rouge / count;
                ca->v[r] = agree / count;
                memcpy(m->params, keep, n * sizeof *keep);
            }
        }
    }
    free(gen);
    free(ref);
    free(idx);
    free(absw);
    free(keep);
    return st;
}
