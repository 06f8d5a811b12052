/* The demo's and the tests' common models: deterministic from the seeds in setup.h. */
#include "setup.h"

#include <stdio.h>

#include "train.h"

int setup_data(const char *path, digits *d, digits_set *train, digits_set *test)
{
    if (digits_load(path, d) != 0) {
        fprintf(stderr, "cannot read the digits from %s (gzip'd CSV of 1797 rows)\n", path);
        return -1;
    }
    digits_shuffle(d, SETUP_SPLIT_SEED);
    digits_split(d, SETUP_TRAIN, train, test);
    return 0;
}

int setup_train(double *theta, const digits_set *train, unsigned t)
{
    mlp_init(theta, SETUP_INIT_SEED + t);
    if (train_sgd(theta, train, SETUP_EPOCHS, SETUP_LR, SETUP_BATCH_SEED + t) != 0) {
        fprintf(stderr, "out of memory while training\n");
        return -1;
    }
    return 0;
}

int setup_model(const char *path, digits *d, unsigned t, double *theta, digits_set *train,
                digits_set *test)
{
    return setup_data(path, d, train, test) || setup_train(theta, train, t) ? -1 : 0;
}
