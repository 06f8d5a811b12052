"""libfi's benchmark peer (the project's own copy of the reference method): FI computed the way a
PyTorch user would write it
(p = 1: the closed form; p > 1: batched SVD of B = [sqrt(P_i) s_i] with numpy-style rank cutoff).
Same workloads as SPEC section 3 (W1-W4), float32 scores, K = 4, class target k = argmax P.
Run with Debian's python3 and python3-torch:  python3 peer_torch.py [threads]
Prints one line per workload: 'W<name> peer_ms=<median ms>'."""
import sys, time, torch

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
    return S[k] ** 2 / (P[:, None] * S ** 2).sum(dim=0)


def bench(name, fn, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    ts.sort()
    print(f"{name} peer_ms={ts[len(ts) // 2] * 1e3:.1f}", flush=True)


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
