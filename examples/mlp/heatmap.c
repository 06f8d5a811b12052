/* PGM and ASCII renderings of 8x8 maps. */
#include "heatmap.h"

#include <math.h>
#include <stdio.h>

enum { SIDE = 8, SCALE = 16, GAP = 8, GREY = 128, MAX_MAPS = 8 };

/* The map scaled to [0, 1] between its extremes (a flat map is all 0). */
static void levels(const double *map, double *out)
{
    double lo = map[0], hi = map[0];
    for (int j = 1; j < SIDE * SIDE; j++) {
        lo = fmin(lo, map[j]);
        hi = fmax(hi, map[j]);
    }
    for (int j = 0; j < SIDE * SIDE; j++) out[j] = hi > lo ? (map[j] - lo) / (hi - lo) : 0;
}

int heatmap_write_pgm(const char *path, const double *const *maps, int n)
{
    if (n < 1 || n > MAX_MAPS) return -1;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    double lv[MAX_MAPS][SIDE * SIDE];
    for (int m = 0; m < n; m++) levels(maps[m], lv[m]);
    const int w = n * SIDE * SCALE + (n + 1) * GAP, h = SIDE * SCALE + 2 * GAP;
    fprintf(f, "P5\n%d %d\n255\n", w, h);
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++) {
            /* which map and which of its pixels this screen pixel shows, if any */
            const int cell = SIDE * SCALE + GAP, m = (c - GAP) / cell, mc = (c - GAP) % cell;
            const int in = r >= GAP && r < GAP + SIDE * SCALE && c >= GAP && m < n &&
                           mc < SIDE * SCALE;
            int v = GREY;
            if (in) v = (int)lround(255 * lv[m][((r - GAP) / SCALE) * SIDE + mc / SCALE]);
            fputc(v, f);
        }
    return fclose(f) == 0 ? 0 : -1;
}

void heatmap_print(const double *const *maps, const char *const *titles, int n)
{
    static const char shade[] = " .:-=+*#%@";
    double lv[MAX_MAPS][SIDE * SIDE];
    if (n > MAX_MAPS) n = MAX_MAPS;
    for (int m = 0; m < n; m++) levels(maps[m], lv[m]);
    printf("   ");
    for (int m = 0; m < n; m++) printf(" %-18.18s", titles[m]);
    printf("\n");
    for (int r = 0; r < SIDE; r++) {
        printf("   ");
        for (int m = 0; m < n; m++) {
            printf(" ");
            for (int c = 0; c < SIDE; c++) {
                const char ch = shade[(int)(9.999 * lv[m][r * SIDE + c])];
                printf("%c%c", ch, ch); /* two columns per pixel: terminal cells are tall */
            }
            printf("  ");
        }
        printf("\n");
    }
}
