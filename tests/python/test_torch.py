"""libfi.torch against an explicit reference: the K class scores of the whole model from
plain autograd, FI per block as ||pinv(B_b) g[b]||^2 with torch.linalg.pinv (B_b = [sqrt(P_i)
s_i[b]]), dataset means and standard errors in numpy. float64 models for the exact comparison,
float32 / bfloat16 models against the same model in float64; a subset of classes against
log_softmax over their logits (an independent route to the renormalized scores); and the
peak memory of the scores on a model with one large layer."""

import os
import subprocess
import sys
import unittest

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, os.pardir, os.pardir))
if os.environ.get("LIBFI_TEST_INSTALLED") != "1":
    sys.path.insert(0, os.path.join(ROOT, "python"))
import libfi  # noqa: E402
import libfi.torch as fit  # noqa: E402


def ref_scores(model, x, classes):
    """(P, {name: (K, *shape) scores}, (K, *x.shape[1:]) input scores), all in float64.
    With classes, log P' = log_softmax(logits[classes]): the renormalized probabilities."""
    x = x.detach().clone().requires_grad_(True)
    z = model(x)[0].double()
    logp = torch.log_softmax(z if classes is None else z[classes], 0)
    names = [n for n, _ in model.named_parameters()]
    params = [p for _, p in model.named_parameters()]
    S = {n: [] for n in names}
    S_in = []
    for i in range(logp.shape[0]):
        g = torch.autograd.grad(logp[i], params + [x], retain_graph=True, allow_unused=True)
        for n, p, gi in zip(names, params, g):
            S[n].append(torch.zeros_like(p, dtype=torch.float64) if gi is None else gi.double())
        S_in.append(g[-1][0].double())
    return (logp.exp().detach(), {n: torch.stack(v) for n, v in S.items()}, torch.stack(S_in))


def pinv_fi(S, P, groups, k, rtol):
    """FI of the class target k per block (groups: (count, p) index tensor into the flat
    coordinates), by torch.linalg.pinv."""
    K = S.shape[0]
    flat = S.reshape(K, -1)
    B = (flat[:, groups] * P.sqrt()[:, None, None]).permute(1, 2, 0)   # (count, p, K)
    g = flat[k][groups]                                                  # (count, p)
    return ((torch.linalg.pinv(B, rtol=rtol) @ g.unsqueeze(-1)).squeeze(-1) ** 2).sum(-1)


def groups_of(shape, layout):
    idx = torch.arange(int(np.prod(shape))).reshape(shape)
    if layout == "elements":
        return idx.reshape(-1, 1)
    if layout == "rows":
        return idx.reshape(shape[0], -1)
    return idx.transpose(0, 1).reshape(shape[1], -1)


def reference(model, X, classes=None, rtol=1e-12):
    """{(name, layout): (mean, std_error)} and per-sample pixel FI (N, H, W) when X is an
    image batch."""
    per = {}
    pix = []
    for s in range(X.shape[0]):
        P, S, S_in = ref_scores(model, X[s:s + 1], classes)
        k = int(P.argmax())
        for n, Sn in S.items():
            shape = tuple(Sn.shape[1:])
            for lay in ("elements", "rows", "columns"):
                if lay != "elements" and len(shape) < 2:
                    continue
                per.setdefault((n, lay), []).append(
                    pinv_fi(Sn, P, groups_of(shape, lay), k, rtol).numpy())
        if S_in.dim() == 4:
            Kc, C, H, W = S_in.shape
            g = torch.arange(C * H * W).reshape(C, H * W).T
            pix.append(pinv_fi(S_in, P, g, k, rtol).reshape(H, W).numpy())
    out = {}
    for key, v in per.items():
        v = np.stack(v)
        N = v.shape[0]
        se = v.std(0, ddof=1) / np.sqrt(N) if N > 1 else np.zeros(v.shape[1:])
        out[key] = (v.mean(0).reshape(-1), se.reshape(-1))
    return out, (np.stack(pix) if pix else None)


class SmallCNN(torch.nn.Module):
    """conv -> tanh -> linear: a 4-D weight (columns are input channels, index blocks), input
    pixels of 3 channels and K = 6 outputs, so pixel blocks (p = 3 < K - 1) do not saturate."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4 * 5 * 5, 6)

    def forward(self, x):
        return self.fc(torch.tanh(self.conv(x)).flatten(1))


def mlp():
    return torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.Tanh(), torch.nn.Linear(6, 5))


class TestAgainstPinv(unittest.TestCase):
    def check(self, res, ref, rtol, atol=0.0, se=True):
        for (name, lay), (mean, std) in ref.items():
            with self.subTest(tensor=name, layout=lay):
                got = res.parameters[name].mean[lay]
                self.assertEqual(got.shape, {"elements": res.parameters[name].shape,
                                             "rows": res.parameters[name].shape[:1],
                                             "columns": res.parameters[name].shape[1:2]}[lay])
                np.testing.assert_allclose(got.reshape(-1), mean, rtol=rtol, atol=atol)
                if se:
                    np.testing.assert_allclose(res.parameters[name].std_error[lay].reshape(-1),
                                               std, rtol=rtol, atol=atol)

    def test_float64_mlp_all_classes(self):
        torch.manual_seed(1)
        model = mlp().double()
        X = torch.randn(4, 8, dtype=torch.float64)
        res = fit.compute(model, X, rcond=1e-12)
        ref, _ = reference(model, X)
        self.assertEqual(res.samples, 4)
        self.check(res, ref, rtol=1e-8, atol=1e-12)

    def test_float64_cnn_pixels_and_conv_channels(self):
        torch.manual_seed(2)
        model = SmallCNN().double()
        X = torch.randn(3, 3, 5, 5, dtype=torch.float64)
        X0 = X.clone()
        res = fit.compute(model, X, input_blocks="pixels", rcond=1e-12)
        ref, pix = reference(model, X)
        self.check(res, ref, rtol=1e-8, atol=1e-12)
        self.assertEqual(res.inputs.shape, (3, 5, 5))
        np.testing.assert_allclose(res.inputs, pix, rtol=1e-8)
        self.assertTrue(torch.equal(X, X0) and not X.requires_grad)  # caller's batch untouched
        self.assertTrue(all(p.grad is None for p in model.parameters()))  # .grad untouched
        # Patches of 5x1 pixels = the columns of the image: sums of nothing, a new reference.
        fp = fit.input_fi(model, X, blocks="patches", patch=(5, 1), rcond=1e-12)
        self.assertEqual(fp.shape, (3, 1, 5))
        for s in range(3):
            P, _, S_in = ref_scores(model, X[s:s + 1], None)
            k = int(P.argmax())
            g = torch.arange(75).reshape(3, 5, 5).permute(2, 0, 1).reshape(5, 15)  # by column x
            np.testing.assert_allclose(fp[s, 0], pinv_fi(S_in, P, g, k, 1e-12).numpy(),
                                       rtol=1e-8)

    def test_subset_of_classes_is_renormalized(self):
        # K = 3 answer options out of 5 outputs: libfi gets raw vocabulary probabilities and
        # renormalizes; the reference differentiates log_softmax over the 3 logits.
        torch.manual_seed(3)
        model = mlp().double()
        X = torch.randn(3, 8, dtype=torch.float64)
        classes = [4, 0, 2]
        res = fit.compute(model, X, classes, rcond=1e-12)
        ref, _ = reference(model, X, classes)
        self.check(res, ref, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(res.probs.sum(1), 1.0, rtol=1e-12)
        # Fact 3: with renormalized classes the class-target FI of a saturated block
        # (columns of the first layer, p = 6 >= K - 1) is (1 - P_k) / P_k.
        one = fit.compute(model, X[:1], classes, layouts=("columns",), rcond=1e-12)
        Pk = one.probs[0, one.predicted[0]]
        np.testing.assert_allclose(one.parameters["0.weight"].columns, (1 - Pk) / Pk, rtol=1e-9)

    def test_float32_and_bf16_models_against_float64(self):
        torch.manual_seed(4)
        m64 = mlp().double()
        X = torch.randn(3, 8, dtype=torch.float64)
        ref, _ = reference(m64, X, rtol=1e-12)
        m32 = mlp()
        m32.load_state_dict({k: v.float() for k, v in m64.state_dict().items()})
        # Every layout with the default rank tolerance (the float32 one: rows are rank-1
        # blocks whose float32 rounding noise it cuts), within float32 gradient rounding.
        res = fit.compute(m32, X.float())
        for (name, lay), (mean, _) in ref.items():
            with self.subTest(name=name, layout=lay):
                np.testing.assert_allclose(res.parameters[name].mean[lay].reshape(-1), mean,
                                           rtol=2e-4, atol=1e-6 * mean.max())
        # bf16 parameters are handed to libfi as FI_BF16 in place; bf16 keeps 8 bits, so
        # the comparison is at percent level, on the element FI of the big weights.
        mbf = mlp().to(torch.bfloat16)
        mbf.load_state_dict({k: v.to(torch.bfloat16) for k, v in m64.state_dict().items()})
        mref = mlp().double()
        mref.load_state_dict({k: v.double() for k, v in mbf.state_dict().items()})
        bref, _ = reference(mref, X.to(torch.bfloat16).double())
        rb = fit.compute(mbf, X.to(torch.bfloat16), layouts=("elements",),
                         parameters=["0.weight", "2.weight"])
        for name in ("0.weight", "2.weight"):
            got = rb.parameters[name].elements.reshape(-1)
            want = bref[(name, "elements")][0]
            big = want > 1e-3 * want.max()
            rel = np.abs(got[big] - want[big]) / want[big]
            self.assertLess(np.median(rel), 0.05, name)

    def test_float16_linear_logits_closed_form(self):
        # torch 1.13 has no float16 matmul on the CPU; elementwise ops are enough for a linear
        # model z_c = sum_j x_j w_cj, whose scores (delta_ic - P_c) x_j give element FI of the
        # class target k in closed form (SPEC fact 1): (delta_kc - P_c)^2 / (P_c (1 - P_c)),
        # the same for every j. float16 parameters reach libfi as FI_F16, in place.
        class Scale(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.randn(4, 6).half())

            def forward(self, x):
                return (x.unsqueeze(1) * self.w).sum(-1)

        torch.manual_seed(6)
        m = Scale()
        X = torch.randn(3, 6).half()
        res = fit.compute(m, X, layouts=("elements",))
        want = np.zeros((4, 6))
        for s in range(3):
            P = torch.softmax(m(X[s:s + 1])[0].detach().double(), 0).numpy()
            k = int(P.argmax())
            want += (((np.arange(4) == k) - P) ** 2 / (P * (1 - P)))[:, None] / 3
        np.testing.assert_allclose(res.parameters["w"].elements, want, rtol=5e-3)

    def test_dtype_of_scores_is_the_parameters(self):
        # The scores reach the library (fi_direct, or fi_mean_add_direct for the dataset
        # mean) as the parameters' own dtype, in place.
        calls = []
        real = {cls: cls.__dict__[name] for cls, name in
                ((libfi.Context, "direct"), (libfi.Mean, "add_direct"))}

        def spying(fn):
            def spy(self, probs, scores, *a, **k):
                if isinstance(scores, torch.Tensor):  # not the library probe's numpy block
                    calls.append((scores.dtype, scores.is_contiguous()))
                return fn(self, probs, scores, *a, **k)
            return spy

        libfi.Context.direct = spying(real[libfi.Context])
        libfi.Mean.add_direct = spying(real[libfi.Mean])
        try:
            m = mlp().to(torch.bfloat16)
            fit.compute(m, torch.randn(1, 8, dtype=torch.bfloat16), layouts=("elements",))
        finally:
            libfi.Context.direct = real[libfi.Context]
            libfi.Mean.add_direct = real[libfi.Mean]
        self.assertTrue(calls)
        self.assertTrue(all(d == torch.bfloat16 and c for d, c in calls))


class TestSelectionAndEdits(unittest.TestCase):
    def test_top_low_zero_quantize_restore(self):
        torch.manual_seed(5)
        model = mlp().double()
        X = torch.randn(2, 8, dtype=torch.float64)
        res = fit.compute(model, X, rcond=1e-12)
        allv = np.concatenate([t.elements.reshape(-1) for t in res.parameters.values()])
        sel = fit.top_fraction(res, 0.1)
        k = int(np.ceil(0.1 * allv.size))
        self.assertEqual(sel.total, k)
        chosen = np.concatenate([res.parameters[n].elements.reshape(-1)[i]
                                 for n, i in sel.indices.items()])
        self.assertGreaterEqual(chosen.min(), np.sort(allv)[-k])  # the k largest, by sorting
        low = fit.low_fraction(res, 0.1, seed=7)
        self.assertEqual(low.total, k)
        for n in sel.indices:  # disjoint from the top set, distinct, ascending
            self.assertFalse(set(low.indices[n].tolist()) & set(sel.indices[n].tolist()))
            self.assertTrue(np.all(np.diff(low.indices[n]) > 0))
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        with fit.zeroed(model, sel) as e:
            self.assertEqual(e.changed, k)
            for n, idx in sel.indices.items():
                self.assertTrue(np.all(dict(model.named_parameters())[n].detach()
                                       .reshape(-1).numpy()[idx] == 0))
        for n, p in model.named_parameters():
            self.assertTrue(torch.equal(p, before[n]), n)
        rows = fit.top_fraction(res, 0.3, layout="rows")
        q = fit.quantized(model, rows, bits=2)
        w = model[0].weight.detach()
        scale = before["0.weight"].abs().max()
        for r in rows.indices["0.weight"]:
            self.assertTrue(set(torch.unique(w[r] / scale).tolist()) <= {-1.0, 0.0, 1.0})
        q.restore()
        for n, p in model.named_parameters():
            self.assertTrue(torch.equal(p, before[n]), n)


class TestErrors(unittest.TestCase):
    def test_bad_arguments_fail_before_any_c_call(self):
        model = mlp()
        X = torch.randn(2, 8)
        cases = [
            (lambda: fit.compute(model, X.numpy()), "torch.Tensor"),
            (lambda: fit.compute(model, X[0]), "batch"),
            (lambda: fit.compute(model, X, classes=[1]), "classes"),
            (lambda: fit.compute(model, X, classes=[1, 9]), "classes"),
            (lambda: fit.compute(model, X, layouts=("diagonal",)), "layout"),
            (lambda: fit.compute(model, X, parameters=["nope"]), "nope"),
            (lambda: fit.compute(model, X, targets=[0]), "targets"),
            (lambda: fit.compute(model, X, targets=[0, 7]), "target 7"),
            (lambda: fit.compute(model, X, input_blocks="pixels"), "(N, C, H, W)"),
            (lambda: fit.compute(model, X.to("meta")), "meta"),
            (lambda: fit.compute(torch.nn.Linear(8, 5).to("meta"), X), "meta"),
        ]
        for call, fragment in cases:
            with self.subTest(fragment=fragment):
                with self.assertRaises(libfi.ArgumentError) as cm:
                    call()
                self.assertIn(fragment, str(cm.exception))

    def test_core_refuses_foreign_tensors(self):
        P = np.array([0.5, 0.5])
        with libfi.Context() as ctx:
            for bad, fragment in ((torch.zeros(2, 3).to_sparse(), "dense"),
                                  (torch.zeros(2, 3, dtype=torch.complex64), "complex"),
                                  (torch.zeros(2, 3, device="meta"), "CPU")):
                with self.subTest(fragment=fragment):
                    with self.assertRaises(libfi.ArgumentError) as cm:
                        ctx.direct(P, bad, target_class=0)
                    self.assertIn(fragment, str(cm.exception))
            with libfi.Context(copies=False) as strict:
                S = torch.randn(3, 2).T  # class rows not contiguous
                with self.assertRaises(libfi.CopyRefused) as cm:
                    strict.direct(P, S, target_class=0)
                self.assertEqual(cm.exception.argument, "scores")
                strict.direct(P, S.contiguous(), target_class=0)

    def test_error_carries_code_name_message(self):
        with libfi.Context() as ctx:
            with self.assertRaises(libfi.FIError) as cm:
                ctx.direct(np.array([0.5, 0.6]), torch.randn(2, 4), target_class=0)
        e = cm.exception
        self.assertEqual((e.code, e.name), (libfi.FI_ERR_PROBABILITY, "FI_ERR_PROBABILITY"))
        self.assertTrue(e.message)


MEMORY_SCRIPT = r"""
import sys, torch
sys.path[:0] = sys.argv[1:2]
import libfi.torch as fit
torch.manual_seed(0)
torch.set_num_threads(1)
BIG, MID, LAYERS, K = 1536, 512, 24, 8
# One large layer (BIG x BIG) and LAYERS medium ones that together hold more than it does.
layers = [torch.nn.Linear(BIG, BIG), torch.nn.Tanh(), torch.nn.Linear(BIG, MID)]
for _ in range(LAYERS):
    layers += [torch.nn.Tanh(), torch.nn.Linear(MID, MID)]
layers += [torch.nn.Linear(MID, K)]
model = torch.nn.Sequential(*layers)
x = torch.randn(1, BIG)
largest = max(p.numel() for p in model.parameters())
total = sum(p.numel() for p in model.parameters())
fit.compute(model, x[:, :], parameters=["%d.weight" % (len(layers) - 1)])  # warm up torch
def status(key):  # VmRSS / VmHWM in bytes; ru_maxrss would keep the parent's across exec
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key + ":"))
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")                                        # VmHWM := the resident set now
before = status("VmRSS")
assert status("VmHWM") < before + (16 << 20)
fit.compute(model, x, layouts=("rows",))
peak = status("VmHWM") - before
print(peak, largest * 4 * K, total * 4 * K, largest, total)
"""


class TestMemory(unittest.TestCase):
    def test_peak_is_k_times_the_largest_tensor_not_the_model(self):
        # Peak resident memory of a fresh process during the call (VmHWM) above its
        # resident memory just before: the scores, autograd's buffers, activations, libfi.
        src = [] if os.environ.get("LIBFI_TEST_INSTALLED") == "1" else \
            [os.path.join(ROOT, "python")]
        out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT] + src, capture_output=True,
                             text=True, check=True).stdout.split()
        peak, k_largest, k_model, largest, total = (int(v) for v in out)
        print("\n    memory: peak %.1f MB above the resident set before the call; "
              "K x largest tensor %.1f MB, "
              "K x model %.1f MB (largest %d, model %d parameters)"
              % (peak / 2**20, k_largest / 2**20, k_model / 2**20, largest, total),
              file=sys.stderr)
        self.assertGreater(total, 3.5 * largest)       # the model really is not one tensor
        self.assertGreaterEqual(peak, k_largest)     # it does hold K scores of the big layer
        self.assertLess(peak, 1.6 * k_largest)       # and not much more
        self.assertLess(peak, 0.5 * k_model)


if __name__ == "__main__":
    unittest.main()
