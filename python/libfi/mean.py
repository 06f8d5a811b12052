"""Mean: the 16-byte-per-block mean accumulator (fi_mean_*), for dataset averages at the size
of a large model, with fi_mean_add_direct (fi_direct fused with the add: no FI array).

Against Accumulator (fi_accumulator, 80 bytes per block): the same estimator (weighted mean
and standard error), 5x less memory and a fused add; but merges are not bit-identical in every
order: each sum is within a relative (N-1)*2^-53 of the exact sum whatever the order or
shard split (N samples; docs/aggregation.md section 5). Use Accumulator where bit-identical
merges matter."""

import ctypes
import math
from typing import Any, Optional, Tuple

from ._arrays import _Call, _resolve_dtype
from ._handle import Owned
from .blocks import Blocks, IndexBlocks
from .errors import ArgumentError

__all__ = ["Mean"]


def _weight(weight: float) -> float:
    w = float(weight)
    if not math.isfinite(w) or w < 0:
        raise ArgumentError("weight must be finite and >= 0, got %r" % (weight,), "weight")
    return w


class Mean(Owned):
    """An fi_mean of count blocks; result() gives arrays of shape (when given)."""

    _free = "fi_mean_free"

    def __init__(self, ctx, handle: int, shape: Optional[Tuple[int, ...]] = None):
        super().__init__(ctx, handle)
        self.count = self.info()[0]
        self.shape = tuple(shape) if shape is not None else None

    def add(self, fi: Any, weight: float = 1.0) -> None:
        """fi_mean_add: one sample's FI (count values, each finite and >= 0) with weight."""
        w = _weight(weight)
        c = _Call(self.ctx)
        fv = c.doubles(fi, "fi", self.count)
        self.ctx._run("fi_mean_add", c, self.ctx.handle, self.handle, fv.address, w)

    def add_direct(self, probs: Any, scores: Any, blocks: Any = None, target: Any = None,
                   target_class: Optional[int] = None, weight: float = 1.0,
                   n: Optional[int] = None, ld: Optional[int] = None, dtype: Any = None,
                   single_pass: bool = False) -> None:
        """fi_mean_add_direct: the FI of one sample, as Context.direct computes it (same
        arguments; affine Blocks only), added with weight without an FI array. single_pass
        skips the separate finiteness pass: non-finite input still fails, but may leave the
        mean partly updated (the opt-in exception)."""
        from .context import _blocks, _target_args
        w = _weight(weight)
        ctx = self.ctx
        c = _Call(ctx)
        pv = c.doubles(probs, "probs")
        K = pv.size
        sv, kind, n, ld = c.scores(scores, K, n, ld, _resolve_dtype(dtype))
        blk = _blocks(blocks, n, c.row_shape)
        if isinstance(blk, IndexBlocks):
            raise ArgumentError("fi_mean_add_direct takes affine Blocks only; compute index "
                                "blocks with Context.direct and add()", "blocks")
        if blk.count != self.count:
            raise ArgumentError("the blocks give %d FI values, the Mean holds %d"
                                % (blk.count, self.count), "blocks")
        tgt, k = _target_args(c, target, target_class, kind, n)
        ctx._run("fi_mean_add_direct", c, ctx.handle, self.handle, w, K, pv.address,
                 ctx._dtype_value(kind), sv.address, n, ld, ctypes.byref(blk), tgt, k,
                 ctx._flags(single_pass=single_pass))

    def merge(self, other: "Mean") -> None:
        """fi_mean_merge: self += other (same count); other is unchanged."""
        self._same_kind(other, "merge")
        if other.count != self.count:
            raise ArgumentError("merge of a Mean of %d blocks into one of %d"
                                % (other.count, self.count), "other")
        self.ctx._run("fi_mean_merge", None, self.ctx.handle, self.handle, other.handle)

    def result(self) -> Tuple[Any, Any]:
        """fi_mean_result: (weighted mean, standard error) per block, shaped."""
        c = _Call(self.ctx)
        mean, mv = c.out(None, "mean", "FI_F64", self.count, self.shape)
        se, sv = c.out(None, "std_error", "FI_F64", self.count, self.shape)
        self.ctx._run("fi_mean_result", c, self.ctx.handle, self.handle, mv.address,
                      sv.address)
        return mean, se

    def info(self) -> Tuple[int, int, float]:
        """fi_mean_info: (count, samples, total_weight)."""
        cnt, smp, tw = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_double()
        lib = self.ctx.lib
        st = lib.fn("fi_mean_info")(self.handle, ctypes.byref(cnt), ctypes.byref(smp),
                                    ctypes.byref(tw))
        if st != 0:
            raise lib.error(st, "", "fi_mean_info")
        return int(cnt.value), int(smp.value), tw.value

    @property
    def samples(self) -> int:
        return self.info()[1]

    @property
    def total_weight(self) -> float:
        return self.info()[2]

    def serialize(self) -> bytes:
        """fi_mean_serialize: the portable image (16 * count + 64 bytes)."""
        return self._serialize("fi_mean_serialized_size", "fi_mean_serialize")
