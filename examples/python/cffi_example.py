"""libfi through cffi in ABI mode (no compiler needed): the cdef below is a hand-written
subset of include/fi.h, enough for the core calls and the fast path.

FI per output channel (row) of a 32 x 12 weight matrix with K = 4 classes, float32 scores read
in place through ffi.from_buffer, checked against numpy's pinv of every block (the metric with
the class row as target) and against the class's leverage (fi_direct's class target, SPEC
fact 2: the same number up to the rounding residue of sum_i P_i s_i). Exits non-zero
on a mismatch; prints SKIP and exits 0 when cffi or numpy is missing.

    LIBFI_PATH=lib /usr/bin/python3 examples/python/cffi_example.py
"""
import os
import sys

try:
    import cffi
    import numpy as np
except ImportError as e:
    print("SKIP cffi_example: %s (install python3-cffi and python3-numpy)" % e)
    sys.exit(0)

CDEF = """
typedef struct fi_context fi_context;
typedef struct fi_metric fi_metric;
typedef struct fi_blocks { int64_t count, size, stride, step; } fi_blocks;
int fi_constant(const char *name, int64_t *value);
const char *fi_version_string(void);
int fi_context_create(fi_context **ctx);
void fi_context_free(fi_context *ctx);
const char *fi_strerror(int status);
const char *fi_context_error(const fi_context *ctx);
int fi_context_set(fi_context *ctx, int option, double value);
int fi_metric_from_scores(fi_context *ctx, int64_t n_classes, const double *probs, int dtype,
                          const void *scores, int64_t n, int64_t ld, const fi_blocks *blocks,
                          fi_metric **metric);
int fi_compute(fi_context *ctx, const fi_metric *metric, int dtype, const void *target,
               double *out, unsigned flags);
int fi_metric_ranks(fi_context *ctx, const fi_metric *metric, int64_t *ranks);
void fi_metric_free(fi_metric *metric);
int fi_direct(fi_context *ctx, int64_t n_classes, const double *probs, int dtype,
              const void *scores, int64_t n, int64_t ld, const fi_blocks *blocks,
              const void *target, int64_t target_class, double *out, unsigned flags);
"""
# fi_dtype is an enum in C; an int has the same ABI and keeps this cdef free of enum values,
# which are read at run time with fi_constant instead.


def find_library():
    env = os.environ.get("LIBFI_PATH")
    here = os.path.dirname(os.path.abspath(__file__))
    for d in ([env] if env else []) + [os.path.join(here, os.pardir, os.pardir, "lib")]:
        if os.path.isfile(d):
            return d
        p = os.path.join(d, "libfi.so.1")
        if os.path.exists(p):
            return p
    return "libfi.so.1"  # the dynamic loader's search path


ffi = cffi.FFI()
ffi.cdef(CDEF)
lib = ffi.dlopen(find_library())


def const(name):
    v = ffi.new("int64_t *")
    if lib.fi_constant(name.encode(), v) != 0:
        raise KeyError(name)
    return v[0]


class FIError(Exception):
    def __init__(self, status, message):
        super().__init__("%s (status %d)" % (message, status))
        self.status = status


def check(ctx, status):
    if status != 0:
        raise FIError(status, ffi.string(lib.fi_context_error(ctx)).decode())


def reference(S, P, R, C, k, rcond):
    out = np.empty(R)
    for r in range(R):
        B = (S[:, r * C:(r + 1) * C].astype(np.float64) * np.sqrt(P)[:, None]).T
        out[r] = np.sum((np.linalg.pinv(B, rcond=rcond) @ S[k, r * C:(r + 1) * C]) ** 2)
    return out


def leverage(S, P, R, C, k, rcond):
    """SPEC fact 2: a class target's FI is the leverage of class k over P_k, in the class space
    of B with the softmax null direction sqrt(P) removed (its rounding residue is noise)."""
    q = np.sqrt(P) / np.linalg.norm(np.sqrt(P))
    out = np.empty(R)
    for r in range(R):
        B = (S[:, r * C:(r + 1) * C].astype(np.float64) * np.sqrt(P)[:, None]).T
        if C >= len(P):
            B = B - np.outer(B @ q, q)
        _, sig, Vt = np.linalg.svd(B, full_matrices=False)
        kept = sig > rcond * sig[0]
        out[r] = np.sum(Vt[kept, k] ** 2) / P[k]
    return out


def main():
    rng = np.random.default_rng(7)
    K, R, C = 4, 32, 12
    z = rng.normal(size=K)
    P = np.exp(z) / np.exp(z).sum()
    J = rng.normal(size=(R * C, K))
    S = np.stack([J @ (np.eye(K)[i] - P) for i in range(K)]).astype(np.float32)  # zero-mean
    # Rows are blocks of p = C = 12 >= K - 1: they saturate (SPEC fact 3), so ask for a
    # smaller block too: pairs of coordinates (p = 2 < K - 1) stay informative.
    k = int(np.argmax(P))
    rcond = 1e-4  # float32 rounding breaks the exact rank deficiency of zero-mean scores

    pctx = ffi.new("fi_context **")
    check(ffi.NULL, lib.fi_context_create(pctx))
    ctx = pctx[0]
    try:
        check(ctx, lib.fi_context_set(ctx, const("FI_OPT_RCOND"), rcond))
        f32 = const("FI_F32")
        probs = ffi.from_buffer("double[]", P)            # no copies: pointers into numpy
        scores = ffi.from_buffer("float[]", S)
        ok = True
        for name, (R_, C_) in (("rows", (R, C)), ("pairs", (R * C // 2, 2))):
            blocks = ffi.new("fi_blocks *", {"count": R_, "size": C_, "stride": 1, "step": C_})
            pm = ffi.new("fi_metric **")
            check(ctx, lib.fi_metric_from_scores(ctx, K, probs, f32, scores, R * C, R * C,
                                                 blocks, pm))
            out = np.empty(R_)
            ranks = np.empty(R_, dtype=np.int64)
            target = ffi.from_buffer("float[]", S[k])       # class target: row k of scores
            check(ctx, lib.fi_compute(ctx, pm[0], f32, target, ffi.from_buffer("double[]", out),
                                      0))
            check(ctx, lib.fi_metric_ranks(ctx, pm[0], ffi.from_buffer("int64_t[]", ranks)))
            lib.fi_metric_free(pm[0])
            ref = reference(S, P, R_, C_, k, rcond)
            err = np.max(np.abs(out - ref) / ref)
            print("%-5s blocks: %3d, ranks %s, FI[0:3] = %s, bound (1-P_k)/P_k = %.6f, "
                  "max rel err vs numpy pinv %.2e"
                  % (name, R_, sorted(set(ranks.tolist())), np.round(out[:3], 6),
                     (1 - P[k]) / P[k], err))
            ok &= err < 1e-8
            try:
                fast = np.empty(R_)
                check(ctx, lib.fi_direct(ctx, K, probs, f32, scores, R * C, R * C, blocks,
                                         ffi.NULL, k, ffi.from_buffer("double[]", fast), 0))
                lev = leverage(S, P, R_, C_, k, rcond)
                ferr = np.max(np.abs(fast - lev) / lev)
                print("      fi_direct (class target %d): max rel err %.2e vs the leverage "
                      "(SPEC fact 2)" % (k, ferr))
                ok &= ferr < 1e-8
            except AttributeError:
                print("      fi_direct: not exported by this build of libfi yet")

        # Errors come back as a status and a specific message.
        bad = ffi.from_buffer("double[]", P * 0.5)
        pm = ffi.new("fi_metric **")
        blocks = ffi.new("fi_blocks *", {"count": R * C, "size": 1, "stride": 1, "step": 1})
        st = lib.fi_metric_from_scores(ctx, K, bad, f32, scores, R * C, R * C, blocks, pm)
        print("bad probabilities -> status %d (%s): %s"
              % (st, ffi.string(lib.fi_strerror(st)).decode(),
                 ffi.string(lib.fi_context_error(ctx)).decode()))
        ok &= st == const("FI_ERR_PROBABILITY") and pm[0] == ffi.NULL
    finally:
        lib.fi_context_free(ctx)
    print("cffi example (libfi %s): %s" % (ffi.string(lib.fi_version_string()).decode(),
                                           "OK" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
