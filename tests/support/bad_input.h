/* The fixture of the bad-input suites (tests/check_errors.c, tests/check_alloc.c): small inputs
 * with NaN padding that must never be read, snapshots proving that no call modifies an
 * input, and checks of a failure's status and message. Each including file has its own copy. */
#ifndef FI_TEST_BAD_INPUT_H
#define FI_TEST_BAD_INPUT_H

#include <check.h>
#include <stdint.h>
#include <string.h>

#include "fi.h"
#include "support/reference.h"

enum { K = 3, N = 12, LD = 14, NB = 4 };

static fi_context *ctx;
static double P[K], S[K * LD], G[N];
static float Sf[K * LD], Gf[N];
static const fi_blocks ROWS = {NB, 3, 1, 3};
static int64_t OFF[NB + 1] = {0, 3, 4, 9, 12}, IDX[N] = {0, 5, 2, 7, 1, 3, 4, 6, 8, 9, 10, 11};

/* Copies of every input, to prove that no call modifies one. */
static struct {
    double P[K], S[K * LD], G[N];
    float Sf[K * LD], Gf[N];
    int64_t OFF[NB + 1], IDX[N];
} snap;

static inline void setup(void)
{
    ck_assert_int_eq(fi_context_create(&ctx), FI_OK);
    ref_rng r;
    ref_seed(&r, 31337);
    P[0] = 0.2, P[1] = 0.3, P[2] = 0.5;
    ref_scores(&r, K, N, LD, S); /* NaN padding: never read */
    for (int i = 0; i < N; i++) G[i] = ref_normal(&r);
    for (int i = 0; i < K * LD; i++) Sf[i] = (float)S[i];
    for (int i = 0; i < N; i++) Gf[i] = (float)G[i];
    memcpy(snap.P, P, sizeof P);
    memcpy(snap.S, S, sizeof S);
    memcpy(snap.G, G, sizeof G);
    memcpy(snap.Sf, Sf, sizeof Sf);
    memcpy(snap.Gf, Gf, sizeof Gf);
    memcpy(snap.OFF, OFF, sizeof OFF);
    memcpy(snap.IDX, IDX, sizeof IDX);
}

static inline void teardown(void) { fi_context_free(ctx); }

/* memcmp, so that NaN padding compares equal to itself. */
static inline void assert_inputs_pristine(void)
{
    ck_assert_msg(memcmp(P, snap.P, sizeof P) == 0, "probs modified");
    ck_assert_msg(memcmp(S, snap.S, sizeof S) == 0, "scores modified");
    ck_assert_msg(memcmp(G, snap.G, sizeof G) == 0, "target modified");
    ck_assert_msg(memcmp(Sf, snap.Sf, sizeof Sf) == 0, "float32 scores modified");
    ck_assert_msg(memcmp(Gf, snap.Gf, sizeof Gf) == 0, "float32 target modified");
    ck_assert_msg(memcmp(OFF, snap.OFF, sizeof OFF) == 0, "offsets modified");
    ck_assert_msg(memcmp(IDX, snap.IDX, sizeof IDX) == 0, "indices modified");
}

/* The failure message is set and names the problem (case-sensitive substring). */
static inline void assert_message(int status, const char *what)
{
    const char *msg = fi_context_error(ctx);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(msg[0] != '\0', "status %d without a message", status);
    if (what) ck_assert_msg(strstr(msg, what) != NULL, "message \"%s\" does not mention \"%s\"", msg, what);
}

/* A metric sentinel: a failing call must leave *metric exactly as it was. */
#define SENTINEL ((fi_metric *)(uintptr_t)0xdeadbeef)

/* fi_metric_from_scores must fail with code and a message mentioning what. */
static inline void metric_fails(int code, const char *what, int64_t k, const double *probs, fi_dtype dt,
                         const void *scores, int64_t n, int64_t ld, const fi_blocks *bl)
{
    fi_metric *m = SENTINEL;
    const fi_blocks before = bl ? *bl : (fi_blocks){0, 0, 0, 0};
    const int st = fi_metric_from_scores(ctx, k, probs, dt, scores, n, ld, bl, &m);
    ck_assert_msg(st == code, "%s: status %d (%s), want %d", what, st, fi_context_error(ctx), code);
    ck_assert_ptr_eq(m, SENTINEL);
    assert_message(st, what);
    if (bl) ck_assert(memcmp(&before, bl, sizeof before) == 0);
    assert_inputs_pristine();
}

static inline void indexed_fails(int code, const char *what, const fi_index_blocks *ib)
{
    fi_metric *m = SENTINEL;
    const int st = fi_metric_from_scores_indexed(ctx, K, P, FI_F64, S, N, LD, ib, &m);
    ck_assert_msg(st == code, "%s: status %d (%s), want %d", what, st, fi_context_error(ctx), code);
    ck_assert_ptr_eq(m, SENTINEL);
    assert_message(st, what);
    assert_inputs_pristine();
}

#endif
