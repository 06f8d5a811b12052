/* How the MLP example reports a failed libfi call: the library never prints, so the caller
 * does, with the status text and the context's specific message. */
#ifndef MLP_TRY_H
#define MLP_TRY_H

#include <stdio.h>

#include "fi.h"

/* Evaluates a libfi call; on failure prints where and why, and jumps to the caller's `fail`
 * label (which frees what the function allocated and returns -1). */
#define FI_TRY(ctx, call)                                                                     \
    do {                                                                                      \
        const int st_ = (call);                                                               \
        if (st_ != FI_OK) {                                                                   \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, fi_strerror(st_),          \
                    fi_context_error(ctx));                                                   \
            goto fail;                                                                        \
        }                                                                                     \
    } while (0)

#endif
