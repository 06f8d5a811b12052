// Must NOT compile with -Werror: the status of fi_context_create is ignored, and FI_NODISCARD
// makes that a warning. Compiles with -DFI_NO_NODISCARD (the opt-out). Used by check-cpp.
#include "fi.h"

int main()
{
    fi_context *ctx = nullptr;
    fi_context_create(&ctx);
    fi_context_free(ctx);
    return 0;
}
