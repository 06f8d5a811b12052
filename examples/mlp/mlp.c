/* Forward and backward of the reference MLP: plain loops, a shape comment on every kernel. */
#include "mlp.h"

#include <math.h>
#include <string.h>

#include "rng.h"

void mlp_init(double *theta, unsigned long long seed)
{
    rng r = {seed};
    memset(theta, 0, MLP_NPARAM * sizeof(double));
    for (int i = 0; i < MLP_H * MLP_IN; i++)
        theta[MLP_W1 + i] = rng_gauss(&r) * sqrt(2.0 / MLP_IN);
    for (int i = 0; i < MLP_OUT * MLP_H; i++)
        theta[MLP_W2 + i] = rng_gauss(&r) * sqrt(1.0 / MLP_H);
}

int mlp_forward(const double *theta, const double *x, mlp_cache *c)
{
    memcpy(c->x, x, sizeof c->x);
    /* pre[H] = W1[H][IN] x[IN] + b1[H];  h[H] = relu(pre) */
    for (int j = 0; j < MLP_H; j++) {
        double a = theta[MLP_B1 + j];
        for (int i = 0; i < MLP_IN; i++) a += theta[MLP_W1 + j * MLP_IN + i] * x[i];
        c->pre[j] = a;
        c->h[j] = a > 0 ? a : 0;
    }
    /* logit[OUT] = W2[OUT][H] h[H] + b2[OUT] */
    double mx = -INFINITY;
    for (int k = 0; k < MLP_OUT; k++) {
        double a = theta[MLP_B2 + k];
        for (int j = 0; j < MLP_H; j++) a += theta[MLP_W2 + k * MLP_H + j] * c->h[j];
        c->logit[k] = a;
        if (a > mx) mx = a;
    }
    /* prob[OUT] = softmax(logit), shifted by the max so that exp cannot overflow */
    double z = 0;
    for (int k = 0; k < MLP_OUT; k++) z += (c->prob[k] = exp(c->logit[k] - mx));
    int best = 0;
    for (int k = 0; k < MLP_OUT; k++) {
        c->prob[k] /= z;
        if (c->prob[k] > c->prob[best]) best = k;
    }
    return best;
}

void mlp_backward(const double *theta, const mlp_cache *c, const double *dlogit, double *dtheta,
                  double *dx)
{
    /* dW2[OUT][H] += dlogit[OUT] h[H]^T;  db2[OUT] += dlogit;  dh[H] = W2^T dlogit */
    double dh[MLP_H] = {0};
    for (int k = 0; k < MLP_OUT; k++) {
        if (dtheta) dtheta[MLP_B2 + k] += dlogit[k];
        for (int j = 0; j < MLP_H; j++) {
            if (dtheta) dtheta[MLP_W2 + k * MLP_H + j] += dlogit[k] * c->h[j];
            dh[j] += theta[MLP_W2 + k * MLP_H + j] * dlogit[k];
        }
    }
    /* dpre[H] = dh * relu'(pre);  dW1[H][IN] += dpre x^T;  db1 += dpre;  dx[IN] = W1^T dpre */
    if (dx) memset(dx, 0, MLP_IN * sizeof(double));
    for (int j = 0; j < MLP_H; j++) {
        const double dp = c->pre[j] > 0 ? dh[j] : 0;
        if (dtheta) {
            dtheta[MLP_B1 + j] += dp;
            for (int i = 0; i < MLP_IN; i++) dtheta[MLP_W1 + j * MLP_IN + i] += dp * c->x[i];
        }
        if (dx)
            for (int i = 0; i < MLP_IN; i++) dx[i] += theta[MLP_W1 + j * MLP_IN + i] * dp;
    }
}

void mlp_scores(const double *theta, const mlp_cache *c, double *sp, double *sx)
{
    /* d log P_i / d logit[OUT] = e_i - P: one backward pass per class i. */
    for (int i = 0; i < MLP_OUT; i++) {
        double d[MLP_OUT];
        for (int k = 0; k < MLP_OUT; k++) d[k] = (k == i) - c->prob[k];
        double *row = sp ? sp + (long)i * MLP_NPARAM : NULL;
        if (row) memset(row, 0, MLP_NPARAM * sizeof(double));
        mlp_backward(theta, c, d, row, sx ? sx + i * MLP_IN : NULL);
    }
    /* Exactly, sum_i P_i s_i = 0 (the scores of a softmax have mean zero under P), which is
     * what caps a class target's FI at (1-P_k)/P_k (SPEC fact 3). In floating point the sum
     * is ~1e-16 |W^T P|, and for a confident image (1 - P_k ~ 1e-8) that is far above the
     * rank tolerance of a block whose other directions are ~sqrt(1 - P_k) small: the block
     * gets a spurious K-th direction and its FI reads 1/P_k instead of (1-P_k)/P_k. So the
     * scores are re-centred, s_i -= sum_j P_j s_j: a no-op in exact arithmetic, and then
     * the identity holds to ~1e-16 |sum_j P_j s_j|, i.e. to rounding. */
    for (int which = 0; which < 2; which++) {
        double *s = which ? sx : sp;
        const long n = which ? MLP_IN : MLP_NPARAM;
        if (!s) continue;
        for (long p = 0; p < n; p++) {
            double mean = 0;
            for (int i = 0; i < MLP_OUT; i++) mean += c->prob[i] * s[i * n + p];
            for (int i = 0; i < MLP_OUT; i++) s[i * n + p] -= mean;
        }
    }
}

double mlp_loss(const double *theta, const double *x, int y, double *dtheta)
{
    mlp_cache c;
    mlp_forward(theta, x, &c);
    if (dtheta) {
        /* d(-log P_y) / d logit[OUT] = P - e_y */
        double d[MLP_OUT];
        for (int k = 0; k < MLP_OUT; k++) d[k] = c.prob[k] - (k == y);
        mlp_backward(theta, &c, d, dtheta, NULL);
    }
    /* -log P_y = logsumexp(logit) - logit_y, which stays finite when P_y underflows */
    double mx = c.logit[0], z = 0;
    for (int k = 1; k < MLP_OUT; k++) mx = fmax(mx, c.logit[k]);
    for (int k = 0; k < MLP_OUT; k++) z += exp(c.logit[k] - mx);
    return mx + log(z) - c.logit[y];
}
