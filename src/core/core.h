/* What every layer of the library may use: the context's fields, allocation through the
 * caller's allocator, and error reporting (src/core/alloc.c). Nothing here is ABI. */
#ifndef FI_CORE_CORE_H
#define FI_CORE_CORE_H

#include "fi.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define FI_ERRLEN 256
#define FI_DEFAULT_PROB_TOL 1e-5
#define FI_MAX_THREADS 1024

/* The allocator travels by value into every object made with a context, so that the object
 * can be freed after its context is gone. */
typedef struct fi_allocator {
    fi_alloc_fn alloc;
    fi_free_fn free;
    void *opaque;
} fi_allocator;

struct fi_context {
    double rcond;    /* < 0: the default of rank_rule (fi__rcond) */
    double atol;     /* >= 0 */
    double prob_tol; /* >= 0 */
    int class_mode;  /* fi_class_mode */
    int threads;     /* >= 1 */
    int method;      /* fi_method */
    int isa;         /* fi_isa */
    int rank_rule;   /* fi_rank_rule: the default rcond */
    fi_allocator mem;
    char error[FI_ERRLEN];
};

/* malloc and free behind the fi_allocator interface. */
fi_allocator fi__default_allocator(void);
void *fi__alloc(const fi_allocator *mem, size_t size);
void *fi__calloc(const fi_allocator *mem, size_t count, size_t size); /* NULL on overflow too */
void fi__free(const fi_allocator *mem, void *ptr);

/* Records a formatted message on ctx (if not NULL) and returns status. */
int fi__fail(fi_context *ctx, int status, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Clears the error text on success paths that want it cleared. */
void fi__ok(fi_context *ctx);

#endif
