/* ASCII rendering of 8x8 maps (the PNG writer is heatmap_png.c). */
#include "heatmap.h"

#include <math.h>
#include <stdio.h>

enum { SIDE = 8, MAX_MAPS = 8 };

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
