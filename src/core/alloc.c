/* Allocation through the caller's allocator and error reporting on a context. */
#include "core/core.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>

static void *default_alloc(void *opaque, size_t size)
{
    (void)opaque;
    return malloc(size);
}

static void default_free(void *opaque, void *ptr)
{
    (void)opaque;
    free(ptr);
}

fi_allocator fi__default_allocator(void) { return (fi_allocator){default_alloc, default_free, NULL}; }

void *fi__alloc(const fi_allocator *mem, size_t size)
{
    return mem->alloc(mem->opaque, size ? size : 1);
}

void *fi__calloc(const fi_allocator *mem, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) return NULL;
    /* The C library's calloc maps large zeroed blocks lazily: a huge accumulator is created
     * at once and its pages are touched by the first add. */
    if (mem->alloc == default_alloc) return calloc(count ? count : 1, size ? size : 1);
    void *p = fi__alloc(mem, count * size);
    if (p) memset(p, 0, count * size);
    return p;
}

void fi__free(const fi_allocator *mem, void *ptr)
{
    if (ptr) mem->free(mem->opaque, ptr);
}

int fi__fail(fi_context *ctx, int status, const char *fmt, ...)
{
    if (ctx) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->error, sizeof ctx->error, fmt, ap);
        va_end(ap);
    }
    return status;
}

void fi__ok(fi_context *ctx)
{
    if (ctx) ctx->error[0] = '\0';
}
