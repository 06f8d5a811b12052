/* The experiments' tables in Markdown, mean +- standard deviation over the training seeds
 * (and, for a drawn baseline, over seeds x draws). `make experiments` writes them to
 * docs/tables/, the demo prints them for its one seed. */
#ifndef MLP_TABLES_H
#define MLP_TABLES_H

#include <stdio.h>

#include "runs.h"

void table_model(FILE *f, const seed_result *r, int n);
void table_zeroing(FILE *f, const seed_result *r, int n);
void table_quantization(FILE *f, const seed_result *r, int n);
void table_masking(FILE *f, const seed_result *r, int n);
void table_patches(FILE *f, const seed_result *r, int n);
void table_claims(FILE *f, const seed_result *r, int n);

#endif
