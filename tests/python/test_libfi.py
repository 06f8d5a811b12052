"""Tests of the libfi package (loader: test_loader.py). References: numpy's pinv of each block
B = [sqrt(P_i) s_i[b]] (FI = ||B^+ g||^2, since (B B^T)^+ = B^+T B^+), SPEC closed forms, and
plain numpy for reductions and selections. Run through tests/python/run.sh, which picks an
interpreter that has numpy."""

import array
import ctypes
import importlib.util
import os
import subprocess
import sys
import threading
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, os.pardir, os.pardir))
if os.environ.get("LIBFI_TEST_INSTALLED") != "1":
    sys.path.insert(0, os.path.join(ROOT, "python"))  # the source tree's package
import libfi  # noqa: E402

LIB = libfi.library()


def needs(*symbols):
    """Skips (with the reason printed by unittest -v) while the library lacks a symbol."""
    missing = [s for s in symbols if not LIB.has(s)]
    return unittest.skipIf(missing, "not exported by %s yet: %s" % (LIB.path, ", ".join(missing)))


# ---------------------------------------------------------------- references


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def zero_mean_scores(rng, K, n, P):
    """s_i = J (e_i - P): the scores of a softmax head over K classes, sum_i P_i s_i = 0."""
    J = rng.normal(size=(n, K))
    return np.stack([J @ (np.eye(K)[i] - P) for i in range(K)])


def affine_groups(count, size, stride, step):
    return [[b * step + j * stride for j in range(size)] for b in range(count)]


def ref_fi(S, P, groups, g, rcond):
    """FI per block from numpy's pinv; S is (K, n) float64."""
    out = []
    for idx in groups:
        B = (S[:, idx] * np.sqrt(P)[:, None]).T  # p x K
        out.append(float(np.sum((np.linalg.pinv(B, rcond=rcond) @ g[idx]) ** 2)))
    return np.array(out)


def ref_residual(S, P, groups, g, rcond):
    out = []
    for idx in groups:
        B = (S[:, idx] * np.sqrt(P)[:, None]).T
        U, s, _ = np.linalg.svd(B, full_matrices=False)
        U = U[:, s > rcond * s.max()]
        r = g[idx] - U @ (U.T @ g[idx])
        out.append(np.linalg.norm(r) / np.linalg.norm(g[idx]))
    return np.array(out)


class Case(unittest.TestCase):
    @staticmethod
    def has_constant(name):
        try:
            libfi.constant(name)
            return True
        except KeyError:
            return False

    def setUp(self):
        self.rng = np.random.default_rng(1234)
        self.ctx = libfi.Context(rcond=1e-10)

    def tearDown(self):
        self.ctx.close()

    def problem(self, K=5, n=60):
        P = softmax(self.rng.normal(size=K))
        return P, zero_mean_scores(self.rng, K, n, P)


# ---------------------------------------------------------------- core against numpy pinv


class TestCore(Case):
    LAYOUTS = {
        "elements": (60, 1, 1, 1),
        "rows": (6, 10, 1, 10),          # rows of a 6 x 10 matrix
        "columns": (10, 6, 10, 1),       # its columns
        "pixels": (20, 3, 1, 3),         # RGB pixels, HWC
    }

    def test_layouts_random_and_class_targets(self):
        for K in (3, 5):
            P, S = self.problem(K, 60)
            g = self.rng.normal(size=60)
            for name, lay in self.LAYOUTS.items():
                with self.subTest(K=K, layout=name):
                    m = self.ctx.metric(P, S, libfi.Blocks(*lay))
                    self.assertEqual((m.count, m.classes), (lay[0], K))
                    groups = affine_groups(*lay)
                    np.testing.assert_allclose(m.compute(g), ref_fi(S, P, groups, g, 1e-10),
                                               rtol=1e-9, atol=1e-12)
                    k = int(np.argmax(P))
                    np.testing.assert_allclose(m.compute(S[k]),
                                               ref_fi(S, P, groups, S[k], 1e-10), rtol=1e-9)

    def test_single_coordinate_closed_form(self):
        # SPEC fact 1 with scores that are not zero-mean: FI = g^2 / sum_i P_i s_i^2.
        P = softmax(self.rng.normal(size=4))
        S = self.rng.normal(size=(4, 50))
        S[:, 7] = 0.0
        g = self.rng.normal(size=50)
        fi = self.ctx.metric(P, S).compute(g)
        den = (P[:, None] * S ** 2).sum(axis=0)
        expect = np.where(den > 0, g ** 2 / np.where(den > 0, den, 1), 0.0)
        np.testing.assert_allclose(fi, expect, rtol=1e-12)
        self.assertEqual(fi[7], 0.0)

    def test_index_blocks(self):
        P, S = self.problem(4, 40)
        groups = [[0, 17, 33], [5], [39, 1], list(range(20, 30))]
        g = self.rng.normal(size=40)
        for blocks in (groups, libfi.IndexBlocks.from_groups(groups)):
            fi = self.ctx.metric(P, S, blocks).compute(g)
            np.testing.assert_allclose(fi, ref_fi(S, P, groups, g, 1e-10), rtol=1e-9)

    def test_float32_float16_bfloat16_read_in_place(self):
        P, S = self.problem(4, 48)
        self.ctx.rcond = 1e-4  # rounding breaks the exact rank deficiency: cut above it
        groups = affine_groups(16, 3, 1, 3)
        S32 = S.astype(np.float32)
        g32 = self.rng.normal(size=48).astype(np.float32)
        S16 = S.astype(np.float16)
        bf = (S32.view(np.uint32) >> 16).astype(np.uint16)          # bfloat16 bits
        Sbf = (bf.astype(np.uint32) << 16).view(np.float32)          # their exact values
        for scores, exact, dtype in ((S32, S32, None), (S16, S16, None), (bf, Sbf, "bf16")):
            with self.subTest(dtype=str(scores.dtype)):
                m = self.ctx.metric(P, scores, libfi.Blocks(16, 3, 1, 3), dtype=dtype)
                self.assertEqual(self.ctx.last_copies, ())
                np.testing.assert_allclose(
                    m.compute(g32), ref_fi(exact.astype(np.float64), P, groups,
                                           g32.astype(np.float64), 1e-4), rtol=1e-8)

    def test_row_strided_scores_use_ld(self):
        # Rows of a wider array (ld = 100 > n = 60) are read in place.
        P, S = self.problem(4, 60)
        wide = np.full((4, 100), np.nan)
        wide[:, :60] = S
        view = wide[:, :60]
        calls = self.record("fi_metric_from_scores")
        fi = self.ctx.metric(P, view, libfi.Blocks(6, 10, 1, 10)).compute(S[0])
        self.assertEqual(self.ctx.last_copies, ())
        self.assertEqual(calls[-1][4], view.ctypes.data)      # scores pointer
        self.assertEqual(calls[-1][5:7], (60, 100))            # n, ld
        np.testing.assert_allclose(fi, ref_fi(S, P, affine_groups(6, 10, 1, 10), S[0], 1e-10),
                                   rtol=1e-9)

    def test_accumulate_writes_out_in_place(self):
        P, S = self.problem(4, 30)
        m = self.ctx.metric(P, S)
        out = np.ones(30)
        res = m.compute(S[1], out=out, accumulate=True)
        self.assertIs(res, out)
        np.testing.assert_allclose(out, 1.0 + ref_fi(S, P, [[i] for i in range(30)], S[1], 1e-10),
                                   rtol=1e-12)
        with self.assertRaises(ValueError):
            m.compute(S[1], out=np.zeros(30, dtype=np.float32))  # an output is never copied
        with self.assertRaises(ValueError):
            m.compute(S[1], out=np.zeros(29))
        with self.assertRaises(ValueError):
            m.compute(S[1], accumulate=True)

    def test_diagnostics(self):
        P, S = self.problem(5, 40)
        lay = (20, 2, 1, 2)
        groups = affine_groups(*lay)
        m = self.ctx.metric(P, S, libfi.Blocks(*lay))
        np.testing.assert_array_equal(m.ranks(), [2] * 20)
        g = self.rng.normal(size=40)
        np.testing.assert_allclose(m.residual(g), ref_residual(S, P, groups, g, 1e-10),
                                   atol=1e-10)
        np.testing.assert_allclose(m.residual(S[2]), 0.0, atol=1e-10)  # in range(B)
        k = 3
        self.assertAlmostEqual(m.class_bound(k), (1 - P[k]) / P[k], places=12)
        fi = m.compute(S[k])
        norm, sat = m.normalize(k, fi)
        np.testing.assert_allclose(norm, fi / ((1 - P[k]) / P[k]), rtol=1e-12)
        self.assertTrue(np.all(norm <= 1 + 1e-9))
        np.testing.assert_array_equal(sat, 0)  # rank 2 < K - 1 = 4
        # p = 4 = K - 1 reaches the bound (SPEC fact 3).
        m4 = self.ctx.metric(P, S, libfi.Blocks(10, 4, 1, 4))
        norm4, sat4 = m4.normalize(k, m4.compute(S[k]))
        np.testing.assert_allclose(norm4, 1.0, rtol=1e-9)
        np.testing.assert_array_equal(sat4, 1)

    def test_options(self):
        c = self.ctx
        c.threads = 2
        c.atol = 1e-300
        c.set("FI_OPT_PROB_TOL", 1e-3)
        c.class_mode = "renormalize"
        c.method = "reference"
        self.assertEqual((c.threads, c.get("atol"), c.prob_tol, c.class_mode, c.method),
                         (2, 1e-300, 1e-3, libfi.FI_CLASS_RENORMALIZE, libfi.FI_METHOD_REFERENCE))
        with self.assertRaises(ValueError):
            c.class_mode = "loose"
        with self.assertRaises(ValueError):
            c.set("no_such_option", 1)
        if self.has_constant("FI_OPT_ISA"):
            c.isa = "portable"
            self.assertEqual(c.isa, libfi.constant("FI_ISA_PORTABLE"))
        if self.has_constant("FI_OPT_RANK_RULE"):
            c.rank_rule = "noise"
            self.assertEqual(c.rank_rule, libfi.constant("FI_RANK_NOISE"))

    def test_renormalize_mode_matches_centered_reference(self):
        # SPEC fact 6(b): P' = P / sum P, s' = s - sum_j P'_j s_j.
        K, n = 4, 24
        raw = softmax(self.rng.normal(size=K)) * 0.7
        S = self.rng.normal(size=(K, n))
        Pn = raw / raw.sum()
        Sc = S - (Pn[:, None] * S).sum(axis=0)
        groups = affine_groups(8, 3, 1, 3)
        with libfi.Context(class_mode="renormalize", rcond=1e-10) as c:
            fi = c.metric(raw, S, libfi.Blocks(8, 3, 1, 3)).compute(Sc[0])
        np.testing.assert_allclose(fi, ref_fi(Sc, Pn, groups, Sc[0], 1e-10), rtol=1e-9)

    def record(self, fname):
        """Wraps the ctypes function fname to record the arguments it is called with."""
        real = LIB.fn(fname)
        calls = []

        def spy(*args):
            calls.append(args)
            return real(*args)

        LIB._fns[fname] = spy
        self.addCleanup(LIB._fns.__setitem__, fname, real)
        return calls


# ---------------------------------------------------------------- errors


class TestErrors(Case):
    def test_status_and_message(self):
        P, S = self.problem(4, 12)
        cases = [
            (lambda: self.ctx.metric(P * 0.5, S), "FI_ERR_PROBABILITY", "sum"),
            (lambda: self.ctx.metric(P, S, libfi.Blocks(5, 3, 1, 3)), "FI_ERR_DIMENSION",
             "outside"),
            (lambda: self.ctx.set("threads", 0), "FI_ERR_OPTION", "FI_OPT_THREADS"),
            (lambda: self.ctx.get(99), "FI_ERR_OPTION", "99"),
            (lambda: self.ctx.metric(P, S).class_bound(7), "FI_ERR_CLASS", "7"),
        ]
        for call, name, fragment in cases:
            with self.subTest(name=name):
                with self.assertRaises(libfi.FIError) as cm:
                    call()
                e = cm.exception
                self.assertEqual(e.status, libfi.constant(name))
                self.assertEqual(e.name, name)
                self.assertIn(fragment, e.message)
                self.assertIn(fragment, str(e))

    def test_nonfinite_target_leaves_out_untouched(self):
        P, S = self.problem(4, 12)
        m = self.ctx.metric(P, S)
        g = S[0].copy()
        g[5] = np.nan
        out = np.full(12, 7.0)
        with self.assertRaises(libfi.FIError) as cm:
            m.compute(g, out=out)
        self.assertEqual(cm.exception.status, libfi.FI_ERR_NONFINITE)
        self.assertIn("5", cm.exception.message)
        np.testing.assert_array_equal(out, 7.0)

    def test_python_side_checks(self):
        P, S = self.problem(4, 12)
        with self.assertRaises(ValueError):
            self.ctx.metric(P[:3], S)             # 4 rows, 3 probabilities
        with self.assertRaises(ValueError):
            self.ctx.metric(P, S).compute(S[0][:11])
        with self.assertRaises(ValueError):
            self.ctx.metric(P, S.reshape(-1)[:47])  # flat, not divisible into 4 rows
        with self.assertRaises(ValueError):
            self.ctx.metric(P, S, dtype="int8")

    def test_closed_objects(self):
        P, S = self.problem(4, 12)
        c = libfi.Context()
        m = c.metric(P, S)
        m.close()
        m.close()  # idempotent
        with self.assertRaises(ValueError):
            m.compute(S[0])
        c.close()
        with self.assertRaises(ValueError):
            c.metric(P, S)


# ---------------------------------------------------------------- no copies


class TestNoCopy(Case):
    def test_large_float32_is_read_in_place(self):
        K, n = 4, 1 << 20
        P = softmax(self.rng.normal(size=K))
        S = self.rng.standard_normal((K, n), dtype=np.float32)
        S.flags.writeable = False  # read-only input is fine, and must stay unmodified
        calls = TestCore.record(self, "fi_metric_from_scores")
        target_calls = TestCore.record(self, "fi_compute")
        m = self.ctx.metric(P, S)
        self.assertEqual(self.ctx.last_copies, ())
        self.assertEqual(calls[0][4], S.ctypes.data)
        self.assertEqual(calls[0][2], P.ctypes.data)
        fi = m.compute(S[1])
        self.assertEqual(self.ctx.last_copies, ())
        self.assertEqual(target_calls[0][3], S[1].ctypes.data)
        self.assertEqual(fi.shape, (n,))

    def test_conversions_are_reported(self):
        P, S = self.problem(4, 12)
        self.ctx.metric(P, S.astype(np.int64) + 1)
        self.assertEqual(self.ctx.last_copies, ("scores",))
        m = self.ctx.metric(list(P), np.asfortranarray(S))
        self.assertEqual(self.ctx.last_copies, ("probs", "scores"))
        m.compute(S[0])
        self.assertEqual(self.ctx.last_copies, ())
        m.compute(np.repeat(S[0], 2)[::2])  # strided target
        self.assertEqual(self.ctx.last_copies, ("target",))


# ---------------------------------------------------------------- without numpy


def import_without_numpy():
    """A fresh copy of the package, imported while numpy cannot be imported; the copy the
    other tests use is put back afterwards."""
    saved = {k: v for k, v in sys.modules.items() if k == "libfi" or k.startswith("libfi.")}
    saved_numpy = sys.modules.get("numpy")
    for k in saved:
        del sys.modules[k]
    sys.modules["numpy"] = None
    try:
        mod = importlib.import_module("libfi")
    finally:
        for k in [k for k in sys.modules if k == "libfi" or k.startswith("libfi.")]:
            del sys.modules[k]
        sys.modules.update(saved)
        if saved_numpy is None:
            del sys.modules["numpy"]
        else:
            sys.modules["numpy"] = saved_numpy
    return mod


class TestWithoutNumpy(Case):
    def test_array_module_buffers(self):
        nl = import_without_numpy()
        self.assertFalse(nl.HAVE_NUMPY)
        K, n = 4, 24
        P, S = self.problem(K, n)
        probs = array.array("d", P)
        flat32 = array.array("f", S.astype(np.float32).ravel())
        groups = affine_groups(8, 3, 1, 3)
        with nl.Context(rcond=1e-4) as c:
            m = c.metric(probs, flat32, nl.Blocks.pixels(2, 4))
            self.assertEqual(c.last_copies, ())
            self.assertEqual(m.n, n)
            target = memoryview(flat32)[2 * n:3 * n]  # class 2, a slice of the same buffer
            fi = m.compute(target)
            self.assertEqual(c.last_copies, ())
            self.assertIsInstance(fi, array.array)
            S32 = np.frombuffer(flat32, dtype=np.float32).reshape(K, n).astype(np.float64)
            np.testing.assert_allclose(np.array(fi), ref_fi(S32, P, groups, S32[2], 1e-4),
                                       rtol=1e-8)
            # Read-only bytes are read in place too (PyObject_GetBuffer, no copy).
            ro = bytes(S.tobytes())
            c.rcond = 1e-10
            fi64 = c.metric(probs, memoryview(ro).cast("d"), nl.Blocks.pixels(2, 4)).compute(
                array.array("d", S[2]))
            self.assertEqual(c.last_copies, ())
            np.testing.assert_allclose(np.array(fi64), ref_fi(S, P, groups, S[2], 1e-10),
                                       rtol=1e-9)
            # A list has no memory to share: copied, and said so.
            c.metric(list(P), S.ravel().tolist())
            self.assertEqual(c.last_copies, ("probs", "scores"))
            out = array.array("d", [1.0] * n)
            c.metric(probs, S.ravel().tolist()).compute(array.array("d", S[0]), out=out,
                                                         accumulate=True)
            self.assertEqual(out[0], 1.0 + S[0, 0] ** 2 / np.sum(P * S[:, 0] ** 2))
            with self.assertRaises(ValueError):
                c.metric(probs, flat32).compute(target, out=array.array("f", [0.0] * n))


# ---------------------------------------------------------------- threads


class TestThreads(Case):
    def test_one_context_per_thread(self):
        P, S = self.problem(4, 400)
        blocks = libfi.Blocks(100, 4, 1, 4)
        m = self.ctx.metric(P, S, blocks)
        expect = m.compute(S[0])
        results = [None] * 4

        def work(t):
            with libfi.Context(rcond=1e-10) as c:
                results[t] = [c.metric(P, S, blocks).compute(S[0]), m.compute(S[0], ctx=c)]

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in results:
            np.testing.assert_array_equal(r[0], expect)
            np.testing.assert_array_equal(r[1], expect)

    def test_shared_context_is_refused(self):
        P, S = self.problem(4, 12)
        self.ctx._lock.acquire()  # as if another thread were inside a call
        try:
            with self.assertRaises(RuntimeError):
                self.ctx.metric(P, S)
        finally:
            self.ctx._lock.release()


# ---------------------------------------------------------------- fast path


class TestDirect(Case):
    @needs("fi_direct", "fi_direct_indexed")
    def test_matches_pinv_and_metric(self):
        P, S = self.problem(5, 60)
        g = self.rng.normal(size=60)
        k = int(np.argmax(P))
        for lay in TestCore.LAYOUTS.values():
            groups = affine_groups(*lay)
            fi = self.ctx.direct(P, S, libfi.Blocks(*lay), target=g)
            np.testing.assert_allclose(fi, ref_fi(S, P, groups, g, 1e-10), rtol=1e-8,
                                       atol=1e-12)
            fk = self.ctx.direct(P, S, libfi.Blocks(*lay), target_class=k)
            np.testing.assert_allclose(fk, ref_fi(S, P, groups, S[k], 1e-10), rtol=1e-8)
        groups = [[0, 9, 33], [4], list(range(40, 52))]
        np.testing.assert_allclose(self.ctx.direct(P, S, groups, target_class=1),
                                   ref_fi(S, P, groups, S[1], 1e-10), rtol=1e-8)
        if self.has_constant("FI_OPT_ISA"):  # the portable kernels agree with the widest ones
            with libfi.Context(rcond=1e-10, isa="portable") as c:
                for lay in TestCore.LAYOUTS.values():
                    np.testing.assert_allclose(c.direct(P, S, libfi.Blocks(*lay), target=g),
                                               self.ctx.direct(P, S, libfi.Blocks(*lay), target=g),
                                               rtol=1e-12)

    @needs("fi_direct")
    def test_accumulate_and_target_dtype(self):
        P, S = self.problem(4, 30)
        out = np.full(30, 2.0)
        self.ctx.direct(P, S, target_class=0, out=out, accumulate=True)
        np.testing.assert_allclose(out, 2.0 + S[0] ** 2 / (P[:, None] * S ** 2).sum(0),
                                   rtol=1e-12)
        self.ctx.direct(P, S.astype(np.float32), target=S[0])  # float64 target -> float32
        self.assertEqual(self.ctx.last_copies, ("target",))
        with self.assertRaises(libfi.FIError) as cm:
            self.ctx.direct(P, S, target_class=4)
        self.assertEqual(cm.exception.status, libfi.FI_ERR_CLASS)


# ---------------------------------------------------------------- aggregation and selection


class TestAccumulator(Case):
    @needs("fi_accumulator_create", "fi_accumulator_result")
    def test_weighted_mean_merge_serialize(self):
        X = self.rng.random(size=(7, 5))
        w = self.rng.random(size=7) + 0.1
        a = self.ctx.accumulator(5)
        for x, wi in zip(X, w):
            a.add(x, wi)
        mean, se = a.result()
        np.testing.assert_allclose(mean, (w[:, None] * X).sum(0) / w.sum(), rtol=1e-12)
        # The documented reliability-weights standard error, written out in numpy.
        W, W2 = w.sum(), (w ** 2).sum()
        m = (w[:, None] * X).sum(0) / W
        var = ((w[:, None] * (X - m) ** 2).sum(0)) / (W - W2 / W)
        np.testing.assert_allclose(se, np.sqrt(var * W2) / W, rtol=1e-9)
        # Equal weights: the textbook s / sqrt(N).
        e = self.ctx.accumulator(5)
        for x in X:
            e.add(x)
        np.testing.assert_allclose(e.result()[1], X.std(0, ddof=1) / np.sqrt(7), rtol=1e-9)
        cnt, samples, tw = a.info()
        self.assertEqual((cnt, samples), (5, 7))
        self.assertAlmostEqual(tw, w.sum(), places=12)
        # Two shards merged = one accumulator over everything.
        b, c = self.ctx.accumulator(5), self.ctx.accumulator(5)
        for i in range(7):
            (b if i < 3 else c).add(X[i], w[i])
        b.merge(c)
        mb, sb = b.result()
        np.testing.assert_allclose(mb, mean, rtol=1e-12)
        np.testing.assert_allclose(sb, se, rtol=1e-10)
        # Serialized image: round trip, and refused when truncated.
        img = a.serialize()
        self.assertIsInstance(img, bytes)
        d = self.ctx.deserialize_accumulator(img)
        np.testing.assert_array_equal(d.result()[0], mean)
        self.assertEqual(d.info(), a.info())
        with self.assertRaises(libfi.FIError) as cm:
            self.ctx.deserialize_accumulator(img[:-3])
        self.assertEqual(cm.exception.status, libfi.FI_ERR_FORMAT)
        with self.assertRaises(libfi.FIError) as cm:
            a.merge(self.ctx.accumulator(4))
        self.assertEqual(cm.exception.status, libfi.FI_ERR_MISMATCH)


class TestSelection(Case):
    @needs("fi_select_top", "fi_select_complement", "fi_indices_to_mask")
    def test_top_complement_mask(self):
        v = np.array([0.5, 2.0, 0.1, 2.0, 3.0, 0.5, 0.0])
        top = self.ctx.select_top(v, 4)
        np.testing.assert_array_equal(top, np.argsort(-v, kind="stable")[:4])  # ties by index
        np.testing.assert_array_equal(top, [4, 1, 3, 0])
        comp = self.ctx.select_complement(7, top)
        np.testing.assert_array_equal(comp, [2, 5, 6])
        np.testing.assert_array_equal(self.ctx.indices_to_mask(7, top), [1, 1, 0, 1, 1, 0, 0])
        self.assertEqual(libfi.fraction_count(7, 0.5), 4)
        self.assertEqual(libfi.fraction_count(1000, 0.001), 1)
        with self.assertRaises(ValueError):
            libfi.fraction_count(7, 1.5)
        with self.assertRaises(libfi.FIError) as cm:
            self.ctx.select_top(v, 8)
        self.assertEqual(cm.exception.status, libfi.FI_ERR_DIMENSION)
        # A repeated index would make the complement longer than count - k: refused.
        with self.assertRaises(libfi.FIError) as cm:
            self.ctx.select_complement(7, [1, 1])
        self.assertIn("twice", cm.exception.message)

    @needs("fi_select_random_low")
    def test_random_low(self):
        v = self.rng.random(100)
        a = self.ctx.select_random_low(v, 10, 20, seed=42)
        b = self.ctx.select_random_low(v, 10, 20, seed=42)
        np.testing.assert_array_equal(a, b)
        self.assertEqual(len(set(a.tolist())), 20)
        self.assertTrue(np.all(np.diff(a) > 0))
        self.assertFalse(set(a.tolist()) & set(np.argsort(-v, kind="stable")[:10].tolist()))


class TestReduce(Case):
    @needs("fi_reduce")
    def test_channel_reductions(self):
        x = self.rng.random(size=(6, 10))
        for op, ref in (("sum", x.sum(1)), ("mean", x.mean(1)), ("max", x.max(1))):
            np.testing.assert_allclose(self.ctx.reduce(x.ravel(), libfi.Blocks.rows(6, 10), op),
                                       ref, rtol=1e-13)
        np.testing.assert_allclose(self.ctx.reduce(x.ravel(), libfi.Blocks.columns(6, 10)),
                                   x.sum(0), rtol=1e-13)


class TestPerturbation(Case):
    @needs("fi_perturbation")
    def test_fisher_length_taylor_and_bound(self):
        P, S = self.problem(5, 40)
        lay = (10, 4, 1, 4)
        d = self.rng.normal(size=40)
        k = 2
        f2, t2 = self.ctx.perturbation(P, S, d, libfi.Blocks(*lay), target_class=k)
        fi = self.ctx.metric(P, S, libfi.Blocks(*lay)).compute(S[k])
        for b, idx in enumerate(affine_groups(*lay)):
            G = sum(P[i] * np.outer(S[i, idx], S[i, idx]) for i in range(5))
            self.assertAlmostEqual(f2[b], d[idx] @ G @ d[idx], delta=1e-10 * abs(f2[b]))
            self.assertAlmostEqual(t2[b], (S[k, idx] @ d[idx]) ** 2, delta=1e-10 * t2[b])
            self.assertLessEqual(t2[b], fi[b] * f2[b] * (1 + 1e-9))  # SPEC fact 7
        f_only, none = self.ctx.perturbation(P, S, d, libfi.Blocks(*lay), taylor=False)
        self.assertIsNone(none)
        np.testing.assert_array_equal(f_only, f2)


if __name__ == "__main__":
    unittest.main()
