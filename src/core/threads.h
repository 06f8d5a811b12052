/* The library's own worker threads (src/core/threads.c). */
#ifndef FI_CORE_THREADS_H
#define FI_CORE_THREADS_H

#include "core/core.h"

/* Runs fn(arg, first, last, worker, err) over [0,count) split into at most `threads`
 * contiguous ranges, in the caller's thread when threads == 1. fn returns a status and may
 * write a message into err (FI_ERRLEN bytes). The error of the lowest failing range wins,
 * so the reported error does not depend on scheduling. */
typedef int (*fi_range_fn)(void *arg, int64_t first, int64_t last, int worker, char *err);
int fi__parallel_for(fi_context *ctx, int64_t count, int threads, fi_range_fn fn, void *arg);

#endif
