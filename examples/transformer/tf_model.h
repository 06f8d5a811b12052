/*
 * A tiny decoder-only transformer (GPT-2 layout, pre-LN) in plain C, double precision.
 *
 * tokens -> token + position embedding -> NL x [ LN -> causal multi-head attention -> + ,
 *           LN -> MLP (GELU) -> + ] -> final LN -> LM head (V logits) -> softmax.
 *
 * Every kernel is a forward/backward pair with its shapes in a comment. The backward pass
 * takes any dlogits, so the same code gives the training gradient and the per-class score
 * gradients d log P_i / d theta that FI needs, for every parameter and for the input
 * embeddings (the encoder output, one C-vector per token position).
 */
#ifndef TF_MODEL_H
#define TF_MODEL_H

#include <stddef.h>
#include <stdint.h>

typedef struct tf_config {
    int vocab;    /* V */
    int max_t;    /* maxT, longest sequence */
    int channels; /* C */
    int heads;    /* NH, C % NH == 0 */
    int layers;   /* NL */
} tf_config;

/* Parameter tensors, in the order they sit in the flat parameter array. */
enum {
    TF_WTE,      /* (V, C)          token embedding        */
    TF_WPE,      /* (maxT, C)       position embedding     */
    TF_LN1W,     /* (NL, C)                                */
    TF_LN1B,     /* (NL, C)                                */
    TF_QKVW,     /* (NL, 3C, C)     rows: q | k | v        */
    TF_QKVB,     /* (NL, 3C)                               */
    TF_ATTPROJW, /* (NL, C, C)      W_o                    */
    TF_ATTPROJB, /* (NL, C)                                */
    TF_LN2W,     /* (NL, C)                                */
    TF_LN2B,     /* (NL, C)                                */
    TF_FCW,      /* (NL, 4C, C)                            */
    TF_FCB,      /* (NL, 4C)                               */
    TF_FCPROJW,  /* (NL, C, 4C)                            */
    TF_FCPROJB,  /* (NL, C)                                */
    TF_LNFW,     /* (C)                                    */
    TF_LNFB,     /* (C)                                    */
    TF_HEADW,    /* (V, C)          LM head (not tied)     */
    TF_NTENSORS
};

/* Sizes (elements) and offsets of the tensors inside one flat array. */
typedef struct tf_layout {
    size_t size[TF_NTENSORS];
    size_t offset[TF_NTENSORS];
    size_t total;
} tf_layout;

/* Forward activations of B sequences of T tokens, kept for the backward pass. */
typedef struct tf_acts {
    double *encoded;   /* (B, T, C)        */
    double *ln1;       /* (NL, B, T, C)    */
    double *ln1_mean;  /* (NL, B, T)       */
    double *ln1_rstd;  /* (NL, B, T)       */
    double *qkv;       /* (NL, B, T, 3C)   */
    double *att;       /* (NL, B, NH, T, T) softmax weights, 0 above the diagonal */
    double *atty;      /* (NL, B, T, C)    */
    double *attproj;   /* (NL, B, T, C)    */
    double *residual2; /* (NL, B, T, C)    */
    double *ln2;       /* (NL, B, T, C)    */
    double *ln2_mean;  /* (NL, B, T)       */
    double *ln2_rstd;  /* (NL, B, T)       */
    double *fch;       /* (NL, B, T, 4C)   */
    double *fch_gelu;  /* (NL, B, T, 4C)   */
    double *fcproj;    /* (NL, B, T, C)    */
    double *residual3; /* (NL, B, T, C)    */
    double *lnf;       /* (B, T, C)        */
    double *lnf_mean;  /* (B, T)           */
    double *lnf_rstd;  /* (B, T)           */
    double *logits;    /* (B, T, V)        */
    double *probs;     /* (B, T, V)        */
} tf_acts;

typedef struct tf_model {
    tf_config cfg;
    tf_layout lay;
    double *params; /* lay.total */
    double *grads;  /* lay.total, written by tf_backward (accumulated) */
    double *adam_m; /* lay.total */
    double *adam_v; /* lay.total */
    int adam_t;
    int max_b;         /* activations are sized for max_b x max_t */
    int b, t;          /* shape of the last forward pass */
    const int *tokens; /* tokens of the last forward pass (borrowed) */
    tf_acts acts;
    tf_acts dacts;    /* scratch of the same shapes for the backward pass */
    double *dscratch; /* (T) scratch for the attention backward */
} tf_model;

/* Allocates a model for batches of up to max_b sequences; parameters initialized from seed
 * (normal, std init_std; projections into the residual stream scaled by 1/sqrt(2 NL); LN
 * weights 1, biases 0). Returns 0, or -1 when out of memory or cfg is invalid. */
int tf_model_create(tf_model *m, const tf_config *cfg, int max_b, double init_std, uint64_t seed);
void tf_model_free(tf_model *m);

/* Pointer to tensor `which` of layer `layer` (layer 0 for unlayered tensors) inside a flat
 * array laid out like the parameters (params, grads, or a score row). */
double *tf_tensor(const tf_model *m, double *flat, int which, int layer);
/* Elements of one layer's slice of a tensor (the whole tensor when it has no layers). */
size_t tf_tensor_layer_size(const tf_model *m, int which);
/* Whether tensor `which` is stacked over layers. */
int tf_tensor_layered(int which);
/* Short name of a tensor ("wte", "qkvw", ...). */
const char *tf_tensor_name(int which);

/* Forward pass over tokens (B, T): fills acts up to probs. T <= max_t, B <= max_b. */
void tf_forward(tf_model *m, const int *tokens, int b, int t);
/* The forward pass from acts.encoded (already filled, e.g. perturbed) onwards. */
void tf_forward_from_encoded(tf_model *m);
/* Backward pass of the last forward for the given dlogits (B, T, V): ADDS d/d theta to
 * m->grads, and writes d/d encoded (B, T, C) into d_encoded when it is not NULL. */
void tf_backward(tf_model *m, const double *dlogits, double *d_encoded);

/* Training loss of the last forward: mean over the positions with target >= 0 of
 * -log probs[target]; fills dloss_dlogits (B, T, V) with its gradient. */
double tf_cross_entropy(const tf_model *m, const int *targets, double *dloss_dlogits);

/* One AdamW step on m->grads (bias-corrected, no weight decay on vectors), then zeroes
 * the gradients. */
void tf_adam_step(tf_model *m, double lr, double beta1, double beta2, double eps,
                  double weight_decay);

#endif
