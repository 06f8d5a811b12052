"""The package's wrappers of the 1.2 workflow objects (libfi.Mean, libfi.Threshold,
libfi.ClassStream) against independent references: numpy means and the reliability-weight
standard error, numpy sorting by (value descending, array, index), explicit pseudo-inverses;
merge orders, shard splits through images, and bad input rejected with code, name and
message. Run by tests/python/run.sh."""

import math
import os
import sys
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if os.environ.get("LIBFI_TEST_INSTALLED") != "1":
    sys.path.insert(0, os.path.join(HERE, os.pardir, os.pardir, "python"))
import libfi  # noqa: E402
from libfi import threshold as thr  # noqa: E402

U = 2.0 ** -53


def weighted_reference(X, w):
    """Mean and reliability-weight standard error, two-pass, in float64 with fsum."""
    W = math.fsum(w)
    W2 = math.fsum(np.asarray(w) ** 2)
    mean = np.array([math.fsum(w * X[:, b]) for b in range(X.shape[1])]) / W
    var = np.array([math.fsum(w * (X[:, b] - mean[b]) ** 2) for b in range(X.shape[1])])
    var /= (W - W2 / W)
    return mean, np.sqrt(var * W2) / W


def fi_values(rng, N, n):
    """Non-negative FI-like values over 30 decades, with exact zeros."""
    X = 10.0 ** rng.uniform(-15, 15, size=(N, n)) * rng.random((N, n))
    X[rng.random((N, n)) < 0.1] = 0.0
    return X


class TestMean(unittest.TestCase):
    def setUp(self):
        self.ctx = libfi.Context()
        self.rng = np.random.default_rng(1)

    def tearDown(self):
        self.ctx.close()

    def test_mean_and_stderr_against_numpy(self):
        N, n = 40, 30
        X = fi_values(self.rng, N, n)
        w = self.rng.uniform(0.1, 3.0, N)
        with self.ctx.mean((5, 6)) as m:
            for x, wi in zip(X, w):
                m.add(x.reshape(5, 6), wi)
            mean, se = m.result()
            self.assertEqual((mean.shape, se.shape), ((5, 6), (5, 6)))
            self.assertEqual(m.info(), (n, N, m.total_weight))
            self.assertAlmostEqual(m.total_weight, w.sum(), delta=1e-12 * w.sum())
        ref_mean, ref_se = weighted_reference(X, w)
        bound = 2 * (N - 1) * U + 3 * U  # docs/aggregation.md section 5
        np.testing.assert_allclose(mean.reshape(-1), ref_mean, rtol=bound, atol=0)
        np.testing.assert_allclose(se.reshape(-1), ref_se, rtol=1e-9, atol=0)

    def test_merge_order_and_shard_split_within_the_bound(self):
        N, n = 64, 50
        X = fi_values(self.rng, N, n)
        ref, _ = weighted_reference(X, np.ones(N))
        bound = 2 * (N - 1) * U + 3 * U
        results = []
        for trial in range(6):
            order = self.rng.permutation(N)
            cuts = np.sort(self.rng.choice(np.arange(1, N), size=trial % 4 + 1, replace=False))
            shards = []
            for part in np.split(order, cuts):
                s = self.ctx.mean(n)
                for i in part:
                    s.add(X[i])
                shards.append(s)
            # a random merge tree, with images between "processes"
            while len(shards) > 1:
                a = shards.pop(self.rng.integers(len(shards)))
                b = shards.pop(self.rng.integers(len(shards)))
                b2 = self.ctx.deserialize_mean(b.serialize())
                a.merge(b2)
                b.close(), b2.close()
                shards.append(a)
            mean, _ = shards[0].result()
            self.assertEqual(shards[0].samples, N)
            shards[0].close()
            np.testing.assert_allclose(mean, ref, rtol=bound, atol=0)
            results.append(mean)
        for r in results[1:]:  # any two orders: each within the bound of the exact mean
            np.testing.assert_allclose(r, results[0], rtol=2 * bound, atol=0)

    def test_against_the_exact_accumulator(self):
        X = fi_values(self.rng, 12, 20)
        with self.ctx.mean(20) as m, self.ctx.accumulator(20) as a:
            for x in X:
                m.add(x, 0.5)
                a.add(x, 0.5)
            (mm, ms), (am, as_) = m.result(), a.result()
        np.testing.assert_allclose(mm, am, rtol=2 * 11 * U + 3 * U, atol=0)
        np.testing.assert_allclose(ms, as_, rtol=1e-9, atol=0)

    def test_add_direct_is_direct_then_add(self):
        K, R, C = 5, 6, 4
        m_el, m_rows = self.ctx.mean((R, C)), self.ctx.mean(R)
        fis_el, fis_rows = [], []
        for s in range(4):
            P = self.rng.random(K)
            P /= P.sum()
            S = self.rng.standard_normal((K, R, C))
            S[:, 0, :] = 0.0  # exact zeros: FI 0
            k = s % K
            m_el.add_direct(P, S, target_class=k, weight=2.0)
            m_rows.add_direct(P, S.astype(np.float32), libfi.Blocks.rows(R, C), target_class=k)
            fis_el.append(self.ctx.direct(P, S, target_class=k))
            fis_rows.append(self.ctx.direct(P, S.astype(np.float32), libfi.Blocks.rows(R, C),
                                            target_class=k))
        np.testing.assert_allclose(m_el.result()[0], np.mean(fis_el, axis=0), rtol=1e-14)
        self.assertEqual(m_el.result()[0].shape, (R, C))
        np.testing.assert_allclose(m_rows.result()[0], np.mean(fis_rows, axis=0), rtol=1e-14)
        self.assertEqual(m_el.total_weight, 8.0)
        m_el.close(), m_rows.close()

    def test_bad_input(self):
        m = self.ctx.mean(4)
        m.add(np.ones(4))
        before = m.serialize()
        cases = [(lambda: m.add(np.ones(3)), "elements"),
                 (lambda: m.add(np.ones(4), -1.0), "weight"),
                 (lambda: m.add(np.ones(4), float("nan")), "weight"),
                 (lambda: m.merge(self.ctx.mean(5)), "5 blocks"),
                 (lambda: m.merge(self.ctx.accumulator(4)), "Mean"),
                 (lambda: m.add_direct([0.5, 0.5], np.ones((2, 4)),
                                       libfi.IndexBlocks.from_groups([[0, 1], [2, 3]]),
                                       target_class=0), "affine"),
                 (lambda: m.add_direct([0.5, 0.5], np.ones((2, 4)), libfi.Blocks.rows(2, 2),
                                       target_class=0), "2 FI values")]
        for call, fragment in cases:
            with self.subTest(fragment=fragment):
                with self.assertRaises(libfi.ArgumentError) as cm:
                    call()
                self.assertIn(fragment, str(cm.exception))
        bad = np.array([1.0, -1.0, 1.0, 1.0])
        with self.assertRaises(libfi.FIError) as cm:
            m.add(bad)
        e = cm.exception
        self.assertEqual((e.code, e.name), (libfi.FI_ERR_NONFINITE, "FI_ERR_NONFINITE"))
        self.assertIn("negative", e.message)
        self.assertEqual(bad[1], -1.0)  # the caller's array untouched
        self.assertEqual(m.serialize(), before)  # a failed add changed nothing
        damaged = bytearray(before)
        damaged[20] ^= 1
        with self.assertRaises(libfi.FIError) as cm:
            self.ctx.deserialize_mean(bytes(damaged))
        self.assertEqual((cm.exception.code, cm.exception.name),
                         (libfi.FI_ERR_FORMAT, "FI_ERR_FORMAT"))
        m.close()
        with self.assertRaises(libfi.ArgumentError):
            m.add(np.ones(4))
        with self.assertRaises(TypeError):
            import pickle
            pickle.dumps(self.ctx.mean(2))


def sort_masks(arrays, k):
    """The reference: sort every value by (value descending, array, index), take k."""
    flat = np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays])
    which = np.concatenate([np.full(np.size(a), i) for i, a in enumerate(arrays)])
    pos = np.concatenate([np.arange(np.size(a)) for a in arrays])
    # -0.0 and +0.0 are equal values: compare by value, not by bits
    order = np.lexsort((pos, which, -flat))
    chosen = np.zeros(flat.size, dtype=bool)
    chosen[order[:k]] = True
    out, at = [], 0
    for a in arrays:
        out.append(chosen[at:at + np.size(a)].reshape(np.shape(a)))
        at += np.size(a)
    return out, (np.sort(flat)[::-1][k - 1] if k else None)


class TestThreshold(unittest.TestCase):
    def setUp(self):
        self.ctx = libfi.Context()
        self.rng = np.random.default_rng(2)

    def tearDown(self):
        self.ctx.close()

    def check(self, arrays, ks):
        total = sum(np.size(a) for a in arrays)
        for k in ks:
            k = int(min(max(k, 0), total))
            with self.subTest(k=k, total=total):
                got = thr.top_k(arrays, k, self.ctx)
                want, _ = sort_masks(arrays, k)
                for g, w, a in zip(got, want, arrays):
                    self.assertEqual(g.shape, np.shape(a))
                    self.assertEqual(g.dtype, np.bool_)
                    np.testing.assert_array_equal(g, w)

    def test_random_values(self):
        arrays = [self.rng.standard_normal((7, 9)), self.rng.standard_normal(30),
                  self.rng.standard_normal((2, 3, 4)).astype(np.float32), np.zeros(0)]
        self.check(arrays, [0, 1, 2, 17, 50, 100, 146, 147])

    def test_tied_values(self):
        arrays = [self.rng.integers(0, 4, size=40).astype(np.float64),
                  self.rng.integers(0, 4, size=(5, 5)).astype(np.float64),
                  np.full(13, 2.0), np.full(10, 3.0)]
        self.check(arrays, [1, 9, 10, 11, 30, 50, 77, 88])

    def test_adversarial_values(self):
        tiny = np.nextafter(0.0, 1.0)
        one_ulp = np.nextafter(1.0, 2.0)
        a = np.array([0.0, -0.0, tiny, -tiny, 1.0, one_ulp, np.nextafter(1.0, 0.0),
                      np.inf, -np.inf, 1e308, -1e308, 2.2250738585072014e-308, 0.0, -0.0])
        b = np.array([-0.0, 0.0, 1.0, one_ulp, 1.0, tiny, tiny, -np.inf, np.inf])
        c = np.full(6, -0.0)
        for k in range(0, a.size + b.size + c.size + 1):
            self.check([a, b, c], [k])

    def test_result_is_the_kth_largest(self):
        arrays = [self.rng.integers(0, 5, size=20).astype(float), self.rng.random(15)]
        for k in (1, 7, 20, 35):
            with self.ctx.threshold() as sel:
                while True:
                    for a in arrays:
                        sel.add(a)
                    if sel.narrow(k):
                        break
                t, above, ties = sel.result()
            flat = np.concatenate(arrays)
            self.assertEqual(t, np.sort(flat)[::-1][k - 1])
            self.assertEqual(above, int((flat > t).sum()))
            self.assertEqual(above + ties, k)

    def test_shards_through_images(self):
        # Two "processes" each hold some arrays; each round their histograms are summed
        # through images, one narrow runs on the sum, and its image goes back to both.
        arrays = [self.rng.integers(0, 6, size=25).astype(float) for _ in range(5)]
        shard_of = [0, 1, 0, 1, 1]
        k = 37
        proc = [self.ctx.threshold(), self.ctx.threshold()]
        done, rounds = False, 0
        while not done:
            for a, s in zip(arrays, shard_of):
                proc[s].add(a)
            root = self.ctx.deserialize_threshold(proc[0].serialize())
            root.merge(self.ctx.deserialize_threshold(proc[1].serialize()))
            done = root.narrow(k)
            rounds += 1
            image = root.serialize()
            for p in proc:
                p.close()
            proc = [self.ctx.deserialize_threshold(image) for _ in range(2)]
            root.close()
        self.assertEqual(rounds, thr.ROUNDS)
        # masks: ties_seen = the ties in the arrays before, a prefix sum across processes
        t = proc[0].result()[0]
        ties_before = np.cumsum([0] + [int((a == t).sum()) for a in arrays])[:-1]
        got = [proc[s].mask(a, int(ties_before[i]))[0]
               for i, (a, s) in enumerate(zip(arrays, shard_of))]
        want, _ = sort_masks(arrays, k)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)

    def test_top_fraction_matches_the_concatenating_selection(self):
        values = {"a": self.rng.random((6, 5)), "b": self.rng.integers(0, 3, 17).astype(float),
                  "c": self.rng.random(9)}
        self.assertEqual(thr.top_fraction(values, 0.0, self.ctx).total, 0)
        for frac in (0.01, 0.05, 0.3, 1.0):
            new = thr.top_fraction(values, frac, self.ctx)
            old = libfi.selection.top_fraction(values, frac, self.ctx)
            for n in values:
                np.testing.assert_array_equal(new.indices[n], old.indices[n])
                self.assertEqual(new.shapes[n], np.shape(values[n]))

    def test_random_draw(self):
        shapes = [(4, 5), 7, (3,)]
        top = [np.zeros((4, 5), bool), np.zeros(7, bool), np.ones(3, bool)]
        top[0][1] = True
        free = 30 - 5 - 3
        a = thr.random_k(shapes, 9, seed=11, exclude=top, ctx=self.ctx)
        b = thr.random_k(shapes, 9, seed=11, exclude=top, ctx=self.ctx)
        c = thr.random_k(shapes, 9, seed=12, exclude=top, ctx=self.ctx)
        self.assertEqual([m.shape for m in a], [(4, 5), (7,), (3,)])
        self.assertEqual(sum(int(m.sum()) for m in a), 9)
        for m, t in zip(a, top):
            self.assertFalse((m & t).any())  # never an excluded element
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)  # seeded
        self.assertFalse(all((x == y).all() for x, y in zip(a, c)))
        all_free = thr.random_k(shapes, free, seed=3, exclude=top, ctx=self.ctx)
        for m, t in zip(all_free, top):
            np.testing.assert_array_equal(m, ~t)
        # the same draw when the arrays are counted by two selectors and merged
        with self.ctx.threshold_random(11) as s0, self.ctx.threshold_random(11) as s1:
            counts = [20, 7, 3]
            while True:
                s0.add_random(0, 20, top[0])
                s1.add_random(2, 3, top[2])
                s1.add_random(1, 7, top[1])
                s0.merge(s1)
                done = s0.narrow(9)
                s1.close()
                s1 = self.ctx.deserialize_threshold(s0.serialize())
                self.assertTrue(s1.random)
                if done:
                    break
            ties = 0
            for i in range(3):
                m, ties = s0.mask_random(i, counts[i], top[i], ties, np.shape(top[i]))
                np.testing.assert_array_equal(m, a[i])
        # uniform: each of the 22 free elements drawn with frequency 9/22 over many seeds
        freq = np.zeros(30)
        seeds = 150
        for s in range(seeds):
            freq += np.concatenate([m.reshape(-1) for m in
                                    thr.random_k(shapes, 9, s, top, self.ctx)])
        p = 9 / free
        sd = math.sqrt(seeds * p * (1 - p))
        free_mask = ~np.concatenate([t.reshape(-1) for t in top])
        self.assertTrue(np.all(np.abs(freq[free_mask] - seeds * p) < 5 * sd), freq)

    def test_random_low_fraction_outside_the_top(self):
        values = {"a": self.rng.random((8, 8)), "b": self.rng.random(36)}
        top = thr.top_fraction(values, 0.2, self.ctx)
        low = thr.random_low_fraction(values, 0.2, 5, ctx=self.ctx)
        self.assertEqual(low.total, top.total)
        for n in values:
            self.assertFalse(set(low.indices[n].tolist()) & set(top.indices[n].tolist()))

    def test_bad_input(self):
        cases = [(lambda: thr.top_k([np.ones(3)], 4, self.ctx), "k = 4"),
                 (lambda: thr.top_k([np.ones(3)], -1, self.ctx), "k must"),
                 (lambda: self.ctx.threshold().add_random(0, 3), "random selector"),
                 (lambda: self.ctx.threshold_random(1).add(np.ones(3)), "top selector"),
                 (lambda: self.ctx.threshold_random(1).add_random(0, 3, np.zeros(2, bool)),
                  "exclude"),
                 (lambda: self.ctx.threshold().merge(self.ctx.mean(1)), "Threshold")]
        for call, fragment in cases:
            with self.subTest(fragment=fragment):
                with self.assertRaises(libfi.ArgumentError) as cm:
                    call()
                self.assertIn(fragment, str(cm.exception))
        v = np.array([1.0, np.nan, 2.0])
        with self.assertRaises(libfi.FIError) as cm:
            thr.top_k([v], 1, self.ctx)
        self.assertEqual((cm.exception.code, cm.exception.name),
                         (libfi.FI_ERR_NONFINITE, "FI_ERR_NONFINITE"))
        self.assertTrue(np.isnan(v[1]))
        with self.ctx.threshold() as a, self.ctx.threshold() as b:
            a.add(np.ones(3))
            a.narrow(1)
            with self.assertRaises(libfi.FIError) as cm:
                a.merge(b)  # another round
            self.assertEqual((cm.exception.code, cm.exception.name),
                             (libfi.FI_ERR_MISMATCH, "FI_ERR_MISMATCH"))
            self.assertIn("round", cm.exception.message)


def pinv_fi(P, S, groups, target):
    """Explicit reference: FI_b = g^T pinv(G_b) g, G_b = sum_i P_i s_i[b] s_i[b]^T."""
    out = []
    for g in groups:
        B = S[:, g] * np.sqrt(P)[:, None]
        G = B.T @ B
        t = target[g]
        out.append(t @ np.linalg.pinv(G, rcond=1e-10, hermitian=True) @ t)
    return np.array(out)


class TestClassStream(unittest.TestCase):
    def setUp(self):
        self.ctx = libfi.Context()
        self.rng = np.random.default_rng(3)

    def tearDown(self):
        self.ctx.close()

    def stream(self, P, S, blocks=None, target_class=None, target=None, shape=None):
        with self.ctx.class_stream(shape or S.shape[1], blocks, target_class) as cs:
            for i in range(S.shape[0]):
                cs.add(P[i], S[i])
            self.assertEqual(cs.classes, S.shape[0])
            return cs.finish(target)

    def test_against_pinv_and_direct(self):
        n = 24
        for K, blocks, p in ((3, None, 1), (12, libfi.Blocks(8, 3, 1, 3), 3),
                             (20, libfi.Blocks(3, 8, 1, 8), 8), (40, libfi.Blocks.columns(4, 6), 4),
                             (6, libfi.Blocks.columns(4, 6), 4)):
            with self.subTest(K=K, p=p):
                P = self.rng.random(K) + 0.1
                P /= P.sum()
                S = self.rng.standard_normal((K, n))
                S -= P @ S  # softmax-consistent: sum_i P_i s_i = 0
                tgt = self.rng.standard_normal(n)
                blk = blocks or libfi.Blocks.elements(n)
                groups = [[b * blk.step + j * blk.stride for j in range(blk.size)]
                          for b in range(blk.count)]
                for k in (0, K - 1):
                    got = self.stream(P, S, blocks, target_class=k)
                    np.testing.assert_allclose(got, self.ctx.direct(P, S, blk, target_class=k),
                                               rtol=1e-12, atol=0)
                    if p < K:  # full rank: the pseudo-inverse is the inverse
                        np.testing.assert_allclose(got, pinv_fi(P, S, groups, S[k]), rtol=1e-8)
                got = self.stream(P, S, blocks, target=tgt)
                np.testing.assert_allclose(got, self.ctx.direct(P, S, blk, target=tgt),
                                           rtol=1e-12, atol=0)

    def test_elements_shaped_float32_and_memory_independent_of_k(self):
        K, shape = 50, (6, 7)
        P = self.rng.random(K)
        P /= P.sum()
        S = self.rng.standard_normal((K,) + shape).astype(np.float32)
        S[:, 2, :] = 0.0  # exact zeros: FI 0 there
        sizes = []
        with self.ctx.class_stream(shape, target_class=4) as cs:
            for i in range(K):
                cs.add(P[i], S[i])
                sizes.append(cs.nbytes)
            got = cs.finish()
        self.assertEqual(got.shape, shape)
        self.assertEqual(len(set(sizes[1:])), 1, sizes)  # O(n), not O(K n)
        want = self.ctx.direct(P, S, target_class=4)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
        self.assertTrue(np.all(got[2] == 0))
        with np.errstate(invalid="ignore"):  # 0/0 on the zero row, not compared
            ref = (S[4].astype(np.float64) ** 2) / (P @ S.astype(np.float64).reshape(K, -1) ** 2
                                                    ).reshape(shape)
        ok = S[4] != 0
        np.testing.assert_allclose(got[ok], ref[ok], rtol=1e-10)

    def test_renormalize_mode_subset(self):
        K, n = 4, 10
        P = self.rng.random(K) * 0.2  # a subset of the classes: sum < 1
        S = self.rng.standard_normal((K, n))
        with libfi.Context(class_mode="renormalize") as ctx:
            with ctx.class_stream(n, target_class=2) as cs:
                for i in range(K):
                    cs.add(P[i], S[i])
                got = cs.finish()
            want = ctx.direct(P, S, target_class=2)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
        # closed form for elements: P' = P/sum P, centred scores, FI = t^2 / sum P' (s - mu)^2
        Pn = P / P.sum()
        C = S - Pn @ S
        np.testing.assert_allclose(got, C[2] ** 2 / (Pn @ C ** 2), rtol=1e-10)

    def test_bad_input(self):
        cases = [(lambda: self.ctx.class_stream(18, libfi.Blocks(2, 9, 1, 9)), "at most 8"),
                 (lambda: self.ctx.class_stream(4, libfi.IndexBlocks.from_groups([[0, 1]])),
                  "affine"),
                 (lambda: self.ctx.class_stream(4).finish(), "target_class"),
                 (lambda: self.ctx.class_stream(4).add(-0.1, np.ones(4)), "prob"),
                 (lambda: self.ctx.class_stream(4).add(0.5, np.ones(5)), "5 elements"),
                 (lambda: self.ctx.class_stream(4, target_class=-2), "target_class")]
        for call, fragment in cases:
            with self.subTest(fragment=fragment):
                with self.assertRaises(libfi.ArgumentError) as cm:
                    call()
                self.assertIn(fragment, str(cm.exception))
        with self.ctx.class_stream(3, target_class=0) as cs:
            cs.add(0.5, np.ones(3))
            cs.add(0.2, np.zeros(3))  # probabilities sum to 0.7 in strict mode
            out = np.full(3, 7.0)
            with self.assertRaises(libfi.FIError) as cm:
                cs.finish(out=out)
            self.assertEqual((cm.exception.code, cm.exception.name),
                             (libfi.FI_ERR_PROBABILITY, "FI_ERR_PROBABILITY"))
            self.assertTrue(cm.exception.message)
            np.testing.assert_array_equal(out, 7.0)  # the output is not half written


if __name__ == "__main__":
    unittest.main()
