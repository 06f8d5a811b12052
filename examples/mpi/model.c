/* The synthetic classifier and data of the MPI examples (see model.h). */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: a tiny counter-based generator, so that sample i's stream depends on
 * (seed, i) only and any rank can jump straight to its slice. */
static uint64_t mix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1): 53 random bits, never exactly 0 (log below). */
static double uniform(uint64_t *state)
{
    return ((double)(mix(state) >> 11) + 0.5) * 0x1.0p-53;
}

/* Standard normal by Box-Muller (one value per call keeps the streams simple). */
static double normal(uint64_t *state)
{
    double u = uniform(state), v = uniform(state);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Stream for one purpose (weights, class means, sample i): distinct seeds per stream. */
static uint64_t stream(uint64_t seed, uint64_t purpose, uint64_t index)
{
    uint64_t s = seed ^ (purpose * 0xd1b54a32d192ed03ull);
    s ^= index * 0x8cb92ba72f3d8dd7ull;
    (void)mix(&s);
    return s;
}

int model_init(model *m, int64_t width, int64_t classes, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->width = width;
    m->classes = classes;
    m->seed = seed;
    m->noise = 1.0;
    m->V = malloc(sizeof(double) * (size_t)(width * width));
    m->W = malloc(sizeof(double) * (size_t)(classes * width));
    m->mu = malloc(sizeof(double) * (size_t)(classes * width));
    double *feat = malloc(sizeof(double) * (size_t)(classes * width));
    if (!m->V || !m->W || !m->mu || !feat) {
        free(feat);
        model_free(m);
        return -1;
    }
    uint64_t st = stream(seed, 1, 0);
    double scale = 1.5 / sqrt((double)width);
    for (int64_t i = 0; i < width * width; i++) m->V[i] = scale * normal(&st);
    st = stream(seed, 2, 0);
    for (int64_t i = 0; i < classes * width; i++) m->mu[i] = normal(&st);

    /* "Training" in closed form: W is a nearest-centroid read-out of the hidden features
     * of the class means, centred over classes. It classifies the noisy inputs well but
     * not perfectly, so the probabilities are neither uniform nor saturated. */
    for (int64_t c = 0; c < classes; c++)
        for (int64_t r = 0; r < width; r++) {
            double a = 0;
            for (int64_t d = 0; d < width; d++) a += m->V[r * width + d] * m->mu[c * width + d];
            feat[c * width + r] = tanh(a);
        }
    double alpha = 6.0 / (double)width;
    for (int64_t r = 0; r < width; r++) {
        double mean = 0;
        for (int64_t c = 0; c < classes; c++) mean += feat[c * width + r];
        mean /= (double)classes;
        for (int64_t c = 0; c < classes; c++)
            m->W[c * width + r] = alpha * (feat[c * width + r] - mean);
    }
    free(feat);
    return 0;
}

void model_free(model *m)
{
    free(m->V);
    free(m->W);
    free(m->mu);
    m->V = m->W = m->mu = NULL;
}

int64_t model_coords(const model *m)
{
    return (m->width + m->classes) * m->width;
}

int64_t model_blocks(const model *m)
{
    return m->width + m->classes;
}

int model_sample_alloc(const model *m, model_sample *s)
{
    memset(s, 0, sizeof *s);
    s->x = malloc(sizeof(double) * (size_t)m->width);
    s->h = malloc(sizeof(double) * (size_t)m->width);
    s->wbar = malloc(sizeof(double) * (size_t)m->width);
    s->P = malloc(sizeof(double) * (size_t)m->classes);
    if (!s->x || !s->h || !s->wbar || !s->P) {
        model_sample_free(s);
        return -1;
    }
    return 0;
}

void model_sample_free(model_sample *s)
{
    free(s->x);
    free(s->h);
    free(s->wbar);
    free(s->P);
    memset(s, 0, sizeof *s);
}

void model_draw(const model *m, int64_t index, model_sample *s)
{
    const int64_t D = m->width, K = m->classes;
    uint64_t st = stream(m->seed, 3, (uint64_t)index);
    s->label = (int64_t)(mix(&st) % (uint64_t)K);
    for (int64_t d = 0; d < D; d++) s->x[d] = m->mu[s->label * D + d] + m->noise * normal(&st);
    for (int64_t r = 0; r < D; r++) {
        double a = 0;
        for (int64_t d = 0; d < D; d++) a += m->V[r * D + d] * s->x[d];
        s->h[r] = tanh(a);
    }
    /* Softmax with the maximum subtracted; the logits are kept in P meanwhile. */
    double zmax = -INFINITY;
    for (int64_t c = 0; c < K; c++) {
        double z = 0;
        for (int64_t r = 0; r < D; r++) z += m->W[c * D + r] * s->h[r];
        s->P[c] = z;
        if (z > zmax) zmax = z;
    }
    double sum = 0;
    for (int64_t c = 0; c < K; c++) sum += (s->P[c] = exp(s->P[c] - zmax));
    s->predicted = 0;
    for (int64_t c = 0; c < K; c++) {
        s->P[c] /= sum;
        if (s->P[c] > s->P[s->predicted]) s->predicted = c;
    }
    for (int64_t r = 0; r < D; r++) {
        double a = 0;
        for (int64_t c = 0; c < K; c++) a += s->P[c] * m->W[c * D + r];
        s->wbar[r] = a;
    }
}

/* d log P_i / d theta_c by hand. With d log P_i / d z_l = delta_il - P_l:
 *   V[r][d]: (W[i][r] - wbar_r) (1 - h_r^2) x_d
 *   W[j][r]: (delta_ij - P_j) h_r                                                     */
void model_scores(const model *m, const model_sample *s, int64_t first, int64_t len,
                  double *out, int64_t ld)
{
    const int64_t D = m->width, K = m->classes;
    for (int64_t i = 0; i < K; i++) {
        double *row = out + i * ld;
        for (int64_t c = first; c < first + len; c++) {
            int64_t r = c / D, col = c % D;
            if (r < D) {
                row[c - first] = (m->W[i * D + r] - s->wbar[r]) * (1.0 - s->h[r] * s->h[r])
                                 * s->x[col];
            } else {
                int64_t j = r - D; /* row j of W, col = hidden unit */
                row[c - first] = ((i == j ? 1.0 : 0.0) - s->P[j]) * s->h[col];
            }
        }
    }
}

/* Rank-1 closed form: block b's scores are s_i[b] = c_i u for one vector u (x for rows of
 * V, h for rows of W), so G_b = (sum_i P_i c_i^2) u u^T and g = c_k u give
 * FI_b = c_k^2 / sum_i P_i c_i^2 whatever u is (as long as u != 0). */
void model_oracle(const model *m, const model_sample *s, int64_t k, int64_t first, int64_t len,
                  double *out)
{
    const int64_t D = m->width, K = m->classes;
    for (int64_t b = first; b < first + len; b++) {
        double num = 0, den = 0;
        for (int64_t i = 0; i < K; i++) {
            double c;
            if (b < D)
                c = m->W[i * D + b] - s->wbar[b]; /* the common (1 - h_b^2) cancels */
            else
                c = (i == b - D ? 1.0 : 0.0) - s->P[b - D];
            den += s->P[i] * c * c;
            if (i == k) num = c * c;
        }
        out[b - first] = den > 0 ? num / den : 0.0;
    }
}
