/* The FI workflow at the scale of a language model, in miniature (docs/aggregation.md §5):
 * per sample, the classes of a vocabulary subset are streamed one score vector at a time with
 * the remainder class for the rest (fi_class_stream); the element FI of every sample goes into a
 * 16-byte-per-element mean (fi_mean); the top 5% of the mean is selected across the layers,
 * which are never concatenated (fi_threshold), and FI-Low draws as many among the rest.
 * Each step is checked against the path that holds everything in memory (fi_direct on all
 * K x n scores, fi_select_top on the concatenation); exit status 1 on any disagreement.
 * Scores are synthetic (a seeded generator), regenerated per class as a model's backward pass
 * would produce them. Run by `make check-workflow`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fi.h"

enum { LAYERS = 3, K = 64, SAMPLES = 12 };
static const int64_t layer_size[LAYERS] = {300, 1000, 77};

static uint64_t rng = 2024;
static double uniform(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng >> 11) * 0x1p-53;
}

#define CHECK(call)                                                                       \
    do {                                                                                  \
        if ((call) != FI_OK) {                                                            \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, fi_context_error(ctx));    \
            return 1;                                                                     \
        }                                                                                 \
    } while (0)

/* Class i's score vector of one sample: a layer-dependent scale times noise, with some
 * parameters no class moves (exact zeros). */
static void class_scores(int64_t n, double *s)
{
    for (int64_t c = 0; c < n; c++)
        s[c] = c % 23 == 0 ? 0.0 : (uniform() - 0.5) * (c < 300 ? 2.0 : c < 1300 ? 0.3 : 5.0);
}

int main(void)
{
    int64_t n = 0;
    for (int l = 0; l < LAYERS; l++) n += layer_size[l];
    fi_context *ctx = NULL;
    if (fi_context_create(&ctx) != FI_OK) return 1;
    CHECK(fi_context_set(ctx, FI_OPT_CLASS_MODE, FI_CLASS_REMAINDER));
    const fi_blocks elements = {n, 1, 1, 1};
    fi_mean *mean_acc = NULL;
    CHECK(fi_mean_create(ctx, n, &mean_acc));
    double *S = malloc(sizeof(double) * (size_t)(K * n)); /* only for the in-memory check */
    double *fi = malloc(sizeof(double) * (size_t)n), *ref = malloc(sizeof(double) * (size_t)n);
    double P[K], worst = 0;
    for (int s = 0; s < SAMPLES; s++) {
        /* the K most probable tokens of a larger vocabulary: they sum to less than 1 */
        double z = 0;
        for (int i = 0; i < K; i++) z += (P[i] = exp(4 * uniform()));
        for (int i = 0; i < K; i++) P[i] *= 0.9 / z;
        fi_class_stream *cs = NULL;
        CHECK(fi_class_stream_create(ctx, n, &elements, 0, &cs)); /* class 0: the target */
        for (int i = 0; i < K; i++) {
            class_scores(n, S + i * n);
            CHECK(fi_class_stream_add(ctx, cs, P[i], FI_F64, S + i * n));
        }
        CHECK(fi_class_stream_finish(ctx, cs, FI_F64, NULL, fi, 0));
        fi_class_stream_free(cs);
        CHECK(fi_mean_add(ctx, mean_acc, fi, 1.0));
        CHECK(fi_direct(ctx, K, P, FI_F64, S, n, n, &elements, NULL, 0, ref, 0));
        for (int64_t c = 0; c < n; c++)
            worst = fmax(worst, fabs(fi[c] - ref[c]) / fmax(ref[c], 1e-300));
    }
    double *mean = malloc(sizeof(double) * (size_t)n);
    CHECK(fi_mean_result(ctx, mean_acc, mean, NULL));
    printf("class streaming: %d samples, K = %d + remainder, max rel diff to fi_direct %.1e\n",
           SAMPLES, K, worst);
    if (!(worst <= 1e-12)) return 1;

    /* Top 5% across the layers: each layer is its own array. */
    const int64_t k = fi_fraction_count(n, 0.05);
    const double *layer[LAYERS];
    for (int l = 0, off = 0; l < LAYERS; off += (int)layer_size[l], l++) layer[l] = mean + off;
    fi_threshold *top = NULL;
    CHECK(fi_threshold_create(ctx, &top));
    for (int done = 0; !done;) {
        for (int l = 0; l < LAYERS; l++) CHECK(fi_threshold_add(ctx, top, layer[l], layer_size[l]));
        CHECK(fi_threshold_narrow(ctx, top, k, &done));
    }
    uint8_t *mask = calloc((size_t)n, 1), *low = calloc((size_t)n, 1);
    int64_t ties = 0;
    for (int l = 0, off = 0; l < LAYERS; off += (int)layer_size[l], l++)
        CHECK(fi_threshold_mask(ctx, top, layer[l], layer_size[l], &ties, mask + off));
    double threshold;
    CHECK(fi_threshold_result(ctx, top, &threshold, NULL, NULL));
    fi_threshold_free(top);
    /* The in-memory check: fi_select_top on the concatenation selects the same elements. */
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)k), same = 0;
    CHECK(fi_select_top(ctx, mean, n, k, idx));
    for (int64_t t = 0; t < k; t++) same += mask[idx[t]];
    printf("top 5%%: %lld of %lld elements above %.4g, %lld of them as fi_select_top\n",
           (long long)k, (long long)n, threshold, (long long)same);
    if (same != k) return 1;

    /* FI-Low: as many drawn uniformly among the elements outside the top. */
    fi_threshold *draw = NULL;
    CHECK(fi_threshold_create_random(ctx, 7, &draw));
    for (int done = 0; !done;) {
        for (int l = 0, off = 0; l < LAYERS; off += (int)layer_size[l], l++)
            CHECK(fi_threshold_add_random(ctx, draw, l, layer_size[l], mask + off));
        CHECK(fi_threshold_narrow(ctx, draw, k, &done));
    }
    ties = 0;
    for (int l = 0, off = 0; l < LAYERS; off += (int)layer_size[l], l++)
        CHECK(fi_threshold_mask_random(ctx, draw, l, layer_size[l], mask + off, &ties, low + off));
    fi_threshold_free(draw);
    int64_t drawn = 0, overlap = 0;
    for (int64_t c = 0; c < n; c++) {
        drawn += low[c];
        overlap += low[c] & mask[c];
    }
    printf("FI-Low: %lld drawn outside the top, %lld overlapping it\n", (long long)drawn,
           (long long)overlap);
    if (drawn != k || overlap != 0) return 1;

    size_t bytes = 0;
    fi_class_stream *probe = NULL;
    CHECK(fi_class_stream_create(ctx, n, &elements, 0, &probe));
    CHECK(fi_class_stream_info(probe, NULL, NULL, &bytes));
    fi_class_stream_free(probe);
    printf("memory: class stream %zu bytes (all K x n scores: %lld), mean %zu bytes\n", bytes,
           (long long)(K * n * 8), fi_mean_serialized_size(mean_acc));
    fi_mean_free(mean_acc);
    fi_context_free(ctx);
    free(S);
    free(fi);
    free(ref);
    free(mean);
    free(mask);
    free(low);
    free(idx);
    return 0;
}
