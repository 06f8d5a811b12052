/* Master runner: all registered suites in one SRunner; exit status is the verdict. */
#include <stdio.h>
#include <stdlib.h>

#include "suites.h"

#define MAX_SUITES 64
static fi_suite_fn suites[MAX_SUITES];
static int n_suites;

void fi_register_suite(fi_suite_fn fn)
{
    if (n_suites < MAX_SUITES) suites[n_suites++] = fn;
}

int main(void)
{
    if (n_suites == 0) {
        fprintf(stderr, "no test suites registered\n");
        return EXIT_FAILURE;
    }
    SRunner *sr = srunner_create(suites[0]());
    for (int i = 1; i < n_suites; i++) srunner_add_suite(sr, suites[i]());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
