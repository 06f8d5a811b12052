/*
 * The synthetic multiple-choice task.
 *
 * Vocabulary (V = 13): symbols "a".."h" (tokens 0..7, value = index), options "A".."D"
 * (tokens 8..11, class 0..3) and the query mark "?" (token 12).
 *
 * A sequence is 8 random symbols x0..x7, then "?", then a chain of 5 answers:
 *
 *     answer 1 = 2*[x2 high] + [x5 high]                      the multiple-choice question
 *     answer l = 2*[x[Q_l] high] + [answer l-1 is C or D], l = 2..5, Q = (7, 0, 3, 6)
 *
 * (a symbol is "high" when it is e..h, value >= 4; tf_task_answer)
 *
 * so answer 1 hinges on positions 2 and 5 only (the planted ground truth for FI per
 * position), and every later answer on the previous answer token and one more symbol:
 * a continuation the model generates token by token.
 *
 *     position  0  1  2  3  4  5  6  7  8  9  10 11 12 | 13
 *     input     x0 x1 x2 x3 x4 x5 x6 x7 ?  a1 a2 a3 a4 |
 *     target                            a1 a2 a3 a4 a5
 */
#ifndef TF_TASK_H
#define TF_TASK_H

#include "tf_rng.h"

#define TF_NSYM 8
#define TF_TOK_A 8 /* "A"; "B","C","D" follow */
#define TF_TOK_QUERY 12
#define TF_VOCAB 13
#define TF_K 4                                    /* options per answer */
#define TF_PROMPT_LEN 9                           /* x0..x7 and "?" */
#define TF_STEPS 5                                /* answers in the chain */
#define TF_SEQ_LEN (TF_PROMPT_LEN + TF_STEPS - 1) /* inputs seen while answering all 5 */
#define TF_PLANTED_1 2
#define TF_PLANTED_2 5

/* Symbol position that answer `step` (1-based, >= 2) adds to the previous answer. */
int tf_task_chain_position(int step);
/* Correct class (0..3) of answer `step` given the symbols x[0..8) and the previous answer's
 * class (ignored for step 1). */
int tf_task_answer(const int *symbols, int step, int prev_class);
/* Draws one sequence: tokens[0..TF_SEQ_LEN) (teacher-forced: the answers as inputs) and
 * targets[0..TF_SEQ_LEN) (the next token at positions 8..12, -1 elsewhere). With
 * probability `noise` an answer is replaced by a uniformly drawn option (label noise); the
 * next answer follows the rule from the answer actually written. */
void tf_task_sample(tf_rng *rng, double noise, int *tokens, int *targets);
/* Printable name of a token ("a".."h", "A".."D", "?"). */
const char *tf_token_name(int token);

#endif
