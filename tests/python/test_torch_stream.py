"""libfi.torch on the 1.2 workflow objects: class streaming (class_stream=True) against the
K-materializing path and the torch.linalg.pinv reference, the 16-byte Mean against the exact
Accumulator (exact=True), selection across tensors by the threshold against the concatenating
selection, and the peak memory of class streaming. Run by tests/python/run.sh."""

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
import libfi.selection  # noqa: E402
import libfi.torch as fit  # noqa: E402
from test_torch import mlp, reference  # noqa: E402

U = 2.0 ** -53


def relu_mlp():
    """Unit 0 of the hidden layer is dead for every input: exact zero scores in its row."""
    m = torch.nn.Sequential(torch.nn.Linear(8, 7), torch.nn.ReLU(), torch.nn.Linear(7, 6))
    with torch.no_grad():
        m[0].bias[0] = -100.0
    return m


class TestClassStream(unittest.TestCase):
    def compare(self, a, b, rtol, layouts):
        for name, tf in a.parameters.items():
            for lay in layouts:
                if lay in tf.mean:
                    with self.subTest(tensor=name, layout=lay):
                        np.testing.assert_allclose(tf.mean[lay], b.parameters[name].mean[lay],
                                                   rtol=rtol, atol=0)
                        np.testing.assert_allclose(tf.std_error[lay],
                                                   b.parameters[name].std_error[lay],
                                                   rtol=max(rtol, 1e-9), atol=1e-300)

    def test_float64_against_k_path_and_pinv(self):
        # mlp: rows have 8 or 6 coordinates, columns 6 or 5: every layout streams
        torch.manual_seed(11)
        model = mlp().double()
        X = torch.randn(3, 8, dtype=torch.float64)
        for classes in (None, [0, 2, 4]):
            with self.subTest(classes=classes):
                st = fit.compute(model, X, classes, class_stream=True, rcond=1e-12)
                kp = fit.compute(model, X, classes, rcond=1e-12)
                self.compare(st, kp, 1e-12, fit.LAYOUTS)
                ref, _ = reference(model, X, classes)
                for (name, lay), (mean, se) in ref.items():
                    np.testing.assert_allclose(st.parameters[name].mean[lay].reshape(-1), mean,
                                               rtol=1e-8, atol=1e-12)

    def test_float32_bf16_relu_model_against_k_path(self):
        # real float32 / bf16 autograd gradients with dead-ReLU exact zeros, at the default
        # (dtype) rank tolerance: the same decisions on both paths
        for dtype in (torch.float32, torch.bfloat16):
            with self.subTest(dtype=dtype):
                torch.manual_seed(12)
                model = relu_mlp().to(dtype)
                X = torch.randn(4, 8, dtype=dtype)
                st = fit.compute(model, X, class_stream=True, layouts=("elements",))
                kp = fit.compute(model, X, layouts=("elements",))
                self.compare(st, kp, 1e-10, ("elements",))
                w = st.parameters["0.weight"].mean["elements"]
                self.assertTrue((w[0] == 0).all() and (w[1:] > 0).any())

    def test_layouts_that_cannot_stream_fail_first(self):
        model = torch.nn.Sequential(torch.nn.Linear(12, 4))
        with self.assertRaises(libfi.ArgumentError) as cm:
            fit.compute(model, torch.randn(2, 12), class_stream=True, layouts=("rows",))
        self.assertIn("at most 8", str(cm.exception))
        self.assertIn("0.weight", str(cm.exception))


class TestMeanAndSelection(unittest.TestCase):
    def test_mean_against_exact_accumulator_and_pinv(self):
        torch.manual_seed(13)
        model = mlp().double()
        X = torch.randn(5, 8, dtype=torch.float64)
        fast = fit.compute(model, X, rcond=1e-12)
        exact = fit.compute(model, X, rcond=1e-12, exact=True)
        ref, _ = reference(model, X)
        for (name, lay), (mean, se) in ref.items():
            a = fast.parameters[name].mean[lay].reshape(-1)
            b = exact.parameters[name].mean[lay].reshape(-1)
            np.testing.assert_allclose(a, b, rtol=2 * 4 * U + 3 * U + 1e-15, atol=0)
            np.testing.assert_allclose(a, mean, rtol=1e-8, atol=1e-12)
            np.testing.assert_allclose(fast.parameters[name].std_error[lay].reshape(-1), se,
                                       rtol=1e-7, atol=1e-12)

    def test_selection_by_threshold_equals_the_concatenated_sort(self):
        torch.manual_seed(14)
        model = relu_mlp()
        res = fit.compute(model, torch.randn(3, 8))
        for lay, frac in (("elements", 0.1), ("elements", 0.45), ("rows", 0.3)):
            with self.subTest(layout=lay, fraction=frac):
                values = {n: tf.mean[lay] for n, tf in res.parameters.items()
                          if lay in tf.mean}
                new = fit.top_fraction(res, frac, layout=lay)
                old = libfi.selection.top_fraction(values, frac)
                self.assertEqual(new.total, old.total)
                for n in values:
                    np.testing.assert_array_equal(new.indices[n], old.indices[n])
                low = fit.low_fraction(res, frac, seed=3, layout=lay)
                self.assertEqual(low.total, new.total)
                for n in values:
                    self.assertFalse(set(low.indices[n].tolist()) & set(new.indices[n].tolist()))
                    np.testing.assert_array_equal(
                        low.indices[n], fit.low_fraction(res, frac, 3, lay).indices[n])


class TestStreamMemory(unittest.TestCase):
    def run_script(self, mode):
        src = [] if os.environ.get("LIBFI_TEST_INSTALLED") == "1" else \
            [os.path.join(ROOT, "python")]
        r = subprocess.run([sys.executable, os.path.join(HERE, "mem_stream.py"), mode] + src,
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.split()
        return [int(v) for v in out[:4]] + [float(v) for v in out[4:]]

    def test_peak_is_one_tensor_not_k(self):
        k_peak, k_largest, K, largest, k_sum, k_max = self.run_script("k")
        s_peak, _, _, _, s_sum, s_max = self.run_script("stream")
        print("\n    memory (K = %d, largest tensor %d float32): K path peak %.1f MB "
              "(K x largest %.1f MB), class_stream peak %.1f MB = %.1f bytes per element"
              % (K, largest, k_peak / 2**20, k_largest / 2**20, s_peak / 2**20,
                 s_peak / largest), file=sys.stderr)
        self.assertGreaterEqual(k_peak, k_largest)        # the K path holds K scores
        self.assertLess(s_peak, 64 * largest)             # streaming: O(n) bytes, not O(K n)
        self.assertLess(s_peak, 0.25 * k_peak)
        self.assertAlmostEqual(s_sum, k_sum, delta=1e-12 * k_sum)  # and the same FI
        self.assertAlmostEqual(s_max, k_max, delta=1e-12 * k_max)


if __name__ == "__main__":
    unittest.main()
