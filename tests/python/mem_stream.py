"""Peak resident memory of libfi.torch.compute on a model with one large layer and many
classes, with or without class streaming (argv[1]: "stream" or "k"; argv[2:]: sys.path
entries). Prints: peak bytes above the resident set before the call, K x largest tensor in
float32 bytes, K, the largest tensor's elements, and the tensors' FI summary for comparison.
Run by test_torch_stream.py (and by hand: python3 tests/python/mem_stream.py stream python)."""
import os
import resource
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
page = os.sysconf("SC_PAGE_SIZE")
with open("/proc/self/statm") as f:
    before = int(f.read().split()[1]) * page
assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 < before + (16 << 20)
res = fit.compute(model, x, **kw)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
fi = res.parameters["0.weight"].elements
print(peak, largest * 4 * K, K, largest, repr(float(fi.sum())), repr(float(fi.max())))
