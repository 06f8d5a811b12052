"""Dataset-sharded average FI with torch.distributed: the MPI pattern of dataset_sharded.c
in the form a PyTorch user writes it (docs/distributed.md).

Each of WORLD processes (gloo backend, CPU, loopback only) takes a contiguous slice of a
synthetic data set, gets the K class scores of every sample from autograd, computes FI per
row of the weight matrix with libfi and adds it to a local accumulator. The accumulators are
combined by all_gather of their serialized images as uint8 tensors and a merge in rank
order, which is valid whatever the image format (an all_reduce SUM of the images would only
be valid for a summable format, and libfi's is not one: it has a header, a checksum and
double-double sums, see docs/distributed.md).

Rank 0 then checks the merged result against
  - the same computation in one process and one accumulator, within the merge-order bound
    of docs/aggregation.md (as in shard.c: 4 ulps of the mean, and for the standard error
    8 ulps scaled by the cancellation 1 + 2 mean^2 / (n se^2)); it says whether the bits
    agreed;
  - the closed form of a linear softmax layer: the scores of row j of W for class i are
    (delta_ij - P_j) x, a rank-1 block, so FI_j = (delta_kj - P_j)^2 / (P_j (1 - P_j)) for
    the class target k, and the mean and standard error computed from it here.
Exit status 0 when both hold, 1 otherwise. Run: /usr/bin/python3 torch_distributed.py
"""

import math
import os
import sys
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import libfi  # noqa: E402

WORLD = 2
SAMPLES, FEATURES, CLASSES, SEED = 301, 16, 4, 5
ORACLE_TOL = 1e-10  # rank-1 blocks: SVD path vs closed form, FI <= K - 1 (see the C example)


def make_model():
    """A fixed linear softmax classifier and class means; the same on every rank."""
    g = torch.Generator().manual_seed(SEED)
    mu = torch.randn(CLASSES, FEATURES, generator=g, dtype=torch.float64)
    weight = 0.8 * mu + 0.3 * torch.randn(CLASSES, FEATURES, generator=g, dtype=torch.float64)
    bias = 0.1 * torch.randn(CLASSES, generator=g, dtype=torch.float64)
    return mu, weight.requires_grad_(), bias


def sample(mu, i):
    """Sample i regenerated from (SEED, i) alone: any rank can produce any slice."""
    g = torch.Generator().manual_seed(SEED * 1000003 + i)
    label = int(torch.randint(CLASSES, (1,), generator=g))
    return mu[label] + 1.5 * torch.randn(FEATURES, generator=g, dtype=torch.float64)


def scores_and_probs(weight, bias, x):
    """K x (K*FEATURES) scores d log P_i / d W by autograd, and the probabilities."""
    logp = torch.log_softmax(weight @ x + bias, dim=0)
    rows = [torch.autograd.grad(logp[i], weight, retain_graph=True)[0].reshape(-1)
            for i in range(CLASSES)]
    return torch.stack(rows).contiguous(), logp.detach().exp()


def accumulate(ctx, model, first, last, oracle=None):
    """FI per row of W for samples [first, last) into a new accumulator."""
    mu, weight, bias = model
    acc = ctx.accumulator(CLASSES)
    rows = libfi.Blocks.rows(CLASSES, FEATURES)
    for i in range(first, last):
        scores, p = scores_and_probs(weight, bias, sample(mu, i))
        k = int(p.argmax())
        metric = ctx.metric(p.tolist(), scores, rows)
        fi = metric.compute(scores[k])
        metric.close()
        acc.add(fi, 1.0)
        if oracle is not None:
            pj = p.tolist()
            oracle.append([((1.0 if j == k else 0.0) - pj[j]) ** 2 / (pj[j] * (1 - pj[j]))
                           for j in range(CLASSES)])
    return acc


def all_gather_merge(ctx, acc):
    """The torch.distributed form of acc_allgather_merge (acc_mpi.c)."""
    image = torch.frombuffer(bytearray(acc.serialize()), dtype=torch.uint8)
    sizes = torch.tensor([image.numel(), -image.numel()], dtype=torch.int64)
    dist.all_reduce(sizes, op=dist.ReduceOp.MAX)  # every image must have the same size
    if sizes[0] != -sizes[1]:
        raise RuntimeError("accumulator images differ in size across ranks")
    images = [torch.empty_like(image) for _ in range(dist.get_world_size())]
    dist.all_gather(images, image)
    total = ctx.deserialize_accumulator(images[0].numpy().tobytes())
    for img in images[1:]:
        part = ctx.deserialize_accumulator(img.numpy().tobytes())
        total.merge(part)
        part.close()
    return total


def merge_bound_ratio(mean_a, se_a, mean_b, se_b, n):
    """Largest difference in units of the merge-order bound (shard.c has the derivation)."""
    eps = sys.float_info.epsilon
    worst = 0.0
    for ma, sa, mb, sb in zip(mean_a, se_a, mean_b, se_b):
        m = max(abs(ma), abs(mb))
        se = min(sa, sb)
        tol_se = (8 * eps * (1 + 2 * m * m / (n * se * se)) * se if se > 0
                  else math.sqrt(16 * eps * m * m / n))
        for d, tol in ((abs(ma - mb), 4 * eps * m), (abs(sa - sb), tol_se)):
            if d > 0:
                worst = max(worst, d / tol if tol > 0 else float("inf"))
            elif d != d:
                worst = float("inf")
    return worst


def worker(rank, world, store):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="file://" + store, rank=rank,
                            world_size=world)
    model = make_model()
    first = SAMPLES * rank // world
    last = SAMPLES * (rank + 1) // world
    ok = True
    with libfi.Context() as ctx:
        total = all_gather_merge(ctx, accumulate(ctx, model, first, last))
        mean, se = total.result()
        if rank == 0:
            oracle = []
            single = accumulate(ctx, model, 0, SAMPLES, oracle)
            mean1, se1 = single.result()
            same = list(mean) == list(mean1) and list(se) == list(se1)
            ratio = merge_bound_ratio(mean, se, mean1, se1, SAMPLES)
            worst = 0.0
            for j in range(CLASSES):
                col = [row[j] for row in oracle]
                mu = sum(col) / SAMPLES
                var = sum((v - mu) ** 2 for v in col) / (SAMPLES - 1)
                worst = max(worst, abs(mean1[j] - mu), abs(se1[j] - math.sqrt(var / SAMPLES)))
            print("torch.distributed (gloo, %d processes, %d samples): all_gather + merge "
                  "vs 1 process %s (%.2g of the merge-order bound); vs closed form %.3g "
                  "(tolerance %.0e)"
                  % (world, SAMPLES, "bit-identical" if same else "different bits", ratio,
                     worst, ORACLE_TOL))
            ok = ratio <= 1 and worst <= ORACLE_TOL and total.info()[1] == SAMPLES
            print("OK" if ok else "FAIL")
    flag = torch.tensor([0 if ok else 1])
    dist.broadcast(flag, 0)
    dist.destroy_process_group()
    if int(flag):
        sys.exit(1)


def main():
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # loopback only: works offline
    with tempfile.TemporaryDirectory() as tmp:
        try:
            mp.spawn(worker, args=(WORLD, os.path.join(tmp, "store")), nprocs=WORLD)
        except mp.ProcessExitedException as e:
            print("torch_distributed: %s" % e, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
