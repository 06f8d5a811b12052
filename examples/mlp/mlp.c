/* Forward and backward of the reference MLP: plain loops, a shape comment on every kernel. */
#include "mlp.h"

#include <math.h>
#include <string.h>

static double gauss(unsigned long long *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    double u = ((*s >> 11) + 0.5) / 9007199254740992.0;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    double v = ((*s >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

void mlp_init(double *theta, unsigned long long seed)
{
    memset(theta, 0, MLP_NPARAM * sizeof(double));
    for (int i = 0; i < MLP_H * MLP_IN; i++) theta[MLP_W1 + i] = gauss(&seed) * sqrt(2.0 / MLP_IN);
    for (int i = 0; i < MLP_OUT * MLP_H; i++) theta[MLP_W2 + i] = gauss(&seed) * sqrt(1.0 / MLP_H);
}

int mlp_forward(const double *theta, const double *x, mlp_cache *c)
{
    memcpy(c->x, x, sizeof c->x);
    /* pre[H] = W1[H][IN] x[IN] + b1[H]; h = relu(pre) */
    for (int j = 0; j < MLP_H; j++) {
        double a = theta[MLP_B1 + j];
        for (int i = 0; i < MLP_IN; i++) a += theta[MLP_W1 + j * MLP_IN + i] * x[i];
        c->pre[j] = a;
        c->h[j] = a > 0 ? a : 0;
    }
    /* logit[OUT] = W2[OUT][H] h[H] + b2[OUT]; prob = softmax(logit) */
    double mx = -INFINITY, z = 0;
    for (int k = 0; k < MLP_OUT; k++) {
        double a = theta[MLP_B2 + k];
        for (int j = 0; j < MLP_H; j++) a += theta[MLP_W2 + k * MLP_H + j] * c->h[j];
        c->logit[k] = a;
        if (a > mx) mx = a;
    }
    int best = 0;
    for (int k = 0; k < MLP_OUT; k++) z += (c->prob[k] = exp(c->logit[k] - mx));
    for (int k = 0; k < MLP_OUT; k++) {
        c->prob[k] /= z;
        if (c->prob[k] > c->prob[best]) best = k;
    }
    return best;
}

void mlp_backward(const double *theta, const mlp_cache *c, const double *dlogit, double *dtheta,
                  double *dx)
{
    double dh[MLP_H] = {0};
    /* dW2[OUT][H] += dlogit[OUT] h[H]^T; db2 += dlogit; dh[H] = W2^T dlogit */
    for (int k = 0; k < MLP_OUT; k++) {
        if (dtheta) dtheta[MLP_B2 + k] += dlogit[k];
        for (int j = 0; j < MLP_H; j++) {
            if (dtheta) dtheta[MLP_W2 + k * MLP_H + j] += dlogit[k] * c->h[j];
            dh[j] += theta[MLP_W2 + k * MLP_H + j] * dlogit[k];
        }
    }
    /* dpre[H] = dh * relu'(pre); dW1[H][IN] += dpre x^T; db1 += dpre; dx[IN] = W1^T dpre */
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
    /* d log P_i / d logit = e_i - P: one backward pass per class. */
    for (int i = 0; i < MLP_OUT; i++) {
        double d[MLP_OUT];
        for (int k = 0; k < MLP_OUT; k++) d[k] = (k == i) - c->prob[k];
        if (sp) memset(sp + (long)i * MLP_NPARAM, 0, MLP_NPARAM * sizeof(double));
        mlp_backward(theta, c, d, sp ? sp + (long)i * MLP_NPARAM : NULL, sx ? sx + i * MLP_IN : NULL);
    }
}

void mlp_train_epoch(double *theta, double *velocity, const double (*x)[MLP_IN], const int *y,
                     int count, double lr, unsigned long long *seed)
{
    enum { BATCH = 16 };
    static double grad[MLP_NPARAM];
    for (int start = 0; start < count; start += BATCH) {
        memset(grad, 0, sizeof grad);
        int nb = 0;
        for (int t = 0; t < BATCH; t++, nb++) {
            *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
            int s = (int)((*seed >> 33) % (unsigned long long)count);
            mlp_cache c;
            mlp_forward(theta, x[s], &c);
            double d[MLP_OUT];
            for (int k = 0; k < MLP_OUT; k++) d[k] = c.prob[k] - (k == y[s]); /* d CE / d logit */
            mlp_backward(theta, &c, d, grad, NULL);
        }
        for (int p = 0; p < MLP_NPARAM; p++) {
            velocity[p] = 0.9 * velocity[p] - lr * grad[p] / nb;
            theta[p] += velocity[p];
        }
    }
}

double mlp_accuracy(const double *theta, const double (*x)[MLP_IN], const int *y, int count)
{
    int ok = 0;
    for (int s = 0; s < count; s++) {
        mlp_cache c;
        ok += mlp_forward(theta, x[s], &c) == y[s];
    }
    return (double)ok / count;
}
