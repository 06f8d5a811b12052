/* A consumer of an installed libfi: built only from `#include <fi.h>` and the flags that
 * pkg-config gives for libfi.pc. Checks that header and library agree and that FI matches the
 * p = 1 closed form of SPEC fact 1. Exit status 0 when all is well. */
#include <fi.h>

#include <math.h>
#include <stdio.h>

int main(void)
{
    enum { K = 3, N = 5 };
    const double probs[K] = {0.6, 0.3, 0.1};
    const double scores[K][N] = {{0.4, -1.0, 2.0, 0.0, 0.3},
                                 {-0.8, 1.5, -1.0, 0.5, 0.2},
                                 {0.0, 1.5, -6.0, -3.0, -2.4}};
    const fi_blocks elements = {N, 1, 1, 1};
    double fi[N];
    fi_context *ctx = NULL;
    fi_metric *m = NULL;
    int bad = fi_version_number() != FI_VERSION_NUMBER;
    if (fi_context_create(&ctx) != FI_OK) return 1;
    if (fi_metric_from_scores(ctx, K, probs, FI_F64, scores, N, N, &elements, &m) != FI_OK ||
        fi_compute(ctx, m, FI_F64, scores[0], fi, 0) != FI_OK) {
        fprintf(stderr, "libfi: %s\n", fi_context_error(ctx));
        fi_metric_free(m);
        fi_context_free(ctx);
        return 1;
    }
    for (int j = 0; j < N; j++) {
        double den = 0;
        for (int i = 0; i < K; i++) den += probs[i] * scores[i][j] * scores[i][j];
        const double expect = den > 0 ? scores[0][j] * scores[0][j] / den : 0.0;
        bad += fabs(fi[j] - expect) > 1e-12 * (expect > 1 ? expect : 1);
    }
    fi_metric_free(m);
    fi_context_free(ctx);
    printf("consumer of libfi %s: %s\n", fi_version_string(), bad ? "MISMATCH" : "OK");
    return bad != 0;
}
