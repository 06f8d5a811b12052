/* The UCI digits data: 1797 images of 8x8 pixels in [0,1] and their labels. */
#ifndef DIGITS_H
#define DIGITS_H

#define DIGITS_PIXELS 64
#define DIGITS_CLASSES 10
#define DIGITS_MAX 1797

typedef struct digits {
    int count;
    double x[DIGITS_MAX][DIGITS_PIXELS]; /* pixel / 16 */
    int y[DIGITS_MAX];
} digits;

/* Reads a gzip'd CSV (64 pixels then the label per row) through `gzip -dc`. 0 on success. */
int digits_load(const char *path, digits *d);
/* Deterministic shuffle of the rows (seeded), so train/test splits are reproducible. */
void digits_shuffle(digits *d, unsigned long long seed);

#endif
