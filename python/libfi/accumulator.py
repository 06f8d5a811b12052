"""Accumulator: weighted, mergeable per-block sums of FI (fi_accumulator), for dataset
averages, sequence aggregates and shards computed elsewhere."""

import ctypes
from typing import Any, Tuple

from ._arrays import _Call
from ._handle import Owned

__all__ = ["Accumulator"]


# ------------------------------------------------------------------ accumulator


class Accumulator(Owned):
    """An fi_accumulator: weighted, mergeable per-block sums of FI."""

    _free = "fi_accumulator_free"

    def __init__(self, ctx, handle: int, shape=None):
        super().__init__(ctx, handle)
        self.count = self.info()[0]
        self.shape = tuple(shape) if shape is not None else None  # of result()

    def add(self, fi: Any, weight: float = 1.0) -> None:
        """fi_accumulator_add: one sample's FI (count values) with weight."""
        c = _Call(self.ctx)
        fv = c.doubles(fi, "fi", self.count)
        self.ctx._run("fi_accumulator_add", c, self.ctx.handle, self.handle, fv.address,
                      float(weight))

    def merge(self, other: "Accumulator") -> None:
        """fi_accumulator_merge: self += other."""
        self.ctx._run("fi_accumulator_merge", None, self.ctx.handle, self.handle, other.handle)

    def result(self) -> Tuple[Any, Any]:
        """fi_accumulator_result: (weighted mean, standard error) per block."""
        c = _Call(self.ctx)
        mean, mv = c.out(None, "mean", "FI_F64", self.count, self.shape)
        se, sv = c.out(None, "std_error", "FI_F64", self.count, self.shape)
        self.ctx._run("fi_accumulator_result", c, self.ctx.handle, self.handle, mv.address,
                      sv.address)
        return mean, se

    def info(self) -> Tuple[int, int, float]:
        """fi_accumulator_info: (count, samples, total_weight)."""
        cnt, smp, tw = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_double()
        lib = self.ctx.lib
        st = lib.fn("fi_accumulator_info")(self.handle, ctypes.byref(cnt), ctypes.byref(smp),
                                           ctypes.byref(tw))
        if st != 0:
            raise lib.error(st, "", "fi_accumulator_info")
        return int(cnt.value), int(smp.value), tw.value

    @property
    def samples(self) -> int:
        return self.info()[1]

    @property
    def total_weight(self) -> float:
        return self.info()[2]

    def serialize(self) -> bytes:
        """fi_accumulator_serialize: the portable image as bytes."""
        lib = self.ctx.lib
        size = int(lib.fn("fi_accumulator_serialized_size")(self.handle))
        buf = ctypes.create_string_buffer(size)
        self.ctx._run("fi_accumulator_serialize", None, self.ctx.handle, self.handle, buf,
                      size)
        return buf.raw

    def __reduce__(self):
        raise TypeError("pickle an Accumulator through serialize() / "
                        "Context.deserialize_accumulator()")
