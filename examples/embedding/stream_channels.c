/* Per-channel FI over a model whose K class gradients do not fit in memory at once, the way
 * an inference engine embeds libfi (docs/embedding.md).
 *
 * The model is an MLP (ReLU, softmax over K classes). For one sample the score of class i
 * on weight (r, c) of layer l is s_i = d log P_i / d W_l[r][c] = delta_{l,i}[r] * a_{l-1}[c]
 * (backprop: delta_{L,i} = e_i - P, delta_{l,i} = W_{l+1}^T delta_{l+1,i} masked by ReLU').
 * The engine never holds these K x n scores: it produces them layer by layer, in chunks of
 * rows (float32, as it would hold gradients), hands each chunk to libfi and frees it:
 *   - fi_direct, class target, one block per weight -> element FI of the chunk
 *   - fi_reduce (sum over each row)                   -> channel FI of the chunk's rows
 *   - fi_direct, blocks = rows, FI_ACCUMULATE         -> block FI of each row, summed over
 *                                                        samples in place
 * and adds each layer's channel FI of the sample to that layer's fi_accumulator (mean and
 * standard error over samples). Two engine threads share the samples, each with its own
 * fi_context (FI_OPT_THREADS = 1) and its own accumulators, merged at the end.
 *
 * Verification: the same quantities from a one-shot computation that materializes every
 * score of a sample (fi_metric_from_scores over all layers at once, layer views through ld,
 * fi_compute) with plain C sums and means, on a size where that fits.
 *
 *   stream_channels [width [samples [chunk_rows]]]     defaults: 48 6 5
 */
#include "fi.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K 4        /* classes */
#define LAYERS 3   /* weight matrices */
#define THREADS 2  /* the engine's own threads */
#define RCOND 1e-5 /* float32 gradients: cut singular values below their rounding level */

typedef struct model {
    int64_t width[LAYERS + 1]; /* width[0] inputs ... width[LAYERS] = K logits */
    double *w[LAYERS];         /* layer l: width[l+1] x width[l], row-major */
    int64_t rows[LAYERS], cols[LAYERS], n[LAYERS], offset[LAYERS], n_total;
} model;

/* One sample's forward and backward state: all O(width * K), never O(weights * K). */
typedef struct sample {
    double *act[LAYERS + 1];  /* act[l]: input of layer l (act[0] = x) */
    double *delta[LAYERS];    /* delta[l]: K x rows[l], d log P_i / d (pre-activation) */
    double prob[K];
    int pred;
} sample;

typedef struct results {
    fi_accumulator *acc[LAYERS]; /* per layer: channel FI (element FI summed over a row) */
    double *block_sum[LAYERS];   /* per layer: block FI of each row, summed over samples */
} results;

typedef struct worker {
    const model *m;
    int first, last; /* samples [first, last) */
    int64_t chunk_rows;
    results res;
    size_t peak_score_bytes;
    int status;
    char error[256];
} worker;

/* Deterministic pseudo-random numbers in [-1, 1) (splitmix64), the same on every platform. */
static double uniform(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 4503599627370496.0 - 1.0;
}

static int model_init(model *m, int64_t width)
{
    const int64_t widths[LAYERS + 1] = {width, width * 3 / 4, width / 2, K};
    uint64_t seed = 2024;
    m->n_total = 0;
    for (int l = 0; l <= LAYERS; l++) m->width[l] = widths[l];
    for (int l = 0; l < LAYERS; l++) {
        m->rows[l] = widths[l + 1];
        m->cols[l] = widths[l];
        m->n[l] = m->rows[l] * m->cols[l];
        m->offset[l] = m->n_total;
        m->n_total += m->n[l];
        m->w[l] = malloc((size_t)m->n[l] * sizeof(double));
        if (!m->w[l]) return -1;
        const double scale = 2.0 / sqrt((double)m->cols[l]);
        for (int64_t j = 0; j < m->n[l]; j++) m->w[l][j] = scale * uniform(&seed);
    }
    return 0;
}

static void model_free(model *m)
{
    for (int l = 0; l < LAYERS; l++) free(m->w[l]);
}

static int sample_alloc(const model *m, sample *s)
{
    memset(s, 0, sizeof *s);
    for (int l = 0; l <= LAYERS; l++)
        if (!(s->act[l] = calloc((size_t)m->width[l], sizeof(double)))) return -1;
    for (int l = 0; l < LAYERS; l++)
        if (!(s->delta[l] = calloc((size_t)(K * m->rows[l]), sizeof(double)))) return -1;
    return 0;
}

static void sample_free(sample *s)
{
    for (int l = 0; l <= LAYERS; l++) free(s->act[l]);
    for (int l = 0; l < LAYERS; l++) free(s->delta[l]);
}

/* Forward pass on input number idx, then the K backward passes down to every layer's
 * pre-activation: the engine's own work, done once per sample. */
static void forward_backward(const model *m, int idx, sample *s)
{
    uint64_t seed = 77 + (uint64_t)idx;
    for (int64_t c = 0; c < m->width[0]; c++) s->act[0][c] = uniform(&seed);
    double logits[K];
    for (int l = 0; l < LAYERS; l++) {
        for (int64_t r = 0; r < m->rows[l]; r++) {
            double z = 0;
            for (int64_t c = 0; c < m->cols[l]; c++) z += m->w[l][r * m->cols[l] + c] * s->act[l][c];
            if (l == LAYERS - 1)
                logits[r] = z;
            s->act[l + 1][r] = (l == LAYERS - 1 || z > 0) ? z : 0.0;
        }
    }
    double mx = logits[0], sum = 0;
    for (int i = 1; i < K; i++) mx = logits[i] > mx ? logits[i] : mx;
    for (int i = 0; i < K; i++) sum += (s->prob[i] = exp(logits[i] - mx));
    s->pred = 0;
    for (int i = 0; i < K; i++) {
        s->prob[i] /= sum;
        if (s->prob[i] > s->prob[s->pred]) s->pred = i;
    }
    for (int i = 0; i < K; i++) /* d log P_i / d logit_j = [i == j] - P_j */
        for (int j = 0; j < K; j++) s->delta[LAYERS - 1][i * K + j] = (i == j) - s->prob[j];
    for (int l = LAYERS - 2; l >= 0; l--) {
        const int64_t R = m->rows[l], Rn = m->rows[l + 1], Cn = m->cols[l + 1];
        for (int i = 0; i < K; i++)
            for (int64_t r = 0; r < R; r++) {
                double d = 0;
                if (s->act[l + 1][r] > 0)
                    for (int64_t q = 0; q < Rn; q++)
                        d += m->w[l + 1][q * Cn + r] * s->delta[l + 1][i * Rn + q];
                s->delta[l][i * R + r] = d;
            }
    }
}

/* Scores of rows [r0, r0+rc) of layer l: K rows of rc*C floats, ld = rc*C (what an engine's
 * backward pass writes for that slice of the weight matrix). */
static void fill_chunk(const model *m, const sample *s, int l, int64_t r0, int64_t rc, float *buf)
{
    const int64_t R = m->rows[l], C = m->cols[l], ld = rc * C;
    for (int i = 0; i < K; i++)
        for (int64_t r = 0; r < rc; r++)
            for (int64_t c = 0; c < C; c++)
                buf[i * ld + r * C + c] = (float)(s->delta[l][i * R + r0 + r] * s->act[l][c]);
}

static int results_init(fi_context *ctx, const model *m, results *res)
{
    memset(res, 0, sizeof *res);
    for (int l = 0; l < LAYERS; l++) {
        if (fi_accumulator_create(ctx, m->rows[l], &res->acc[l]) != FI_OK) return -1;
        if (!(res->block_sum[l] = calloc((size_t)m->rows[l], sizeof(double)))) return -1;
    }
    return 0;
}

static void results_free(results *res)
{
    for (int l = 0; l < LAYERS; l++) {
        fi_accumulator_free(res->acc[l]);
        free(res->block_sum[l]);
    }
}

#define TRY(call)                                                                        \
    do {                                                                                 \
        int st_ = (call);                                                                \
        if (st_ != FI_OK) {                                                              \
            snprintf(w->error, sizeof w->error, "%s: %s", #call, fi_context_error(ctx)); \
            w->status = st_;                                                             \
            goto done;                                                                   \
        }                                                                                \
    } while (0)

/* One engine thread: its own context, its own results, samples [first, last). */
static void *stream_worker(void *arg)
{
    worker *w = arg;
    const model *m = w->m;
    fi_context *ctx = NULL;
    sample s;
    float *chunk = NULL;
    double *elem = NULL, *channel = NULL;
    int64_t max_cols = 0, max_rows = 0;
    for (int l = 0; l < LAYERS; l++) {
        max_cols = m->cols[l] > max_cols ? m->cols[l] : max_cols;
        max_rows = m->rows[l] > max_rows ? m->rows[l] : max_rows;
    }
    const int64_t chunk_n = w->chunk_rows * max_cols;
    w->peak_score_bytes = (size_t)(K * chunk_n) * sizeof(float);
    w->status = fi_context_create(&ctx);
    if (w->status != FI_OK) return NULL;
    if (sample_alloc(m, &s) != 0 || results_init(ctx, m, &w->res) != 0 ||
        !(chunk = malloc(w->peak_score_bytes)) ||
        !(elem = malloc((size_t)chunk_n * sizeof(double))) ||
        !(channel = malloc((size_t)max_rows * sizeof(double)))) {
        w->status = FI_ERR_NOMEM;
        snprintf(w->error, sizeof w->error, "out of memory");
        goto done;
    }
    /* Parallelism is the engine's (one context per thread): libfi stays single-threaded. */
    TRY(fi_context_set(ctx, FI_OPT_THREADS, 1));
    TRY(fi_context_set(ctx, FI_OPT_RCOND, RCOND));
    for (int idx = w->first; idx < w->last; idx++) {
        forward_backward(m, idx, &s);
        for (int l = 0; l < LAYERS; l++) {
            const int64_t R = m->rows[l], C = m->cols[l];
            for (int64_t r0 = 0; r0 < R; r0 += w->chunk_rows) {
                const int64_t rc = R - r0 < w->chunk_rows ? R - r0 : w->chunk_rows;
                const int64_t n = rc * C;
                const fi_blocks elements = {n, 1, 1, 1}, rows = {rc, C, 1, C};
                fill_chunk(m, &s, l, r0, rc, chunk);
                TRY(fi_direct(ctx, K, s.prob, FI_F32, chunk, n, n, &elements, NULL, s.pred,
                              elem, 0));
                TRY(fi_reduce(ctx, elem, n, &rows, FI_REDUCE_SUM, channel + r0));
                TRY(fi_direct(ctx, K, s.prob, FI_F32, chunk, n, n, &rows, NULL, s.pred,
                              w->res.block_sum[l] + r0, FI_ACCUMULATE));
            } /* the chunk buffer is reused: nothing of this layer's scores is kept */
            TRY(fi_accumulator_add(ctx, w->res.acc[l], channel, 1.0));
        }
    }
done:
    sample_free(&s);
    free(chunk);
    free(elem);
    free(channel);
    fi_context_free(ctx);
    return NULL;
}

/* The reference: every score of a sample at once (K x n_total floats), one metric for the
 * elements of all layers and one per layer for its rows (a view of the same buffer: scores
 * + offset, n = layer size, ld = n_total), plain C sums and means. */
static int one_shot(const model *m, int samples, double *channel_mean[LAYERS],
                    double *block_sum[LAYERS])
{
    fi_context *ctx = NULL;
    sample s;
    const int64_t N = m->n_total;
    float *scores = malloc((size_t)(K * N) * sizeof(float));
    double *elem = malloc((size_t)N * sizeof(double));
    double *rowfi = NULL, *centred = NULL;
    int status = -1;
    if (!scores || !elem || sample_alloc(m, &s) != 0 || fi_context_create(&ctx) != FI_OK ||
        fi_context_set(ctx, FI_OPT_RCOND, RCOND) != FI_OK)
        goto done;
    for (int idx = 0; idx < samples; idx++) {
        forward_backward(m, idx, &s);
        for (int l = 0; l < LAYERS; l++) {
            const int64_t R = m->rows[l], C = m->cols[l];
            for (int i = 0; i < K; i++)
                for (int64_t r = 0; r < R; r++)
                    for (int64_t c = 0; c < C; c++)
                        scores[i * N + m->offset[l] + r * C + c] =
                            (float)(s.delta[l][i * R + r] * s.act[l][c]);
        }
        const fi_blocks all = {N, 1, 1, 1};
        fi_metric *me = NULL;
        if (fi_metric_from_scores(ctx, K, s.prob, FI_F32, scores, N, N, &all, &me) != FI_OK ||
            fi_compute(ctx, me, FI_F32, scores + (int64_t)s.pred * N, elem, 0) != FI_OK) {
            fprintf(stderr, "one-shot: %s\n", fi_context_error(ctx));
            fi_metric_free(me);
            goto done;
        }
        fi_metric_free(me);
        for (int l = 0; l < LAYERS; l++) {
            const int64_t R = m->rows[l], C = m->cols[l];
            for (int64_t r = 0; r < R; r++) {
                double sum = 0;
                for (int64_t c = 0; c < C; c++) sum += elem[m->offset[l] + r * C + c];
                channel_mean[l][r] += sum / samples;
            }
            const fi_blocks rows = {R, C, 1, C};
            fi_metric *mr = NULL;
            const float *layer = scores + m->offset[l];
            /* fi_direct's class target is the class's leverage (SPEC fact 2): the class row with
             * the rounding residue of sum_i P_i s_i removed, as the row blocks' softmax null
             * direction is. The same target for fi_compute: */
            free(rowfi);
            free(centred);
            rowfi = malloc((size_t)R * sizeof(double));
            centred = malloc((size_t)m->n[l] * sizeof(double));
            if (!rowfi || !centred) goto done;
            for (int64_t c = 0; c < m->n[l]; c++) {
                double mean = 0, psum = 0;
                for (int i = 0; i < K; i++) {
                    mean += s.prob[i] * layer[i * N + c];
                    psum += s.prob[i];
                }
                centred[c] = layer[(int64_t)s.pred * N + c] - mean / psum;
            }
            if (fi_metric_from_scores(ctx, K, s.prob, FI_F32, layer, m->n[l], N, &rows, &mr) != FI_OK ||
                fi_compute(ctx, mr, FI_F64, centred, rowfi, 0) != FI_OK) {
                fprintf(stderr, "one-shot rows: %s\n", fi_context_error(ctx));
                fi_metric_free(mr);
                goto done;
            }
            fi_metric_free(mr);
            for (int64_t r = 0; r < R; r++) block_sum[l][r] += rowfi[r];
        }
    }
    status = 0;
done:
    sample_free(&s);
    fi_context_free(ctx);
    free(scores);
    free(elem);
    free(rowfi);
    free(centred);
    return status;
}

static double rel_diff(double a, double b)
{
    const double d = fabs(a - b), s = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return s > 0 ? d / s : 0.0;
}

int main(int argc, char **argv)
{
    const int64_t width = argc > 1 ? atoll(argv[1]) : 48;
    const int samples = argc > 2 ? atoi(argv[2]) : 6;
    const int64_t chunk_rows = argc > 3 ? atoll(argv[3]) : 5;
    if (width < 8 || samples < THREADS || chunk_rows < 1) {
        fprintf(stderr, "usage: %s [width >= 8 [samples >= %d [chunk_rows >= 1]]]\n", argv[0],
                THREADS);
        return 2;
    }
    model m;
    memset(&m, 0, sizeof m);
    if (model_init(&m, width) != 0) {
        fprintf(stderr, "out of memory for the model\n");
        return 1;
    }
    printf("MLP %lld-%lld-%lld-%d: %lld weights, %d samples, %d engine threads, chunks of "
           "%lld rows\n", (long long)m.width[0], (long long)m.width[1], (long long)m.width[2], K,
           (long long)m.n_total, samples, THREADS, (long long)chunk_rows);

    worker w[THREADS];
    pthread_t tid[THREADS];
    for (int t = 0; t < THREADS; t++) {
        memset(&w[t], 0, sizeof w[t]);
        w[t].m = &m;
        w[t].first = samples * t / THREADS;
        w[t].last = samples * (t + 1) / THREADS;
        w[t].chunk_rows = chunk_rows;
        if (pthread_create(&tid[t], NULL, stream_worker, &w[t]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    int bad = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(tid[t], NULL);
        if (w[t].status != FI_OK) {
            fprintf(stderr, "engine thread %d: %s\n", t, w[t].error);
            bad = 1;
        }
    }
    printf("scores held at once: %zu bytes per thread (all K gradients of one sample: %zu)\n",
           w[0].peak_score_bytes, (size_t)(K * m.n_total) * sizeof(float));

    /* Merge thread 1..T-1 into thread 0 (sums add: the order does not matter). */
    fi_context *ctx = NULL;
    if (!bad && fi_context_create(&ctx) != FI_OK) bad = 1;
    for (int t = 1; t < THREADS && !bad; t++)
        for (int l = 0; l < LAYERS; l++) {
            if (fi_accumulator_merge(ctx, w[0].res.acc[l], w[t].res.acc[l]) != FI_OK) {
                fprintf(stderr, "merge: %s\n", fi_context_error(ctx));
                bad = 1;
            }
            for (int64_t r = 0; r < m.rows[l]; r++) w[0].res.block_sum[l][r] += w[t].res.block_sum[l][r];
        }

    double *mean[LAYERS] = {0}, *se[LAYERS] = {0}, *ref_mean[LAYERS] = {0}, *ref_block[LAYERS] = {0};
    for (int l = 0; l < LAYERS && !bad; l++) {
        const size_t R = (size_t)m.rows[l];
        mean[l] = calloc(R, sizeof(double));
        se[l] = calloc(R, sizeof(double));
        ref_mean[l] = calloc(R, sizeof(double));
        ref_block[l] = calloc(R, sizeof(double));
        int64_t samples_seen = 0;
        if (!mean[l] || !se[l] || !ref_mean[l] || !ref_block[l] ||
            fi_accumulator_result(ctx, w[0].res.acc[l], mean[l], se[l]) != FI_OK ||
            fi_accumulator_info(w[0].res.acc[l], NULL, &samples_seen, NULL) != FI_OK ||
            samples_seen != samples) {
            fprintf(stderr, "layer %d: accumulator result failed\n", l);
            bad = 1;
            break;
        }
        int64_t top = 0;
        for (int64_t r = 1; r < m.rows[l]; r++) top = mean[l][r] > mean[l][top] ? r : top;
        printf("layer %d (%lld channels of %lld weights): top channel %lld, mean FI %.5f +- %.5f"
               ", its block FI summed %.5f\n", l, (long long)m.rows[l], (long long)m.cols[l],
               (long long)top, mean[l][top], se[l][top], w[0].res.block_sum[l][top]);
    }

    /* Verification against the one-shot computation, when all scores fit comfortably. */
    if (!bad && m.n_total * K <= ((int64_t)1 << 26)) {
        if (one_shot(&m, samples, ref_mean, ref_block) != 0) {
            bad = 1;
        } else {
            double worst_mean = 0, worst_block = 0;
            for (int l = 0; l < LAYERS; l++)
                for (int64_t r = 0; r < m.rows[l]; r++) {
                    const double a = rel_diff(mean[l][r], ref_mean[l][r]);
                    const double b = rel_diff(w[0].res.block_sum[l][r], ref_block[l][r]);
                    worst_mean = a > worst_mean ? a : worst_mean;
                    worst_block = b > worst_block ? b : worst_block;
                }
            printf("streamed vs one-shot: channel mean max rel diff %.2e, row block FI sum max "
                   "rel diff %.2e\n", worst_mean, worst_block);
            bad = worst_mean > 1e-9 || worst_block > 1e-9;
        }
    } else if (!bad) {
        printf("(model too large for the one-shot check: streamed results only)\n");
    }
    for (int l = 0; l < LAYERS; l++) {
        free(mean[l]);
        free(se[l]);
        free(ref_mean[l]);
        free(ref_block[l]);
    }
    for (int t = 0; t < THREADS; t++) results_free(&w[t].res);
    fi_context_free(ctx);
    model_free(&m);
    printf("stream_channels: %s\n", bad ? "FAILED" : "OK");
    return bad ? 1 : 0;
}
