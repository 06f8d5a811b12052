/* Shared by the benchmark programs of bench/: timing, medians, the memory-read floor. */
#ifndef FI_BENCH_H
#define FI_BENCH_H
#include <stdint.h>

double bench_now_ms(void);
/* Sorts t and returns its middle element. */
double bench_median(double *t, int n);
/* One streaming pass over n floats, 8 independent partial sums; returns their sum. */
double bench_floor_sum(const float *x, int64_t n);
/* Written with results nobody reads, so that the compiler keeps the work. */
extern volatile double bench_sink;

/* The real-gradient workloads (bench/real.c); data_dir holds the cache files.
 * Returns 0 on success. */
int bench_real(const char *only, const char *data_dir);
#endif
