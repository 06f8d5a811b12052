"""FI of a small PyTorch model: per parameter, per neuron and per input pixel, by libfi.

The K class scores s_i = d log P_i / d omega come from autograd (one backward pass per class),
libfi reads the torch tensors in place (no conversion to numpy, no copy), and every result is
checked against a batched torch.linalg.pinv of the blocks B_b = [sqrt(P_i) s_i[b]].
Exits non-zero on a mismatch; prints SKIP and exits 0 where python3-torch is not installed.

    /usr/bin/python3 examples/python/torch_fi.py
"""
import os
import sys

try:
    import torch
except ImportError as e:
    print("SKIP torch_fi: %s (install python3-torch)" % e)
    sys.exit(0)

try:
    import libfi  # the installed package, or python/ on PYTHONPATH
except ImportError:  # run from the source tree without either
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                                    os.pardir, "python"))
    import libfi  # noqa: E402

H, W, CH, HIDDEN, K = 6, 6, 3, 16, 5
RCOND = 1e-10  # the scores are exact to double rounding: cut far below any real singular value


def class_scores(outputs_log_p, wrt):
    """(K, n) tensor: row i = d log P_i / d wrt, flattened and concatenated."""
    rows = []
    for i in range(outputs_log_p.shape[0]):
        grads = torch.autograd.grad(outputs_log_p[i], wrt, retain_graph=True)
        rows.append(torch.cat([g.reshape(-1) for g in grads]))
    return torch.stack(rows).contiguous()


def pinv_fi(S, P, blocks, g):
    """Reference FI per block: ||pinv(B_b) g[b]||^2 with B_b = [sqrt(P_i) s_i[b]] (p x K)."""
    idx = torch.tensor(blocks)                                   # (count, p)
    B = (S[:, idx] * P.sqrt()[:, None, None]).permute(1, 2, 0)  # (count, p, K)
    Bp = torch.linalg.pinv(B, rtol=RCOND)                        # (count, K, p)
    return ((Bp @ g[idx].unsqueeze(-1)).squeeze(-1) ** 2).sum(-1)


def report(name, fi, ref, ctx):
    err = ((torch.as_tensor(fi).reshape(-1) - ref).abs() / ref.abs().clamp_min(1e-300)).max().item()
    print("%-28s %5d blocks  max rel err vs torch.linalg.pinv %.1e  copies %s"
          % (name, len(ref), err, list(ctx.last_copies) or "none"))
    return err < 1e-8


def ctx_free_direct(probs, S, k):
    """Element FI of the class target k through a fresh context."""
    with libfi.Context(rcond=RCOND) as c:
        return c.direct(probs, S, target_class=k)


def main():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(H * W * CH, HIDDEN), torch.nn.ReLU(),
                                torch.nn.Linear(HIDDEN, K)).double()
    # A few steps on a synthetic task so that the model is not at its random initialization.
    X = torch.randn(256, H * W * CH, dtype=torch.float64)
    y = (X[:, :K] + 0.3 * X[:, K:2 * K]).argmax(1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(50):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(X), y).backward()
        opt.step()

    x = X[:1].clone().requires_grad_(True)  # one image, HWC flattened
    log_p = torch.log_softmax(model(x)[0], 0)
    P = log_p.exp().detach()
    k = int(P.argmax())
    params = list(model.parameters())
    S_par = class_scores(log_p, params)  # (K, n_params)
    S_in = class_scores(log_p, [x])     # (K, H*W*CH)
    zero_mean = (P[:, None] * S_par).sum(0).abs().max().item()
    print("model: %d parameters, K = %d, P = %s, predicted class %d, |sum_i P_i s_i| <= %.1e"
          % (S_par.shape[1], K, [round(v, 3) for v in P.tolist()], k, zero_mean))

    ok = True
    probs = P.numpy() if libfi.HAVE_NUMPY else P.tolist()
    with libfi.Context(rcond=RCOND) as ctx:
        # Per parameter (p = 1). Target: the paper's objective f = -log P_k, so g = -s_k.
        n_par = S_par.shape[1]
        g = -S_par[k]
        fi_par = ctx.metric(probs, S_par).compute(g)
        ok &= report("per parameter (metric)", fi_par, pinv_fi(S_par, P, [[j] for j in
                                                                          range(n_par)], g), ctx)
        if ctx.lib.has("fi_direct"):
            fast = ctx.direct(probs, S_par, target_class=k)  # the fast path, class target
            ok &= report("per parameter (fi_direct)", fast,
                         pinv_fi(S_par, P, [[j] for j in range(n_par)], g), ctx)
        # Per hidden neuron: row r of the first weight matrix, p = 108 coordinates. For one
        # sample every class's gradient on that row is delta_{i,r} * x, so the block has rank
        # 1 (not K - 1: it does not saturate) and its FI is the FI of the neuron's
        # pre-activation. Element FI summed over the row is the other ranking (SPEC fact 8).
        rows = libfi.Blocks.rows(HIDDEN, H * W * CH)
        w1 = S_par[:, :HIDDEN * H * W * CH]  # fc1.weight comes first, row-major, a view
        m_rows = ctx.metric(probs, w1, rows)
        fi_rows = m_rows.compute(g[:w1.shape[1]])
        blocks = [list(range(r * H * W * CH, (r + 1) * H * W * CH)) for r in range(HIDDEN)]
        ok &= report("per neuron, block FI", fi_rows, pinv_fi(w1, P, blocks, g), ctx)
        bound = (1 - P[k].item()) / P[k].item()
        ranks = sorted(set(int(r) for r in m_rows.ranks()))
        print("    block ranks %s; block FI in [%.4f, %.4f], bound (1-P_k)/P_k = %.4f"
              % (ranks, min(fi_rows), max(fi_rows), bound))
        ok &= max(fi_rows) <= bound * (1 + 1e-9)
        elem = torch.as_tensor(fi_par[:w1.shape[1]]).reshape(HIDDEN, -1)
        per_neuron = ctx.reduce(fi_par[:w1.shape[1]], rows, "sum") \
            if ctx.lib.has("fi_reduce") else elem.sum(1)
        ok &= torch.allclose(torch.as_tensor(per_neuron), elem.sum(1), rtol=1e-12)
        top = torch.as_tensor(per_neuron).argsort(descending=True)[:4].tolist()
        print("    neurons ranked by summed element FI: %s" % top)
        # Per input pixel: blocks of the 3 channels, p = 3 < K - 1 = 4, informative.
        pix = libfi.Blocks.pixels(H, W, CH)
        fi_pix = ctx.metric(probs, S_in, pix).compute(-S_in[k])
        ok &= report("per pixel (p = 3)", fi_pix,
                     pinv_fi(S_in, P, [[3 * q, 3 * q + 1, 3 * q + 2] for q in range(H * W)],
                             -S_in[k]), ctx)
        grid = torch.as_tensor(fi_pix).reshape(H, W)
        q = int(grid.argmax())
        print("    most influential pixel (row %d, col %d): FI %.4f, normalized %.3f"
              % (q // W, q % W, grid.max().item(),
                 grid.max().item() / ((1 - P[k].item()) / P[k].item())))
        # Reparametrization invariance (SPEC fact 4): rescale the input channels by A and FI
        # of every pixel stays the same, while the gradient norm does not.
        A = torch.diag(torch.tensor([10.0, 0.1, 3.0], dtype=torch.float64))
        S_re = (S_in.reshape(K, H * W, CH) @ A).reshape(K, -1).contiguous()
        fi_re = ctx.metric(probs, S_re, pix).compute(-S_re[k])
        inv = (torch.as_tensor(fi_re) - torch.as_tensor(fi_pix)).abs().max().item()
        print("    channel rescaling diag(10, 0.1, 3): max |delta FI| %.1e, |g| changes by %.1fx"
              % (inv, (S_re[k].norm() / S_in[k].norm()).item()))
        ok &= inv < 1e-9 * float(grid.max())
    # The same per-parameter FI from libfi.torch, which streams the scores one tensor at a
    # time instead of materializing the (K, n_params) matrix above.
    import libfi.torch as fit
    res = fit.compute(model, X[:1], input_blocks="elements", rcond=RCOND)
    streamed = torch.cat([torch.as_tensor(res.parameters[n].elements).reshape(-1)
                          for n, _ in model.named_parameters()])
    err = ((streamed - torch.as_tensor(fi_par)).abs().max() / torch.as_tensor(fi_par).max()).item()
    err_in = (torch.as_tensor(res.inputs[0]) - torch.as_tensor(
        ctx_free_direct(probs, S_in, k))).abs().max().item()
    print("libfi.torch.compute, streamed per tensor: max |delta FI| / max FI %.1e (parameters), "
          "%.1e (inputs)" % (err, err_in))
    ok &= err < 1e-12 and err_in < 1e-9
    print("torch example: %s" % ("OK" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
