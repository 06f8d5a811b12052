/* Training and evaluation of the tiny transformer on the task of tf_task.h. */
#ifndef TF_TRAIN_H
#define TF_TRAIN_H

#include "tf_model.h"

#include <stdint.h>
#include <stdio.h>

typedef struct tf_train_opts {
    int steps; /* AdamW steps                                 */
    int batch; /* sequences per step                          */
    double lr; /* peak learning rate (cosine decay to lr/10)  */
    double weight_decay;
    double label_noise; /* probability that a training answer is a random option */
    uint64_t seed;      /* data stream seed                            */
} tf_train_opts;

/* The demo's model shape: V = 13, maxT = 13, C = 24, 4 heads, 2 layers. */
tf_config tf_demo_config(void);
/* The demo's training schedule (deterministic). */
tf_train_opts tf_demo_train_opts(void);

/* Trains m (created with max_b >= o->batch) on fresh sequences; prints the loss every
 * `log_every` steps to log when log is not NULL. Returns the mean loss of the last 50 steps. */
double tf_train(tf_model *m, const tf_train_opts *o, FILE *log, int log_every);

/* The class (0..3) among the options "A".."D" with the largest probability at position pos
 * of sequence b of the last forward pass. */
int tf_predicted_option(const tf_model *m, int b, int pos);

/* Accuracy on `count` fresh sequences drawn from seed: answer 1 (argmax over the 4 options,
 * from the prompt alone) into *acc_first, and each teacher-forced answer of the chain into
 * acc_steps[0..TF_STEPS) (may be NULL). */
void tf_evaluate(tf_model *m, uint64_t seed, int count, double *acc_first, double *acc_steps);

#endif
