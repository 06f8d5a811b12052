"""ClassStream: FI of elements and small blocks (<= 8 coordinates) built from the classes fed
one at a time (fi_class_stream_*): O(n) running sums instead of K x n scores, so K can be in
the thousands and one score vector is in memory at a time. finish() gives what Context.direct
gives on all the classes fed (same options, same rank rule)."""

import ctypes
import math
from typing import Any, Optional, Tuple

from ._arrays import _Call, _resolve_dtype
from ._handle import Owned
from .blocks import Blocks, IndexBlocks
from .errors import ArgumentError

__all__ = ["ClassStream", "MAX_BLOCK"]

MAX_BLOCK = 8  # coordinates per block the library streams (include/fi.h)


def stream_blocks(blocks: Any, n: int, shape: Optional[Tuple[int, ...]]) -> Blocks:
    """The affine Blocks of a stream over n coordinates (None: one per coordinate, shaped)."""
    from .context import _blocks
    blk = _blocks(blocks, n, shape)
    if isinstance(blk, IndexBlocks):
        raise ArgumentError("a ClassStream takes affine Blocks only", "blocks")
    if blk.size > MAX_BLOCK:
        raise ArgumentError("a ClassStream streams blocks of at most %d coordinates, got %d"
                            % (MAX_BLOCK, blk.size), "blocks")
    return blk


class ClassStream(Owned):
    """An fi_class_stream over n coordinates (Context.class_stream). Feed (probability,
    scores) one class at a time with add(), then finish() for the class target given at
    creation or for a target vector; finish may be called again."""

    _free = "fi_class_stream_free"

    def __init__(self, ctx, handle: int, n: int, blocks: Blocks,
                 row_shape: Optional[Tuple[int, ...]], target_class: Optional[int]):
        super().__init__(ctx, handle)
        self.n = int(n)
        self.blocks = blocks  # the C object copied them; kept for count and shape
        self.row_shape = row_shape
        self.target_class = target_class

    @property
    def count(self) -> int:
        return int(self.blocks.count)

    @property
    def shape(self) -> Optional[Tuple[int, ...]]:
        return self.blocks.shape

    def add(self, prob: float, scores: Any, dtype: Any = None) -> None:
        """fi_class_stream_add: the next class, its probability and its n scores (float64,
        float32, bf16 or float16; numpy array or CPU tensor, read in place)."""
        p = float(prob)
        if not math.isfinite(p) or p < 0:
            raise ArgumentError("prob must be finite and >= 0, got %r" % (prob,), "prob")
        c = _Call(self.ctx)
        sv, kind = c.floats(scores, "scores", _resolve_dtype(dtype), self.n)
        self.ctx._run("fi_class_stream_add", c, self.ctx.handle, self.handle, p,
                      self.ctx._dtype_value(kind), sv.address)

    def finish(self, target: Any = None, out: Any = None, accumulate: bool = False,
               dtype: Any = None) -> Any:
        """fi_class_stream_finish: FI per block (shaped like the blocks) for target (n
        values), or for the class target given at creation when target is None."""
        if target is None and self.target_class is None:
            raise ArgumentError("give target: the stream was created without target_class",
                                "target")
        if accumulate and out is None:
            raise ArgumentError("accumulate=True needs out")
        c = _Call(self.ctx)
        tgt, kind = None, "FI_F64"
        if target is not None:
            tv, kind = c.floats(target, "target", _resolve_dtype(dtype), self.n)
            tgt = tv.address
        out, ov = c.out(out, "out", "FI_F64", self.count, self.shape)
        self.ctx._run("fi_class_stream_finish", c, self.ctx.handle, self.handle,
                      self.ctx._dtype_value(kind), tgt, ov.address,
                      self.ctx._flags(accumulate=accumulate))
        return out

    def info(self) -> Tuple[int, float, int]:
        """fi_class_stream_info: (classes fed, their probability sum, bytes held)."""
        k, s, b = ctypes.c_int64(), ctypes.c_double(), ctypes.c_size_t()
        lib = self.ctx.lib
        st = lib.fn("fi_class_stream_info")(self.handle, ctypes.byref(k), ctypes.byref(s),
                                            ctypes.byref(b))
        if st != 0:
            raise lib.error(st, "", "fi_class_stream_info")
        return int(k.value), s.value, int(b.value)

    @property
    def classes(self) -> int:
        return self.info()[0]

    @property
    def nbytes(self) -> int:
        return self.info()[2]
