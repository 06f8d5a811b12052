/* Test registry: every tests/check_*.c registers its suites with FI_REGISTER_SUITE, and
 * tests/check_main.c runs them all. No central list to edit when an area adds a suite. */
#ifndef FI_TEST_SUITES_H
#define FI_TEST_SUITES_H

#include <check.h>

typedef Suite *(*fi_suite_fn)(void);
void fi_register_suite(fi_suite_fn fn);

#define FI_REGISTER_SUITE(fn)                                                             \
    static void fi_register_##fn(void) __attribute__((constructor));                      \
    static void fi_register_##fn(void) { fi_register_suite(fn); }

#endif
