/* Training loop and evaluation of the tiny transformer. */
#include "tf_train.h"
#include "tf_task.h"

#include <math.h>
#include <stdlib.h>

tf_config tf_demo_config(void)
{
    tf_config c = {.vocab = TF_VOCAB, .max_t = TF_SEQ_LEN, .channels = 24, .heads = 4, .layers = 2};
    return c;
}

tf_train_opts tf_demo_train_opts(void)
{
    tf_train_opts o = {.steps = 600,
                       .batch = 16,
                       .lr = 1e-2,
                       .weight_decay = 0.0,
                       .label_noise = 0.1,
                       .seed = 20240601u};
    return o;
}

double tf_train(tf_model *m, const tf_train_opts *o, FILE *log, int log_every)
{
    const int B = o->batch, T = TF_SEQ_LEN, V = m->cfg.vocab;
    int *tokens = malloc(sizeof(int) * (size_t)B * T),
        *targets = malloc(sizeof(int) * (size_t)B * T);
    double *dlogits = malloc(sizeof(double) * (size_t)B * T * V);
    double tail = 0;
    int tail_n = 0;
    if (!tokens || !targets || !dlogits) goto done;
    tf_rng rng;
    tf_rng_seed(&rng, o->seed);
    for (int step = 0; step < o->steps; step++) {
        for (int b = 0; b < B; b++)
            tf_task_sample(&rng, o->label_noise, tokens + b * T, targets + b * T);
        tf_forward(m, tokens, B, T);
        const double loss = tf_cross_entropy(m, targets, dlogits);
        tf_backward(m, dlogits, NULL);
        /* cosine decay from lr to lr/10 */
        const double frac = (double)step / (double)(o->steps > 1 ? o->steps - 1 : 1);
        const double lr = o->lr * (0.1 + 0.45 * (1.0 + cos(3.141592653589793 * frac)));
        tf_adam_step(m, lr, 0.9, 0.99, 1e-8, o->weight_decay);
        if (step >= o->steps - 50) {
            tail += loss;
            tail_n++;
        }
        if (log && log_every > 0 && (step % log_every == 0 || step == o->steps - 1))
            fprintf(log, "  step %5d  loss %.4f\n", step, loss);
    }
done:
    free(tokens);
    free(targets);
    free(dlogits);
    return tail_n ? tail / tail_n : NAN;
}

int tf_predicted_option(const tf_model *m, int b, int pos)
{
    const double *p = m->acts.probs + ((size_t)b * m->t + pos) * m->cfg.vocab + TF_TOK_A;
    int best = 0;
    for (int k = 1; k < TF_K; k++)
        if (p[k] > p[best]) best = k;
    return best;
}

void tf_evaluate(tf_model *m, uint64_t seed, int count, double *acc_first, double *acc_steps)
{
    int tokens[TF_SEQ_LEN], targets[TF_SEQ_LEN];
    int hit_first = 0, hit_steps[TF_STEPS] = {0};
    tf_rng rng;
    tf_rng_seed(&rng, seed);
    for (int i = 0; i < count; i++) {
        tf_task_sample(&rng, 0.0, tokens, targets);
        tf_forward(m, tokens, 1, TF_PROMPT_LEN); /* the question alone */
        hit_first +=
            TF_TOK_A + tf_predicted_option(m, 0, TF_PROMPT_LEN - 1) == targets[TF_PROMPT_LEN - 1];
        tf_forward(m, tokens, 1, TF_SEQ_LEN); /* the whole chain, teacher-forced */
        for (int s = 0; s < TF_STEPS; s++) {
            const int pos = TF_PROMPT_LEN - 1 + s;
            hit_steps[s] += TF_TOK_A + tf_predicted_option(m, 0, pos) == targets[pos];
        }
    }
    if (acc_first) *acc_first = (double)hit_first / count;
    if (acc_steps)
        for (int s = 0; s < TF_STEPS; s++) acc_steps[s] = (double)hit_steps[s] / count;
}
