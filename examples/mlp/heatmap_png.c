/* The PNG grid of 8x8 maps, through libpng. */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>

#include "heatmap.h"

enum { SIDE = 8, SCALE = 16, GAP = 8, PANEL = SIDE * SCALE };

/* RGB of value v in [0, 1] for a panel of the given kind. The heat map runs black - red -
 * yellow - white, monotone in brightness, so it reads in grey print too. */
static void colour(int kind, double v, png_byte rgb[3])
{
    v = v < 0 || isnan(v) ? 0 : v > 1 ? 1 : v;
    if (kind == HEAT_INK) {
        rgb[0] = rgb[1] = rgb[2] = (png_byte)lround(255 * (1 - v));
        return;
    }
    const double r = fmin(1, 3 * v), g = fmin(1, fmax(0, 3 * v - 1)), b = fmax(0, 3 * v - 2);
    rgb[0] = (png_byte)lround(255 * r);
    rgb[1] = (png_byte)lround(255 * g);
    rgb[2] = (png_byte)lround(255 * b);
}

int heatmap_write_png(const char *path, const double *const *panels, const int *kind, int rows,
                      int cols)
{
    const int w = cols * PANEL + (cols + 1) * GAP, h = rows * PANEL + (rows + 1) * GAP;
    png_byte *img = malloc((size_t)w * h * 3);
    png_bytep *lines = malloc((size_t)h * sizeof *lines);
    FILE *volatile f = NULL; /* read after a longjmp from libpng */
    png_structp png = NULL;
    png_infop info = NULL;
    volatile int rc = -1; /* read after a longjmp from libpng */
    if (!img || !lines) goto done;
    for (int y = 0; y < h; y++) {
        lines[y] = img + (size_t)y * w * 3;
        for (int x = 0; x < w; x++) {
            png_byte *px = lines[y] + 3 * x;
            px[0] = px[1] = px[2] = 200; /* the gaps: light grey */
            const int pr = (y - GAP) / (PANEL + GAP), py = (y - GAP) % (PANEL + GAP);
            const int pc = (x - GAP) / (PANEL + GAP), pxx = (x - GAP) % (PANEL + GAP);
            if (y < GAP || x < GAP || pr >= rows || pc >= cols || py >= PANEL || pxx >= PANEL)
                continue;
            const double *map = panels[pr * cols + pc];
            if (map) colour(kind[pc], map[(py / SCALE) * SIDE + pxx / SCALE], px);
        }
    }
    if (!(f = fopen(path, "wb"))) goto done;
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (!png || !(info = png_create_info_struct(png))) goto done;
    if (setjmp(png_jmpbuf(png))) goto done; /* libpng reports write errors by longjmp */
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, lines);
    png_write_end(png, NULL);
    rc = 0;
done:
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    if (f && fclose(f) != 0) rc = -1;
    free(lines);
    free(img);
    return rc;
}
