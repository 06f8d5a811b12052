"""Class scores of real PyTorch models, in float64 and in float32, for the accuracy suite.

Three small models are trained in float64 on a synthetic task (random images/sequences with
labels drawn from a random teacher's softmax), so that their probabilities are graded as a real
model's are, confident on some inputs and torn on others. For a few
held-out inputs each, the K class scores s_i = d log P_i / d omega over every parameter and over
the input, and one target gradient, are computed by autograd twice: by the float64 model (the
reference) and by the same model cast to float32 (what a PyTorch user passes to libfi). The
files are read by tests/accuracy/accuracy.c, which computes FI from both and compares.

Output, for each model M and sample j, in OUTDIR:
  M.layout           segments of the coordinate vector: "name offset kind dims..." per line,
                     kind 'matrix R C' (row-major weight, conv weights flattened to out x rest),
                     'vector N', 'image H W C' (HWC input)
  M_j_f64.bin        float64 record, M_j_f32.bin: float32 record, each:
                     int64 K, int64 n, int64 label, double probs[K] (as the model computed them,
                     in its precision), scores[K*n] (row i = class i), target[n]
                     (gradient of -log P_label, the cross-entropy of the true label), the last
                     two in the record's precision.
Usage: python3 real_scores.py OUTDIR
"""
import os
import struct
import sys

import torch

torch.set_num_threads(1)


class MLP(torch.nn.Module):
    """192-32-32-5 ReLU on an 8x8 RGB image (the issue's model)."""
    K = 5
    image = (8, 8, 3)

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(192, 32)
        self.fc2 = torch.nn.Linear(32, 32)
        self.fc3 = torch.nn.Linear(32, self.K)

    def forward(self, x):                       # x: (B, H, W, C)
        h = torch.relu(self.fc1(x.reshape(x.shape[0], -1)))
        h = torch.relu(self.fc2(h))
        return self.fc3(h)


class CNN(torch.nn.Module):
    """conv 3-8-16 (3x3, ReLU, max-pool) and a linear head, 12x12 RGB, K = 10."""
    K = 10
    image = (12, 12, 3)

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, padding=1)
        self.fc = torch.nn.Linear(16 * 3 * 3, self.K)

    def forward(self, x):                       # x: (B, H, W, C) -> NCHW inside
        h = x.permute(0, 3, 1, 2)
        h = torch.nn.functional.max_pool2d(torch.relu(self.conv1(h)), 2)
        h = torch.nn.functional.max_pool2d(torch.relu(self.conv2(h)), 2)
        return self.fc(h.reshape(h.shape[0], -1))


class Block(torch.nn.Module):
    """One pre-norm transformer block (single-head attention + GELU MLP) over 6 tokens of
    width 16, mean-pooled into K = 4 classes. Its 'image' is the 6 x 16 token embeddings,
    so pixel blocks are tokens (p = 16 >= K - 1: saturated, as SPEC fact 3 says)."""
    K = 4
    image = (1, 6, 16)

    def __init__(self):
        super().__init__()
        d = 16
        self.ln1 = torch.nn.LayerNorm(d)
        self.q = torch.nn.Linear(d, d)
        self.k = torch.nn.Linear(d, d)
        self.v = torch.nn.Linear(d, d)
        self.o = torch.nn.Linear(d, d)
        self.ln2 = torch.nn.LayerNorm(d)
        self.up = torch.nn.Linear(d, 32)
        self.down = torch.nn.Linear(32, d)
        self.head = torch.nn.Linear(d, self.K)

    def forward(self, x):                       # x: (B, 1, T, d)
        h = x[:, 0]
        a = self.ln1(h)
        att = torch.softmax(self.q(a) @ self.k(a).transpose(1, 2) / 4.0, dim=-1)
        h = h + self.o(att @ self.v(a))
        h = h + self.down(torch.nn.functional.gelu(self.up(self.ln2(h))))
        return self.head(h.mean(dim=1))


def train(model, inputs, labels, steps=150):
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-3)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(inputs), labels)
        loss.backward()
        opt.step()
    return loss.item()


def scores_of(model, x, label):
    """K class scores and the target gradient over (parameters..., input), in the model's dtype."""
    x = x.clone().requires_grad_(True)
    params = list(model.parameters())
    logp = torch.log_softmax(model(x[None]), dim=1)[0]
    rows = []
    for i in range(logp.shape[0]):
        gs = torch.autograd.grad(logp[i], params + [x], retain_graph=True, allow_unused=True)
        rows.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                               for g, p in zip(gs, params + [x])]))
    gs = torch.autograd.grad(-logp[label], params + [x], allow_unused=True)
    target = torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                        for g, p in zip(gs, params + [x])])
    return logp.exp().detach(), torch.stack(rows).detach(), target.detach()


def layout(model):
    lines, off = [], 0
    for name, p in model.named_parameters():
        if p.dim() >= 2:
            lines.append(f"{name} {off} matrix {p.shape[0]} {p[0].numel()}")
        else:
            lines.append(f"{name} {off} vector {p.numel()}")
        off += p.numel()
    h, w, c = model.image
    lines.append(f"input {off} image {h} {w} {c}")
    return lines


def write(path, probs, scores, target, label):
    with open(path, "wb") as f:
        f.write(struct.pack("<qqq", scores.shape[0], scores.shape[1], label))
        f.write(probs.double().numpy().tobytes())
        f.write(scores.contiguous().numpy().tobytes())
        f.write(target.contiguous().numpy().tobytes())


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    samples = 4
    for seed, cls in enumerate((MLP, CNN, Block)):
        torch.manual_seed(100 + seed)
        teacher = cls().double()
        model = cls().double()
        x = torch.randn(256 + samples, *cls.image, dtype=torch.float64)
        with torch.no_grad():   # noisy labels: the model learns probabilities, not certainty
            y = torch.multinomial(torch.softmax(teacher(x) * 3.0, dim=1), 1)[:, 0]
        train(model, x[:256], y[:256])
        model32 = cls().float()
        model32.load_state_dict({k: v.float() for k, v in model.state_dict().items()})
        name = cls.__name__.lower()
        with open(os.path.join(out, f"{name}.layout"), "w") as f:
            f.write("\n".join(layout(model)) + "\n")
        for j in range(samples):
            xi, label = x[256 + j], int(y[256 + j])
            for tag, m, xx in (("f64", model, xi), ("f32", model32, xi.float())):
                p, s, g = scores_of(m, xx, label)
                write(os.path.join(out, f"{name}_{j}_{tag}.bin"), p, s, g, label)
    print(f"real_scores: wrote {3 * samples} samples of 3 models (float64 and float32) to {out}")


if __name__ == "__main__":
    main()
