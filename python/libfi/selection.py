"""Selection: top-k / top-fraction, the complement, the paper's FI-Low baseline and masks
(fi_select_*, fi_indices_to_mask), for one array of values or across many named arrays (the
parameter tensors of a model, ranked together)."""

from typing import Dict, Mapping, Optional, Tuple

from ._arrays import _Call
from ._loader import library
from .errors import ArgumentError

try:
    import numpy as _np
except ImportError:  # numpy is optional
    _np = None

__all__ = ["select_top", "select_random_low", "select_complement", "indices_to_mask",
           "fraction_count", "top_fraction", "random_low_fraction", "Selection"]


def _ctx(ctx):
    from .context import Context
    return ctx if ctx is not None else Context()


def fraction_count(count: int, fraction: float) -> int:
    """ceil(fraction * count): how many items a fraction selects (fi_fraction_count).
    ValueError for count < 0 or a fraction outside [0, 1] (where the C call returns -1)."""
    v = int(library().fn("fi_fraction_count")(int(count), float(fraction)))
    if v < 0:
        raise ArgumentError("fraction_count needs count >= 0 and 0 <= fraction <= 1 "
                            "(got %r, %r)" % (count, fraction))
    return v


def select_top(values, k: int, ctx=None):
    """fi_select_top: indices of the k largest values, descending, ties by the smaller index."""
    ctx = _ctx(ctx)
    c = _Call(ctx)
    vv = c.doubles(values, "values")
    out, ov = c.out(None, "indices", "i8", max(int(k), 0))  # a bad k is C's to report
    ctx._run("fi_select_top", c, ctx.handle, vv.address, vv.size, int(k), ov.address)
    return out


def select_random_low(values, exclude_top: int, k: int, seed: int, ctx=None):
    """fi_select_random_low: k seeded random indices outside the top exclude_top, ascending."""
    ctx = _ctx(ctx)
    c = _Call(ctx)
    vv = c.doubles(values, "values")
    out, ov = c.out(None, "indices", "i8", max(int(k), 0))
    ctx._run("fi_select_random_low", c, ctx.handle, vv.address, vv.size, int(exclude_top),
             int(k), int(seed) & 0xFFFFFFFFFFFFFFFF, ov.address)
    return out


def select_complement(count: int, indices, ctx=None):
    """fi_select_complement: the indices in [0,count) not listed, ascending."""
    ctx = _ctx(ctx)
    c = _Call(ctx)
    iv = c.ints(indices, "indices")
    m = int(count) - iv.size
    if m < 0:
        raise ArgumentError("more indices (%d) than count (%d)" % (iv.size, count))
    out, ov = c.out(None, "out", "i8", m)
    ctx._run("fi_select_complement", c, ctx.handle, int(count), iv.address, iv.size,
             ov.address)
    return out


def indices_to_mask(count: int, indices, ctx=None):
    """fi_indices_to_mask: a count-byte mask, 1 at the listed indices."""
    ctx = _ctx(ctx)
    c = _Call(ctx)
    iv = c.ints(indices, "indices")
    out, ov = c.out(None, "mask", "u8", int(count))
    ctx._run("fi_indices_to_mask", c, ctx.handle, int(count), iv.address, iv.size,
             ov.address)
    return out


class Selection(object):
    """Blocks chosen across several named arrays: indices[name] are flat indices into the
    array called name (ascending), masks(name) a boolean array of its shape."""

    def __init__(self, indices: Dict[str, "object"], shapes: Dict[str, Tuple[int, ...]]):
        self.indices = indices
        self.shapes = shapes

    def mask(self, name: str):
        m = _np.zeros(self.shapes[name], dtype=bool)
        m.reshape(-1)[self.indices[name]] = True
        return m

    @property
    def total(self) -> int:
        return int(sum(len(v) for v in self.indices.values()))

    def __repr__(self) -> str:
        return "Selection(%d blocks in %d arrays)" % (self.total, len(self.indices))


def _concatenate(values: Mapping[str, "object"]):
    if _np is None:
        raise ArgumentError("selection across arrays needs numpy")
    names = list(values)
    arrays = [_np.asarray(values[k], dtype=_np.float64) for k in names]
    shapes = {k: a.shape for k, a in zip(names, arrays)}
    offsets = _np.cumsum([0] + [a.size for a in arrays])
    return names, _np.concatenate([a.reshape(-1) for a in arrays]), offsets, shapes


def _split(names, flat_indices, offsets, shapes) -> Selection:
    flat_indices = _np.sort(_np.asarray(flat_indices, dtype=_np.int64))
    out = {}
    for i, k in enumerate(names):
        lo, hi = _np.searchsorted(flat_indices, [offsets[i], offsets[i + 1]])
        out[k] = flat_indices[lo:hi] - offsets[i]
    return Selection(out, shapes)


def top_fraction(values: Mapping[str, "object"], fraction: float, ctx=None) -> Selection:
    """The top fraction (ceil(fraction * total)) of all blocks of all arrays, ranked together
    by value (ties by array order, then index): the paper's FI-High selection."""
    names, flat, offsets, shapes = _concatenate(values)
    k = fraction_count(flat.size, fraction)
    return _split(names, select_top(flat, k, ctx), offsets, shapes)


def random_low_fraction(values: Mapping[str, "object"], fraction: float, seed: int,
                        exclude_fraction: Optional[float] = None, ctx=None) -> Selection:
    """The paper's FI-Low baseline across arrays: as many blocks as top_fraction(fraction)
    selects, drawn uniformly (seeded, deterministic) among those outside the top
    exclude_fraction (default: the same fraction)."""
    names, flat, offsets, shapes = _concatenate(values)
    k = fraction_count(flat.size, fraction)
    ex = fraction_count(flat.size, fraction if exclude_fraction is None else exclude_fraction)
    return _split(names, select_random_low(flat, ex, k, seed, ctx), offsets, shapes)
