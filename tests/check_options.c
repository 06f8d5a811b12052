/* Options (defaults, ranges, effects, per-context), status texts, constants by name, and
 * the version queries. */
#define _GNU_SOURCE /* dladdr */
#include <check.h>
#include <ctype.h>
#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fi.h"
#include "suites.h"
#include "support/reference.h"

static fi_context *ctx;
static void setup(void) { ck_assert_int_eq(fi_context_create(&ctx), FI_OK); }
static void teardown(void) { fi_context_free(ctx); }

static double get(int option)
{
    double v = NAN;
    ck_assert_int_eq(fi_context_get(ctx, option, &v), FI_OK);
    return v;
}

/* ------------------------------------------------------------------ options */

/* The documented defaults (fi.h). */
START_TEST(test_defaults)
{
    ck_assert_double_eq(get(FI_OPT_RCOND), -1.0);
    ck_assert_double_eq(get(FI_OPT_ATOL), 0.0);
    ck_assert_double_eq(get(FI_OPT_PROB_TOL), 1e-5);
    ck_assert_double_eq(get(FI_OPT_CLASS_MODE), FI_CLASS_STRICT);
    ck_assert_double_eq(get(FI_OPT_THREADS), 1.0);
    ck_assert_double_eq(get(FI_OPT_METHOD), FI_METHOD_AUTO);
    ck_assert_double_eq(get(FI_OPT_ISA), FI_ISA_AUTO);
    ck_assert_double_eq(get(FI_OPT_RANK_RULE), FI_RANK_ROUNDOFF);
    ck_assert_str_eq(fi_context_error(ctx), "");
}
END_TEST

/* Every valid value round-trips; every invalid one is refused with FI_ERR_OPTION, a message
 * naming the option, and the previous value kept. */
START_TEST(test_set_get_ranges)
{
    static const struct {
        int option;
        const char *name;
        double good[6];
        int n_good;
        double bad[7];
        int n_bad;
    } t[] = {
        {FI_OPT_RCOND, "FI_OPT_RCOND", {0, 1e-300, 1e-6, 0.5, 1, 1e10}, 6,
         {NAN, INFINITY, -INFINITY}, 3},
        {FI_OPT_ATOL, "FI_OPT_ATOL", {0, 5e-324, 1e-12, 1, 1e300}, 5,
         {-1e-300, -1, NAN, INFINITY, -INFINITY}, 5},
        {FI_OPT_PROB_TOL, "FI_OPT_PROB_TOL", {0, 1e-12, 1e-3, 0.5, 2}, 5,
         {-1e-9, NAN, INFINITY, -INFINITY}, 4},
        {FI_OPT_CLASS_MODE, "FI_OPT_CLASS_MODE",
         {FI_CLASS_STRICT, FI_CLASS_RENORMALIZE, FI_CLASS_REMAINDER}, 3,
         {-1, 3, 0.5, 1.0000001, NAN, INFINITY}, 6},
        {FI_OPT_THREADS, "FI_OPT_THREADS", {1, 2, 3, 64, 1024}, 5,
         {0, -1, 1025, 1.5, NAN, INFINITY, 1e300}, 7},
        {FI_OPT_METHOD, "FI_OPT_METHOD", {FI_METHOD_AUTO, FI_METHOD_REFERENCE}, 2,
         {-1, 2, 0.25, NAN, INFINITY}, 5},
        {FI_OPT_ISA, "FI_OPT_ISA", {FI_ISA_AUTO, FI_ISA_PORTABLE}, 2,
         {-1, 4, 0.5, 2.5, NAN, INFINITY}, 6},
        {FI_OPT_RANK_RULE, "FI_OPT_RANK_RULE", {FI_RANK_ROUNDOFF, FI_RANK_NOISE}, 2,
         {-1, 2, 0.5, NAN, INFINITY}, 5},
    };
    for (size_t o = 0; o < sizeof t / sizeof t[0]; o++) {
        for (int g = 0; g < t[o].n_good; g++) {
            ck_assert_int_eq(fi_context_set(ctx, t[o].option, t[o].good[g]), FI_OK);
            ck_assert_double_eq(get(t[o].option), t[o].good[g]);
        }
        const double kept = t[o].good[0];
        ck_assert_int_eq(fi_context_set(ctx, t[o].option, kept), FI_OK);
        for (int b = 0; b < t[o].n_bad; b++) {
            ck_assert_msg(fi_context_set(ctx, t[o].option, t[o].bad[b]) == FI_ERR_OPTION,
                          "%s = %g accepted", t[o].name, t[o].bad[b]);
            const char *msg = fi_context_error(ctx);
            ck_assert_msg(strstr(msg, t[o].name) != NULL, "message \"%s\" does not name %s", msg,
                          t[o].name);
            ck_assert_double_eq(get(t[o].option), kept);
        }
    }
    /* a negative rcond selects the default, reported as -1 */
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_RCOND, -0.5), FI_OK);
    ck_assert_double_eq(get(FI_OPT_RCOND), -1.0);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_RCOND, -1e300), FI_OK);
    ck_assert_double_eq(get(FI_OPT_RCOND), -1.0);
}
END_TEST

/* docs/api.md: fi_context_error's text is at most 255 bytes. */
#define FI_ERRLEN_DOC 256

START_TEST(test_unknown_options)
{
    const int keys[] = {0, 9, -1, 99, 1 << 30};
    double v = 42;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        ck_assert_int_eq(fi_context_set(ctx, keys[k], 1.0), FI_ERR_OPTION);
        ck_assert_msg(strstr(fi_context_error(ctx), "option") != NULL, "%s", fi_context_error(ctx));
        char before[FI_ERRLEN_DOC];
        snprintf(before, sizeof before, "%s", fi_context_error(ctx));
        ck_assert_int_eq(fi_context_get(ctx, keys[k], &v), FI_ERR_OPTION);
        ck_assert_double_eq(v, 42); /* untouched */
        /* docs/api.md: the const getter records nothing; the earlier text stays */
        ck_assert_str_eq(fi_context_error(ctx), before);
    }
    ck_assert_int_eq(fi_context_set(NULL, FI_OPT_RCOND, 1e-6), FI_ERR_NULL);
    ck_assert_int_eq(fi_context_get(NULL, FI_OPT_RCOND, &v), FI_ERR_NULL);
    ck_assert_int_eq(fi_context_get(ctx, FI_OPT_RCOND, NULL), FI_ERR_NULL);
    ck_assert_double_eq(v, 42);
}
END_TEST

/* Options belong to their context. */
START_TEST(test_options_per_context)
{
    fi_context *other = NULL;
    ck_assert_int_eq(fi_context_create(&other), FI_OK);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_THREADS, 4), FI_OK);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_RCOND, 1e-3), FI_OK);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_CLASS_MODE, FI_CLASS_REMAINDER), FI_OK);
    double v;
    ck_assert_int_eq(fi_context_get(other, FI_OPT_THREADS, &v), FI_OK);
    ck_assert_double_eq(v, 1);
    ck_assert_int_eq(fi_context_get(other, FI_OPT_RCOND, &v), FI_OK);
    ck_assert_double_eq(v, -1);
    ck_assert_int_eq(fi_context_get(other, FI_OPT_CLASS_MODE, &v), FI_OK);
    ck_assert_double_eq(v, FI_CLASS_STRICT);
    /* an error on one context leaves the other's message alone */
    ck_assert_int_eq(fi_context_set(ctx, 99, 0), FI_ERR_OPTION);
    ck_assert_str_eq(fi_context_error(other), "");
    fi_context_free(other);
}
END_TEST

/* FI_OPT_PROB_TOL decides what strict mode accepts; FI_OPT_METHOD changes the kernels and
 * not the result; FI_OPT_THREADS not the result either. */
START_TEST(test_options_take_effect)
{
    enum { K = 4, N = 24 };
    ref_rng r;
    ref_seed(&r, 77);
    double P[K], S[K * N], g[N], a[N / 3], b[N / 3];
    ref_softmax(&r, K, 1.0, P);
    ref_scores(&r, K, N, N, S);
    for (int i = 0; i < N; i++) g[i] = ref_normal(&r);
    const fi_blocks bl = {N / 3, 3, 1, 3};
    double q[K];
    for (int i = 0; i < K; i++) q[i] = P[i] * (1 + 1e-4);
    fi_metric *m = NULL;
    ck_assert_int_eq(fi_metric_from_scores(ctx, K, q, FI_F64, S, N, N, &bl, &m), FI_ERR_PROBABILITY);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_PROB_TOL, 1e-3), FI_OK);
    ck_assert_int_eq(fi_metric_from_scores(ctx, K, q, FI_F64, S, N, N, &bl, &m), FI_OK);
    fi_metric_free(m);
    for (int setting = 0; setting < 3; setting++) {
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_METHOD, setting == 1), FI_OK);
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_THREADS, setting == 2 ? 3 : 1), FI_OK);
        m = NULL;
        ck_assert_int_eq(fi_metric_from_scores(ctx, K, P, FI_F64, S, N, N, &bl, &m), FI_OK);
        ck_assert_int_eq(fi_compute(ctx, m, FI_F64, g, setting ? b : a, 0), FI_OK);
        fi_metric_free(m);
        for (int i = 0; setting && i < N / 3; i++)
            ck_assert_double_eq_tol(b[i], a[i], 1e-10 * a[i]);
    }
}
END_TEST

/* ------------------------------------------------------------------ status texts */

START_TEST(test_strerror)
{
    const int codes[] = {FI_OK, FI_ERR_NULL, FI_ERR_DIMENSION, FI_ERR_PROBABILITY,
                         FI_ERR_NONFINITE, FI_ERR_NOMEM, FI_ERR_LAPACK, FI_ERR_OPTION, FI_ERR_FLAG,
                         FI_ERR_DTYPE, FI_ERR_CLASS, FI_ERR_MISMATCH, FI_ERR_FORMAT, FI_ERR_THREAD,
                         FI_ERR_NAME};
    const size_t nc = sizeof codes / sizeof codes[0];
    const char *unknown = fi_strerror(-1);
    ck_assert_ptr_nonnull(unknown);
    for (size_t a = 0; a < nc; a++) {
        ck_assert_int_eq(codes[a], (int)a); /* FI_OK = 0, then 1, 2, ... without gaps */
        const char *s = fi_strerror(codes[a]);
        ck_assert_ptr_nonnull(s);
        ck_assert_msg(strlen(s) > 3, "code %d: \"%s\"", codes[a], s);
        ck_assert_str_ne(s, unknown);
        for (size_t b = a + 1; b < nc; b++) ck_assert_str_ne(s, fi_strerror(codes[b]));
    }
    const int others[] = {-1000, (int)nc, 1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        ck_assert_str_eq(fi_strerror(others[i]), unknown);
    /* static text: the same pointer every time */
    ck_assert_ptr_eq(fi_strerror(FI_ERR_NOMEM), fi_strerror(FI_ERR_NOMEM));
}
END_TEST

/* FI_ISA_AVX2 and FI_ISA_AVX512 name the x86-64 kernel builds: accepted exactly where this CPU
 * runs them (x86-64 builds always carry them), refused with a message elsewhere. */
START_TEST(test_isa_named)
{
    const int isas[2] = {FI_ISA_AVX2, FI_ISA_AVX512};
    for (int i = 0; i < 2; i++) {
        bool runs = false;
#if defined(__x86_64__) && defined(__GNUC__)
        __builtin_cpu_init();
        runs = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("f16c");
        if (isas[i] == FI_ISA_AVX512)
            runs = runs && __builtin_cpu_supports("avx512f") &&
                   __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#endif
        const int status = fi_context_set(ctx, FI_OPT_ISA, isas[i]);
        if (runs) {
            ck_assert_int_eq(status, FI_OK);
            ck_assert_double_eq(get(FI_OPT_ISA), isas[i]);
        } else {
            ck_assert_int_eq(status, FI_ERR_OPTION);
            ck_assert_ptr_nonnull(strstr(fi_context_error(ctx), "FI_OPT_ISA"));
            ck_assert_double_eq(get(FI_OPT_ISA), FI_ISA_AUTO);
        }
        ck_assert_int_eq(fi_context_set(ctx, FI_OPT_ISA, FI_ISA_AUTO), FI_OK);
    }
}
END_TEST

/* ------------------------------------------------------------------ constants */

#define C(name) {#name, (int64_t)(name)}
static const struct {
    const char *name;
    int64_t value;
} constants[] = {
    C(FI_VERSION_MAJOR), C(FI_VERSION_MINOR), C(FI_VERSION_PATCH), C(FI_VERSION_NUMBER),
    C(FI_OK), C(FI_ERR_NULL), C(FI_ERR_DIMENSION), C(FI_ERR_PROBABILITY), C(FI_ERR_NONFINITE),
    C(FI_ERR_NOMEM), C(FI_ERR_LAPACK), C(FI_ERR_OPTION), C(FI_ERR_FLAG), C(FI_ERR_DTYPE),
    C(FI_ERR_CLASS), C(FI_ERR_MISMATCH), C(FI_ERR_FORMAT), C(FI_ERR_THREAD), C(FI_ERR_NAME),
    C(FI_F64), C(FI_F32), C(FI_BF16), C(FI_F16), C(FI_ACCUMULATE), C(FI_SINGLE_PASS),
    C(FI_OPT_RCOND), C(FI_OPT_ATOL), C(FI_OPT_PROB_TOL), C(FI_OPT_CLASS_MODE), C(FI_OPT_THREADS),
    C(FI_OPT_METHOD), C(FI_CLASS_STRICT), C(FI_CLASS_RENORMALIZE), C(FI_CLASS_REMAINDER),
    C(FI_OPT_ISA), C(FI_ISA_AUTO), C(FI_ISA_PORTABLE), C(FI_ISA_AVX2), C(FI_ISA_AVX512),
    C(FI_OPT_RANK_RULE), C(FI_RANK_ROUNDOFF), C(FI_RANK_NOISE),
    C(FI_METHOD_AUTO), C(FI_METHOD_REFERENCE), C(FI_REDUCE_SUM), C(FI_REDUCE_MEAN),
    C(FI_REDUCE_MAX),
};
#undef C

/* Each constant as compiled into this program equals the library's answer by name. */
START_TEST(test_constants_by_name)
{
    for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
        int64_t v = -12345;
        ck_assert_msg(fi_constant(constants[i].name, &v) == FI_OK, "%s unknown", constants[i].name);
        ck_assert_msg(v == constants[i].value, "%s = %lld, header says %lld", constants[i].name,
                      (long long)v, (long long)constants[i].value);
    }
    const char *unknown[] = {"", "FI_NOPE", "fi_ok", "FI_OK ", " FI_OK", "FI_ERR", "FI_OPT_",
                             "FI_VERSION_STRING", "FI_API", "FI_H"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        int64_t v = -12345;
        ck_assert_msg(fi_constant(unknown[i], &v) == FI_ERR_NAME, "\"%s\" known", unknown[i]);
        ck_assert_int_eq(v, -12345);
    }
    int64_t v = -12345;
    ck_assert_int_eq(fi_constant(NULL, &v), FI_ERR_NULL);
    ck_assert_int_eq(fi_constant("FI_OK", NULL), FI_ERR_NULL);
    ck_assert_int_eq(v, -12345);
}
END_TEST

/* Completeness: every integer constant the header defines (enumerators with explicit values
 * and #define FI_... <integer>[u]) is known to fi_constant with the header's value, and to the
 * table above. The header is read as text, so a constant added later without its fi_constant
 * entry fails here. */
START_TEST(test_constants_complete)
{
    const char *paths[] = {"include/fi.h", "../include/fi.h", "../../include/fi.h"};
    FILE *f = NULL;
    for (size_t i = 0; i < 3 && !f; i++) f = fopen(paths[i], "r");
    ck_assert_msg(f != NULL, "include/fi.h not found from the working directory (run from the "
                             "source tree, as make check does)");
    char line[512];
    int found = 0, in_enum = 0;
    while (fgets(line, sizeof line, f)) {
        char name[128];
        long long value;
        char *p = line;
        while (isspace((unsigned char)*p)) p++;
        if (strncmp(p, "typedef enum", 12) == 0) in_enum = 1;
        if (in_enum && *p == '}') in_enum = 0;
        int matched = 0;
        if (strncmp(p, "#define FI_", 11) == 0) {
            char rest[256] = "";
            if (sscanf(p, "#define %127s %255[^\n]", name, rest) == 2 && isdigit((unsigned char)rest[0])) {
                value = strtoll(rest, NULL, 0);
                matched = 1;
            } else if (strcmp(name, "FI_VERSION_NUMBER") == 0) {
                value = FI_VERSION_MAJOR * 10000 + FI_VERSION_MINOR * 100 + FI_VERSION_PATCH;
                matched = 1;
            }
        } else if (in_enum && strncmp(p, "FI_", 3) == 0) {
            matched = sscanf(p, "%127[A-Z0-9_] = %lld", name, &value) == 2;
            ck_assert_msg(matched, "enumerator without an explicit value: %s", p);
        }
        if (!matched) continue;
        int64_t v = -12345;
        ck_assert_msg(fi_constant(name, &v) == FI_OK, "header constant %s unknown to fi_constant", name);
        ck_assert_msg(v == value, "%s: fi_constant %lld, header %lld", name, (long long)v, value);
        int listed = 0;
        for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++)
            listed |= strcmp(constants[i].name, name) == 0;
        ck_assert_msg(listed, "%s missing from this test's table", name);
        found++;
    }
    fclose(f);
    ck_assert_int_eq(found, (int)(sizeof constants / sizeof constants[0]));
}
END_TEST

/* ------------------------------------------------------------------ version, dtypes */

/* The library this program loaded is the one the header describes: loaded by its SONAME
 * libfi.so.MAJOR, which links to the file libfi.so.MAJOR.MINOR.PATCH (the Makefile names both
 * from the header's version macros), and it reports that version. */
START_TEST(test_version)
{
#ifdef FI_TEST_LIBRARY_COMPILED_IN /* the sanitizer builds (mk/sanitize.mk): no libfi.so */
    ref_skip_once("options: SONAME and file name of libfi.so",
                  "the library is compiled into this test binary");
#else
    Dl_info info;
    ck_assert_msg(dladdr((void *)fi_version_number, &info) && info.dli_fname,
                  "dladdr cannot name the library that defines fi_version_number");
    char want[64], real[PATH_MAX];
    const char *base = strrchr(info.dli_fname, '/') ? strrchr(info.dli_fname, '/') + 1
                                                    : info.dli_fname;
    snprintf(want, sizeof want, "libfi.so.%d", FI_VERSION_MAJOR);
    ck_assert_msg(strcmp(base, want) == 0, "loaded as %s, expected the SONAME %s",
                  info.dli_fname, want);
    ck_assert_msg(realpath(info.dli_fname, real) != NULL, "realpath(%s) failed", info.dli_fname);
    snprintf(want, sizeof want, "libfi.so.%s", FI_VERSION_STRING);
    const char *file = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
    ck_assert_msg(strcmp(file, want) == 0, "SONAME links to %s, expected %s", real, want);
#endif
    ck_assert_uint_eq(fi_version_number(), FI_VERSION_NUMBER);
    ck_assert_str_eq(fi_version_string(), FI_VERSION_STRING);
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", FI_VERSION_MAJOR, FI_VERSION_MINOR, FI_VERSION_PATCH);
    ck_assert_str_eq(fi_version_string(), buf);
}
END_TEST

START_TEST(test_dtype_sizes)
{
    ck_assert_uint_eq(fi_dtype_size(FI_F64), sizeof(double));
    ck_assert_uint_eq(fi_dtype_size(FI_F32), sizeof(float));
    ck_assert_uint_eq(fi_dtype_size(FI_BF16), 2);
    ck_assert_uint_eq(fi_dtype_size(FI_F16), 2);
    const int bad[] = {-1, 4, 100, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) ck_assert_uint_eq(fi_dtype_size(bad[i]), 0);
}
END_TEST

/* Defaults, refusals and constants through the plain get/set/constant calls. */
START_TEST(test_options_constants)
{
    double v;
    ck_assert_int_eq(fi_context_get(ctx, FI_OPT_THREADS, &v), FI_OK);
    ck_assert_double_eq(v, 1);
    ck_assert_int_eq(fi_context_get(ctx, FI_OPT_PROB_TOL, &v), FI_OK);
    ck_assert_double_eq(v, 1e-5);
    ck_assert_int_eq(fi_context_set(ctx, 99, 1), FI_ERR_OPTION);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_THREADS, 0), FI_ERR_OPTION);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_THREADS, 1.5), FI_ERR_OPTION);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_CLASS_MODE, 3), FI_ERR_OPTION);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_ATOL, -1), FI_ERR_OPTION);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_RCOND, NAN), FI_ERR_OPTION);
    ck_assert_int_eq(fi_context_set(ctx, FI_OPT_METHOD, FI_METHOD_REFERENCE), FI_OK);
    ck_assert_int_eq(fi_context_get(ctx, FI_OPT_METHOD, &v), FI_OK);
    ck_assert_double_eq(v, FI_METHOD_REFERENCE);
    ck_assert_int_eq(fi_context_get(ctx, 99, &v), FI_ERR_OPTION);
    int64_t c;
    ck_assert_int_eq(fi_constant("FI_OPT_RCOND", &c), FI_OK);
    ck_assert_int_eq(c, FI_OPT_RCOND);
    ck_assert_int_eq(fi_constant("FI_ERR_NAME", &c), FI_OK);
    ck_assert_int_eq(c, FI_ERR_NAME);
    ck_assert_int_eq(fi_constant("FI_SINGLE_PASS", &c), FI_OK);
    ck_assert_int_eq(c, FI_SINGLE_PASS);
    ck_assert_int_eq(fi_constant("FI_VERSION_NUMBER", &c), FI_OK);
    ck_assert_int_eq(c, FI_VERSION_NUMBER);
    ck_assert_int_eq(fi_constant("FI_NOPE", &c), FI_ERR_NAME);
    ck_assert_uint_eq(fi_version_number(), FI_VERSION_NUMBER);
    ck_assert_str_eq(fi_version_string(), FI_VERSION_STRING);
    ck_assert_uint_eq(fi_dtype_size(FI_BF16), 2);
    ck_assert_uint_eq(fi_dtype_size(7), 0);
    /* every status has its own text */
    for (int a = 0; a <= FI_ERR_NAME; a++)
        for (int b = a + 1; b <= FI_ERR_NAME; b++) ck_assert_str_ne(fi_strerror(a), fi_strerror(b));
}
END_TEST

static Suite *options_suite(void)
{
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("options");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_set_get_ranges);
    tcase_add_test(tc, test_unknown_options);
    tcase_add_test(tc, test_isa_named);
    tcase_add_test(tc, test_options_per_context);
    tcase_add_test(tc, test_options_take_effect);
    tcase_add_test(tc, test_strerror);
    tcase_add_test(tc, test_constants_by_name);
    tcase_add_test(tc, test_constants_complete);
    tcase_add_test(tc, test_version);
    tcase_add_test(tc, test_dtype_sizes);
    tcase_add_test(tc, test_options_constants);
    suite_add_tcase(s, tc);
    return s;
}
FI_REGISTER_SUITE(options_suite)
