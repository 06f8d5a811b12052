/* Every internal header of the library at once, for a file that needs most of them. New code
 * includes the headers of the layers it uses (docs/architecture.md: what may call what). */
#ifndef FI_INTERNAL_H
#define FI_INTERNAL_H

#include "core/block.h"
#include "core/core.h"
#include "core/dtype.h"
#include "core/problem.h"
#include "core/threads.h"
#include "core/validate.h"

#endif
