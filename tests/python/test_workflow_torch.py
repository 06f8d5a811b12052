"""The 1.2 workflow objects (fi_class_stream_*, fi_mean_*, fi_threshold_*) on what users pass:
per-class gradients of a real PyTorch MLP in float32 (ReLU: dead units give exact zeros),
against fi_direct on the stacked scores, against the same model in float64, and against numpy
(mean, sort). Calls lib/libfi.so through ctypes directly (the python/ binding does not wrap
these functions yet). Run by tests/python/run.sh."""

import ctypes
import os
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
LIBDIR = os.environ.get("LIBFI_PATH", os.path.join(HERE, os.pardir, os.pardir, "lib"))

try:
    import torch
except ImportError:  # loud: unittest -v prints the reason
    torch = None

c_i64, c_dbl, c_vp, c_u8p = ctypes.c_int64, ctypes.c_double, ctypes.c_void_p, ctypes.c_void_p


class Blocks(ctypes.Structure):
    _fields_ = [("count", c_i64), ("size", c_i64), ("stride", c_i64), ("step", c_i64)]


def load():
    lib = ctypes.CDLL(os.path.join(LIBDIR, "libfi.so"))
    P = ctypes.POINTER
    sig = {
        "fi_context_create": [P(c_vp)], "fi_context_error": [c_vp],
        "fi_direct": [c_vp, c_i64, c_vp, ctypes.c_int, c_vp, c_i64, c_i64, P(Blocks), c_vp,
                      c_i64, c_vp, ctypes.c_uint],
        "fi_class_stream_create": [c_vp, c_i64, P(Blocks), c_i64, P(c_vp)],
        "fi_class_stream_add": [c_vp, c_vp, c_dbl, ctypes.c_int, c_vp],
        "fi_class_stream_finish": [c_vp, c_vp, ctypes.c_int, c_vp, c_vp, ctypes.c_uint],
        "fi_class_stream_free": [c_vp],
        "fi_mean_create": [c_vp, c_i64, P(c_vp)],
        "fi_mean_add_direct": [c_vp, c_vp, c_dbl, c_i64, c_vp, ctypes.c_int, c_vp, c_i64, c_i64,
                               P(Blocks), c_vp, c_i64, ctypes.c_uint],
        "fi_mean_result": [c_vp, c_vp, c_vp, c_vp], "fi_mean_free": [c_vp],
        "fi_threshold_create": [c_vp, P(c_vp)], "fi_threshold_free": [c_vp],
        "fi_threshold_add": [c_vp, c_vp, c_vp, c_i64],
        "fi_threshold_narrow": [c_vp, c_vp, c_i64, P(ctypes.c_int)],
        "fi_threshold_mask": [c_vp, c_vp, c_vp, c_i64, P(c_i64), c_vp],
    }
    for name, args in sig.items():
        f = getattr(lib, name)
        f.argtypes = args
        f.restype = ctypes.c_char_p if name == "fi_context_error" else ctypes.c_int
    for name in ("fi_class_stream_free", "fi_mean_free", "fi_threshold_free"):
        getattr(lib, name).restype = None
    return lib


def ptr(a):
    return a.ctypes.data_as(c_vp)


@unittest.skipIf(torch is None, "python3-torch is not importable: apt-get install python3-torch")
class WorkflowOnTorchGradients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lib = load()
        cls.ctx = c_vp()
        assert cls.lib.fi_context_create(ctypes.byref(cls.ctx)) == 0
        torch.manual_seed(0)
        cls.model = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.ReLU(),
                                        torch.nn.Linear(16, 6))
        cls.inputs = torch.randn(4, 12)

    def ok(self, status):
        self.assertEqual(status, 0, self.lib.fi_context_error(self.ctx))

    def scores(self, x, dtype):
        """Probabilities (float64) and K x n per-class scores d log P_i / d theta in dtype,
        for one input x (1 x 12), from the model or its float64 copy."""
        model = self.model
        if dtype == torch.float64:
            model = torch.nn.Sequential(self._copy64(self.model[0]), torch.nn.ReLU(),
                                        self._copy64(self.model[2]))
        logp = torch.log_softmax(model(x.to(dtype)), dim=-1).reshape(-1)
        rows = []
        for i in range(logp.shape[0]):
            grads = torch.autograd.grad(logp[i], list(model.parameters()), retain_graph=True)
            rows.append(torch.cat([g.reshape(-1) for g in grads]))
        S = torch.stack(rows).detach().numpy()
        P = np.exp(logp.detach().to(torch.float64).numpy())
        return P / P.sum(), np.ascontiguousarray(S)

    @staticmethod
    def _copy64(m):
        c = torch.nn.Linear(m.in_features, m.out_features).to(torch.float64)
        with torch.no_grad():
            c.weight.copy_(m.weight.to(torch.float64))
            c.bias.copy_(m.bias.to(torch.float64))
        return c

    def stream(self, P, S, dt, blocks, target, k):
        cs = c_vp()
        self.ok(self.lib.fi_class_stream_create(self.ctx, S.shape[1], ctypes.byref(blocks),
                                                k if target is None else -1, ctypes.byref(cs)))
        for i in range(S.shape[0]):  # one score vector at a time
            self.ok(self.lib.fi_class_stream_add(self.ctx, cs, float(P[i]), dt, ptr(S[i])))
        out = np.zeros(blocks.count)
        self.ok(self.lib.fi_class_stream_finish(self.ctx, cs, dt,
                                                None if target is None else ptr(target),
                                                ptr(out), 0))
        self.lib.fi_class_stream_free(cs)
        return out

    def direct(self, P, S, dt, blocks, target, k):
        out = np.zeros(blocks.count)
        n = S.shape[1]
        self.ok(self.lib.fi_direct(self.ctx, S.shape[0], ptr(P), dt, ptr(S), n, n,
                                   ctypes.byref(blocks), None if target is None else ptr(target),
                                   k, ptr(out), 0))
        return out

    def test_stream_matches_direct_float32(self):
        for x in self.inputs:
            P, S = self.scores(x[None], torch.float32)
            n, k = S.shape[1], int(np.argmax(P))
            self.assertTrue((S == 0).all(axis=0).any(), "expected dead-ReLU exact zeros")
            target = np.ascontiguousarray(S[(k + 1) % S.shape[0]])
            elements = Blocks(n, 1, 1, 1)
            for tg in (None, target):
                a = self.stream(P, S, 1, elements, tg, k)
                b = self.direct(P, S, 1, elements, tg, k)
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
                self.assertTrue(((a == 0) == (b == 0)).all())

    def test_float32_against_float64_model(self):
        x = self.inputs[:1]
        P32, S32 = self.scores(x, torch.float32)
        P64, S64 = self.scores(x, torch.float64)
        k, n = int(np.argmax(P64)), S32.shape[1]
        a = self.stream(P32, S32, 1, Blocks(n, 1, 1, 1), None, k)
        b = self.direct(P64, S64, 0, Blocks(n, 1, 1, 1), None, k)
        big = b > 1e-6 * b.max()
        np.testing.assert_allclose(a[big], b[big], rtol=1e-4)

    def test_mean_and_selection(self):
        acc, ms = c_vp(), []
        P0, S0 = self.scores(self.inputs[:1], torch.float32)
        n = S0.shape[1]
        self.ok(self.lib.fi_mean_create(self.ctx, n, ctypes.byref(acc)))
        for x in self.inputs:
            P, S = self.scores(x[None], torch.float32)
            k = int(np.argmax(P))
            self.ok(self.lib.fi_mean_add_direct(self.ctx, acc, 1.0, S.shape[0], ptr(P), 1,
                                                ptr(S), n, n, ctypes.byref(Blocks(n, 1, 1, 1)),
                                                None, k, 0))
            ms.append(self.direct(P, S, 1, Blocks(n, 1, 1, 1), None, k))
        mean = np.zeros(n)
        self.ok(self.lib.fi_mean_result(self.ctx, acc, ptr(mean), None))
        self.lib.fi_mean_free(acc)
        np.testing.assert_allclose(mean, np.mean(ms, axis=0), rtol=1e-14, atol=0)
        # top 10% across the layers' parameter arrays, never concatenated
        sizes = [p.numel() for p in self.model.parameters()]
        layers = np.split(mean, np.cumsum(sizes)[:-1])
        layers = [np.ascontiguousarray(l) for l in layers]
        kk = int(np.ceil(0.1 * n))
        sel, done = c_vp(), ctypes.c_int(0)
        self.ok(self.lib.fi_threshold_create(self.ctx, ctypes.byref(sel)))
        while not done.value:
            for l in layers:
                self.ok(self.lib.fi_threshold_add(self.ctx, sel, ptr(l), l.size))
            self.ok(self.lib.fi_threshold_narrow(self.ctx, sel, kk, ctypes.byref(done)))
        ties, masks = c_i64(0), []
        for l in layers:
            m = np.zeros(l.size, dtype=np.uint8)
            self.ok(self.lib.fi_threshold_mask(self.ctx, sel, ptr(l), l.size,
                                               ctypes.byref(ties), ptr(m)))
            masks.append(m)
        self.lib.fi_threshold_free(sel)
        order = np.lexsort((np.arange(n), -mean))  # value descending, then index
        want = np.zeros(n, dtype=np.uint8)
        want[order[:kk]] = 1
        np.testing.assert_array_equal(np.concatenate(masks), want)


if __name__ == "__main__":
    unittest.main()
