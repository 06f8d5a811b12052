/* The fixed setup shared by the demo and its tests, so that the tests assert on exactly the
 * model whose tables docs/examples.md shows: split, seeds and training schedule. */
#ifndef MLP_SETUP_H
#define MLP_SETUP_H

#include "digits.h"
#include "mlp.h"

enum { SETUP_TRAIN = 1297, SETUP_EPOCHS = 30 }; /* 1297 training, 500 test images */
#define SETUP_SPLIT_SEED 2024ull
#define SETUP_INIT_SEED 7ull
#define SETUP_BATCH_SEED 1ull
#define SETUP_LR 0.05

/* Loads the digits from path, shuffles and splits them, and trains theta [MLP_NPARAM] from
 * its seeded initialization. train and test are views into *d. Returns 0, or -1 after
 * printing why. */
int setup_model(const char *path, digits *d, double *theta, digits_set *train,
                digits_set *test);

#endif
