/* The accuracy suite's own model, for machines without PyTorch: a ReLU MLP on a 6x6 RGB image
 * (108-24-16-5) with exact float64 backward passes, so that its class scores carry the
 * structure of real gradients (rank-1 weight rows, ReLU zeros, dead units, softmax-centred
 * classes). */
#ifndef FI_ACC_C_MLP_H
#define FI_ACC_C_MLP_H

#include "records.h"

#define ACC_MLP_NAME "C MLP 432-24-16-5"

/* Layout of the model's coordinates (weights and biases of each layer, then the input). */
void acc_mlp_layout(acc_layout *l);
/* Scores of sample j (FI_F64 record) of the model seeded with seed. 0 on success. */
int acc_mlp_record(uint64_t seed, int j, acc_record *r);

#endif
