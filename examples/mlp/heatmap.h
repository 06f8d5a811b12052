/* Pictures of 8x8 maps: a PGM file anyone can open, and a terminal rendering. */
#ifndef MLP_HEATMAP_H
#define MLP_HEATMAP_H

/* Writes n (1..8) 8x8 maps side by side as one binary PGM (each map scaled linearly from its own
 * minimum, black, to its maximum, white; 16x16 screen pixels per map pixel; grey gaps).
 * Returns 0, or -1 when the file cannot be written. */
int heatmap_write_pgm(const char *path, const double *const *maps, int n);

/* Prints n (up to 8) 8x8 maps side by side in ASCII shades (' ' = the map's minimum, '@' = its
 * maximum), each under its title. */
void heatmap_print(const double *const *maps, const char *const *titles, int n);

#endif
