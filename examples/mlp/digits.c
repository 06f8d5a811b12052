/* Loading the digits CSV. It is decompressed by the gzip program (part of every Debian base
 * system, "Essential: yes") through popen, so the example needs no zlib headers. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* popen, pclose */
#endif
#include "digits.h"

#include <stdio.h>
#include <string.h>

#include "rng.h"

int digits_load(const char *path, digits *d)
{
    /* The path goes inside single quotes for the shell: refuse one that would end them. */
    char cmd[1024];
    if (strchr(path, '\'') || snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path) >= (int)sizeof cmd)
        return -1;
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    int count = 0, bad = 0, v[DIGITS_PIXELS + 1];
    while (count < DIGITS_MAX) {
        int ok = 1;
        for (int j = 0; j <= DIGITS_PIXELS && ok; j++)
            ok = fscanf(f, j ? " ,%d" : "%d", &v[j]) == 1;
        if (!ok) break;
        for (int j = 0; j < DIGITS_PIXELS; j++) {
            bad |= v[j] < 0 || v[j] > 16;
            d->x[count][j] = v[j] / 16.0;
        }
        bad |= v[DIGITS_PIXELS] < 0 || v[DIGITS_PIXELS] >= DIGITS_CLASSES;
        d->y[count++] = v[DIGITS_PIXELS];
    }
    /* Drain the pipe (gzip must not die of SIGPIPE); only whitespace may follow the rows. */
    for (int ch; (ch = fgetc(f)) != EOF;) bad |= !(ch == ' ' || ch == '\n' || ch == '\r');
    d->count = count;
    return (pclose(f) == 0 && count == DIGITS_MAX && !bad) ? 0 : -1;
}

void digits_shuffle(digits *d, unsigned long long seed)
{
    rng r = {seed};
    for (int i = d->count - 1; i > 0; i--) {
        const int j = rng_below(&r, i + 1);
        double tx[DIGITS_PIXELS];
        memcpy(tx, d->x[i], sizeof tx);
        memcpy(d->x[i], d->x[j], sizeof tx);
        memcpy(d->x[j], tx, sizeof tx);
        const int ty = d->y[i];
        d->y[i] = d->y[j];
        d->y[j] = ty;
    }
}

void digits_split(const digits *d, int train_count, digits_set *train, digits_set *test)
{
    *train = (digits_set){(const double(*)[DIGITS_PIXELS])d->x, d->y, train_count};
    *test = (digits_set){(const double(*)[DIGITS_PIXELS])d->x + train_count, d->y + train_count,
                         d->count - train_count};
}
