/*
 * Class scores of the tiny transformer for FI.
 *
 * At the answer position the model gives a probability over the whole vocabulary; the
 * classes of the question are the K = 4 option tokens "A".."D", a subset of it. For each
 * option i this computes s_i = d log P_vocab(option i) / d omega for
 *   (a) every parameter (omega = the flat parameter array, n = m->lay.total), and
 *   (b) the input embeddings (omega = the encoder output, T x C, one C-vector per token).
 * The raw vocabulary probabilities of the 4 options do not sum to 1: libfi's class mode
 * (FI_CLASS_RENORMALIZE or FI_CLASS_REMAINDER, SPEC fact 6) turns them into a proper
 * K-class problem; the scores are passed raw.
 */
#ifndef TF_PROBE_H
#define TF_PROBE_H

#include "tf_model.h"
#include "tf_task.h"

typedef struct tf_scores {
    int t;              /* tokens in the context                                   */
    int pos;            /* position whose next-token distribution is scored        */
    double probs[TF_K]; /* raw vocabulary probabilities of "A".."D" at pos          */
    int predicted;      /* argmax of probs (the paper's y_pred)                     */
    size_t n_param;     /* m->lay.total                                             */
    size_t n_input;     /* t * C                                                    */
    double *param;      /* TF_K rows of n_param: d log P_i / d theta               */
    double *input;      /* TF_K rows of n_input: d log P_i / d encoded (pos-major) */
    double *dlogits;    /* scratch, max_t x V                                       */
} tf_scores;

/* Allocates the score rows for contexts of up to m->cfg.max_t tokens. 0, or -1 (memory). */
int tf_scores_alloc(tf_scores *s, const tf_model *m);
void tf_scores_free(tf_scores *s);

/* Forward pass over tokens[0..t) (one sequence) and one backward pass per option for the
 * distribution at position pos (< t). Leaves m->grads zeroed. */
void tf_class_scores(tf_model *m, const int *tokens, int t, int pos, tf_scores *s);

#endif
