/* Class scores d log P_i / d omega for the 4 options, by one backward pass per option. */
#include "tf_probe.h"

#include <stdlib.h>
#include <string.h>

int tf_scores_alloc(tf_scores *s, const tf_model *m)
{
    memset(s, 0, sizeof *s);
    s->n_param = m->lay.total;
    const size_t max_input = (size_t)m->cfg.max_t * m->cfg.channels;
    s->param = malloc(sizeof(double) * TF_K * s->n_param);
    s->input = malloc(sizeof(double) * TF_K * max_input);
    s->dlogits = calloc((size_t)m->cfg.max_t * m->cfg.vocab, sizeof(double));
    if (!s->param || !s->input || !s->dlogits) {
        tf_scores_free(s);
        return -1;
    }
    return 0;
}

void tf_scores_free(tf_scores *s)
{
    free(s->param);
    free(s->input);
    free(s->dlogits);
    memset(s, 0, sizeof *s);
}

void tf_class_scores(tf_model *m, const int *tokens, int t, int pos, tf_scores *s)
{
    const int V = m->cfg.vocab;
    tf_forward(m, tokens, 1, t);
    s->t = t;
    s->pos = pos;
    s->n_input = (size_t)t * m->cfg.channels;
    const double *p = m->acts.probs + (size_t)pos * V;
    s->predicted = 0;
    for (int i = 0; i < TF_K; i++) {
        s->probs[i] = p[TF_TOK_A + i];
        if (s->probs[i] > s->probs[s->predicted]) s->predicted = i;
    }
    double *dlogits = s->dlogits;
    memset(dlogits, 0, (size_t)t * V * sizeof *dlogits);
    memset(m->grads, 0, m->lay.total * sizeof *m->grads);
    for (int i = 0; i < TF_K; i++) {
        /* d log softmax(z)_y / dz = onehot(y) - p, at the scored position only */
        double *dz = dlogits + (size_t)pos * V;
        for (int v = 0; v < V; v++) dz[v] = (v == TF_TOK_A + i) - p[v];
        tf_backward(m, dlogits, s->input + (size_t)i * s->n_input);
        memcpy(s->param + (size_t)i * s->n_param, m->grads, s->n_param * sizeof *m->grads);
        memset(m->grads, 0, m->lay.total * sizeof *m->grads);
    }
}
