/* One sample's class scores as the accuracy suite reads or makes them, and the coordinate
 * layout of the model they came from (tests/accuracy/real_scores.py writes both). */
#ifndef FI_ACC_RECORDS_H
#define FI_ACC_RECORDS_H

#include <stdint.h>

#include "fi.h"

typedef struct acc_record {
    int64_t K, n, label;
    double *probs;  /* K, as the model computed them */
    fi_dtype dtype; /* of scores and target */
    void *scores;   /* K rows of n values */
    void *target;   /* n values: the gradient of -log P_label */
} acc_record;

enum acc_kind { ACC_MATRIX, ACC_VECTOR, ACC_IMAGE };

typedef struct acc_segment {
    char name[64];
    int64_t offset;
    enum acc_kind kind;
    int64_t dims[3]; /* matrix: R C; vector: N; image: H W C */
} acc_segment;

typedef struct acc_layout {
    int count;
    acc_segment seg[32];
} acc_layout;

/* Reads a record written by real_scores.py (dtype FI_F64 or FI_F32). 0 on success. */
int acc_record_read(const char *path, fi_dtype dtype, acc_record *r);
/* Reads a .layout file. 0 on success. */
int acc_layout_read(const char *path, acc_layout *l);
/* A copy of r's scores and target rounded to nearest (ties to even) in dtype; r is FI_F64. */
int acc_record_round(const acc_record *r, fi_dtype dtype, acc_record *out);
void acc_record_free(acc_record *r);

#endif
