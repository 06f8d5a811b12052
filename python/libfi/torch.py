"""FI of a PyTorch model: per parameter tensor (elements, rows, columns) and per input pixel
or patch, from the model, a batch of inputs and the classes.

    import libfi.torch as fit
    res = fit.compute(model, images, classes=[3, 7, 9, 12])   # or classes=None: all outputs
    res.parameters["fc1.weight"].elements    # dataset mean of per-element FI, weight's shape
    res.parameters["fc1.weight"].rows        # block FI of every output channel, (out,)
    res.inputs                               # per-sample pixel FI, (N, H, W)
    sel = fit.top_fraction(res, 0.01)        # the top 1% of all weights, across tensors
    with fit.zeroed(model, sel): ...         # the selected weights are 0 inside, restored after

For each sample x: log P = log_softmax(model(x)); with a subset of classes (the K answer
options of a multiple-choice prompt) their raw probabilities do not sum to 1 and libfi's
FI_CLASS_RENORMALIZE mode renormalizes them as the paper does (P'_i = P_i / sum P, scores
centred). The target is the paper's objective f = -log P'_pred (the predicted class among
the K), whose FI is the class-target FI computed by fi_direct without storing a gradient.

Memory. The K class scores are produced one parameter tensor (or a group of small tensors) at
a time with torch.autograd.grad on a retained graph, handed to libfi in place (float32, bf16,
f16 or float64, the parameter's own dtype) and dropped: peak extra memory is about
(K + 1) x the largest tensor, not K x the model. The price is K backward passes per group.
With class_stream=True (element FI, and blocks of at most 8 coordinates) each class's
gradient is fed to an fi_class_stream as soon as it is made and dropped: peak extra memory is
one gradient of the group plus the stream's running sums (8-24 bytes per element), whatever K.

Dataset averages go to libfi.Mean (16 bytes per block; fi_mean_add_direct computes and adds
a sample's FI without an FI array) unless exact=True, which keeps libfi.Accumulator (80 bytes
per block, bit-identical whatever the order of adds and merges; Mean's sums are within a
relative (N-1)*2^-53 of exact). top_fraction / low_fraction rank the blocks of every tensor
together through libfi.Threshold, without concatenating them.

Nothing the caller passed is modified: parameters are read through autograd (their .grad
stays as it was), inputs are cloned before a gradient is taken with respect to them. Only
zeroed() / quantized() edit the model, on request, and put every value back.
"""

import math
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .blocks import Blocks, IndexBlocks
from .class_stream import MAX_BLOCK
from .context import Context
from .errors import ArgumentError
from .selection import Selection
from .threshold import random_low_fraction as _random_low, top_fraction as _top

__all__ = ["compute", "parameter_fi", "input_fi", "TensorFI", "Result", "top_fraction",
           "low_fraction", "zeroed", "quantized", "Edit", "class_log_probs"]

_LIBFI_DTYPES = (torch.float64, torch.float32, torch.bfloat16, torch.float16)
LAYOUTS = ("elements", "rows", "columns")


class TensorFI(object):
    """Dataset mean FI of one parameter tensor, per layout, and its standard error.
    elements: the tensor's shape; rows: (shape[0],); columns: (shape[1],)."""

    def __init__(self, name: str, shape: Tuple[int, ...]):
        self.name = name
        self.shape = shape
        self.mean: Dict[str, np.ndarray] = {}
        self.std_error: Dict[str, np.ndarray] = {}

    def __getattr__(self, layout: str) -> np.ndarray:
        if layout in LAYOUTS:
            try:
                return self.__dict__["mean"][layout]
            except KeyError:
                raise AttributeError("%s: layout %r was not computed" % (self.name, layout))
        raise AttributeError(layout)

    def __repr__(self) -> str:
        return "TensorFI(%s %s: %s)" % (self.name, self.shape, ", ".join(self.mean))


class Result(object):
    """What compute() returns.

    parameters: {name: TensorFI}, dataset means over the batch (libfi accumulators)
    inputs:     per-sample input FI, (N, H, W) for pixels, (N, H/ph, W/pw) for patches,
                (N, D) for flat inputs; None when not asked for
    probs:      (N, K) the probabilities of the K classes (renormalized over them)
    predicted:  (N,) the target class of each sample, an index into the K classes
    samples:    N"""

    def __init__(self):
        self.parameters: Dict[str, TensorFI] = {}
        self.inputs: Optional[np.ndarray] = None
        self.probs: Optional[np.ndarray] = None
        self.predicted: Optional[np.ndarray] = None
        self.samples = 0


# ------------------------------------------------------------------ checks


def _check_model(model: torch.nn.Module, params) -> None:
    for name, p in params:
        if p.device.type != "cpu":
            raise ArgumentError("parameter %s is on %s: libfi runs on the CPU; move the model "
                                "there (model.cpu()) or copy the gradients yourself"
                                % (name, p.device), name)
        if p.dtype not in _LIBFI_DTYPES:
            raise ArgumentError("parameter %s has dtype %s; libfi reads float64, float32, "
                                "bfloat16 and float16" % (name, p.dtype), name)
        if p.layout != torch.strided:
            raise ArgumentError("parameter %s is a %s tensor" % (name, p.layout), name)


def _check_inputs(inputs: torch.Tensor) -> None:
    if not isinstance(inputs, torch.Tensor):
        raise ArgumentError("inputs must be a torch.Tensor batch (N, ...), not %s"
                            % type(inputs).__name__, "inputs")
    if inputs.device.type != "cpu":
        raise ArgumentError("inputs are on %s: libfi runs on the CPU (inputs.cpu())"
                            % inputs.device, "inputs")
    if inputs.dim() < 2:
        raise ArgumentError("inputs must be a batch (N, ...), got shape %s"
                            % tuple(inputs.shape), "inputs")


def _class_list(classes, n_outputs: int) -> Optional[List[int]]:
    if classes is None:
        return None
    cl = [int(c) for c in classes]
    if len(cl) < 2 or len(set(cl)) != len(cl) or min(cl) < 0 or max(cl) >= n_outputs:
        raise ArgumentError("classes must be >= 2 distinct output indices in [0, %d), got %r"
                            % (n_outputs, list(classes)), "classes")
    return cl


# ------------------------------------------------------------------ scores


def class_log_probs(model: torch.nn.Module, x: torch.Tensor, classes=None):
    """(log P of the K classes with its autograd graph, P in float64 as numpy, class mode).

    x is one sample with its batch dimension (1, ...). Without classes, K = all outputs and
    P is a softmax (strict mode); with classes the raw vocabulary probabilities of those
    outputs, which libfi renormalizes (FI_CLASS_RENORMALIZE)."""
    out = model(x)
    if out.dim() != 2 or out.shape[0] != 1:
        raise ArgumentError("the model must map a (1, ...) sample to (1, outputs) logits, got "
                            "%s" % (tuple(out.shape),), "model")
    logits = out[0]
    cl = _class_list(classes, logits.shape[0])
    # log_softmax in at least float32: a bf16 softmax would round P itself to 3 digits.
    work = logits if logits.dtype in (torch.float32, torch.float64) else logits.float()
    logp = torch.log_softmax(work, 0)
    p = torch.softmax(logits.detach().double(), 0)
    if cl is not None:
        logp, p = logp[cl], p[cl]
    return logp, p.numpy().copy(), ("strict" if cl is None else "renormalize")


def _layout_blocks(shape: Tuple[int, ...], layout: str):
    numel = int(np.prod(shape)) if shape else 1
    if layout == "elements":
        return Blocks.elements(*shape) if len(shape) > 1 else Blocks.elements(numel)
    if len(shape) < 2:
        return None  # a vector has no rows or columns
    rows, rest = shape[0], numel // shape[0]
    if layout == "rows":
        return Blocks(rows, rest, 1, rest)
    if layout == "columns":
        if len(shape) == 2:
            return Blocks.columns(rows, rest)
        # Input channel c of a conv weight (out, in, kh, kw): every (o, c, ...) coordinate.
        idx = np.arange(numel, dtype=np.int64).reshape(shape).swapaxes(0, 1).reshape(shape[1], -1)
        return IndexBlocks(np.arange(0, idx.size + 1, idx.shape[1]), idx.reshape(-1),
                           (shape[1],))
    raise ArgumentError("unknown layout %r (use %s)" % (layout, ", ".join(LAYOUTS)), "layouts")


def _groups(params, budget: int):
    """Consecutive parameters in groups of at most budget elements (a larger tensor alone)."""
    groups, cur, size = [], [], 0
    for name, p in params:
        if cur and size + p.numel() > budget:
            groups.append(cur)
            cur, size = [], 0
        cur.append((name, p))
        size += p.numel()
    if cur:
        groups.append(cur)
    return groups


def _scores(logp: torch.Tensor, tensors: Sequence[torch.Tensor], retain: bool):
    """For each tensor, a (K, *shape) tensor of d logp_i / d tensor in the tensor's dtype,
    filled class by class so that at most one extra gradient set is alive at a time."""
    K = logp.shape[0]
    out = [torch.empty((K,) + tuple(t.shape), dtype=t.dtype) for t in tensors]
    for i in range(K):
        grads = torch.autograd.grad(logp[i], list(tensors), retain_graph=retain or i < K - 1,
                                    allow_unused=True)
        for S, g in zip(out, grads):
            if g is None:
                S[i].zero_()  # the class does not depend on this tensor
            else:
                S[i].copy_(g)
        del grads
    return out


# ------------------------------------------------------------------ rank tolerance

# Unit roundoff of each dtype the scores may have (SPEC: the default rank tolerance is
# max(p, K) times the unit roundoff of the INPUT's dtype).
_UNIT_ROUNDOFF = {torch.float64: 2.0 ** -53, torch.float32: 2.0 ** -24,
                  torch.bfloat16: 2.0 ** -8, torch.float16: 2.0 ** -11}
_dtype_aware: Dict[str, bool] = {}


def _library_rcond_is_dtype_aware(ctx: Context) -> bool:
    """Whether the loaded library's default rank tolerance follows the scores' dtype (libfi
    1.1.0 used the float64 roundoff for every dtype, which keeps the rounding noise of
    float32 autograd scores as rank and inflates FI). Probed once per library: a float32 block
    with singular values 1 and 1e-9 has rank 2 (FI of class 1 = 2) under a float64 tolerance
    and rank 1 (FI = 0) under a float32 one."""
    key = ctx.lib.path
    if key not in _dtype_aware:
        scores = np.array([[1.0, 0.0], [0.0, 1e-9]], dtype=np.float32)
        with Context(ctx.lib) as probe:
            fi = probe.direct(np.array([0.5, 0.5]), scores, Blocks(1, 2, 1, 2), target_class=1)
        _dtype_aware[key] = bool(fi[0] < 1.0)
    return _dtype_aware[key]


def _direct(ctx: Context, P, S: torch.Tensor, blocks, k: int, shim: bool):
    """fi_direct, with the dtype's rank tolerance set explicitly when the library's default
    does not follow the dtype (shim)."""
    if not shim or S.dtype == torch.float64:
        return ctx.direct(P, S, blocks, target_class=k)
    p = blocks.size if isinstance(blocks, Blocks) else \
        int(np.max(np.diff(np.asarray(blocks.offsets))))
    ctx.rcond = max(p, len(P)) * _UNIT_ROUNDOFF[S.dtype]
    try:
        return ctx.direct(P, S, blocks, target_class=k)
    finally:
        ctx.rcond = -1.0


# ------------------------------------------------------------------ the computation


def compute(model: torch.nn.Module, inputs: torch.Tensor,
            classes: Optional[Sequence[int]] = None, *,
            targets: Optional[Sequence[int]] = None,
            parameters: Union[bool, Iterable[str]] = True,
            layouts: Sequence[str] = LAYOUTS, input_blocks: Optional[str] = None,
            patch: Optional[Tuple[int, int]] = None, budget: Optional[int] = None,
            class_stream: bool = False, exact: bool = False,
            ctx: Optional[Context] = None, **options) -> Result:
    """FI of model on a batch of inputs (N, ...), see the module doc.

    classes     None (all outputs) or the K output indices to renormalize over
    targets     per-sample target class (index into the K classes); default the predicted one
    parameters  True (every parameter that requires grad), False, or an iterable of names
    layouts     of the parameter FI: "elements", "rows" (output channels), "columns" (input
                channels); rows and columns only for tensors of 2 or more dimensions
    input_blocks None (no input FI), "elements", "pixels" (inputs (N, C, H, W): one block of C
                channels per pixel), "patches" (with patch=(ph, pw))
    budget      elements per autograd group (default: the largest parameter tensor); the
                peak memory of the scores is about (K + 1) x budget elements
    class_stream feed the classes one at a time to fi_class_stream (parameter layouts whose
                blocks have at most 8 coordinates, e.g. "elements"): peak memory one gradient
                of budget elements plus O(budget) sums, whatever K; input FI stays on fi_direct
    exact       dataset means through the bit-reproducible Accumulator (80 bytes per block)
                instead of the 16-byte Mean (see the module doc)
    ctx         a libfi.Context (default: a new one made with **options, e.g. rcond=1e-6).
                Without an rcond the library's default rank tolerance is used, which follows
                the parameters' dtype (set explicitly here for libfi 1.1.0, whose default
                did not)"""
    _check_inputs(inputs)
    named = list(model.named_parameters())
    if parameters is True:
        params = [(n, p) for n, p in named if p.requires_grad]
    elif parameters is False or parameters is None:
        params = []
    else:
        wanted = list(parameters)
        lookup = dict(named)
        unknown = [n for n in wanted if n not in lookup]
        if unknown:
            raise ArgumentError("no parameters named %s" % unknown, "parameters")
        params = [(n, lookup[n]) for n in wanted]
    _check_model(model, params)
    for lay in layouts:
        if lay not in LAYOUTS:
            raise ArgumentError("unknown layout %r (use %s)" % (lay, ", ".join(LAYOUTS)),
                                "layouts")
    if input_blocks not in (None, "elements", "pixels", "patches"):
        raise ArgumentError("input_blocks must be None, 'elements', 'pixels' or 'patches'",
                            "input_blocks")
    N = inputs.shape[0]
    if targets is not None and len(targets) != N:
        raise ArgumentError("%d targets for %d inputs" % (len(targets), N), "targets")
    if class_stream:
        _check_streamable(params, layouts)
    own_ctx = ctx is None
    ctx = ctx or Context(**options)
    try:
        shim = ctx.rcond < 0 and not _library_rcond_is_dtype_aware(ctx)
        return _run(model, inputs, classes, targets, params, layouts, input_blocks, patch,
                    budget, ctx, shim, bool(class_stream), bool(exact))
    finally:
        if own_ctx:
            ctx.close()


def _input_blocks(shape: Tuple[int, ...], kind: str, patch):
    if kind == "elements":
        return Blocks.elements(*shape) if len(shape) > 1 else Blocks.elements(shape[0])
    if len(shape) != 3:
        raise ArgumentError("input_blocks=%r needs inputs of shape (N, C, H, W), got a sample "
                            "of shape %s" % (kind, shape), "input_blocks")
    C, H, W = shape
    if kind == "pixels":
        return Blocks.pixels(H, W, C, layout="chw")
    if patch is None:
        raise ArgumentError("input_blocks='patches' needs patch=(ph, pw)", "patch")
    return IndexBlocks.patches(H, W, C, patch[0], patch[1], layout="chw")


def _check_streamable(params, layouts) -> None:
    """class_stream=True: every parameter layout must have affine blocks of <= 8 coordinates."""
    for name, p in params:
        for lay in layouts:
            b = _layout_blocks(tuple(p.shape), lay)
            if b is None:
                continue
            size = b.size if isinstance(b, Blocks) else MAX_BLOCK + 1
            if size > MAX_BLOCK:
                raise ArgumentError(
                    "class_stream=True streams blocks of at most %d coordinates; layout %r of "
                    "%s has %d (use layouts=('elements',) or class_stream=False)"
                    % (MAX_BLOCK, lay, name, size), "layouts")


def _stream_group(ctx, logp, P, k, group, blocks, layouts, accs, retain):
    """The FI of one group's tensors from the classes one at a time: each class's gradient is
    fed to a class stream per (tensor, layout) and dropped before the next is made."""
    streams = {}
    try:
        for name, p in group:
            for lay in layouts:
                b = blocks.get((name, lay))
                if b is not None:
                    streams[(name, lay)] = ctx.class_stream(p.numel(), b, target_class=k)
        tensors = [p for _, p in group]
        K = logp.shape[0]
        for i in range(K):
            grads = torch.autograd.grad(logp[i], tensors, retain_graph=retain or i < K - 1,
                                        allow_unused=True)
            for (name, p), g in zip(group, grads):
                if g is None:
                    g = torch.zeros_like(p)  # the class does not depend on this tensor
                for lay in layouts:
                    cs = streams.get((name, lay))
                    if cs is not None:
                        cs.add(float(P[i]), g.detach())
            del grads, g
        for key, cs in streams.items():
            accs[key].add(cs.finish())
    finally:
        for cs in streams.values():
            cs.close()


def _run(model, inputs, classes, targets, params, layouts, input_blocks, patch, budget, ctx,
         shim, class_stream=False, exact=False):
    res = Result()
    N = inputs.shape[0]
    budget = budget or max([p.numel() for _, p in params] or [1])
    groups = _groups(params, budget)
    blocks = {(n, lay): _layout_blocks(tuple(p.shape), lay) for n, p in params for lay in layouts}
    blocks = {k: v for k, v in blocks.items() if v is not None}
    # The 16-byte Mean where the library has it (1.2), the exact Accumulator on request.
    fused = not exact and ctx.lib.has("fi_mean_create")
    make = ctx.mean if fused else ctx.accumulator
    accs = {k: make(b.shape or (b.count,)) for k, b in blocks.items()}
    in_blocks = _input_blocks(tuple(inputs.shape[1:]), input_blocks, patch) \
        if input_blocks else None
    probs, predicted, per_input = [], [], []
    mode = None
    try:
        for s in range(N):
            x = inputs[s:s + 1]
            if in_blocks is not None:
                x = x.detach().clone().requires_grad_(True)  # never the caller's tensor
            with torch.enable_grad():
                logp, P, m = class_log_probs(model, x, classes)
                if mode != m:
                    ctx.class_mode = mode = m
                k = int(np.argmax(P)) if targets is None else int(targets[s])
                if not 0 <= k < P.size:
                    raise ArgumentError("target %d of sample %d is outside the %d classes"
                                        % (k, s, P.size), "targets")
                probs.append(P / P.sum())
                predicted.append(k)
                for gi, group in enumerate(groups):
                    retain = in_blocks is not None or gi < len(groups) - 1
                    if class_stream:
                        _stream_group(ctx, logp, P, k, group, blocks, layouts, accs, retain)
                        continue
                    S_all = _scores(logp, [p for _, p in group], retain=retain)
                    for j, (name, _) in enumerate(group):
                        for lay in layouts:
                            b = blocks.get((name, lay))
                            if b is None:
                                continue
                            if fused and not shim and isinstance(b, Blocks):
                                # fi_direct fused with the add: no FI array per sample
                                accs[(name, lay)].add_direct(P, S_all[j], b, target_class=k)
                            else:
                                accs[(name, lay)].add(_direct(ctx, P, S_all[j], b, k, shim))
                    # No name may keep this group's scores alive while the next is made.
                    del S_all
                if in_blocks is not None:
                    (S_in,) = _scores(logp, [x], retain=False)
                    per_input.append(_direct(ctx, P, S_in, in_blocks, k, shim))
                    del S_in
        for (name, lay), acc in accs.items():
            tf = res.parameters.get(name)
            if tf is None:
                tf = res.parameters[name] = TensorFI(name, tuple(dict(params)[name].shape))
            tf.mean[lay], tf.std_error[lay] = acc.result()
    finally:
        for acc in accs.values():
            acc.close()
    res.samples = N
    res.probs = np.array(probs)
    res.predicted = np.array(predicted, dtype=np.int64)
    if in_blocks is not None:
        res.inputs = np.stack(per_input)
    return res


def parameter_fi(model, inputs, classes=None, **kw) -> Dict[str, TensorFI]:
    """compute(...).parameters: dataset mean FI per parameter tensor."""
    return compute(model, inputs, classes, **kw).parameters


def input_fi(model, inputs, classes=None, blocks: str = "pixels", patch=None, **kw) -> np.ndarray:
    """Per-sample FI of the input pixels (N, H, W), patches or elements; no parameter FI."""
    return compute(model, inputs, classes, parameters=False, input_blocks=blocks, patch=patch,
                   **kw).inputs


# ------------------------------------------------------------------ selection and edits


def _values(res, layout: str) -> Dict[str, np.ndarray]:
    params = res.parameters if isinstance(res, Result) else res
    out = {}
    for name, tf in params.items():
        v = tf.mean.get(layout) if isinstance(tf, TensorFI) else tf
        if v is not None:
            out[name] = v
    if not out:
        raise ArgumentError("no parameter FI with layout %r to select from" % layout, "layout")
    return out


def top_fraction(res, fraction: float, layout: str = "elements", ctx=None) -> Selection:
    """The top fraction of all blocks (elements, rows or columns) across every tensor of a
    Result (or a {name: FI array} dict), ranked together (ties by tensor order, then index):
    the paper's FI-High set, found by libfi.Threshold without concatenating the tensors."""
    sel = _top(_values(res, layout), fraction, ctx)
    sel.layout = layout
    return sel


def low_fraction(res, fraction: float, seed: int = 0, layout: str = "elements",
                 ctx=None) -> Selection:
    """The paper's FI-Low baseline: as many blocks as top_fraction selects, drawn uniformly
    (seeded) outside the top fraction, by libfi.Threshold's draw across the tensors (the same
    whatever the shard split; a different draw than libfi.selection.random_low_fraction's)."""
    sel = _random_low(_values(res, layout), fraction, seed, ctx=ctx)
    sel.layout = layout
    return sel


def _element_mask(shape, layout: str, idx: np.ndarray) -> torch.Tensor:
    m = torch.zeros(shape, dtype=torch.bool)
    ix = torch.as_tensor(idx, dtype=torch.int64)
    if layout == "elements":
        m.view(-1)[ix] = True
    elif layout == "rows":
        m[ix] = True
    else:
        m[:, ix] = True
    return m


class Edit(object):
    """Selected weights of a model changed in place; restore() puts back every original value
    bit for bit. Also a context manager (restores on exit)."""

    def __init__(self, model: torch.nn.Module, sel: Selection, change):
        self._saved = []
        lookup = dict(model.named_parameters())
        layout = getattr(sel, "layout", "elements")
        with torch.no_grad():
            for name, idx in sel.indices.items():
                if len(idx) == 0:
                    continue
                p = lookup[name]
                mask = _element_mask(tuple(p.shape), layout, idx)
                self._saved.append((p, mask, p[mask].clone()))
                p[mask] = change(p, mask).to(p.dtype)
        self.changed = int(sum(m.sum() for _, m, _ in self._saved))

    def restore(self) -> None:
        with torch.no_grad():
            for p, mask, old in self._saved:
                p[mask] = old
        self._saved = []

    def __enter__(self) -> "Edit":
        return self

    def __exit__(self, *exc) -> None:
        self.restore()


def zeroed(model: torch.nn.Module, sel: Selection) -> Edit:
    """Sets the selected weights to 0 (the paper's ablation); .restore() or `with` undoes it."""
    return Edit(model, sel, lambda p, m: torch.zeros(int(m.sum()), dtype=p.dtype))


def quantized(model: torch.nn.Module, sel: Selection, bits: int = 4) -> Edit:
    """Rounds the selected weights to a symmetric uniform grid of 2^bits levels whose scale is
    max |w| of their tensor; .restore() or `with` undoes it."""
    if not 2 <= int(bits) <= 16:
        raise ArgumentError("bits must be in [2, 16], got %r" % (bits,), "bits")
    levels = 2 ** (int(bits) - 1) - 1

    def change(p, m):
        w = p.detach().double()
        scale = w.abs().max() / levels
        if scale == 0:
            return p[m]
        return torch.round(w[m] / scale).clamp(-levels, levels) * scale

    return Edit(model, sel, change)
