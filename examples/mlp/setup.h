/* The fixed setup shared by the demo, the experiments and their tests: split, seeds and
 * training schedule. A "training seed" t = 0, 1, 2, ... sets the initialization and the
 * minibatch order; the train/test split is the same for every t. The experiments use the
 * seeds 0 .. SETUP_SEEDS-1, all of them, in order (none is picked); the demo shows seed 0. */
#ifndef MLP_SETUP_H
#define MLP_SETUP_H

#include "digits.h"
#include "mlp.h"

enum { SETUP_TRAIN = 1297, SETUP_EPOCHS = 30 }; /* 1297 training, 500 test images */
enum { SETUP_SEEDS = 5 };
#define SETUP_SPLIT_SEED 2024ull
#define SETUP_INIT_SEED 7ull  /* + t */
#define SETUP_BATCH_SEED 1ull /* + t */
#define SETUP_LR 0.05

/* Loads the digits from path, shuffles and splits them; train and test are views into *d.
 * Returns 0, or -1 after printing why. */
int setup_data(const char *path, digits *d, digits_set *train, digits_set *test);

/* Trains theta [MLP_NPARAM] from the initialization of training seed t. Returns 0, or -1
 * after printing why. */
int setup_train(double *theta, const digits_set *train, unsigned t);

/* setup_data, then setup_train with seed t. */
int setup_model(const char *path, digits *d, unsigned t, double *theta, digits_set *train,
                digits_set *test);

#endif
