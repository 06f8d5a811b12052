/* Training and evaluating the reference MLP. */
#ifndef MLP_TRAIN_H
#define MLP_TRAIN_H

#include "digits.h"
#include "mlp.h"

/* Minibatch SGD with momentum 0.9 on the mean cross-entropy: `epochs` passes over a seeded
 * permutation of the set in batches of 16. theta must hold an initialized model.
 * Returns 0, or -1 when out of memory (theta untouched). */
int train_sgd(double *theta, const digits_set *set, int epochs, double lr,
               unsigned long long seed);

/* Fraction of the set whose predicted class is its label. */
double accuracy(const double *theta, const digits_set *set);

#endif
