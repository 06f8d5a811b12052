/* The UCI optical digits (examples/data/README.md): 1797 images of 8x8 pixels scaled to
 * [0, 1], and their labels 0..9. */
#ifndef DIGITS_H
#define DIGITS_H

#define DIGITS_PIXELS 64
#define DIGITS_CLASSES 10
#define DIGITS_MAX 1797

typedef struct digits {
    int count;
    double x[DIGITS_MAX][DIGITS_PIXELS]; /* pixel count 0..16, divided by 16 */
    int y[DIGITS_MAX];
} digits;

/* A view of consecutive rows of a digits table (a train or test split). */
typedef struct digits_set {
    const double (*x)[DIGITS_PIXELS];
    const int *y;
    int count;
} digits_set;

/* Reads the gzip'd CSV (64 pixel counts then the label per row) by running `gzip -dc`.
 * Returns 0 when all 1797 rows were read and valid, -1 otherwise. */
int digits_load(const char *path, digits *d);

/* Deterministic Fisher-Yates shuffle of the rows, so that splits are reproducible. */
void digits_shuffle(digits *d, unsigned long long seed);

/* The first train_count rows as the training set, the rest as the test set. */
void digits_split(const digits *d, int train_count, digits_set *train, digits_set *test);

#endif
