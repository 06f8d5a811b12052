"""Peak resident memory of libfi.torch.compute on a model with one large layer and many
classes, with or without class streaming (argv[1]: "stream" or "k"; argv[2:]: sys.path
entries). Prints: peak bytes above the resident set before the call, K x largest tensor in
float32 bytes, K, the largest tensor's elements, and the tensors' FI summary for comparison.
Run by test_torch_stream.py (and by hand: python3 tests/python/mem_stream.py stream python)."""
import sys

sys.path[:0] = sys.argv[2:]
import torch  # noqa: E402
import libfi.torch as fit  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(1)
BIG, K = 1024, 64
model = torch.nn.Sequential(torch.nn.Linear(BIG, BIG), torch.nn.Tanh(), torch.nn.Linear(BIG, K))
x = torch.randn(1, BIG)
stream = sys.argv[1] == "stream"
kw = dict(parameters=["0.weight"], layouts=("elements",), class_stream=stream)
fit.compute(model, x, parameters=["2.bias"], layouts=("elements",), class_stream=stream)  # warm up
largest = model[0].weight.numel()


def status(key):
    """A /proc/self/status size in bytes (VmRSS: resident now, VmHWM: its peak). Not
    getrusage's ru_maxrss, which a child keeps from its parent across exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets VmHWM to the resident set now (Linux >= 4.0)
before = status("VmRSS")
assert status("VmHWM") < before + (16 << 20), "the peak was not reset"
res = fit.compute(model, x, **kw)
peak = status("VmHWM") - before
fi = res.parameters["0.weight"].elements
print(peak, largest * 4 * K, K, largest, repr(float(fi.sum())), repr(float(fi.max())))
