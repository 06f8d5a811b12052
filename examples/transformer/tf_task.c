/* The synthetic multiple-choice task (see tf_task.h). */
#include "tf_task.h"

static const int chain_pos[TF_STEPS + 1] = {-1, -1, 7, 0, 3, 6};

int tf_task_chain_position(int step)
{
    return step >= 2 && step <= TF_STEPS ? chain_pos[step] : -1;
}

int tf_task_answer(const int *symbols, int step, int prev_class)
{
    if (step == 1)
        return 2 * (symbols[TF_PLANTED_1] >= TF_NSYM / 2) + (symbols[TF_PLANTED_2] >= TF_NSYM / 2);
    return 2 * (symbols[chain_pos[step]] >= TF_NSYM / 2) + (prev_class >= TF_K / 2);
}

void tf_task_sample(tf_rng *rng, double noise, int *tokens, int *targets)
{
    for (int i = 0; i < TF_SEQ_LEN; i++) targets[i] = -1;
    for (int i = 0; i < TF_PROMPT_LEN - 1; i++) tokens[i] = tf_rng_int(rng, TF_NSYM);
    tokens[TF_PROMPT_LEN - 1] = TF_TOK_QUERY;
    int cls = -1;
    for (int step = 1; step <= TF_STEPS; step++) {
        cls = tf_task_answer(tokens, step, cls);
        if (noise > 0 && tf_rng_uniform(rng) < noise) cls = tf_rng_int(rng, TF_K);
        const int pos = TF_PROMPT_LEN - 2 + step; /* position whose next token is answer step */
        targets[pos] = TF_TOK_A + cls;
        if (pos + 1 < TF_SEQ_LEN) tokens[pos + 1] = TF_TOK_A + cls;
    }
}

const char *tf_token_name(int token)
{
    static const char *const names[TF_VOCAB] = {"a", "b", "c", "d", "e", "f", "g",
                                                "h", "A", "B", "C", "D", "?"};
    return token >= 0 && token < TF_VOCAB ? names[token] : "#";
}
