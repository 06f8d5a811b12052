"""libfi's benchmark peer (the project's own copy of the reference method): FI computed the way a
PyTorch user would write it
(p = 1: the closed form; p > 1: batched SVD of B = [sqrt(P_i) s_i] with numpy-style rank cutoff).
Same workloads as SPEC section 3 (W1-W4), float32 scores, K = 4, class target k = argmax P.
Then the real-gradient workloads of bench/real.c on the same scores: the synthetic ones rebuilt
bit for bit from the factors the bench wrote (DATA/synthetic_K<K>.bin), the PyTorch ones read
from DATA/torch_<model>.bin (bench/real_models.py); class target K - 1, as the bench.
Run with Debian's python3 and python3-torch:  python3 peer_torch.py [threads [DATA [--real-only]]]
Prints one line per workload: '<name> peer_ms=<median ms>'."""
import os, struct, sys, time, torch

torch.manual_seed(0)
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)


def fi_blocks(S, P, k):
    """S: (K, count, p) scores; returns FI per block for the class target k."""
    B = (S * P.sqrt()[:, None, None]).permute(1, 2, 0)          # (count, p, K)
    U, sv, _ = torch.linalg.svd(B, full_matrices=False)           # U: (count, p, r)
    tol = sv.amax(dim=1, keepdim=True) * max(B.shape[1], B.shape[2]) * torch.finfo(B.dtype).eps
    proj = torch.einsum('cpr,cp->cr', U, S[k])
    inv = torch.where(sv > tol, 1.0 / sv, torch.zeros_like(sv))
    return ((proj * inv) ** 2).sum(dim=1)


def per_element(S, P, k):
    den = (P[:, None] * S ** 2).sum(dim=0)
    return torch.where(den > 0, S[k] ** 2 / den, torch.zeros_like(den))   # FI 0 where all s = 0


def bench(name, fn, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    ts.sort()
    print(f"{name} peer_ms={ts[len(ts) // 2] * 1e3:.1f}", flush=True)


def w_workloads():
    K = 4
    P = torch.softmax(torch.arange(1.0, K + 1).log(), 0)   # P proportional to 1..K
    k = int(P.argmax())
    S = torch.rand(K, 4096 * 4096) - 0.5
    bench("W1-element", lambda: per_element(S, P, k), 3)
    Spx = torch.rand(K, 448 * 448, 3) - 0.5
    bench("W2-pixel", lambda: fi_blocks(Spx, P, k), 1)
    Sm = S.view(K, 4096, 4096)
    bench("W3-row", lambda: fi_blocks(Sm, P, k), 1)
    bench("W4-column", lambda: fi_blocks(Sm.transpose(1, 2), P, k), 1)


def run_layout(name, S, P, offset, count, size, stride, step):
    """S: (K, n) scores; one fi_blocks layout at offset, as bench/real.c passes it."""
    k = S.shape[0] - 1
    if size == 1:
        X = S[:, offset:offset + count]
        bench(name, lambda: per_element(X, P, k), 3)
    else:
        X = S.as_strided((S.shape[0], count, size), (S.stride(0), step, stride), offset)
        bench(name, lambda: fi_blocks(X, P, k), 1)


if "--real-only" not in sys.argv:
    w_workloads()
DATA = sys.argv[2] if len(sys.argv) > 2 else "build/bench"
for Kr in (10, 4):
    path = os.path.join(DATA, f"synthetic_K{Kr}.bin")
    if not os.path.exists(path):
        continue
    raw = open(path, "rb").read()
    Kf, R, C = struct.unpack_from("<qqq", raw)
    Pr = torch.frombuffer(bytearray(raw[24:24 + 8 * Kf]), dtype=torch.float64).float()
    fac = torch.frombuffer(bytearray(raw[24 + 8 * Kf:]), dtype=torch.float32)
    delta, x = fac[:Kf * R].view(Kf, R), fac[Kf * R:]
    Sr = (delta[:, :, None] * x[None, None, :]).reshape(Kf, R * C)   # float32 products, as in C
    for kind, lay in (("element", (0, R * C, 1, 1, 1)), ("row", (0, R, C, 1, C)),
                      ("column", (0, C, R, C, 1))):
        run_layout(f"S-{kind}-K{Kr}", Sr, Pr, *lay)
    del Sr
for model in ("cnn", "transformer"):
    path = os.path.join(DATA, f"torch_{model}.bin")
    if not os.path.exists(path):
        continue
    with open(path, "rb") as f:
        _, Kf, n, L = struct.unpack("<qqqq", f.read(32))
        Pr = torch.frombuffer(bytearray(f.read(8 * Kf)), dtype=torch.float64).float()
        lays = [struct.unpack("<32sqqqqq", f.read(72)) for _ in range(L)]
        St = torch.frombuffer(bytearray(f.read(4 * Kf * n)), dtype=torch.float32).view(Kf, n)
    for name, *lay in lays:
        run_layout("T-" + name.rstrip(b"\0").decode(), St, Pr, *lay)
    del St
