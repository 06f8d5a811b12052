/*
 * The synthetic workload shared by the MPI examples: a fixed two-layer classifier and a
 * deterministic data set that any process can regenerate from (seed, sample index) alone.
 *
 *     h = tanh(V x)        V: width x width, row-major
 *     z = W h              W: K x width, row-major
 *     P = softmax(z)
 *
 * The perturbation coordinates are all weights, theta = [V, W] (n = (width + K) * width),
 * and the blocks are the rows of V and W: the fan-in of one neuron, each of width
 * coordinates, so one affine layout {width + K, width, 1, width} covers them. The class
 * scores s_i = d log P_i / d theta are written out by hand (no autodiff), and so is an
 * independent closed form of every block's FI (see model_oracle), which the examples use to
 * check libfi's numbers and not only that the distributed result equals the local one.
 */
#ifndef FIMPI_MODEL_H
#define FIMPI_MODEL_H

#include <stdint.h>

typedef struct model {
    int64_t width;   /* input = hidden size */
    int64_t classes; /* K */
    uint64_t seed;
    double noise;    /* std of the input noise around the class mean */
    double *V;       /* width x width */
    double *W;       /* K x width */
    double *mu;      /* K x width class means of the inputs */
} model;

/* One sample after the forward pass. Buffers are owned by the caller (model_sample_alloc). */
typedef struct model_sample {
    int64_t label;      /* the class the input was drawn from */
    int64_t predicted;  /* argmax P: the paper's objective f = -log P_pred, class target */
    double *x;          /* width  */
    double *h;          /* width  */
    double *P;          /* K      */
    double *wbar;       /* width: sum_l P_l W[l][m], shared by the scores of row m of V */
} model_sample;

/* Builds the model for (width, classes, seed). Returns 0, or -1 if out of memory. */
int model_init(model *m, int64_t width, int64_t classes, uint64_t seed);
void model_free(model *m);

/* Number of perturbation coordinates n and of row blocks. */
int64_t model_coords(const model *m);
int64_t model_blocks(const model *m);

int model_sample_alloc(const model *m, model_sample *s);
void model_sample_free(model_sample *s);

/* Regenerates sample `index` (a pure function of m->seed and index) and runs the forward
 * pass, so ranks need not exchange any data. */
void model_draw(const model *m, int64_t index, model_sample *s);

/* Class scores for coordinates [first, first + len): row i of the K rows starts at
 * out + i*ld (ld >= len). A rank that owns a shard of the parameters fills only its shard. */
void model_scores(const model *m, const model_sample *s, int64_t first, int64_t len,
                  double *out, int64_t ld);

/* Closed-form FI of blocks [first, first + len) for the class target k into out[0..len).
 * Every row block has rank 1 (its K scores are multiples of the same input vector), so
 * FI_b = c_k^2 / sum_i P_i c_i^2 with c_i the scalar multiple; for row j of W this is
 * (delta_kj - P_j)^2 / (P_j (1 - P_j)). */
void model_oracle(const model *m, const model_sample *s, int64_t k, int64_t first, int64_t len,
                  double *out);

#endif
