"""Metric: the per-block factorization of G (fi_metric) and the calls that read it."""

import ctypes
from typing import Any, Optional, Tuple

from ._arrays import _Call, _resolve_dtype
from ._handle import Owned
from .errors import ArgumentError

__all__ = ["Metric"]



class Metric(Owned):
    """An fi_metric made by Context.metric. Read-only: may be shared between threads (each
    thread calling through its own Context: metric.compute(target, ctx=...))."""

    _free = "fi_metric_free"

    def __init__(self, ctx, handle: int, n: int, shape: Optional[Tuple[int, ...]] = None):
        super().__init__(ctx, handle)
        self.n = n
        self.shape = shape  # of the FI values: the blocks' shape
        lib = ctx.lib
        self.count = int(lib.fn("fi_metric_count")(handle))
        self.classes = int(lib.fn("fi_metric_classes")(handle))

    def compute(self, target: Any, out: Any = None, accumulate: bool = False,
                dtype: Any = None, ctx: Any = None) -> Any:
        """fi_compute: FI per block for target (n values, any float dtype read in place). The
        class target k is scores[k]. accumulate=True adds into out."""
        ctx = ctx or self.ctx
        c = _Call(ctx)
        tv, kind = c.floats(target, "target", _resolve_dtype(dtype), self.n)
        if accumulate and out is None:
            raise ArgumentError("accumulate=True needs out")
        out, ov = c.out(out, "out", "FI_F64", self.count, self.shape)
        ctx._run("fi_compute", c, ctx.handle, self.handle, ctx._dtype_value(kind), tv.address,
                 ov.address, ctx._flags(accumulate))
        return out

    def residual(self, target: Any, dtype: Any = None, ctx: Any = None) -> Any:
        """fi_residual: ||(I - V V^T) g[b]|| / ||g[b]|| per block."""
        ctx = ctx or self.ctx
        c = _Call(ctx)
        tv, kind = c.floats(target, "target", _resolve_dtype(dtype), self.n)
        out, ov = c.out(None, "out", "FI_F64", self.count, self.shape)
        ctx._run("fi_residual", c, ctx.handle, self.handle, ctx._dtype_value(kind), tv.address,
                 ov.address)
        return out

    def ranks(self, ctx: Any = None) -> Any:
        """fi_metric_ranks: the numerical rank of every block (int64)."""
        ctx = ctx or self.ctx
        c = _Call(ctx)
        out, ov = c.out(None, "ranks", "i8", self.count, self.shape)
        ctx._run("fi_metric_ranks", c, ctx.handle, self.handle, ov.address)
        return out

    def class_bound(self, k: int, ctx: Any = None) -> float:
        """fi_class_bound: (1-P_k)/P_k (or 1/P_k), the class-target ceiling of FI."""
        ctx = ctx or self.ctx
        b = ctypes.c_double()
        ctx._run("fi_class_bound", None, ctx.handle, self.handle, int(k), ctypes.byref(b))
        return b.value

    def normalize(self, k: int, fi: Any, ctx: Any = None) -> Tuple[Any, Any]:
        """fi_normalize_class: (fi / bound, saturated flags) for class target k."""
        ctx = ctx or self.ctx
        c = _Call(ctx)
        fv = c.doubles(fi, "fi", self.count)
        norm, nv = c.out(None, "normalized", "FI_F64", self.count, self.shape)
        sat, sv = c.out(None, "saturated", "u8", self.count, self.shape)
        ctx._run("fi_normalize_class", c, ctx.handle, self.handle, int(k), fv.address,
                 nv.address, sv.address)
        return norm, sat

