/* The tiny transformer: kernels (forward/backward pairs), the model passes, AdamW. */
#include "tf_model.h"
#include "tf_rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ kernels */

/* out (B,T,C) = wte[tokens[b,t]] + wpe[t].   tokens (B,T), wte (V,C), wpe (maxT,C) */
static void encoder_forward(double *out, const int *tokens, const double *wte, const double *wpe,
                            int B, int T, int C)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            double *o = out + ((size_t)b * T + t) * C;
            const double *we = wte + (size_t)tokens[b * T + t] * C, *pe = wpe + (size_t)t * C;
            for (int c = 0; c < C; c++) o[c] = we[c] + pe[c];
        }
}

/* dwte (V,C) += scatter of dout (B,T,C) by token; dwpe (maxT,C) += sum over b. */
static void encoder_backward(double *dwte, double *dwpe, const double *dout, const int *tokens,
                             int B, int T, int C)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const double *d = dout + ((size_t)b * T + t) * C;
            double *we = dwte + (size_t)tokens[b * T + t] * C, *pe = dwpe + (size_t)t * C;
            for (int c = 0; c < C; c++) {
                we[c] += d[c];
                pe[c] += d[c];
            }
        }
}

/* out (N,C) = (inp - mean) * rstd * w + b per row; mean, rstd (N).   w, b (C) */
static void layernorm_forward(double *out, double *mean, double *rstd, const double *inp,
                              const double *w, const double *bias, int N, int C)
{
    const double eps = 1e-5;
    for (int i = 0; i < N; i++) {
        const double *x = inp + (size_t)i * C;
        double m = 0, v = 0;
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        v /= C;
        const double s = 1.0 / sqrt(v + eps);
        double *o = out + (size_t)i * C;
        for (int c = 0; c < C; c++) o[c] = (x[c] - m) * s * w[c] + bias[c];
        mean[i] = m;
        rstd[i] = s;
    }
}

/* dinp (N,C) += d/dinp, dw, db (C) += d/dw, d/db for dout (N,C). */
static void layernorm_backward(double *dinp, double *dw, double *db, const double *dout,
                               const double *inp, const double *w, const double *mean,
                               const double *rstd, int N, int C)
{
    for (int i = 0; i < N; i++) {
        const double *x = inp + (size_t)i * C, *d = dout + (size_t)i * C;
        double *dx = dinp + (size_t)i * C;
        const double m = mean[i], s = rstd[i];
        /* dx = s * (dnorm - mean(dnorm) - norm * mean(dnorm * norm)), dnorm = d * w */
        double mean_dn = 0, mean_dn_n = 0;
        for (int c = 0; c < C; c++) {
            const double norm = (x[c] - m) * s, dn = d[c] * w[c];
            mean_dn += dn;
            mean_dn_n += dn * norm;
        }
        mean_dn /= C;
        mean_dn_n /= C;
        for (int c = 0; c < C; c++) {
            const double norm = (x[c] - m) * s, dn = d[c] * w[c];
            dw[c] += d[c] * norm;
            db[c] += d[c];
            dx[c] += s * (dn - mean_dn - norm * mean_dn_n);
        }
    }
}

/* out (N,OC) = inp (N,C) w^T + bias.   w (OC,C) row-major, bias (OC) or NULL */
static void matmul_forward(double *out, const double *inp, const double *w, const double *bias,
                           int N, int C, int OC)
{
    for (int i = 0; i < N; i++) {
        const double *x = inp + (size_t)i * C;
        for (int o = 0; o < OC; o++) {
            const double *wr = w + (size_t)o * C;
            double acc = bias ? bias[o] : 0.0;
            for (int c = 0; c < C; c++) acc += x[c] * wr[c];
            out[(size_t)i * OC + o] = acc;
        }
    }
}

/* dinp (N,C) += dout w; dw (OC,C) += dout^T inp; dbias (OC) += column sums of dout (N,OC). */
static void matmul_backward(double *dinp, double *dw, double *dbias, const double *dout,
                            const double *inp, const double *w, int N, int C, int OC)
{
    for (int i = 0; i < N; i++) {
        const double *d = dout + (size_t)i * OC, *x = inp + (size_t)i * C;
        double *dx = dinp + (size_t)i * C;
        for (int o = 0; o < OC; o++) {
            const double g = d[o];
            if (g == 0.0) continue; /* most rows are zero when only one position has dlogits */
            const double *wr = w + (size_t)o * C;
            double *dwr = dw + (size_t)o * C;
            for (int c = 0; c < C; c++) {
                dx[c] += g * wr[c];
                dwr[c] += g * x[c];
            }
            if (dbias) dbias[o] += g;
        }
    }
}

/* Causal multi-head attention. qkv (B,T,3C) holds q | k | v per position; head h uses
 * channels [h*hs, (h+1)*hs) of each. att (B,NH,T,T): softmax_t2<=t (q.k / sqrt(hs)),
 * 0 for t2 > t. out (B,T,C): sum_t2 att v. */
static void attention_forward(double *out, double *att, const double *qkv, int B, int T, int C,
                              int NH)
{
    const int hs = C / NH, C3 = 3 * C;
    const double scale = 1.0 / sqrt((double)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const double *q = qkv + ((size_t)b * T + t) * C3 + h * hs;
                double *a = att + (((size_t)b * NH + h) * T + t) * T;
                double mx = -INFINITY;
                for (int t2 = 0; t2 <= t; t2++) {
                    const double *k = qkv + ((size_t)b * T + t2) * C3 + C + h * hs;
                    double dot = 0;
                    for (int i = 0; i < hs; i++) dot += q[i] * k[i];
                    a[t2] = dot * scale;
                    if (a[t2] > mx) mx = a[t2];
                }
                double sum = 0;
                for (int t2 = 0; t2 <= t; t2++) {
                    a[t2] = exp(a[t2] - mx);
                    sum += a[t2];
                }
                for (int t2 = 0; t2 <= t; t2++) a[t2] /= sum;
                for (int t2 = t + 1; t2 < T; t2++) a[t2] = 0.0;
                double *o = out + ((size_t)b * T + t) * C + h * hs;
                for (int i = 0; i < hs; i++) o[i] = 0.0;
                for (int t2 = 0; t2 <= t; t2++) {
                    const double *v = qkv + ((size_t)b * T + t2) * C3 + 2 * C + h * hs;
                    for (int i = 0; i < hs; i++) o[i] += a[t2] * v[i];
                }
            }
}

/* dqkv (B,T,3C) += d/dqkv for dout (B,T,C), given the forward's qkv and att.
 * datt (T) is scratch. */
static void attention_backward(double *dqkv, double *datt, const double *dout, const double *qkv,
                               const double *att, int B, int T, int C, int NH)
{
    const int hs = C / NH, C3 = 3 * C;
    const double scale = 1.0 / sqrt((double)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const double *a = att + (((size_t)b * NH + h) * T + t) * T;
                const double *d = dout + ((size_t)b * T + t) * C + h * hs;
                const double *q = qkv + ((size_t)b * T + t) * C3 + h * hs;
                double *dq = dqkv + ((size_t)b * T + t) * C3 + h * hs;
                /* through out = sum att v: d att and d v */
                double weighted = 0;
                for (int t2 = 0; t2 <= t; t2++) {
                    const double *v = qkv + ((size_t)b * T + t2) * C3 + 2 * C + h * hs;
                    double *dv = dqkv + ((size_t)b * T + t2) * C3 + 2 * C + h * hs;
                    double s = 0;
                    for (int i = 0; i < hs; i++) {
                        s += d[i] * v[i];
                        dv[i] += a[t2] * d[i];
                    }
                    datt[t2] = s;
                    weighted += a[t2] * s;
                }
                /* through the softmax, then the scaled dot products */
                for (int t2 = 0; t2 <= t; t2++) {
                    const double dpre = a[t2] * (datt[t2] - weighted) * scale;
                    const double *k = qkv + ((size_t)b * T + t2) * C3 + C + h * hs;
                    double *dk = dqkv + ((size_t)b * T + t2) * C3 + C + h * hs;
                    for (int i = 0; i < hs; i++) {
                        dq[i] += dpre * k[i];
                        dk[i] += dpre * q[i];
                    }
                }
            }
}

#define GELU_K 0.7978845608028654 /* sqrt(2/pi) */

/* out (N) = GELU(inp), tanh form: 0.5 x (1 + tanh(k (x + 0.044715 x^3))). */
static void gelu_forward(double *out, const double *inp, size_t N)
{
    for (size_t i = 0; i < N; i++) {
        const double x = inp[i];
        out[i] = 0.5 * x * (1.0 + tanh(GELU_K * (x + 0.044715 * x * x * x)));
    }
}

/* dinp (N) += GELU'(inp) dout. */
static void gelu_backward(double *dinp, const double *inp, const double *dout, size_t N)
{
    for (size_t i = 0; i < N; i++) {
        const double x = inp[i];
        const double u = GELU_K * (x + 0.044715 * x * x * x);
        const double th = tanh(u);
        const double du = GELU_K * (1.0 + 3.0 * 0.044715 * x * x);
        const double grad = 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * du;
        dinp[i] += grad * dout[i];
    }
}

/* out (N) = a + b. */
static void residual_forward(double *out, const double *a, const double *b, size_t N)
{
    for (size_t i = 0; i < N; i++) out[i] = a[i] + b[i];
}

/* da, db (N) += dout. */
static void residual_backward(double *da, double *db, const double *dout, size_t N)
{
    for (size_t i = 0; i < N; i++) {
        da[i] += dout[i];
        db[i] += dout[i];
    }
}

/* probs (N,V) = softmax(logits) per row. The backward is the caller's dlogits. */
static void softmax_forward(double *probs, const double *logits, int N, int V)
{
    for (int i = 0; i < N; i++) {
        const double *z = logits + (size_t)i * V;
        double *p = probs + (size_t)i * V, mx = -INFINITY, sum = 0;
        for (int v = 0; v < V; v++) mx = z[v] > mx ? z[v] : mx;
        for (int v = 0; v < V; v++) sum += p[v] = exp(z[v] - mx);
        for (int v = 0; v < V; v++) p[v] /= sum;
    }
}

/* ------------------------------------------------------------------ layout */

static const char *const tensor_names[TF_NTENSORS] = {
    "wte",  "wpe", "ln1w", "ln1b",    "qkvw",    "qkvb", "attprojw", "attprojb", "ln2w",
    "ln2b", "fcw", "fcb",  "fcprojw", "fcprojb", "lnfw", "lnfb",     "headw"};

const char *tf_tensor_name(int which)
{
    return which >= 0 && which < TF_NTENSORS ? tensor_names[which] : "?";
}

int tf_tensor_layered(int which)
{
    return which >= TF_LN1W && which <= TF_FCPROJB;
}

static void layout_init(tf_layout *lay, const tf_config *g)
{
    const size_t V = g->vocab, T = g->max_t, C = g->channels, L = g->layers;
    const size_t s[TF_NTENSORS] = {V * C,         T * C, L * C, L * C, L * 3 * C * C, L * 3 * C,
                                   L * C * C,     L * C, L * C, L * C, L * 4 * C * C, L * 4 * C,
                                   L * C * 4 * C, L * C, C,     C,     V * C};
    size_t off = 0;
    for (int i = 0; i < TF_NTENSORS; i++) {
        lay->size[i] = s[i];
        lay->offset[i] = off;
        off += s[i];
    }
    lay->total = off;
}

size_t tf_tensor_layer_size(const tf_model *m, int which)
{
    return m->lay.size[which] / (tf_tensor_layered(which) ? (size_t)m->cfg.layers : 1);
}

double *tf_tensor(const tf_model *m, double *flat, int which, int layer)
{
    return flat + m->lay.offset[which] + (size_t)layer * tf_tensor_layer_size(m, which);
}

/* ------------------------------------------------------------------ allocation */

#define TF_NACTS 21

/* The activation arrays of a (B x T) batch, in allocation order, with their lengths. */
static void acts_table(tf_acts *a, const tf_config *g, int B, int T, double ***dst, size_t *n)
{
    const size_t BT = (size_t)B * T, C = g->channels, L = g->layers;
    const size_t len[TF_NACTS] = {BT * C,
                                  L * BT * C,
                                  L * BT,
                                  L * BT,
                                  L * BT * 3 * C,
                                  L * BT * g->heads * (size_t)T,
                                  L * BT * C,
                                  L * BT * C,
                                  L * BT * C,
                                  L * BT * C,
                                  L * BT,
                                  L * BT,
                                  L * BT * 4 * C,
                                  L * BT * 4 * C,
                                  L * BT * C,
                                  L * BT * C,
                                  BT * C,
                                  BT,
                                  BT,
                                  BT * g->vocab,
                                  BT * g->vocab};
    double **ptr[TF_NACTS] = {&a->encoded,   &a->ln1,      &a->ln1_mean, &a->ln1_rstd,  &a->qkv,
                              &a->att,       &a->atty,     &a->attproj,  &a->residual2, &a->ln2,
                              &a->ln2_mean,  &a->ln2_rstd, &a->fch,      &a->fch_gelu,  &a->fcproj,
                              &a->residual3, &a->lnf,      &a->lnf_mean, &a->lnf_rstd,  &a->logits,
                              &a->probs};
    for (int i = 0; i < TF_NACTS; i++) {
        dst[i] = ptr[i];
        n[i] = len[i];
    }
}

/* Carves the activation arrays of a (B x maxT) batch out of one allocation. */
static double *acts_alloc(tf_acts *a, const tf_config *g, int B)
{
    double **dst[TF_NACTS];
    size_t n[TF_NACTS], total = 0;
    acts_table(a, g, B, g->max_t, dst, n);
    for (int i = 0; i < TF_NACTS; i++) total += n[i];
    double *base = calloc(total, sizeof *base);
    if (!base) return NULL;
    size_t off = 0;
    for (int i = 0; i < TF_NACTS; i++) {
        *dst[i] = base + off;
        off += n[i];
    }
    return base;
}

/* Zeroes the part of every activation array that a (B x T) pass uses: layered arrays are
 * packed with the current B*T, so that part is each array's prefix. */
static void acts_zero(tf_acts *a, const tf_config *g, int B, int T)
{
    double **dst[TF_NACTS];
    size_t n[TF_NACTS];
    acts_table(a, g, B, T, dst, n);
    for (int i = 0; i < TF_NACTS; i++) memset(*dst[i], 0, n[i] * sizeof(double));
}

int tf_model_create(tf_model *m, const tf_config *cfg, int max_b, double init_std, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    if (cfg->vocab < 2 || cfg->max_t < 1 || cfg->channels < 1 || cfg->heads < 1 ||
        cfg->channels % cfg->heads != 0 || cfg->layers < 1 || max_b < 1)
        return -1;
    m->cfg = *cfg;
    m->max_b = max_b;
    layout_init(&m->lay, cfg);
    const size_t n = m->lay.total;
    m->params = calloc(4 * n, sizeof(double));
    m->dscratch = calloc((size_t)cfg->max_t, sizeof(double));
    if (!m->params || !m->dscratch || !acts_alloc(&m->acts, cfg, max_b) ||
        !acts_alloc(&m->dacts, cfg, max_b)) {
        tf_model_free(m);
        return -1;
    }
    m->grads = m->params + n;
    m->adam_m = m->params + 2 * n;
    m->adam_v = m->params + 3 * n;

    tf_rng rng;
    tf_rng_seed(&rng, seed);
    const double proj_std = init_std / sqrt(2.0 * cfg->layers);
    for (int w = 0; w < TF_NTENSORS; w++) {
        double *p = m->params + m->lay.offset[w];
        const size_t sz = m->lay.size[w];
        const int is_ln_weight = w == TF_LN1W || w == TF_LN2W || w == TF_LNFW;
        const int is_bias = w == TF_LN1B || w == TF_LN2B || w == TF_LNFB || w == TF_QKVB ||
                            w == TF_ATTPROJB || w == TF_FCB || w == TF_FCPROJB;
        const double sd = (w == TF_ATTPROJW || w == TF_FCPROJW) ? proj_std : init_std;
        for (size_t i = 0; i < sz; i++)
            p[i] = is_ln_weight ? 1.0 : is_bias ? 0.0 : sd * tf_rng_normal(&rng);
    }
    return 0;
}

void tf_model_free(tf_model *m)
{
    free(m->params);
    free(m->acts.encoded);
    free(m->dacts.encoded);
    free(m->dscratch);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------ passes */

void tf_forward(tf_model *m, const int *tokens, int b, int t)
{
    m->b = b;
    m->t = t;
    m->tokens = tokens;
    encoder_forward(m->acts.encoded, tokens, tf_tensor(m, m->params, TF_WTE, 0),
                    tf_tensor(m, m->params, TF_WPE, 0), b, t, m->cfg.channels);
    tf_forward_from_encoded(m);
}

/* Activation arrays of layer l for the current (B,T): each layered array is laid out
 * (NL, B, T, ...) with the current B*T, so layers are packed without gaps. */
#define LAYER(arr, width) ((arr) + (size_t)l * BT * (width))

void tf_forward_from_encoded(tf_model *m)
{
    const int B = m->b, T = m->t, C = m->cfg.channels, NH = m->cfg.heads, V = m->cfg.vocab;
    const size_t BT = (size_t)B * T;
    tf_acts *a = &m->acts;
    double *P = m->params;
    const double *x = a->encoded;
    for (int l = 0; l < m->cfg.layers; l++) {
        double *ln1 = LAYER(a->ln1, C), *qkv = LAYER(a->qkv, 3 * C), *atty = LAYER(a->atty, C);
        double *att = a->att + (size_t)l * BT * NH * T;
        double *attproj = LAYER(a->attproj, C), *res2 = LAYER(a->residual2, C);
        double *ln2 = LAYER(a->ln2, C), *fch = LAYER(a->fch, 4 * C);
        double *fchg = LAYER(a->fch_gelu, 4 * C), *fcproj = LAYER(a->fcproj, C);
        double *res3 = LAYER(a->residual3, C);
        layernorm_forward(ln1, LAYER(a->ln1_mean, 1), LAYER(a->ln1_rstd, 1), x,
                          tf_tensor(m, P, TF_LN1W, l), tf_tensor(m, P, TF_LN1B, l), (int)BT, C);
        matmul_forward(qkv, ln1, tf_tensor(m, P, TF_QKVW, l), tf_tensor(m, P, TF_QKVB, l), (int)BT,
                       C, 3 * C);
        attention_forward(atty, att, qkv, B, T, C, NH);
        matmul_forward(attproj, atty, tf_tensor(m, P, TF_ATTPROJW, l),
                       tf_tensor(m, P, TF_ATTPROJB, l), (int)BT, C, C);
        residual_forward(res2, x, attproj, BT * C);
        layernorm_forward(ln2, LAYER(a->ln2_mean, 1), LAYER(a->ln2_rstd, 1), res2,
                          tf_tensor(m, P, TF_LN2W, l), tf_tensor(m, P, TF_LN2B, l), (int)BT, C);
        matmul_forward(fch, ln2, tf_tensor(m, P, TF_FCW, l), tf_tensor(m, P, TF_FCB, l), (int)BT, C,
                       4 * C);
        gelu_forward(fchg, fch, BT * 4 * C);
        matmul_forward(fcproj, fchg, tf_tensor(m, P, TF_FCPROJW, l), tf_tensor(m, P, TF_FCPROJB, l),
                       (int)BT, 4 * C, C);
        residual_forward(res3, res2, fcproj, BT * C);
        x = res3;
    }
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, x, tf_tensor(m, P, TF_LNFW, 0),
                      tf_tensor(m, P, TF_LNFB, 0), (int)BT, C);
    matmul_forward(a->logits, a->lnf, tf_tensor(m, P, TF_HEADW, 0), NULL, (int)BT, C, V);
    softmax_forward(a->probs, a->logits, (int)BT, V);
}

void tf_backward(tf_model *m, const double *dlogits, double *d_encoded)
{
    const int B = m->b, T = m->t, C = m->cfg.channels, NH = m->cfg.heads, V = m->cfg.vocab;
    const size_t BT = (size_t)B * T;
    const tf_acts *a = &m->acts;
    tf_acts *d = &m->dacts;
    double *P = m->params, *G = m->grads;
    acts_zero(d, &m->cfg, B, T); /* every activation gradient starts at 0 */

    const int NL = m->cfg.layers;
    const double *xlast = NL > 0 ? a->residual3 + (size_t)(NL - 1) * BT * C : a->encoded;
    double *dxlast = NL > 0 ? d->residual3 + (size_t)(NL - 1) * BT * C : d->encoded;
    matmul_backward(d->lnf, tf_tensor(m, G, TF_HEADW, 0), NULL, dlogits, a->lnf,
                    tf_tensor(m, P, TF_HEADW, 0), (int)BT, C, V);
    layernorm_backward(dxlast, tf_tensor(m, G, TF_LNFW, 0), tf_tensor(m, G, TF_LNFB, 0), d->lnf,
                       xlast, tf_tensor(m, P, TF_LNFW, 0), a->lnf_mean, a->lnf_rstd, (int)BT, C);
    for (int l = NL - 1; l >= 0; l--) {
        const double *x = l == 0 ? a->encoded : a->residual3 + (size_t)(l - 1) * BT * C;
        double *dx = l == 0 ? d->encoded : d->residual3 + (size_t)(l - 1) * BT * C;
        const double *att = a->att + (size_t)l * BT * NH * T;
        double *dres3 = LAYER(d->residual3, C), *dres2 = LAYER(d->residual2, C);
        residual_backward(dres2, LAYER(d->fcproj, C), dres3, BT * C);
        matmul_backward(LAYER(d->fch_gelu, 4 * C), tf_tensor(m, G, TF_FCPROJW, l),
                        tf_tensor(m, G, TF_FCPROJB, l), LAYER(d->fcproj, C),
                        LAYER(a->fch_gelu, 4 * C), tf_tensor(m, P, TF_FCPROJW, l), (int)BT, 4 * C,
                        C);
        gelu_backward(LAYER(d->fch, 4 * C), LAYER(a->fch, 4 * C), LAYER(d->fch_gelu, 4 * C),
                      BT * 4 * C);
        matmul_backward(LAYER(d->ln2, C), tf_tensor(m, G, TF_FCW, l), tf_tensor(m, G, TF_FCB, l),
                        LAYER(d->fch, 4 * C), LAYER(a->ln2, C), tf_tensor(m, P, TF_FCW, l), (int)BT,
                        C, 4 * C);
        layernorm_backward(dres2, tf_tensor(m, G, TF_LN2W, l), tf_tensor(m, G, TF_LN2B, l),
                           LAYER(d->ln2, C), LAYER(a->residual2, C), tf_tensor(m, P, TF_LN2W, l),
                           LAYER(a->ln2_mean, 1), LAYER(a->ln2_rstd, 1), (int)BT, C);
        residual_backward(dx, LAYER(d->attproj, C), dres2, BT * C);
        matmul_backward(LAYER(d->atty, C), tf_tensor(m, G, TF_ATTPROJW, l),
                        tf_tensor(m, G, TF_ATTPROJB, l), LAYER(d->attproj, C), LAYER(a->atty, C),
                        tf_tensor(m, P, TF_ATTPROJW, l), (int)BT, C, C);
        attention_backward(LAYER(d->qkv, 3 * C), m->dscratch, LAYER(d->atty, C),
                           LAYER(a->qkv, 3 * C), att, B, T, C, NH);
        matmul_backward(LAYER(d->ln1, C), tf_tensor(m, G, TF_QKVW, l), tf_tensor(m, G, TF_QKVB, l),
                        LAYER(d->qkv, 3 * C), LAYER(a->ln1, C), tf_tensor(m, P, TF_QKVW, l),
                        (int)BT, C, 3 * C);
        layernorm_backward(dx, tf_tensor(m, G, TF_LN1W, l), tf_tensor(m, G, TF_LN1B, l),
                           LAYER(d->ln1, C), x, tf_tensor(m, P, TF_LN1W, l), LAYER(a->ln1_mean, 1),
                           LAYER(a->ln1_rstd, 1), (int)BT, C);
    }
    encoder_backward(tf_tensor(m, G, TF_WTE, 0), tf_tensor(m, G, TF_WPE, 0), d->encoded, m->tokens,
                     B, T, C);
    if (d_encoded) memcpy(d_encoded, d->encoded, BT * C * sizeof *d_encoded);
}

#undef LAYER

double tf_cross_entropy(const tf_model *m, const int *targets, double *dloss_dlogits)
{
    const size_t BT = (size_t)m->b * m->t;
    const int V = m->cfg.vocab;
    size_t count = 0;
    for (size_t i = 0; i < BT; i++) count += targets[i] >= 0;
    double loss = 0;
    for (size_t i = 0; i < BT; i++) {
        const double *p = m->acts.probs + i * V;
        double *dz = dloss_dlogits + i * V;
        if (targets[i] < 0 || count == 0) {
            memset(dz, 0, (size_t)V * sizeof *dz);
            continue;
        }
        loss -= log(p[targets[i]]);
        /* d(-log softmax_y)/dz = p - onehot(y), averaged over the counted positions */
        for (int v = 0; v < V; v++) dz[v] = (p[v] - (v == targets[i])) / (double)count;
    }
    return count ? loss / (double)count : 0.0;
}

void tf_adam_step(tf_model *m, double lr, double beta1, double beta2, double eps,
                  double weight_decay)
{
    m->adam_t++;
    const double c1 = 1.0 - pow(beta1, m->adam_t), c2 = 1.0 - pow(beta2, m->adam_t);
    for (int w = 0; w < TF_NTENSORS; w++) {
        const int is_matrix = w == TF_WTE || w == TF_WPE || w == TF_QKVW || w == TF_ATTPROJW ||
                              w == TF_FCW || w == TF_FCPROJW || w == TF_HEADW;
        const double wd = is_matrix ? weight_decay : 0.0;
        for (size_t i = m->lay.offset[w], e = i + m->lay.size[w]; i < e; i++) {
            const double g = m->grads[i];
            m->adam_m[i] = beta1 * m->adam_m[i] + (1 - beta1) * g;
            m->adam_v[i] = beta2 * m->adam_v[i] + (1 - beta2) * g * g;
            const double mh = m->adam_m[i] / c1, vh = m->adam_v[i] / c2;
            m->params[i] -= lr * (mh / (sqrt(vh) + eps) + wd * m->params[i]);
            m->grads[i] = 0.0;
        }
    }
}
