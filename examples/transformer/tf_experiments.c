/* The tiny transformer's sparsification experiments over TF_SEEDS training seeds (make
 * experiments): the paper's figure 3 and table 1 at toy scale, as Markdown tables.
 *   tf_experiments TABLEDIR     writes TABLEDIR/tf_zeroing.md, tf_generation.md, tf_claims.md */
#include <stdio.h>

#include "tf_runs.h"

static int write_table(const char *dir, const char *name,
                       void (*table)(FILE *, const tf_seed_result *, int),
                       const tf_seed_result *r, int n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        return -1;
    }
    fprintf(f, "<!-- written by `make experiments` (build/examples/tf_experiments); do not "
               "edit -->\n");
    table(f, r, n);
    return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    static tf_seed_result r[TF_SEEDS];
    if (argc != 2) {
        fprintf(stderr, "usage: %s TABLEDIR\n", argv[0]);
        return 2;
    }
    fi_context *ctx = NULL;
    if (fi_context_create(&ctx) != FI_OK) return 1;
    int rc = 0;
    for (unsigned t = 0; t < TF_SEEDS && !rc; t++) {
        const int st = tf_run_seed(ctx, t, &r[t]);
        if (st != FI_OK) {
            fprintf(stderr, "training seed %u: %s %s\n", t, st < 0 ? "out of memory" : fi_strerror(st),
                    fi_context_error(ctx));
            rc = 1;
        } else {
            fprintf(stderr, "training seed %u: loss %.3f, accuracy %.3f\n", t, r[t].loss,
                    r[t].accuracy);
        }
    }
    fi_context_free(ctx);
    rc = rc || write_table(argv[1], "tf_zeroing.md", tf_table_zeroing, r, TF_SEEDS);
    rc = rc || write_table(argv[1], "tf_generation.md", tf_table_generation, r, TF_SEEDS);
    rc = rc || write_table(argv[1], "tf_claims.md", tf_table_claims, r, TF_SEEDS);
    rc = rc || write_table(argv[1], "tf_top_tensors.md", tf_table_top_tensors, r, TF_SEEDS);
    return rc ? 1 : 0;
}
