"""Threshold: the exact top k across many arrays that are never concatenated, and FI-Low's
random draw over the same multi-array space (fi_threshold_*), with images that merge across
processes.

One selector, 4 rounds: add every array (any order; on any number of processes, whose
selectors are then merged into one through serialize() / Context.deserialize_threshold), narrow
to k, repeat until narrow() says done; then mask() each array in order, carrying ties_seen.
top_k() and random_k() run the rounds for arrays held by one process. Ties at the threshold
go to the first elements in the order (array, index): the order sorting by (value
descending, array, index) gives."""

import ctypes
import math
import numbers
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ._arrays import _Call
from ._handle import Owned
from .errors import ArgumentError
from .selection import Selection, fraction_count

try:
    import numpy as _np
except ImportError:  # numpy is optional
    _np = None

__all__ = ["Threshold", "top_k", "random_k", "top_fraction", "random_low_fraction"]

ROUNDS = 4  # 16-bit digits of a 64-bit key


def _shape(x) -> Optional[Tuple[int, ...]]:
    s = getattr(x, "shape", None)
    return tuple(int(d) for d in s) if s is not None else None


def _count(x: Any) -> int:
    if _np is not None:
        return int(_np.size(x))
    return len(x)


def _check_k(k: Any, total: Optional[int] = None) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 0:
        raise ArgumentError("k must be an int >= 0, got %r" % (k,), "k")
    if total is not None and k > total:
        raise ArgumentError("k = %d, but the arrays hold %d values" % (k, total), "k")
    return int(k)


class Threshold(Owned):
    """An fi_threshold: a selector of the k largest values (Context.threshold()) or of k
    elements drawn uniformly (Context.threshold_random(seed))."""

    _free = "fi_threshold_free"

    def __init__(self, ctx, handle: int, random: bool, seed: Optional[int] = None):
        super().__init__(ctx, handle)
        self.random = bool(random)
        self.seed = seed

    def _need(self, random: bool, what: str) -> None:
        if self.random != random:
            raise ArgumentError("%s is for a %s selector; this one is %s" % (
                what, "random" if random else "top", "random" if self.random else "top"))

    # -- a round
    def add(self, values: Any) -> None:
        """fi_threshold_add: counts the values of one array (top selector; no NaN)."""
        self._need(False, "add")
        c = _Call(self.ctx)
        vv = c.doubles(values, "values")
        if vv.size == 0:
            return  # nothing to count (the C call wants count >= 1)
        self.ctx._run("fi_threshold_add", c, self.ctx.handle, self.handle, vv.address, vv.size)

    def add_random(self, array_id: int, count: int, exclude: Any = None) -> None:
        """fi_threshold_add_random: counts the count elements of array array_id (random
        selector); exclude: count bytes (or bools), nonzero = out of the draw, or None."""
        self._need(True, "add_random")
        c = _Call(self.ctx)
        ex = self._exclude(c, exclude, count)
        if int(count) == 0:
            return  # nothing to count
        self.ctx._run("fi_threshold_add_random", c, self.ctx.handle, self.handle,
                      int(array_id), int(count), ex)

    def _exclude(self, c: _Call, exclude: Any, count: int):
        if int(count) < 0:
            raise ArgumentError("count must be >= 0, got %r" % (count,), "count")
        if exclude is None:
            return None
        if _np is not None and isinstance(exclude, _np.ndarray) and exclude.dtype == bool:
            exclude = exclude.view(_np.uint8)
        v = c.raw(exclude, "exclude")
        if v.size * v.itemsize != int(count):
            raise ArgumentError("exclude holds %d bytes, expected %d"
                                % (v.size * v.itemsize, count), "exclude")
        return v.address

    def merge(self, other: "Threshold") -> None:
        """fi_threshold_merge: self's histogram += other's (same kind, seed, round and k)."""
        self._same_kind(other, "merge")
        self.ctx._run("fi_threshold_merge", None, self.ctx.handle, self.handle, other.handle)

    def narrow(self, k: int) -> bool:
        """fi_threshold_narrow: ends a round (every element counted); True once the
        threshold is exact (after the 4th round)."""
        k = _check_k(k)
        done = ctypes.c_int(0)
        self.ctx._run("fi_threshold_narrow", None, self.ctx.handle, self.handle, k,
                      ctypes.byref(done))
        return bool(done.value)

    # -- after the last round
    def result(self) -> Tuple[float, int, int]:
        """fi_threshold_result: (threshold, above, ties_taken): the k-th largest value (NaN
        for a random selector), how many lie above it, how many equal to it are taken."""
        t, above, ties = ctypes.c_double(), ctypes.c_int64(), ctypes.c_int64()
        self.ctx._run("fi_threshold_result", None, self.ctx.handle, self.handle,
                      ctypes.byref(t), ctypes.byref(above), ctypes.byref(ties))
        return t.value, int(above.value), int(ties.value)

    def mask(self, values: Any, ties_seen: int = 0) -> Tuple[Any, int]:
        """fi_threshold_mask: (bool mask shaped like values, ties_seen after this array).
        ties_seen: the values equal to the threshold in the arrays before this one."""
        self._need(False, "mask")
        c = _Call(self.ctx)
        vv = c.doubles(values, "values")
        if vv.size == 0:
            return _np.zeros(_shape(values) or (0,), dtype=bool), int(ties_seen)
        out, ov = c.out(None, "mask", "u8", vv.size, _shape(values))
        ties = ctypes.c_int64(int(ties_seen))
        self.ctx._run("fi_threshold_mask", c, self.ctx.handle, self.handle, vv.address,
                      vv.size, ctypes.byref(ties), ov.address)
        return _as_bool(out), int(ties.value)

    def mask_random(self, array_id: int, count: int, exclude: Any = None,
                    ties_seen: int = 0, shape: Optional[Tuple[int, ...]] = None
                    ) -> Tuple[Any, int]:
        """fi_threshold_mask_random: (bool mask of count elements, shaped as shape,
        ties_seen after this array), for the array given to add_random."""
        self._need(True, "mask_random")
        c = _Call(self.ctx)
        ex = self._exclude(c, exclude, count)
        if int(count) == 0:
            return _np.zeros(shape or (0,), dtype=bool), int(ties_seen)
        out, ov = c.out(None, "mask", "u8", int(count), shape)
        ties = ctypes.c_int64(int(ties_seen))
        self.ctx._run("fi_threshold_mask_random", c, self.ctx.handle, self.handle,
                      int(array_id), int(count), ex, ctypes.byref(ties), ov.address)
        return _as_bool(out), int(ties.value)

    def serialize(self) -> bytes:
        """fi_threshold_serialize: the portable image (524384 bytes), e.g. to sum the
        histograms of every process and send the narrowed selector back."""
        return self._serialize("fi_threshold_serialized_size", "fi_threshold_serialize")


def _as_bool(mask):
    return mask.view(_np.bool_) if _np is not None else mask


def _context(ctx):
    from .context import Context
    return (ctx, False) if ctx is not None else (Context(), True)


def top_k(arrays: Sequence[Any], k: int, ctx=None) -> List[Any]:
    """Bool masks (shaped like each array) of the k largest values across arrays, ranked
    together (ties by array order, then index), without concatenating them: 4 counting
    passes and one masking pass over each array, 512 KiB of histogram."""
    _need_numpy()
    arrays = list(arrays)
    k = _check_k(k, sum(_count(a) for a in arrays))
    ctx, own = _context(ctx)
    try:
        if k == 0:  # nothing to select: no round to run
            return [_np.zeros(_shape(a) or (_count(a),), dtype=bool) for a in arrays]
        with ctx.threshold() as sel:
            done = False
            while not done:
                for a in arrays:
                    sel.add(a)
                done = sel.narrow(k)
            masks, ties = [], 0
            for a in arrays:
                m, ties = sel.mask(a, ties)
                masks.append(m)
            return masks
    finally:
        if own:
            ctx.close()


def random_k(shapes: Sequence[Any], k: int, seed: int, exclude: Optional[Sequence[Any]] = None,
             ctx=None) -> List[Any]:
    """Bool masks of k elements drawn uniformly (seeded; the same whatever the shard split)
    among the elements of arrays of the given shapes (or counts) that no exclude mask marks:
    FI-Low's draw across arrays. Array i has id i."""
    _need_numpy()
    shapes = [tuple(s) if isinstance(s, (tuple, list)) else (int(s),) for s in shapes]
    counts = [int(_np.prod(s)) if s else 1 for s in shapes]
    if exclude is not None and len(exclude) != len(shapes):
        raise ArgumentError("%d exclude masks for %d arrays" % (len(exclude), len(shapes)),
                            "exclude")
    ex = list(exclude) if exclude is not None else [None] * len(shapes)
    free = sum(c - (int(_np.count_nonzero(e)) if e is not None else 0)
               for c, e in zip(counts, ex))
    k = _check_k(k, free)
    ctx, own = _context(ctx)
    try:
        if k == 0:
            return [_np.zeros(s, dtype=bool) for s in shapes]
        with ctx.threshold_random(seed) as sel:
            done = False
            while not done:
                for i, (c, e) in enumerate(zip(counts, ex)):
                    sel.add_random(i, c, e)
                done = sel.narrow(k)
            masks, ties = [], 0
            for i, (s, c, e) in enumerate(zip(shapes, counts, ex)):
                m, ties = sel.mask_random(i, c, e, ties, s)
                masks.append(m)
            return masks
    finally:
        if own:
            ctx.close()


def _need_numpy() -> None:
    if _np is None:
        raise ArgumentError("masks across arrays need numpy")


def _selection(names: List[str], masks: List[Any]) -> Selection:
    return Selection({n: _np.flatnonzero(m).astype(_np.int64) for n, m in zip(names, masks)},
                     {n: m.shape for n, m in zip(names, masks)})


def top_fraction(values: Mapping[str, Any], fraction: float, ctx=None) -> Selection:
    """selection.top_fraction's result (the top ceil(fraction * total) blocks of all
    arrays, ties by array order then index) found by the threshold: no concatenated copy."""
    _need_numpy()
    names = list(values)
    k = fraction_count(sum(_count(values[n]) for n in names), fraction)
    return _selection(names, top_k([values[n] for n in names], k, ctx))


def random_low_fraction(values: Mapping[str, Any], fraction: float, seed: int,
                        exclude_fraction: Optional[float] = None, ctx=None) -> Selection:
    """FI-Low across arrays by the threshold's draw: as many blocks as top_fraction(fraction)
    selects, drawn uniformly (seeded) among those outside the top exclude_fraction (default:
    the same fraction). A different draw from selection.random_low_fraction's for the same
    seed (that one samples the concatenated values with fi_select_random_low)."""
    _need_numpy()
    names = list(values)
    arrays = [values[n] for n in names]
    total = sum(_count(a) for a in arrays)
    k = fraction_count(total, fraction)
    ex_k = fraction_count(total, fraction if exclude_fraction is None else exclude_fraction)
    if k > total - ex_k:
        raise ArgumentError("cannot draw %d of the %d blocks outside the top %d"
                            % (k, total - ex_k, ex_k), "fraction")
    ctx, own = _context(ctx)
    try:
        top = top_k(arrays, ex_k, ctx)
        shapes = [m.shape for m in top]
        return _selection(names, random_k(shapes, k, seed, top, ctx))
    finally:
        if own:
            ctx.close()
