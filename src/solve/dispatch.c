/* The one instruction-set dispatch of the library: which build of src/kernels/ runs a call.
 * Compiled for the baseline only; the per-ISA builds of src/kernels/ define the functions. */
#include "solve/dispatch.h"

FI_KERNEL_DECLS(portable)

static const fi_kernels portable = {"portable", fi__elements_portable, fi__rows_portable,
                                    fi__rows_wide_portable, fi__columns_portable,
                                    fi__pixels_portable, fi__index_sums_portable,
                                    fi__many_rows_portable, fi__many_columns_portable};

#if defined(__x86_64__) && defined(FI_HAVE_X86_KERNELS)
FI_KERNEL_DECLS(avx2)
fi_row_sums_fn fi__rows_wide_avx512;
fi_pixels_fn fi__pixels_avx512;
fi_many_rows_fn fi__many_rows_avx512;
fi_many_columns_fn fi__many_columns_avx512;

static const fi_kernels avx2 = {"avx2", fi__elements_avx2, fi__rows_avx2, fi__rows_wide_avx2,
                                fi__columns_avx2, fi__pixels_avx2, fi__index_sums_avx2,
                                fi__many_rows_avx2, fi__many_columns_avx2};
/* AVX-512VL's 32 vector registers pay in three families: the register tiles of rows_wide and
 * gram_many and the factorization of pixels; the others run as fast with AVX2's (make bench). */
static const fi_kernels avx512 = {"avx512", fi__elements_avx2, fi__rows_avx2,
                                  fi__rows_wide_avx512, fi__columns_avx2, fi__pixels_avx512,
                                  fi__index_sums_avx2, fi__many_rows_avx512,
                                  fi__many_columns_avx512};

static bool cpu_has_avx2(void)
{
    __builtin_cpu_init(); /* idempotent; needed when called before constructors ran */
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
}

static bool cpu_has_avx512(void)
{
    return cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}
#endif

bool fi__isa_available(int isa)
{
    switch (isa) {
    case FI_ISA_AUTO:
    case FI_ISA_PORTABLE: return true;
#if defined(__x86_64__) && defined(FI_HAVE_X86_KERNELS)
    case FI_ISA_AVX2: return cpu_has_avx2();
    case FI_ISA_AVX512: return cpu_has_avx512();
#endif
    default: return false;
    }
}

const fi_kernels *fi__kernels(const fi_context *ctx)
{
#if defined(__x86_64__) && defined(FI_HAVE_X86_KERNELS)
    switch (ctx->isa) {
    case FI_ISA_AUTO: return cpu_has_avx512() ? &avx512 : cpu_has_avx2() ? &avx2 : &portable;
    case FI_ISA_AVX2: return &avx2;     /* fi_context_set checked the CPU */
    case FI_ISA_AVX512: return &avx512;
    default: return &portable;
    }
#else
    (void)ctx;
    return &portable;
#endif
}
