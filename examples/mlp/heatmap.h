/* Renderings of 8x8 maps: in the terminal (ASCII shades) and as a PNG grid (libpng; the
 * examples' only use of it, the library does not depend on it). */
#ifndef MLP_HEATMAP_H
#define MLP_HEATMAP_H

/* Prints n maps side by side, each scaled from its own min to max. */
void heatmap_print(const double *const *maps, const char *const *titles, int n);

/* How a panel of the PNG is coloured: an input image (ink dark on white), or a heat map
 * (black - red - yellow - white). Values are taken as given, clipped to [0, 1]. */
enum heatmap_kind { HEAT_INK, HEAT_MAP };

/* Writes rows x cols panels (row-major: panels[r * cols + c]), each 8x8 values in [0, 1]
 * shown 16x enlarged, kind[c] per column. Returns 0, or -1 when the file cannot be written. */
int heatmap_write_png(const char *path, const double *const *panels, const int *kind, int rows,
                      int cols);

#endif
