/* Training loop of the reference MLP: plain minibatch SGD with momentum. */
#include "train.h"

#include <stdlib.h>
#include <string.h>

#include "rng.h"

enum { BATCH = 16 };

int train_sgd(double *theta, const digits_set *set, int epochs, double lr,
               unsigned long long seed)
{
    rng r = {seed};
    double *grad = malloc(MLP_NPARAM * sizeof *grad);
    double *vel = calloc(MLP_NPARAM, sizeof *vel);
    int *order = malloc((size_t)set->count * sizeof *order);
    if (!grad || !vel || !order) {
        free(order);
        free(vel);
        free(grad);
        return -1;
    }
    for (int s = 0; s < set->count; s++) order[s] = s;
    for (int e = 0; e < epochs; e++) {
        for (int s = set->count - 1; s > 0; s--) { /* a fresh permutation every epoch */
            const int t = rng_below(&r, s + 1), tmp = order[s];
            order[s] = order[t];
            order[t] = tmp;
        }
        for (int start = 0; start < set->count; start += BATCH) {
            const int nb = set->count - start < BATCH ? set->count - start : BATCH;
            memset(grad, 0, MLP_NPARAM * sizeof *grad);
            for (int b = 0; b < nb; b++) {
                const int s = order[start + b];
                mlp_loss(theta, set->x[s], set->y[s], grad);
            }
            /* vel = 0.9 vel - lr * mean gradient;  theta += vel */
            for (int p = 0; p < MLP_NPARAM; p++) {
                vel[p] = 0.9 * vel[p] - lr * grad[p] / nb;
                theta[p] += vel[p];
            }
        }
    }
    free(order);
    free(vel);
    free(grad);
    return 0;
}

double accuracy(const double *theta, const digits_set *set)
{
    int ok = 0;
    for (int s = 0; s < set->count; s++) {
        mlp_cache c;
        ok += mlp_forward(theta, set->x[s], &c) == set->y[s];
    }
    return set->count ? (double)ok / set->count : 0;
}
