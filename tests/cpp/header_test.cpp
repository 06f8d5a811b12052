// fi.h from C++: compiled with g++ -std=c++11 -Wall -Wextra -Werror -pedantic (and the strict
// C++ warnings listed in mk/bindings.mk), linked against lib/libfi.so. Checks that the header
// is valid C++ with C linkage, that its layouts and constants are what the C library sees, and
// that a C++ caller gets the documented results (the p = 1 closed form of SPEC fact 1).
#include "fi.h"

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

// ABI: the public structs are plain C layouts, identical in C++.
static_assert(std::is_standard_layout<fi_blocks>::value, "fi_blocks must be standard layout");
static_assert(std::is_trivial<fi_blocks>::value, "fi_blocks must be trivial");
static_assert(sizeof(fi_blocks) == 4 * sizeof(int64_t), "fi_blocks is four int64_t");
static_assert(offsetof(fi_blocks, count) == 0 && offsetof(fi_blocks, size) == 8 &&
                  offsetof(fi_blocks, stride) == 16 && offsetof(fi_blocks, step) == 24,
              "fi_blocks field offsets");
static_assert(std::is_standard_layout<fi_index_blocks>::value, "fi_index_blocks layout");
static_assert(offsetof(fi_index_blocks, offsets) == 8, "fi_index_blocks field offsets");
// Values fixed by the specification.
static_assert(FI_OK == 0 && FI_F64 == 0 && FI_F32 == 1, "SPEC section 2 values");
static_assert(FI_VERSION_NUMBER ==
                  FI_VERSION_MAJOR * 10000 + FI_VERSION_MINOR * 100 + FI_VERSION_PATCH,
              "version number");
// The callback types are usable as C++ function pointers.
static void *test_alloc(void *, size_t n) { return std::malloc(n); }
static void test_free(void *, void *p) { std::free(p); }
static const fi_alloc_fn alloc_fn = test_alloc;
static const fi_free_fn free_fn = test_free;

static int failures = 0;

#define EXPECT(cond)                                                                 \
    do {                                                                             \
        if (!(cond)) {                                                               \
            std::fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

// Every macro and enumerator of the header must agree with what the library reports.
static void constants_agree()
{
    struct {
        const char *name;
        int64_t value;
    } table[] = {
#define C(x) {#x, static_cast<int64_t>(x)}
        C(FI_VERSION_MAJOR), C(FI_VERSION_MINOR), C(FI_VERSION_PATCH), C(FI_VERSION_NUMBER),
        C(FI_OK), C(FI_ERR_NULL), C(FI_ERR_DIMENSION), C(FI_ERR_PROBABILITY),
        C(FI_ERR_NONFINITE), C(FI_ERR_NOMEM), C(FI_ERR_LAPACK), C(FI_ERR_OPTION),
        C(FI_ERR_FLAG), C(FI_ERR_DTYPE), C(FI_ERR_CLASS), C(FI_ERR_MISMATCH), C(FI_ERR_FORMAT),
        C(FI_ERR_THREAD), C(FI_ERR_NAME), C(FI_F64), C(FI_F32), C(FI_BF16), C(FI_F16),
        C(FI_ACCUMULATE), C(FI_SINGLE_PASS), C(FI_OPT_RCOND), C(FI_OPT_ATOL), C(FI_OPT_PROB_TOL),
        C(FI_OPT_CLASS_MODE), C(FI_OPT_THREADS), C(FI_OPT_METHOD), C(FI_CLASS_STRICT),
        C(FI_CLASS_RENORMALIZE), C(FI_CLASS_REMAINDER), C(FI_METHOD_AUTO),
        C(FI_METHOD_REFERENCE), C(FI_REDUCE_SUM), C(FI_REDUCE_MEAN), C(FI_REDUCE_MAX),
#undef C
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        int64_t v = -1;
        const int st = fi_constant(table[i].name, &v);
        if (st != FI_OK || v != table[i].value) {
            std::fprintf(stderr, "fi_constant(%s): status %d value %lld, header says %lld\n",
                         table[i].name, st, static_cast<long long>(v),
                         static_cast<long long>(table[i].value));
            failures++;
        }
    }
    int64_t v = 0;
    EXPECT(fi_constant("FI_NO_SUCH_NAME", &v) == FI_ERR_NAME);
    EXPECT(fi_constant(nullptr, &v) == FI_ERR_NULL);
    EXPECT(fi_version_number() == FI_VERSION_NUMBER);
    EXPECT(std::string(fi_version_string()) == FI_VERSION_STRING);
    EXPECT(fi_dtype_size(FI_F64) == 8 && fi_dtype_size(FI_F32) == 4 &&
           fi_dtype_size(FI_BF16) == 2 && fi_dtype_size(FI_F16) == 2 && fi_dtype_size(99) == 0);
    // Every status has its own text.
    std::vector<std::string> texts;
    for (int s = FI_OK; s <= FI_ERR_NAME; s++) {
        const char *t = fi_strerror(s);
        EXPECT(t != nullptr && *t != '\0');
        for (const std::string &u : texts) EXPECT(u != t);
        texts.push_back(t);
    }
}

// p = 1 closed form: FI = g^2 / sum_i P_i s_i^2, with float scores from a std::vector.
static void closed_form()
{
    fi_context *ctx = nullptr;
    EXPECT(fi_context_create(&ctx) == FI_OK && ctx != nullptr);
    EXPECT(fi_context_set_allocator(ctx, alloc_fn, free_fn, nullptr) == FI_OK);
    const int64_t K = 3, n = 7;
    const double probs[3] = {0.5, 0.3, 0.2};
    std::vector<float> scores(static_cast<size_t>(K * n));
    for (size_t i = 0; i < scores.size(); i++)
        scores[i] = static_cast<float>(std::sin(1.0 + 0.7 * static_cast<double>(i)));
    const fi_blocks elements = {n, 1, 1, 1};
    fi_metric *m = nullptr;
    EXPECT(fi_metric_from_scores(ctx, K, probs, FI_F32, scores.data(), n, n, &elements, &m) ==
           FI_OK);
    std::vector<double> out(static_cast<size_t>(n), -1.0);
    const float *target = scores.data() + 1 * n; // class target k = 1
    EXPECT(fi_compute(ctx, m, FI_F32, target, out.data(), 0) == FI_OK);
    for (int64_t j = 0; j < n; j++) {
        double den = 0;
        for (int64_t i = 0; i < K; i++) {
            const double s = scores[static_cast<size_t>(i * n + j)];
            den += probs[i] * s * s;
        }
        const double g = target[j], expect = g * g / den;
        EXPECT(std::fabs(out[static_cast<size_t>(j)] - expect) <= 1e-12 * expect);
    }
    EXPECT(fi_metric_count(m) == n && fi_metric_classes(m) == K);
    // Failures: a status, a message, and out untouched.
    std::vector<double> before = out;
    const fi_blocks outside = {n, 2, 1, 1}; // last block reaches coordinate n
    fi_metric *m2 = nullptr;
    EXPECT(fi_metric_from_scores(ctx, K, probs, FI_F32, scores.data(), n, n, &outside, &m2) ==
           FI_ERR_DIMENSION);
    EXPECT(m2 == nullptr);
    EXPECT(std::strlen(fi_context_error(ctx)) > 0);
    EXPECT(fi_compute(ctx, m, FI_F32, target, out.data(), 4u) == FI_ERR_FLAG);
    EXPECT(out == before);
    EXPECT(fi_compute(nullptr, m, FI_F32, target, out.data(), 0) == FI_ERR_NULL);
    fi_metric_free(m);
    fi_metric_free(nullptr);
    fi_context_free(ctx);
    fi_context_free(nullptr);
}

int main()
{
    constants_agree();
    closed_form();
    if (failures) {
        std::fprintf(stderr, "header_test: %d failure(s)\n", failures);
        return 1;
    }
    std::printf("header_test: fi.h compiles as C++ and agrees with libfi %s\n",
                fi_version_string());
    return 0;
}
