/* The reference model: a 64-32-10 ReLU MLP with a softmax output. All parameters live in one
 * flat vector theta, so that "a coordinate of omega" is simply an index into theta:
 *
 *   W1 [H][IN] | b1 [H] | W2 [OUT][H] | b2 [OUT]      (row-major, IN = 64, H = 32, OUT = 10)
 *
 * A row of W1 is a hidden unit's "output channel" (its 64 input weights), a column of W1 an
 * "input channel" (the 32 weights that read one pixel). */
#ifndef MLP_MODEL_H
#define MLP_MODEL_H

#define MLP_IN 64
#define MLP_H 32
#define MLP_OUT 10
#define MLP_W1 0
#define MLP_B1 (MLP_W1 + MLP_H * MLP_IN)
#define MLP_W2 (MLP_B1 + MLP_H)
#define MLP_B2 (MLP_W2 + MLP_OUT * MLP_H)
#define MLP_NPARAM (MLP_B2 + MLP_OUT) /* 2410 */

/* Everything the backward pass needs from the forward pass of one image. */
typedef struct mlp_cache {
    double x[MLP_IN];      /* the input pixels                */
    double pre[MLP_H];     /* W1 x + b1                       */
    double h[MLP_H];       /* relu(pre)                       */
    double logit[MLP_OUT]; /* W2 h + b2                       */
    double prob[MLP_OUT];  /* softmax(logit)                  */
} mlp_cache;

/* He-style Gaussian weights (deterministic in seed), zero biases. */
void mlp_init(double *theta, unsigned long long seed);

/* Forward pass of one image x [IN]; fills the cache and returns the predicted class. */
int mlp_forward(const double *theta, const double *x, mlp_cache *c);

/* Backward pass from dlogit [OUT] (the gradient of some scalar with respect to the logits):
 * ADDS d/dtheta into dtheta [NPARAM] and WRITES d/dx into dx [IN]; either may be NULL. */
void mlp_backward(const double *theta, const mlp_cache *c, const double *dlogit, double *dtheta,
                  double *dx);

/* The K = 10 class scores s_i = d log P_i / d omega, one backward pass per class, re-centred
 * so that sum_i P_i s_i = 0 holds in floating point too (see mlp.c):
 * sp [OUT][NPARAM] for omega = the parameters, sx [OUT][IN] for omega = the pixels.
 * Either may be NULL. */
void mlp_scores(const double *theta, const mlp_cache *c, double *sp, double *sx);

/* Cross-entropy -log P_y of one image; ADDS its gradient into dtheta [NPARAM] when not NULL. */
double mlp_loss(const double *theta, const double *x, int y, double *dtheta);

#endif
