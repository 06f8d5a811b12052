"""Class scores of two PyTorch models for make bench's real-gradient workloads (issue 16).

For one input each, the K = 10 class scores s_i = d log P_i / d omega over every parameter are
computed by autograd in float32, and written with the block layouts to time (bench/real.c reads
them, bench/peer_torch.py times the peer on the same file):

  cnn          conv 3-64-128 (3x3, ReLU, 2x2 max-pool) on a 32x32 RGB image, fc 8192-1024-10
               (8.5M parameters; the issue's model). ReLU zeros and dead units, rank-1 fc rows.
  transformer  one pre-norm block (4-head attention + GELU MLP, width 512, MLP 2048) over a
               sequence of 8 tokens, mean-pooled into 10 classes (3.2M parameters). A weight
               row's score is a sum over the 8 tokens, so its blocks have rank <= 8 < K - 1.

Each model is first fitted for a few steps to random labels of a small random batch, so that
its probabilities are graded rather than uniform. Deterministic (fixed seeds, one thread).

File DATA/torch_<model>.bin: int64 version = 1, K, n, L; double P[K]; L layouts of
{char name[32]; int64 offset, count, size, stride, step}; float32 scores[K * n].
Usage: python3 real_models.py DATA   (writes only the files that are missing)
"""
import os
import struct
import sys

import torch

torch.set_num_threads(1)
K = 10


class CNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 64, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(64, 128, 3, padding=1)
        self.fc1 = torch.nn.Linear(128 * 8 * 8, 1024)
        self.fc2 = torch.nn.Linear(1024, K)

    def forward(self, x):
        h = torch.nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        h = torch.nn.functional.max_pool2d(torch.relu(self.conv2(h)), 2)
        return self.fc2(torch.relu(self.fc1(h.flatten(1))))

    @staticmethod
    def inputs(n):
        return torch.randn(n, 3, 32, 32)


class Transformer(torch.nn.Module):
    T, D, HEADS = 8, 512, 4

    def __init__(self):
        super().__init__()
        d = self.D
        self.ln1 = torch.nn.LayerNorm(d)
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.proj = torch.nn.Linear(d, d)
        self.ln2 = torch.nn.LayerNorm(d)
        self.up = torch.nn.Linear(d, 4 * d)
        self.down = torch.nn.Linear(4 * d, d)
        self.head = torch.nn.Linear(d, K)

    def forward(self, x):                       # x: (B, T, D) token embeddings
        B, T, d = x.shape
        h = self.HEADS
        q, k, v = self.qkv(self.ln1(x)).view(B, T, 3, h, d // h).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / (d // h) ** 0.5, dim=-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(B, T, d))
        x = x + self.down(torch.nn.functional.gelu(self.up(self.ln2(x))))
        return self.head(x.mean(dim=1))

    @classmethod
    def inputs(cls, n):
        return torch.randn(n, cls.T, cls.D)


def fitted(cls, seed):
    torch.manual_seed(seed)
    model = cls()
    x, y = cls.inputs(16), torch.randint(0, K, (16,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(8):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model, cls.inputs(1)


def class_scores(model, x):
    params = list(model.parameters())
    logp = torch.log_softmax(model(x), dim=1)[0]
    rows = [torch.cat([g.reshape(-1) for g in torch.autograd.grad(logp[i], params, retain_graph=True)])
            for i in range(K)]
    return logp.exp().double().detach(), torch.stack(rows).detach().contiguous()


def offsets(model):
    out, off = {}, 0
    for name, p in model.named_parameters():
        out[name] = (off, p.shape)
        off += p.numel()
    return out


def layouts(model, n, prefix, matrices):
    """Every parameter as elements, then rows and columns of the given weight matrices."""
    off = offsets(model)
    ls = [(f"{prefix}-all-element", 0, n, 1, 1, 1)]
    for tag, name in matrices:
        o, (rows, cols) = off[name]
        ls.append((f"{tag}-row", o, rows, cols, 1, cols))
        ls.append((f"{tag}-column", o, cols, rows, cols, 1))
    return ls


def write(path, probs, scores, ls):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<qqqq", 1, K, scores.shape[1], len(ls)))
        f.write(probs.numpy().tobytes())
        for name, *vals in ls:
            f.write(struct.pack("<32sqqqqq", name.encode(), *vals))
        f.write(scores.numpy().tobytes())
    os.replace(tmp, path)


def main():
    data = sys.argv[1]
    os.makedirs(data, exist_ok=True)
    models = {"cnn": ("cnn", CNN, [("cnn-fc1", "fc1.weight")]),
              "transformer": ("tf", Transformer, [("tf-up", "up.weight"), ("tf-qkv", "qkv.weight")])}
    for seed, (tag, (prefix, cls, matrices)) in enumerate(models.items()):
        path = os.path.join(data, f"torch_{tag}.bin")
        if os.path.exists(path):
            continue
        model, x = fitted(cls, 16 + seed)
        probs, scores = class_scores(model, x)
        ls = layouts(model, scores.shape[1], prefix, matrices)
        write(path, probs, scores, ls)
        zero = (scores == 0).double().mean().item()
        print(f"{path}: K = {K}, n = {scores.shape[1]}, P from {probs.min().item():.2g} to "
              f"{probs.max().item():.3f} (ratio {(probs.max() / probs.min()).item():.3g}), "
              f"{100 * zero:.0f}% of the scores exactly zero", file=sys.stderr)


if __name__ == "__main__":
    main()
