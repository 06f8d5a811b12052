/* FI of the tiny transformer through the public libfi API (see tf_fi.h). */
#include "tf_fi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends a named range; returns the new count. */
static int add_group(tf_group *g, int count, int max, const char *name, size_t offset, size_t size)
{
    if (count >= max) return count;
    snprintf(g[count].name, sizeof g[count].name, "%s", name);
    g[count].offset = offset;
    g[count].size = size;
    return count + 1;
}

int tf_matrix_groups(const tf_model *m, tf_group *g, int max)
{
    const size_t C = (size_t)m->cfg.channels;
    double *base = m->params;
    int n = 0;
    n = add_group(g, n, max, "wte (token emb)", m->lay.offset[TF_WTE], m->lay.size[TF_WTE]);
    n = add_group(g, n, max, "wpe (position emb)", m->lay.offset[TF_WPE], m->lay.size[TF_WPE]);
    for (int l = 0; l < m->cfg.layers; l++) {
        char name[24];
        const size_t qkv = (size_t)(tf_tensor(m, base, TF_QKVW, l) - base);
        static const char *const part[3] = {"W_q", "W_k", "W_v"};
        for (int i = 0; i < 3; i++) {
            snprintf(name, sizeof name, "L%d.%s", l, part[i]);
            n = add_group(g, n, max, name, qkv + (size_t)i * C * C, C * C);
        }
        snprintf(name, sizeof name, "L%d.W_o", l);
        n = add_group(g, n, max, name, (size_t)(tf_tensor(m, base, TF_ATTPROJW, l) - base), C * C);
        snprintf(name, sizeof name, "L%d.W_fc", l);
        n = add_group(g, n, max, name, (size_t)(tf_tensor(m, base, TF_FCW, l) - base), 4 * C * C);
        snprintf(name, sizeof name, "L%d.W_proj", l);
        n = add_group(g, n, max, name, (size_t)(tf_tensor(m, base, TF_FCPROJW, l) - base),
                      4 * C * C);
    }
    n = add_group(g, n, max, "head (LM head)", m->lay.offset[TF_HEADW], m->lay.size[TF_HEADW]);
    return n;
}

int tf_element_fi(fi_context *ctx, const tf_scores *s, double *fi_param, double *fi_input)
{
    int st = FI_OK;
    if (fi_param) {
        const fi_blocks el = {(int64_t)s->n_param, 1, 1, 1};
        st = fi_direct(ctx, TF_K, s->probs, FI_F64, s->param, (int64_t)s->n_param,
                       (int64_t)s->n_param, &el, NULL, s->predicted, fi_param, 0);
    }
    if (st == FI_OK && fi_input) {
        const fi_blocks el = {(int64_t)s->n_input, 1, 1, 1};
        st = fi_direct(ctx, TF_K, s->probs, FI_F64, s->input, (int64_t)s->n_input,
                       (int64_t)s->n_input, &el, NULL, s->predicted, fi_input, 0);
    }
    return st;
}

int tf_reduce_groups(fi_context *ctx, const tf_group *g, int n_groups, const double *values, int op,
                     double *out)
{
    for (int i = 0; i < n_groups; i++) {
        /* one group spanning the whole range: count 1, p = size */
        const fi_blocks whole = {1, (int64_t)g[i].size, 1, (int64_t)g[i].size};
        const int st =
            fi_reduce(ctx, values + g[i].offset, (int64_t)g[i].size, &whole, op, out + i);
        if (st != FI_OK) return st;
    }
    return FI_OK;
}

int tf_reduce_heads(fi_context *ctx, const tf_model *m, const double *fi_param, double *out)
{
    const int C = m->cfg.channels, NH = m->cfg.heads, hs = C / NH;
    double qkv_sum[3 * 64], col_sum[1024], o_sum[64];
    if (NH > 64 || C > 1024) return FI_ERR_DIMENSION;
    for (int l = 0; l < m->cfg.layers; l++) {
        const double *qkv = fi_param + (tf_tensor(m, m->params, TF_QKVW, l) - m->params);
        const double *wo = fi_param + (tf_tensor(m, m->params, TF_ATTPROJW, l) - m->params);
        /* qkvw (3C, C): head h's rows of q, k and v are 3 NH consecutive runs of hs*C */
        const fi_blocks head_rows = {3 * NH, (int64_t)hs * C, 1, (int64_t)hs * C};
        /* W_o (C, C): head h owns columns h*hs..; sum each column, then hs columns per head */
        const fi_blocks columns = {C, C, C, 1};
        const fi_blocks head_cols = {NH, hs, 1, hs};
        int st = fi_reduce(ctx, qkv, 3 * (int64_t)C * C, &head_rows, FI_REDUCE_SUM, qkv_sum);
        if (st == FI_OK) st = fi_reduce(ctx, wo, (int64_t)C * C, &columns, FI_REDUCE_SUM, col_sum);
        if (st == FI_OK) st = fi_reduce(ctx, col_sum, C, &head_cols, FI_REDUCE_SUM, o_sum);
        if (st != FI_OK) return st;
        const double per_part = (double)hs * C;
        for (int h = 0; h < NH; h++) {
            double *o = out + 5 * (l * NH + h);
            o[0] = qkv_sum[h] / per_part;
            o[1] = qkv_sum[NH + h] / per_part;
            o[2] = qkv_sum[2 * NH + h] / per_part;
            o[3] = o_sum[h] / per_part;
            o[4] = (o[0] + o[1] + o[2] + o[3]) / 4.0;
        }
    }
    return FI_OK;
}

int tf_reduce_positions(fi_context *ctx, const tf_model *m, const tf_scores *s,
                        const double *fi_input, int op, double *out)
{
    const int C = m->cfg.channels;
    const fi_blocks positions = {s->t, C, 1, C};
    return fi_reduce(ctx, fi_input, (int64_t)s->n_input, &positions, op, out);
}

int tf_substitution_fisher(fi_context *ctx, const tf_model *m, const tf_scores *s,
                           const int *tokens, double *s2, double *taylor2)
{
    const int C = m->cfg.channels, T = s->t;
    const fi_blocks positions = {T, C, 1, C};
    const double *wte = tf_tensor(m, m->params, TF_WTE, 0);
    double *delta = calloc(s->n_input, sizeof *delta);
    double *one_s2 = malloc(sizeof(double) * (size_t)T),
           *one_t2 = malloc(sizeof(double) * (size_t)T);
    int st = delta && one_s2 && one_t2 ? FI_OK : FI_ERR_NOMEM;
    for (int t = 0; t < T; t++) s2[t] = taylor2[t] = 0.0;
    /* shift r: every symbol position at once gets its r-th other symbol (blocks are
     * independent, so one call per shift covers all positions) */
    for (int r = 1; r < TF_NSYM && st == FI_OK; r++) {
        for (int t = 0; t < T; t++) {
            const int tok = tokens[t], is_sym = tok < TF_NSYM;
            const int other = is_sym ? (tok + r) % TF_NSYM : tok;
            for (int c = 0; c < C; c++)
                delta[(size_t)t * C + c] = wte[(size_t)other * C + c] - wte[(size_t)tok * C + c];
        }
        st = fi_perturbation(ctx, TF_K, s->probs, FI_F64, s->input, (int64_t)s->n_input,
                             (int64_t)s->n_input, &positions, NULL, s->predicted, delta, one_s2,
                             one_t2);
        for (int t = 0; t < T && st == FI_OK; t++) {
            s2[t] += one_s2[t] / (TF_NSYM - 1);
            taylor2[t] += one_t2[t] / (TF_NSYM - 1);
        }
    }
    free(delta);
    free(one_s2);
    free(one_t2);
    return st;
}

int tf_zeroing_fisher(fi_context *ctx, const tf_model *m, const tf_scores *s,
                      const tf_group *groups, int n_groups, double *s2)
{
    int st = FI_OK;
    for (int i = 0; i < n_groups && st == FI_OK; i++) {
        const size_t n = groups[i].size;
        double *delta = malloc(n * sizeof *delta);
        if (!delta) return FI_ERR_NOMEM;
        for (size_t j = 0; j < n; j++) delta[j] = -m->params[groups[i].offset + j];
        const fi_blocks whole = {1, (int64_t)n, 1, (int64_t)n};
        /* the group's coordinates are a window of every score row: same ld, shifted base */
        st = fi_perturbation(ctx, TF_K, s->probs, FI_F64, s->param + groups[i].offset, (int64_t)n,
                             (int64_t)s->n_param, &whole, NULL, s->predicted, delta, s2 + i, NULL);
        free(delta);
    }
    return st;
}

int tf_position_block_fi(fi_context *ctx, const tf_model *m, const tf_scores *s, double *fi,
                         double *normalized, uint8_t *saturated)
{
    const int C = m->cfg.channels;
    const fi_blocks positions = {s->t, C, 1, C};
    fi_metric *metric = NULL;
    int st = fi_direct(ctx, TF_K, s->probs, FI_F64, s->input, (int64_t)s->n_input,
                       (int64_t)s->n_input, &positions, NULL, s->predicted, fi, 0);
    if (st == FI_OK)
        st = fi_metric_from_scores(ctx, TF_K, s->probs, FI_F64, s->input, (int64_t)s->n_input,
                                   (int64_t)s->n_input, &positions, &metric);
    if (st == FI_OK) st = fi_normalize_class(ctx, metric, s->predicted, fi, normalized, saturated);
    fi_metric_free(metric);
    return st;
}

int tf_class_ceiling(fi_context *ctx, const tf_scores *s, double *bound)
{
    const fi_blocks one = {1, 1, 1, 1};
    fi_metric *metric = NULL;
    int st = fi_metric_from_scores(ctx, TF_K, s->probs, FI_F64, s->input, (int64_t)s->n_input,
                                   (int64_t)s->n_input, &one, &metric);
    if (st == FI_OK) st = fi_class_bound(ctx, metric, s->predicted, bound);
    fi_metric_free(metric);
    return st;
}
