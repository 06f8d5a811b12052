/* The library's own worker threads: a static split of a block range, nothing global. */
#include "core/threads.h"

#include <pthread.h>
#include <stdio.h>

typedef struct job {
    fi_range_fn fn;
    void *arg;
    int64_t first, last;
    int worker;
    bool threaded;
    int status;
    char err[FI_ERRLEN];
} job;

static void *run_job(void *p)
{
    job *j = p;
    j->status = j->fn(j->arg, j->first, j->last, j->worker, j->err);
    return NULL;
}

/* floor(count * t / threads) without forming count * t, which overflows int64 for counts
 * above INT64_MAX / threads: with count = q*threads + r it is q*t + floor(r*t / threads). */
static int64_t split_point(int64_t count, int t, int threads)
{
    return (count / threads) * t + (count % threads) * t / threads;
}

int fi__parallel_for(fi_context *ctx, int64_t count, int threads, fi_range_fn fn, void *arg)
{
    if (threads < 1) threads = 1;
    if (threads > count) threads = (int)(count > 0 ? count : 1);
    job jobs_stack[8];
    job *jobs = jobs_stack;
    if (threads > 8) {
        jobs = fi__calloc(&ctx->mem, (size_t)threads, sizeof *jobs);
        if (!jobs)
            return fi__fail(ctx, FI_ERR_NOMEM, "out of memory for %d thread records", threads);
    }
    pthread_t tid[FI_MAX_THREADS];
    for (int t = 0; t < threads; t++) {
        jobs[t].fn = fn;
        jobs[t].arg = arg;
        jobs[t].first = split_point(count, t, threads);
        jobs[t].last = split_point(count, t + 1, threads);
        jobs[t].worker = t;
        jobs[t].status = FI_OK;
        jobs[t].err[0] = '\0';
        /* Worker 0 runs in the caller's thread. A worker whose thread cannot be started runs
         * there too, after it: the split, and so every result, stays the same. */
        jobs[t].threaded = t > 0 && pthread_create(&tid[t], NULL, run_job, &jobs[t]) == 0;
    }
    for (int t = 0; t < threads; t++)
        if (!jobs[t].threaded) run_job(&jobs[t]);
    for (int t = 1; t < threads; t++)
        if (jobs[t].threaded) pthread_join(tid[t], NULL);
    int status = FI_OK;
    for (int t = 0; t < threads; t++) {
        if (jobs[t].status != FI_OK) {
            status = fi__fail(ctx, jobs[t].status, "%s", jobs[t].err);
            break;
        }
    }
    if (jobs != jobs_stack) fi__free(&ctx->mem, jobs);
    return status;
}
