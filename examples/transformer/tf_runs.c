/* One training seed through the sparsification experiments; claims and tables. */
#include "tf_runs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tf_train.h"

const double tf_zero_fractions[TF_ZERO_FRACTIONS] = {0.01, 0.02, 0.03, 0.05, 0.10};
const double tf_gen_fractions[TF_GEN_FRACTIONS] = {0.01, 0.02, 0.05, 0.10};

/* count clean prompts drawn from seed, and their answer-1 classes. */
static void draw_prompts(uint64_t seed, int count, int *prompts, int *answers)
{
    tf_rng rng;
    tf_rng_seed(&rng, seed);
    for (int z = 0; z < count; z++) {
        int tok[TF_SEQ_LEN], tgt[TF_SEQ_LEN];
        tf_task_sample(&rng, 0.0, tok, tgt);
        memcpy(prompts + (size_t)z * TF_PROMPT_LEN, tok, sizeof(int) * TF_PROMPT_LEN);
        if (answers) answers[z] = tgt[TF_PROMPT_LEN - 1] - TF_TOK_A;
    }
}

void tf_run_prompts(int *crit, int *seq, int *eval, int *eval_answers)
{
    draw_prompts(4343, TF_CRIT_PROMPTS, crit, NULL);
    draw_prompts(4344, TF_SEQ_PROMPTS, seq, NULL);
    draw_prompts(4345, TF_EVAL_PROMPTS, eval, eval_answers);
}

/* The tensor of each parameter of the top 1% by every ranking criterion, counted. */
static int top_tensors(fi_context *ctx, const tf_model *m, const tf_param_criteria *crit,
                       tf_seed_result *out)
{
    const int64_t n = (int64_t)m->lay.total, k = fi_fraction_count(n, 0.01);
    int64_t *idx = malloc((size_t)k * sizeof *idx);
    int st = idx ? FI_OK : FI_ERR_NOMEM;
    for (int c = 0; c < TC_COUNT && st == FI_OK; c++) {
        if (!crit->v[c]) continue;
        st = fi_select_top(ctx, crit->v[c], n, k, idx);
        for (int64_t i = 0; i < k && st == FI_OK; i++) {
            int q = TF_NTENSORS - 1;
            while (q > 0 && (size_t)idx[i] < m->lay.offset[q]) q--;
            out->top_tensor[c][q]++;
        }
    }
    free(idx);
    return st;
}

int tf_run_seed(fi_context *ctx, unsigned t, tf_seed_result *out)
{
    const tf_config cfg = tf_demo_config();
    tf_train_opts o = tf_demo_train_opts();
    o.seed += t;
    tf_model m;
    tf_scores s;
    tf_param_criteria crit;
    memset(&s, 0, sizeof s);
    memset(&crit, 0, sizeof crit);
    memset(out, 0, sizeof *out);
    out->seed = t;
    static int crit_prompts[TF_CRIT_PROMPTS * TF_PROMPT_LEN];
    static int seq_prompts[TF_SEQ_PROMPTS * TF_PROMPT_LEN];
    static int eval_prompts[TF_EVAL_PROMPTS * TF_PROMPT_LEN], eval_answers[TF_EVAL_PROMPTS];
    tf_run_prompts(crit_prompts, seq_prompts, eval_prompts, eval_answers);
    if (tf_model_create(&m, &cfg, o.batch, 0.02, 1 + t)) return -1;
    double *fi_seq = malloc(m.lay.total * sizeof *fi_seq);
    int st = fi_seq && !tf_scores_alloc(&s, &m) && !tf_param_criteria_alloc(&crit, m.lay.total)
                 ? FI_OK
                 : FI_ERR_NOMEM;
    if (st == FI_OK) st = fi_context_set(ctx, FI_OPT_CLASS_MODE, FI_CLASS_RENORMALIZE);
    if (st == FI_OK) {
        out->loss = tf_train(&m, &o, NULL, 0);
        out->accuracy = tf_question_accuracy(&m, eval_prompts, eval_answers, TF_EVAL_PROMPTS);
        st = tf_question_criteria(ctx, &m, &s, crit_prompts, TF_CRIT_PROMPTS, &crit);
    }
    if (st == FI_OK) st = top_tensors(ctx, &m, &crit, out);
    if (st == FI_OK)
        st = tf_zeroing_experiment(ctx, &m, &crit, tf_zero_fractions, TF_ZERO_FRACTIONS,
                                   eval_prompts, eval_answers, TF_EVAL_PROMPTS, t,
                                   &out->zero[0][0]);
    if (st == FI_OK)
        st = tf_sequence_param_fi(ctx, &m, &s, seq_prompts, TF_SEQ_PROMPTS,
                                  TF_HORIZON, TF_SEQ_CONTINUATIONS, 31337 + t, fi_seq);
    if (st == FI_OK)
        st = tf_generation_experiment(ctx, &m, fi_seq, tf_gen_fractions, TF_GEN_FRACTIONS,
                                      eval_prompts, TF_EVAL_PROMPTS, TF_HORIZON, t,
                                      &out->rouge[0][0], &out->agree[0][0]);
    tf_param_criteria_free(&crit);
    tf_scores_free(&s);
    free(fi_seq);
    tf_model_free(&m);
    return st;
}

static const tf_cell *claim_cell(const tf_seed_result *r, int table, int f, int c)
{
    return table == TF_T_ZERO ? &r->zero[f][c] : table == TF_T_ROUGE ? &r->rouge[f][c]
                                                                    : &r->agree[f][c];
}

void tf_claim_difference(const tf_claim *c, const tf_seed_result *r, int n, double *mean,
                         double *sd, double *min)
{
    double sum = 0, sum2 = 0;
    *min = INFINITY;
    for (int s = 0; s < n; s++) {
        const double d = tf_cell_mean(claim_cell(&r[s], c->table, c->f_hi, c->c_hi)) -
                         tf_cell_mean(claim_cell(&r[s], c->table, c->f_lo, c->c_lo));
        *min = fmin(*min, d);
        sum += d;
        sum2 += d * d;
    }
    *mean = sum / n;
    *sd = n > 1 ? sqrt(fmax(0, (sum2 - n * *mean * *mean) / (n - 1))) : 0;
}

/* Zeroing at fraction index f (1,2,3,5,10%); generation at index g (1,2,5,10%). */
#define Z(f, c) TF_T_ZERO, f, c, f
#define R(g, c) TF_T_ROUGE, g, c, g
const tf_claim tf_claims[] = {
    /* the paper's direction: zeroing the top FI weights costs more than random ones */
    {"zeroing 10%: random costs less accuracy than FI", Z(4, TC_RANDOM), TC_FI, 0, 0},
    {"zeroing 10%: FI-Low costs less accuracy than FI", Z(4, TC_FI_LOW), TC_FI, 0, 0},
    {"zeroing 5%: random costs less accuracy than FI", Z(3, TC_RANDOM), TC_FI, 0, 0},
    {"zeroing 2%: random costs less accuracy than FI", Z(1, TC_RANDOM), TC_FI, 0, 0},
    /* the saliencies that see the edit's size */
    {"zeroing 1%: FI costs less than |w| (FI loses)", Z(0, TC_FI), TC_ABS_W, 0.5, 1},
    {"zeroing 2%: FI costs less than |g w| (FI loses)", Z(1, TC_FI), TC_TAYLOR, 0.5, 1},
    {"zeroing 10%: FI costs less than |w| (FI loses)", Z(4, TC_FI), TC_ABS_W, 0.3, 1},
    {"zeroing 10%: FI costs less than |g w| (FI loses)", Z(4, TC_FI), TC_TAYLOR, 0.3, 1},
    {"zeroing 10%: FI costs less than F w^2 (FI loses)", Z(4, TC_FI), TC_S2, 0.3, 1},
    {"zeroing 10%: FI costs less than the Fisher diagonal (FI loses)", Z(4, TC_FI), TC_FISHER, 0.3, 1},
    /* table 1: the paper finds FI-High sparsity hurts generations more than random */
    {"sequence FI 10%: random keeps more ROUGE-1 than FI", R(3, TC_RANDOM), TC_FI, 0, 0},
    {"sequence FI 10%: FI-Low keeps more ROUGE-1 than FI", R(3, TC_FI_LOW), TC_FI, 0, 0},
    {"sequence FI 10%: FI keeps more ROUGE-1 than random (FI loses)", R(3, TC_FI), TC_RANDOM, 0, 0},
    {"sequence FI 10%: FI keeps more ROUGE-1 than FI-Low (FI loses)", R(3, TC_FI), TC_FI_LOW, 0, 0},
    {"sequence FI 5%: FI keeps more ROUGE-1 than random (FI loses)", R(2, TC_FI), TC_RANDOM, 0, 0},
    {"sequence FI 10%: FI keeps more ROUGE-1 than |w| (FI loses)", R(3, TC_FI), TC_ABS_W, 0.5, 1},
};
const int tf_claim_count = (int)(sizeof tf_claims / sizeof tf_claims[0]);

/* ---------------------------------------------------------------- tables */

static void name_cell(FILE *f, const char *name)
{
    fprintf(f, " ");
    for (; *name; name++) fprintf(f, *name == '|' ? "\\|" : "%c", *name);
    fprintf(f, " |");
}

/* " mean ± sd |" over every value of the n cells (all draws); the bare value for one. */
static void spread_cell(FILE *f, const tf_cell *const *cells, int n)
{
    double sum = 0, sum2 = 0;
    int m = 0;
    for (int s = 0; s < n; s++)
        for (int r = 0; r < cells[s]->n; r++, m++) {
            sum += cells[s]->v[r];
            sum2 += cells[s]->v[r] * cells[s]->v[r];
        }
    if (!m) {
        fprintf(f, " |");
        return;
    }
    const double mean = sum / m, sd = m > 1 ? sqrt(fmax(0, (sum2 - m * mean * mean) / (m - 1))) : 0;
    if (m > 1) fprintf(f, " %.3f ± %.3f |", mean, sd);
    else fprintf(f, " %.3f |", mean);
}

static void seeds_line(FILE *f, const tf_seed_result *r, int n)
{
    double sum = 0, sum2 = 0;
    for (int s = 0; s < n; s++) {
        sum += r[s].accuracy;
        sum2 += r[s].accuracy * r[s].accuracy;
    }
    const double mean = sum / n, sd = n > 1 ? sqrt(fmax(0, (sum2 - n * mean * mean) / (n - 1))) : 0;
    fprintf(f, "Mean ± standard deviation over %d training seeds (0-%d); a drawn baseline's "
               "spread is over seeds × %d draws. Unperturbed answer-1 accuracy on the %d "
               "evaluation prompts: %.3f ± %.3f.\n\n", n, n - 1, TF_DRAWS, TF_EVAL_PROMPTS,
            mean, sd);
}

static void header(FILE *f, const char *first, const int *cols, int ncols)
{
    fprintf(f, "| %s |", first);
    for (int c = 0; c < ncols; c++) name_cell(f, tf_criterion_names[cols[c]]);
    fprintf(f, "\n|---|");
    for (int c = 0; c < ncols; c++) fprintf(f, "---|");
    fprintf(f, "\n");
}

void tf_table_zeroing(FILE *f, const tf_seed_result *r, int n)
{
    const int cols[] = {TC_FI, TC_FI_LOW, TC_RANDOM, TC_ABS_W, TC_TAYLOR, TC_FISHER, TC_S2};
    const tf_cell *cells[TF_SEEDS];
    seeds_line(f, r, n);
    header(f, "zeroed", cols, TC_COUNT);
    for (int z = 0; z < TF_ZERO_FRACTIONS; z++) {
        fprintf(f, "| %.0f%% |", 100 * tf_zero_fractions[z]);
        for (int c = 0; c < TC_COUNT; c++) {
            for (int s = 0; s < n; s++) cells[s] = &r[s].zero[z][cols[c]];
            spread_cell(f, cells, n);
        }
        fprintf(f, "\n");
    }
}

void tf_table_generation(FILE *f, const tf_seed_result *r, int n)
{
    const int cols[] = {TC_FI, TC_FI_LOW, TC_RANDOM, TC_ABS_W};
    const tf_cell *cells[TF_SEEDS];
    seeds_line(f, r, n);
    for (int which = 0; which < 2; which++) {
        fprintf(f, "%s of the %d-token greedy answer chains against the unperturbed model's:\n\n",
                which ? "Position-wise token agreement" : "ROUGE-1 (unigram F1)", TF_HORIZON);
        header(f, "zeroed", cols, 4);
        for (int g = 0; g < TF_GEN_FRACTIONS; g++) {
            fprintf(f, "| %.0f%% |", 100 * tf_gen_fractions[g]);
            for (int c = 0; c < 4; c++) {
                for (int s = 0; s < n; s++)
                    cells[s] = which ? &r[s].agree[g][cols[c]] : &r[s].rouge[g][cols[c]];
                spread_cell(f, cells, n);
            }
            fprintf(f, "\n");
        }
        if (!which) fprintf(f, "\n");
    }
}

void tf_table_claims(FILE *f, const tf_seed_result *r, int n)
{
    fprintf(f, "Paired over the %d seeds: the difference hi − lo, its mean ± sd and smallest "
               "value. `asserted`: check_transformer requires training seed 0's difference > "
               "margin, a margin above the sd and below the smallest value here; "
               "`consistent`: every seed agrees and mean > sd, not asserted; `not "
               "significant`: otherwise.\n\n| claim | difference | smallest | status |\n"
               "|---|---|---|---|\n", n);
    for (int c = 0; c < tf_claim_count; c++) {
        const tf_claim *cl = &tf_claims[c];
        double mean, sd, lo;
        tf_claim_difference(cl, r, n, &mean, &sd, &lo);
        fprintf(f, "|");
        name_cell(f, cl->text);
        fprintf(f, " %+.3f ± %.3f | %+.3f | ", mean, sd, lo);
        if (cl->asserted && cl->margin > sd && lo > cl->margin)
            fprintf(f, "asserted, margin %g |\n", cl->margin);
        else if (cl->asserted)
            fprintf(f, "asserted, margin %g, NOT above the sd and below the smallest |\n",
                    cl->margin);
        else fprintf(f, "%s |\n", lo > 0 && mean > sd ? "consistent" : "not significant");
    }
}

void tf_table_top_tensors(FILE *f, const tf_seed_result *r, int n)
{
    const int cols[] = {TC_FI, TC_ABS_W, TC_TAYLOR, TC_FISHER, TC_S2};
    fprintf(f, "Where the top 1%% of the 15 432 weights by each criterion sit: weights per "
               "tensor, summed over the %d training seeds (each model has %d LayerNorm "
               "gains: ln1w, ln2w, lnfw).\n\n| tensor |", n, 5 * 24);
    for (int c = 0; c < 5; c++) name_cell(f, tf_criterion_names[cols[c]]);
    fprintf(f, "\n|---|");
    for (int c = 0; c < 5; c++) fprintf(f, "---|");
    fprintf(f, "\n");
    for (int q = 0; q < TF_NTENSORS; q++) {
        int any = 0;
        for (int c = 0; c < 5; c++)
            for (int s = 0; s < n; s++) any |= r[s].top_tensor[cols[c]][q];
        if (!any) continue;
        fprintf(f, "| %s |", tf_tensor_name(q));
        for (int c = 0; c < 5; c++) {
            int sum = 0;
            for (int s = 0; s < n; s++) sum += r[s].top_tensor[cols[c]][q];
            fprintf(f, " %d |", sum);
        }
        fprintf(f, "\n");
    }
}
