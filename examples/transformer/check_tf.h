/* Shared by the files of check_transformer: the check recorder and the tests of
 * check_tf_claims.c. */
#ifndef CHECK_TF_H
#define CHECK_TF_H

#include "tf_fi.h"

/* Records one check (ok or not) and prints its line. */
void check(int ok, const char *fmt, ...);

/* SPEC fact 7 per token substitution; the largest (g.d)^2 / (FI_b S^2) into *worst. */
int substitution_cauchy_schwarz(fi_context *ctx, const tf_model *m, const tf_scores *s,
                                const int *tokens, const double *fi, double *worst);

/* The asserted sparsification claims (tf_runs.c) on training seed 0, whose trained model m
 * is. A libfi status. */
int sparsification_claims(fi_context *ctx, tf_model *m, tf_scores *s);

#endif
