"""Context: options, workspace and the text of the last failure (fi_context), and the calls
that take one: metrics, the fused fast path, perturbations, reductions."""

import ctypes
import numbers
import threading
from typing import Any, Optional, Sequence, Tuple, Union

from ._arrays import _Call, _resolve_dtype
from ._loader import Library, library
from .blocks import Blocks, IndexBlocks
from .errors import ArgumentError
from .metric import Metric
from .accumulator import Accumulator
from .class_stream import ClassStream, stream_blocks
from .mean import Mean
from .threshold import Threshold
from . import selection

__all__ = ["Context"]

# What the calls accept (see _arrays): numpy arrays, CPU torch tensors, buffers, sequences.
ArrayLike = Any
BlocksLike = Union[None, Blocks, IndexBlocks, Tuple[int, int, int, int], Sequence[Sequence[int]]]
DtypeLike = Union[None, str, int, Any]
OptionKey = Union[str, int]

_vp = ctypes.c_void_p



_OPTIONS = ("rcond", "atol", "prob_tol", "class_mode", "threads", "method", "isa", "rank_rule")
_INT_OPTIONS = ("class_mode", "threads", "method", "isa", "rank_rule")
_OPTION_VALUE_PREFIX = {"class_mode": "FI_CLASS_", "method": "FI_METHOD_", "isa": "FI_ISA_",
                        "rank_rule": "FI_RANK_"}


class Context(object):
    """An fi_context: options, workspace and the text of the last failure.

    Context(rcond=1e-6, threads=2, class_mode="renormalize") sets options at creation; they
    are also properties (ctx.rcond = 1e-8) and reachable by key: ctx.set("FI_OPT_ATOL", 0.0),
    ctx.get("threads"). Use it as a context manager, or call close(); Metric and Accumulator
    objects it made keep it alive.

    copies=False makes every call refuse (CopyRefused, before any C call) an input that
    would have to be copied or converted, instead of copying it and recording its name in
    last_copies."""

    def __init__(self, lib: Optional[Library] = None, copies: bool = True, **options: Any):
        self.lib = lib or library()
        self._handle = None
        self._lock = threading.Lock()
        self.last_copies: Tuple[str, ...] = ()
        self.allow_copies = bool(copies)
        h = _vp()
        st = self.lib.fn("fi_context_create")(ctypes.byref(h))
        if st != 0:
            raise self.lib.error(st, "", "fi_context_create")
        self._handle = h.value
        for k, v in options.items():
            self.set(k, v)

    # -- lifetime
    def close(self) -> None:
        h, self._handle = self._handle, None
        if h:
            self.lib.fn("fi_context_free")(h)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def handle(self) -> int:
        """The fi_context* as an int (for cffi or C extensions)."""
        if not self._handle:
            raise ArgumentError("the Context is closed")
        return self._handle

    @property
    def error(self) -> str:
        """fi_context_error: the detail of the last failure ("" if none)."""
        return self.lib.fn("fi_context_error")(self.handle).decode("utf-8", "replace")

    # -- calling C
    def _enter(self):
        h = self.handle
        if not self._lock.acquire(False):
            raise RuntimeError("a libfi Context is not safe for concurrent use: create one "
                               "Context per thread")
        return h

    def _run(self, fname, call_, *args):
        """Calls fname(*args) holding the context, raising FIError on failure."""
        self._enter()
        try:
            st = self.lib.fn(fname)(*args)
            if st != 0:
                raise self.lib.error(st, self.error, fname)
        finally:
            self.last_copies = tuple(call_.copies) if call_ is not None else ()
            self._lock.release()

    def _flags(self, accumulate=False, single_pass=False):
        f = 0
        if accumulate:
            f |= self.lib.constant("FI_ACCUMULATE")
        if single_pass:
            f |= self.lib.constant("FI_SINGLE_PASS")
        return f

    def _dtype_value(self, name):
        return self.lib.constant(name)

    # -- options
    def _option_key(self, option):
        if isinstance(option, int):
            return option, None
        name = str(option)
        short = name[len("FI_OPT_"):].lower() if name.startswith("FI_OPT_") else name
        try:
            return self.lib.constant("FI_OPT_" + short.upper()), short
        except KeyError:
            raise ArgumentError("unknown option %r (known: %s)" % (option, ", ".join(_OPTIONS)))

    def set(self, option: OptionKey, value: Union[float, str]) -> None:
        """fi_context_set. option: a key value or name ("rcond" or "FI_OPT_RCOND"); value: a
        number, or for class_mode / method / isa / rank_rule a name ("renormalize", "reference",
        "portable")."""
        key, short = self._option_key(option)
        if isinstance(value, str) and short in _OPTION_VALUE_PREFIX:
            try:
                value = self.lib.constant(_OPTION_VALUE_PREFIX[short] + value.upper())
            except KeyError:
                raise ArgumentError("unknown %s %r" % (short, value))
        self._run("fi_context_set", None, self.handle, key, float(value))

    def get(self, option: OptionKey) -> Union[int, float]:
        """fi_context_get: the option's value (int for integer options)."""
        key, short = self._option_key(option)
        out = ctypes.c_double()
        st = self.lib.fn("fi_context_get")(self.handle, key, ctypes.byref(out))
        if st != 0:
            # fi_context_get takes a const context and records no message: say it here.
            raise self.lib.error(st, "unknown option key %d" % key,
                                 "fi_context_get")
        if short in _INT_OPTIONS:
            return int(out.value)
        return out.value

    def __getattr__(self, name):
        if name in _OPTIONS:
            return self.get(name)
        raise AttributeError(name)

    def __setattr__(self, name, value):
        if name in _OPTIONS:
            self.set(name, value)
        else:
            object.__setattr__(self, name, value)

    # -- core
    def _probs(self, call_, probs):
        v = call_.doubles(probs, "probs")
        return v, v.size

    def metric(self, probs: ArrayLike, scores: ArrayLike, blocks: BlocksLike = None,
               n: Optional[int] = None, ld: Optional[int] = None,
               dtype: DtypeLike = None) -> Metric:
        """fi_metric_from_scores (or _indexed): the per-block factorization of G.

        probs: K probabilities. scores: (K, ...) array (rows read in place, ld = row stride)
        or a flat buffer of K rows of n values ld apart. blocks: Blocks, IndexBlocks, a
        (count, size, stride, step) tuple, a list of index groups, or None for one block per
        coordinate. dtype forces the element type ('bf16' for uint16 storage)."""
        c = _Call(self)
        pv, K = self._probs(c, probs)
        sv, kind, n, ld = c.scores(scores, K, n, ld, _resolve_dtype(dtype))
        blk = _blocks(blocks, n, c.row_shape)
        out = _vp()
        if isinstance(blk, IndexBlocks):
            self._run("fi_metric_from_scores_indexed", c, self.handle, K, pv.address,
                      self._dtype_value(kind), sv.address, n, ld, ctypes.byref(blk._c),
                      ctypes.byref(out))
        else:
            self._run("fi_metric_from_scores", c, self.handle, K, pv.address,
                      self._dtype_value(kind), sv.address, n, ld, ctypes.byref(blk),
                      ctypes.byref(out))
        return Metric(self, out.value, n, getattr(blk, "shape", None))

    def compute(self, metric: Metric, target: ArrayLike, out: Any = None,
                accumulate: bool = False, dtype: DtypeLike = None) -> Any:
        """fi_compute: FI per block of metric for target (n values). Returns out."""
        return metric.compute(target, out=out, accumulate=accumulate, dtype=dtype)

    def direct(self, probs: ArrayLike, scores: ArrayLike, blocks: BlocksLike = None,
               target: ArrayLike = None, target_class: Optional[int] = None,
               n: Optional[int] = None, ld: Optional[int] = None, dtype: DtypeLike = None,
               out: Any = None, accumulate: bool = False, single_pass: bool = False) -> Any:
        """fi_direct (or _indexed): FI per block straight from the scores, no metric.

        Give target (n values, converted to the scores' dtype if it differs) or
        target_class (the class target k, nothing extra read). Returns out."""
        c = _Call(self)
        pv, K = self._probs(c, probs)
        sv, kind, n, ld = c.scores(scores, K, n, ld, _resolve_dtype(dtype))
        blk = _blocks(blocks, n, c.row_shape)
        tgt, k = _target_args(c, target, target_class, kind, n)
        if accumulate and out is None:
            raise ArgumentError("accumulate=True needs out")
        out, ov = c.out(out, "out", "FI_F64", blk.count, blk.shape)
        flags = self._flags(accumulate, single_pass)
        if isinstance(blk, IndexBlocks):
            self._run("fi_direct_indexed", c, self.handle, K, pv.address,
                      self._dtype_value(kind), sv.address, n, ld, ctypes.byref(blk._c), tgt,
                      k, ov.address, flags)
        else:
            self._run("fi_direct", c, self.handle, K, pv.address, self._dtype_value(kind),
                      sv.address, n, ld, ctypes.byref(blk), tgt, k, ov.address, flags)
        return out

    def perturbation(self, probs: ArrayLike, scores: ArrayLike, delta: ArrayLike,
                     blocks: BlocksLike = None, target: ArrayLike = None,
                     target_class: Optional[int] = None,
                     n: Optional[int] = None, ld: Optional[int] = None,
                     dtype: DtypeLike = None, fisher: bool = True,
                     taylor: bool = True) -> Tuple[Any, Any]:
        """fi_perturbation: (fisher_len2, taylor2) per block for the perturbation delta (n
        doubles); S^2 = delta^T G delta and (g.delta)^2. An output not asked for is None."""
        c = _Call(self)
        pv, K = self._probs(c, probs)
        sv, kind, n, ld = c.scores(scores, K, n, ld, _resolve_dtype(dtype))
        blk = _blocks(blocks, n, c.row_shape)
        if isinstance(blk, IndexBlocks):
            raise TypeError("fi_perturbation takes affine Blocks only")
        dv = c.doubles(delta, "delta", n)
        tgt, k = (None, 0)
        if taylor:
            tgt, k = _target_args(c, target, target_class, kind, n)
        f_out, fv = c.out(None, "fisher_len2", "FI_F64", blk.count, blk.shape) if fisher \
            else (None, None)
        t_out, tv = c.out(None, "taylor2", "FI_F64", blk.count, blk.shape) if taylor \
            else (None, None)
        self._run("fi_perturbation", c, self.handle, K, pv.address, self._dtype_value(kind),
                  sv.address, n, ld, ctypes.byref(blk), tgt, k, dv.address,
                  fv.address if fv else None, tv.address if tv else None)
        return f_out, t_out

    # -- reduction and selection
    def reduce(self, values: ArrayLike, groups: BlocksLike, op: Union[str, int] = "sum",
               out: Any = None) -> Any:
        """fi_reduce: op ("sum", "mean", "max") of values over each group (Blocks)."""
        c = _Call(self)
        vv = c.doubles(values, "values")
        g = _blocks(groups, vv.size)
        if isinstance(g, IndexBlocks):
            raise TypeError("fi_reduce takes affine Blocks only")
        opv = self.lib.constant("FI_REDUCE_" + op.upper()) if isinstance(op, str) else int(op)
        out, ov = c.out(out, "out", "FI_F64", g.count, g.shape)
        self._run("fi_reduce", c, self.handle, vv.address, vv.size, ctypes.byref(g), opv,
                  ov.address)
        return out

    def select_top(self, values: ArrayLike, k: int) -> Any:
        """fi_select_top: indices of the k largest values, descending, ties by index."""
        return selection.select_top(values, k, ctx=self)

    def select_random_low(self, values: ArrayLike, exclude_top: int, k: int, seed: int) -> Any:
        """fi_select_random_low: k seeded random indices outside the top exclude_top."""
        return selection.select_random_low(values, exclude_top, k, seed, ctx=self)

    def select_complement(self, count: int, indices: ArrayLike) -> Any:
        """fi_select_complement: the indices in [0,count) not listed, ascending."""
        return selection.select_complement(count, indices, ctx=self)

    def indices_to_mask(self, count: int, indices: ArrayLike) -> Any:
        """fi_indices_to_mask: a count-byte mask, 1 at the listed indices."""
        return selection.indices_to_mask(count, indices, ctx=self)

    # -- accumulators
    def accumulator(self, count: Union[int, Tuple[int, ...]]) -> Accumulator:
        """fi_accumulator_create: an empty accumulator of count blocks; count may be a shape
        tuple, which result() then gives its arrays."""
        shape = tuple(int(d) for d in count) if isinstance(count, (tuple, list)) else None
        if shape is not None:
            count = 1
            for d in shape:
                count *= d
        h = _vp()
        self._run("fi_accumulator_create", None, self.handle, int(count), ctypes.byref(h))
        return Accumulator(self, h.value, shape)

    def deserialize_accumulator(self, buf: ArrayLike) -> Accumulator:
        """fi_accumulator_deserialize: an accumulator from bytes made by serialize()."""
        c = _Call(self)
        bv = c.raw(buf, "buf")
        h = _vp()
        self._run("fi_accumulator_deserialize", c, self.handle, bv.address,
                  bv.size * bv.itemsize, ctypes.byref(h))
        return Accumulator(self, h.value)

    # -- the workflow at scale (1.2)
    def mean(self, count: Union[int, Tuple[int, ...]]) -> Mean:
        """fi_mean_create: an empty 16-byte-per-block mean of count blocks (or of a shape,
        which result() then gives its arrays)."""
        shape = tuple(int(d) for d in count) if isinstance(count, (tuple, list)) else None
        n = 1
        for d in (shape if shape is not None else (count,)):
            n *= int(d)
        if n < 0:
            raise ArgumentError("count must be >= 0, got %r" % (count,), "count")
        h = _vp()
        self._run("fi_mean_create", None, self.handle, n, ctypes.byref(h))
        return Mean(self, h.value, shape)

    def deserialize_mean(self, buf: ArrayLike,
                         shape: Optional[Tuple[int, ...]] = None) -> Mean:
        """fi_mean_deserialize: a Mean from bytes made by Mean.serialize()."""
        c = _Call(self)
        bv = c.raw(buf, "buf")
        h = _vp()
        self._run("fi_mean_deserialize", c, self.handle, bv.address, bv.size * bv.itemsize,
                  ctypes.byref(h))
        return Mean(self, h.value, shape)

    def threshold(self) -> Threshold:
        """fi_threshold_create: a selector of the k largest values across arrays."""
        h = _vp()
        self._run("fi_threshold_create", None, self.handle, ctypes.byref(h))
        return Threshold(self, h.value, random=False)

    def threshold_random(self, seed: int) -> Threshold:
        """fi_threshold_create_random: a selector of k elements drawn uniformly (FI-Low)."""
        h = _vp()
        self._run("fi_threshold_create_random", None, self.handle,
                  int(seed) & 0xFFFFFFFFFFFFFFFF, ctypes.byref(h))
        return Threshold(self, h.value, random=True, seed=int(seed))

    def deserialize_threshold(self, buf: ArrayLike) -> Threshold:
        """fi_threshold_deserialize: a selector from bytes made by Threshold.serialize()."""
        c = _Call(self)
        bv = c.raw(buf, "buf")
        h = _vp()
        self._run("fi_threshold_deserialize", c, self.handle, bv.address,
                  bv.size * bv.itemsize, ctypes.byref(h))
        kind = int.from_bytes(bytes(buf)[16:24], "little")  # image offset 16: 1 = random
        seed = int.from_bytes(bytes(buf)[24:32], "little") if kind == 1 else None
        return Threshold(self, h.value, random=kind == 1, seed=seed)

    def class_stream(self, n: Union[int, Tuple[int, ...]], blocks: BlocksLike = None,
                     target_class: Optional[int] = None) -> ClassStream:
        """fi_class_stream_create: FI from classes fed one at a time over n coordinates (or
        a shape: one score vector's shape, which element FI then takes). blocks: affine, at
        most 8 coordinates each (None: elements). target_class: the class (in the order
        fed) whose score is the class target, or None to give a target to finish(). The
        context's class mode is fixed now."""
        shape = tuple(int(d) for d in n) if isinstance(n, (tuple, list)) else None
        size = 1
        for d in (shape if shape is not None else (n,)):
            size *= int(d)
        blk = stream_blocks(blocks, size, shape)
        if target_class is not None and int(target_class) < 0:
            raise ArgumentError("target_class must be >= 0 or None", "target_class")
        h = _vp()
        self._run("fi_class_stream_create", None, self.handle, size, ctypes.byref(blk),
                  -1 if target_class is None else int(target_class), ctypes.byref(h))
        return ClassStream(self, h.value, size, blk, shape,
                           None if target_class is None else int(target_class))


def _blocks(blocks, n, row_shape=None):
    """Blocks from what the caller gave; None is one block per coordinate, shaped like one
    class row of the scores."""
    if blocks is None:
        if row_shape is not None and len(row_shape) > 1:
            return Blocks.elements(*row_shape)
        return Blocks.elements(n)
    if isinstance(blocks, (Blocks, IndexBlocks)):
        return blocks
    if isinstance(blocks, tuple) and len(blocks) == 4 and all(
            isinstance(v, numbers.Integral) for v in blocks):
        return Blocks(*(int(v) for v in blocks))
    return IndexBlocks.from_groups(blocks)


def _target_args(c, target, target_class, kind, n):
    """(target address or None, class index) for the calls that take either."""
    if target is None:
        if target_class is None:
            raise ArgumentError("give target or target_class")
        return None, int(target_class)
    tv, _ = c.floats(target, "target", kind, n)
    return tv.address, 0

