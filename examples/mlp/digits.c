/* Loading the digits CSV. gzip is part of every Debian base system, so no zlib is needed. */
#define _POSIX_C_SOURCE 200809L
#include "digits.h"

#include <stdio.h>
#include <string.h>

int digits_load(const char *path, digits *d)
{
    char cmd[1024];
    if (snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path) >= (int)sizeof cmd) return -1;
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    d->count = 0;
    int v[DIGITS_PIXELS + 1];
    while (d->count < DIGITS_MAX) {
        int ok = 1;
        for (int j = 0; j <= DIGITS_PIXELS && ok; j++) ok = fscanf(f, j ? ",%d" : "%d", &v[j]) == 1;
        if (!ok) break;
        for (int j = 0; j < DIGITS_PIXELS; j++) d->x[d->count][j] = v[j] / 16.0;
        d->y[d->count] = v[DIGITS_PIXELS];
        d->count++;
    }
    int rc = pclose(f);
    return (rc == 0 && d->count == DIGITS_MAX) ? 0 : -1;
}

void digits_shuffle(digits *d, unsigned long long seed)
{
    for (int i = d->count - 1; i > 0; i--) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int j = (int)((seed >> 33) % (unsigned long long)(i + 1));
        double tx[DIGITS_PIXELS];
        memcpy(tx, d->x[i], sizeof tx);
        memcpy(d->x[i], d->x[j], sizeof tx);
        memcpy(d->x[j], tx, sizeof tx);
        int ty = d->y[i];
        d->y[i] = d->y[j];
        d->y[j] = ty;
    }
}
