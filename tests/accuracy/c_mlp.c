/* A 432-24-16-5 ReLU MLP in float64, with the K class scores d log P_i / d theta by hand-written
 * backward passes (one per class), in the style of llm.c: forward and backward side by side. */
#include "c_mlp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { IN = 432, H1 = 24, H2 = 16, K = 5 };
enum { OW1 = 0, OB1 = OW1 + H1 * IN, OW2 = OB1 + H1, OB2 = OW2 + H2 * H1, OW3 = OB2 + H2,
       OB3 = OW3 + K * H2, OX = OB3 + K, NTOT = OX + IN };

static uint64_t next(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double normal(uint64_t *s)
{
    const double u = ((double)(next(s) >> 11) + 0.5) * 0x1p-53, v = (double)(next(s) >> 11) * 0x1p-53;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

void acc_mlp_layout(acc_layout *l)
{
    static const struct { const char *name; int64_t off; enum acc_kind kind; int64_t d0, d1, d2; } s[] = {
        {"fc1.weight", OW1, ACC_MATRIX, H1, IN, 0}, {"fc1.bias", OB1, ACC_VECTOR, H1, 0, 0},
        {"fc2.weight", OW2, ACC_MATRIX, H2, H1, 0}, {"fc2.bias", OB2, ACC_VECTOR, H2, 0, 0},
        {"fc3.weight", OW3, ACC_MATRIX, K, H2, 0},  {"fc3.bias", OB3, ACC_VECTOR, K, 0, 0},
        {"input", OX, ACC_IMAGE, 12, 12, 3}};
    memset(l, 0, sizeof *l);
    l->count = (int)(sizeof s / sizeof s[0]);
    for (int i = 0; i < l->count; i++) {
        strcpy(l->seg[i].name, s[i].name);
        l->seg[i].offset = s[i].off;
        l->seg[i].kind = s[i].kind;
        l->seg[i].dims[0] = s[i].d0, l->seg[i].dims[1] = s[i].d1, l->seg[i].dims[2] = s[i].d2;
    }
}

/* y[o] = b[o] + sum_i W[o, i] x[i], W: (O, I) row-major */
static void linear_forward(const double *W, const double *b, const double *x, int O, int I, double *y)
{
    for (int o = 0; o < O; o++) {
        double a = b[o];
        for (int i = 0; i < I; i++) a += W[o * I + i] * x[i];
        y[o] = a;
    }
}

/* given dy (O): dW = dy x^T (O, I), db = dy, dx = W^T dy (I) */
static void linear_backward(const double *W, const double *x, const double *dy, int O, int I,
                            double *dW, double *db, double *dx)
{
    for (int i = 0; i < I; i++) dx[i] = 0;
    for (int o = 0; o < O; o++) {
        db[o] = dy[o];
        for (int i = 0; i < I; i++) {
            dW[o * I + i] = dy[o] * x[i];
            dx[i] += W[o * I + i] * dy[o];
        }
    }
}

int acc_mlp_record(uint64_t seed, int j, acc_record *r)
{
    memset(r, 0, sizeof *r);
    double *theta = malloc(NTOT * sizeof(double));
    r->probs = malloc(K * sizeof(double));
    r->scores = malloc((size_t)K * NTOT * sizeof(double));
    r->target = malloc(NTOT * sizeof(double));
    if (!theta || !r->probs || !r->scores || !r->target) {
        free(theta);
        acc_record_free(r);
        return -1;
    }
    r->K = K, r->n = NTOT, r->dtype = FI_F64;
    uint64_t s = seed;
    const int fan[3] = {IN, H1, H2}, off[3] = {OW1, OW2, OW3}, outs[3] = {H1, H2, K};
    for (int L = 0; L < 3; L++)
        for (int i = 0; i < outs[L] * fan[L]; i++) theta[off[L] + i] = normal(&s) * 2.0 / sqrt(fan[L]);
    for (int i = 0; i < H1; i++) theta[OB1 + i] = 0.1 * normal(&s);
    for (int i = 0; i < H2; i++) theta[OB2 + i] = 0.1 * normal(&s) - (i < 3 ? 50.0 : 0.0); /* 3 dead units */
    for (int i = 0; i < K; i++) theta[OB3 + i] = 0.5 * normal(&s);
    uint64_t sx = seed ^ (0xA5A5A5A5ull * (uint64_t)(j + 1));
    for (int i = 0; i < IN; i++) theta[OX + i] = normal(&sx) < -0.3 ? 0.0 : fabs(normal(&sx)); /* ink */
    /* forward */
    double a1[H1], h1[H1], a2[H2], h2[H2], z[K];
    linear_forward(theta + OW1, theta + OB1, theta + OX, H1, IN, a1);
    for (int i = 0; i < H1; i++) h1[i] = a1[i] > 0 ? a1[i] : 0;
    linear_forward(theta + OW2, theta + OB2, h1, H2, H1, a2);
    for (int i = 0; i < H2; i++) h2[i] = a2[i] > 0 ? a2[i] : 0;
    linear_forward(theta + OW3, theta + OB3, h2, K, H2, z);
    double zmax = z[0], sum = 0;
    for (int i = 1; i < K; i++) zmax = fmax(zmax, z[i]);
    for (int i = 0; i < K; i++) sum += r->probs[i] = exp(z[i] - zmax);
    for (int i = 0; i < K; i++) r->probs[i] /= sum;
    r->label = (j * 3 + 1) % K;
    /* backward, once per class: d log P_c / d z = e_c - P */
    for (int c = 0; c < K; c++) {
        double *g = (double *)r->scores + (size_t)c * NTOT, dz[K], dh2[H2], dh1[H1];
        for (int i = 0; i < K; i++) dz[i] = (i == c) - r->probs[i];
        linear_backward(theta + OW3, h2, dz, K, H2, g + OW3, g + OB3, dh2);
        for (int i = 0; i < H2; i++) dh2[i] = a2[i] > 0 ? dh2[i] : 0;
        linear_backward(theta + OW2, h1, dh2, H2, H1, g + OW2, g + OB2, dh1);
        for (int i = 0; i < H1; i++) dh1[i] = a1[i] > 0 ? dh1[i] : 0;
        linear_backward(theta + OW1, theta + OX, dh1, H1, IN, g + OW1, g + OB1, g + OX);
    }
    /* target: gradient of -log P_label */
    for (int64_t i = 0; i < NTOT; i++) ((double *)r->target)[i] = -((double *)r->scores)[r->label * NTOT + i];
    free(theta);
    return 0;
}
