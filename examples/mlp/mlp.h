/* A 64-32-10 ReLU MLP with softmax output, all parameters in one flat vector theta:
 *   W1 [H][IN] | b1 [H] | W2 [OUT][H] | b2 [OUT]   (row-major, H = 32)
 * so that "a coordinate of omega" is simply an index into theta. */
#ifndef MLP_MODEL_H
#define MLP_MODEL_H

#define MLP_IN 64
#define MLP_H 32
#define MLP_OUT 10
#define MLP_W1 0
#define MLP_B1 (MLP_W1 + MLP_H * MLP_IN)
#define MLP_W2 (MLP_B1 + MLP_H)
#define MLP_B2 (MLP_W2 + MLP_OUT * MLP_H)
#define MLP_NPARAM (MLP_B2 + MLP_OUT)

typedef struct mlp_cache {
    double x[MLP_IN];
    double pre[MLP_H];   /* W1 x + b1 */
    double h[MLP_H];     /* relu(pre) */
    double logit[MLP_OUT];
    double prob[MLP_OUT];
} mlp_cache;

void mlp_init(double *theta, unsigned long long seed);
/* Forward pass of one image; fills the cache, returns the predicted class. */
int mlp_forward(const double *theta, const double *x, mlp_cache *c);
/* Backward pass from dlogit [OUT]: accumulates d/dtheta into dtheta (may be NULL) and writes
 * d/dx into dx (may be NULL). */
void mlp_backward(const double *theta, const mlp_cache *c, const double *dlogit, double *dtheta,
                  double *dx);
/* Class scores s_i = d log P_i / d omega for all K = 10 classes:
 * rows of n = MLP_NPARAM (parameters) into sp, rows of MLP_IN (pixels) into sx; either NULL. */
void mlp_scores(const double *theta, const mlp_cache *c, double *sp, double *sx);
/* One epoch of minibatch SGD with momentum on cross-entropy. */
void mlp_train_epoch(double *theta, double *velocity, const double (*x)[MLP_IN], const int *y,
                     int count, double lr, unsigned long long *seed);
/* Accuracy on a set. */
double mlp_accuracy(const double *theta, const double (*x)[MLP_IN], const int *y, int count);

#endif
