"""Array adaptation: where an argument's memory is, read in place whenever possible.

Accepted wherever the C API takes an array:
  - a numpy array (float64, float32, float16; int64 / uint8 where the call wants indices or a
    mask), read in place when it is contiguous (scores: when each class row is contiguous; the
    row stride becomes the C ``ld``);
  - a CPU torch tensor (float64, float32, float16, bfloat16), read in place through data_ptr()
    even when it requires grad (never written: nothing the caller passed is modified);
  - any object with the buffer protocol (array.array, bytes, bytearray, memoryview, mmap),
    read in place when its format is one of 'd', 'f', 'e' (or 'H' with dtype='bf16');
  - a plain sequence of numbers (copied, necessarily).
Refused before any C call (ArgumentError): a tensor that is not on the CPU, a sparse or
complex tensor. Input that cannot be read in place (wrong element type, non-contiguous) is
copied once and the argument's name recorded in Context.last_copies; a Context made with
copies=False refuses it instead (CopyRefused). Outputs are never copied: an ``out=`` argument
must be a writable, contiguous buffer of the right type and size.
"""

import array
import ctypes
import sys
from typing import Optional, Tuple

try:
    import numpy as _np
except ImportError:  # numpy is optional
    _np = None

from .blocks import _flatten
from .errors import ArgumentError, CopyRefused

_vp = ctypes.c_void_p


# dtype names of the C API and the element formats that carry them.
_DTYPE_NAMES = {"f64": "FI_F64", "f32": "FI_F32", "bf16": "FI_BF16", "f16": "FI_F16",
                "float64": "FI_F64", "float32": "FI_F32", "bfloat16": "FI_BF16",
                "float16": "FI_F16", "double": "FI_F64", "float": "FI_F32",
                "half": "FI_F16"}
_ITEMSIZE = {"FI_F64": 8, "FI_F32": 4, "FI_BF16": 2, "FI_F16": 2}
_FORMAT_KIND = {"d": "FI_F64", "f": "FI_F32", "e": "FI_F16"}
_TORCH_KIND = {"torch.float64": "FI_F64", "torch.float32": "FI_F32",
               "torch.float16": "FI_F16", "torch.bfloat16": "FI_BF16"}


class _View(object):
    """Where an array argument lives in memory, without owning or copying it.

    kind: "FI_F64"/"FI_F32"/"FI_F16"/"FI_BF16" for floating data, "i8" for 8-byte signed
    integers, "u8" for bytes, "u16" for raw 16-bit words (bf16 given as uint16), None for
    anything else (which must be converted). strides are in bytes."""

    __slots__ = ("address", "kind", "itemsize", "shape", "strides", "writable", "keep")

    def __init__(self, address, kind, itemsize, shape, strides, writable, keep):
        self.address = address
        self.kind = kind
        self.itemsize = itemsize
        self.shape = tuple(int(s) for s in shape)
        self.strides = tuple(int(s) for s in strides)
        self.writable = writable
        self.keep = keep

    @property
    def size(self):
        s = 1
        for d in self.shape:
            s *= d
        return s

    def c_contiguous_from(self, axis):
        """True when dimensions axis.. are laid out C-contiguously with unit element stride."""
        expect = self.itemsize
        for d, st in zip(reversed(self.shape[axis:]), reversed(self.strides[axis:])):
            if d != 1 and st != expect:
                return False
            expect *= d
        return True


class _PinnedBuffer(object):
    """A read-only buffer's address, obtained through PyObject_GetBuffer (no copy) and
    released when this object goes away."""

    class _PyBuffer(ctypes.Structure):
        _fields_ = [("buf", _vp), ("obj", _vp), ("len", ctypes.c_ssize_t),
                    ("itemsize", ctypes.c_ssize_t), ("readonly", ctypes.c_int),
                    ("ndim", ctypes.c_int), ("format", ctypes.c_char_p),
                    ("shape", _vp), ("strides", _vp), ("suboffsets", _vp),
                    ("internal", _vp)]

    _api = None

    @classmethod
    def _functions(cls):
        # A private handle on the C API, so that ctypes.pythonapi's prototypes (global to
        # the process) are left as other code set them.
        if cls._api is None:
            api = ctypes.PyDLL(getattr(ctypes.pythonapi, "_name", None))
            api.PyObject_GetBuffer.argtypes = [ctypes.py_object, ctypes.c_void_p, ctypes.c_int]
            api.PyObject_GetBuffer.restype = ctypes.c_int
            api.PyBuffer_Release.argtypes = [ctypes.c_void_p]
            api.PyBuffer_Release.restype = None
            cls._api = api
        return cls._api

    def __init__(self, obj):
        self._held = False
        api = self._functions()
        self._view = self._PyBuffer()
        PyBUF_RECORDS_RO = 0x001c  # PyBUF_STRIDES | PyBUF_FORMAT
        if api.PyObject_GetBuffer(obj, ctypes.byref(self._view), PyBUF_RECORDS_RO) != 0:
            raise TypeError("cannot read the buffer of %r" % type(obj).__name__)
        self._held = True
        self.address = self._view.buf

    def __del__(self):
        if self._held:
            self._held = False
            self._functions().PyBuffer_Release(ctypes.byref(self._view))


def _format_kind(fmt, itemsize):
    fmt = fmt.lstrip("@=<")
    if fmt.startswith((">", "!")) and sys.byteorder == "little":
        return None
    fmt = fmt.lstrip(">!")
    if fmt in _FORMAT_KIND:
        return _FORMAT_KIND[fmt]
    if fmt in ("q", "l", "n") and itemsize == 8:
        return "i8"
    if fmt in ("B", "b", "c", "?") and itemsize == 1:
        return "u8"
    if fmt == "H" and itemsize == 2:
        return "u16"
    return None


def _check_torch(x, name: str = "tensor") -> None:
    """Refuses, before any C call, the tensors whose memory libfi cannot read as plain
    host arrays."""
    device = getattr(getattr(x, "device", None), "type", "cpu")
    if device != "cpu":
        raise ArgumentError("%s is on device %r; libfi reads host memory: move it to the CPU "
                            "first (tensor.cpu())" % (name, str(x.device)), name)
    if str(getattr(x, "layout", "torch.strided")) != "torch.strided":
        raise ArgumentError("%s is a %s tensor; libfi reads dense tensors (tensor.to_dense())"
                            % (name, x.layout), name)
    if getattr(x, "is_complex", lambda: False)():
        raise ArgumentError("%s is complex (%s); libfi reads real tensors" % (name, x.dtype),
                            name)
    if getattr(x, "is_neg", lambda: False)() or getattr(x, "is_conj", lambda: False)():
        raise ArgumentError("%s is a lazy negated/conjugated view whose memory does not hold "
                            "its values (tensor.resolve_neg())" % name, name)


def _describe(x, name="argument"):
    """A _View of x's memory, or None when x does not expose memory (a list)."""
    # torch tensors (duck-typed: torch is never imported here).
    if hasattr(x, "data_ptr") and hasattr(x, "element_size") and hasattr(x, "stride"):
        _check_torch(x, name)
        es = int(x.element_size())
        kind = _TORCH_KIND.get(str(x.dtype))
        if kind is None and str(x.dtype) == "torch.int64":
            kind = "i8"
        if kind is None and str(x.dtype) in ("torch.uint8", "torch.bool"):
            kind = "u8"
        return _View(int(x.data_ptr()), kind, es, tuple(x.shape),
                     tuple(s * es for s in x.stride()), True, x)
    if _np is not None and isinstance(x, _np.ndarray):
        dt = x.dtype
        if dt.byteorder == ">" or (dt.byteorder == "=" and sys.byteorder == "big"):
            kind = None
        elif dt == _np.float64:
            kind = "FI_F64"
        elif dt == _np.float32:
            kind = "FI_F32"
        elif dt == _np.float16:
            kind = "FI_F16"
        elif dt == _np.int64:
            kind = "i8"
        elif dt in (_np.uint8, _np.int8, _np.bool_):
            kind = "u8"
        elif dt == _np.uint16:
            kind = "u16"
        else:
            kind = None
        return _View(x.__array_interface__["data"][0], kind, dt.itemsize, x.shape, x.strides,
                     bool(x.flags.writeable), x)
    try:
        mv = memoryview(x)
    except TypeError:
        return None
    if _np is not None:
        # numpy wraps the buffer without copying and knows its address even when read-only.
        return _describe(_np.asarray(mv), name)
    kind = _format_kind(mv.format, mv.itemsize)
    shape = mv.shape if mv.ndim else (1,)
    strides = mv.strides if mv.ndim else (mv.itemsize,)
    if mv.nbytes == 0 or not mv.c_contiguous:
        # No address to give (empty), or not one run of memory: kind None asks for a copy.
        return _View(0, kind if mv.nbytes == 0 else None, mv.itemsize, shape, strides,
                     not mv.readonly, mv)
    if not mv.readonly:
        raw = (ctypes.c_char * 1).from_buffer(mv)  # holds an export of mv, no copy
        return _View(ctypes.addressof(raw), kind, mv.itemsize, shape, strides, True, (mv, raw))
    pin = _PinnedBuffer(mv)
    return _View(pin.address, kind, mv.itemsize, shape, strides, False, (mv, pin))



def _converted(x, kind):
    """A private contiguous copy of x as kind ("FI_F64", "FI_F32", "i8" or "u8")."""
    if hasattr(x, "data_ptr") and hasattr(x, "detach"):  # torch: stay in torch
        import torch  # only reached when the caller already uses torch
        tdt = {"FI_F64": torch.float64, "FI_F32": torch.float32, "FI_F16": torch.float16,
               "FI_BF16": torch.bfloat16, "i8": torch.int64, "u8": torch.uint8}[kind]
        return x.detach().to(dtype=tdt).contiguous()
    if _np is not None:
        ndt = {"FI_F64": _np.float64, "FI_F32": _np.float32, "FI_F16": _np.float16,
               "i8": _np.int64, "u8": _np.uint8}.get(kind)
        if ndt is None:
            raise TypeError("cannot convert to %s without torch" % kind)
        return _np.ascontiguousarray(_np.asarray(x), dtype=ndt)
    code = {"FI_F64": "d", "FI_F32": "f", "i8": "q", "u8": "B"}.get(kind)
    if code is None:
        raise TypeError("cannot convert to %s without numpy" % kind)
    try:
        values = _flatten(memoryview(x).tolist())
    except TypeError:
        values = _flatten(list(x)) if not isinstance(x, (int, float)) else [x]
    if code in "df":
        return array.array(code, [float(v) for v in values])
    return array.array(code, [int(v) for v in values])


def _new_out(kind, count):
    """A zeroed result array: numpy when available, array.array / bytearray otherwise."""
    if _np is not None:
        return _np.zeros(count, dtype={"FI_F64": _np.float64, "i8": _np.int64,
                                       "u8": _np.uint8}[kind])
    if kind == "u8":
        return bytearray(count)
    return array.array("d" if kind == "FI_F64" else "q", bytes(8 * count))


class _Call(object):
    """One call's array arguments: converts and pins them, records copies, keeps them alive
    until the call returns."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.copies = []
        self.keep = []
        self.allow_copies = getattr(ctx, "allow_copies", True)
        self.row_shape = None  # shape of one class row of an N-d scores array

    def _copying(self, name, why):
        """Records that the argument name is copied, or refuses when copies are forbidden."""
        if not self.allow_copies:
            raise CopyRefused("%s would have to be copied (%s) and this Context was made with "
                              "copies=False: pass a contiguous array of a libfi dtype"
                              % (name, why), name)
        self.copies.append(name)

    def _pin(self, x, name, accept, convert_to, contiguous_from=0):
        v = _describe(x, name)
        if v is not None and v.kind in accept and v.c_contiguous_from(contiguous_from) \
                and all(s >= 0 for s in v.strides):
            self.keep.append(v)
            return v
        self._copying(name, "no memory to share" if v is None else
                      "element type" if v.kind not in accept else "not contiguous")
        y = _converted(x, convert_to if v is None or v.kind not in accept else v.kind)
        v = _describe(y)
        self.keep.append(v)
        return v

    def floats(self, x, name, dtype=None, size=None):
        """A contiguous floating-point input; dtype (a constant name) forces the type."""
        if dtype is None:
            v = self._pin(x, name, ("FI_F64", "FI_F32", "FI_F16", "FI_BF16"), "FI_F64")
        elif dtype == "FI_BF16":
            v = self._pin(x, name, ("FI_BF16", "u16"), "FI_BF16")
        else:
            v = self._pin(x, name, (dtype,), dtype)
        if size is not None and v.size != size:
            raise ArgumentError("%s has %d elements, expected %d" % (name, v.size, size))
        # uint16 storage is accepted only when dtype="bf16" asked for it.
        return v, ("FI_BF16" if v.kind == "u16" else (dtype or v.kind))

    def doubles(self, x, name, size=None):
        v, _ = self.floats(x, name, "FI_F64", size)
        return v

    def ints(self, x, name, size=None):
        v = self._pin(x, name, ("i8",), "i8")
        if size is not None and v.size != size:
            raise ArgumentError("%s has %d elements, expected %d" % (name, v.size, size))
        return v

    def raw(self, x, name):
        """Any contiguous buffer as bytes (a serialized accumulator)."""
        v = _describe(x, name)
        if v is None or not v.c_contiguous_from(0):
            self._copying(name, "not one run of memory")
            v = _describe(bytes(x))
        self.keep.append(v)
        return v

    def out(self, x, name, kind, size, shape=None):
        """A caller-provided output: written in place, so never converted. A new output is
        a numpy array of the given shape (flat without one, or without numpy)."""
        if x is None:
            x = _new_out(kind, size)
            if shape is not None and _np is not None:
                x = x.reshape(shape)
        v = _describe(x, name)
        if v is None or v.kind != kind or not v.c_contiguous_from(0) or not v.writable:
            raise ArgumentError("%s must be a writable contiguous %s buffer of %d elements"
                             % (name, {"FI_F64": "float64", "i8": "int64",
                                       "u8": "uint8"}[kind], size))
        if v.size != size:
            raise ArgumentError("%s has %d elements, expected %d" % (name, v.size, size))
        self.keep.append(v)
        return x, v

    def scores(self, x, n_classes, n, ld, dtype):
        """The K score rows: returns (view, dtype, n, ld).

        An array of shape (K, ...) whose rows are each contiguous is read in place, its row
        stride becoming ld; a flat buffer is K rows of n values, ld apart (default ld = n)."""
        v = _describe(x, "scores")
        accept = ("FI_F64", "FI_F32", "FI_F16", "FI_BF16") if dtype is None else \
            (("FI_BF16", "u16") if dtype == "FI_BF16" else (dtype,))
        if v is not None and len(v.shape) >= 2:
            if v.shape[0] != n_classes:
                raise ArgumentError("scores has %d rows, but %d probabilities were given"
                                 % (v.shape[0], n_classes))
            row_n = 1
            for d in v.shape[1:]:
                row_n *= d
            if n is not None and n != row_n:
                raise ArgumentError("n = %d, but each scores row holds %d values" % (n, row_n))
            if ld is not None:
                raise ArgumentError("ld is taken from the row stride of a 2-D scores array")
            if v.kind not in accept or not v.c_contiguous_from(1) or v.strides[0] < 0 \
                    or v.strides[0] % v.itemsize or v.strides[0] < row_n * v.itemsize:
                self._copying("scores", "element type" if v.kind not in accept
                              else "class rows not contiguous")
                v = _describe(_converted(x, accept[0] if v.kind not in accept else v.kind))
            self.keep.append(v)
            kind = dtype or ("FI_BF16" if v.kind == "u16" else v.kind)
            self.row_shape = v.shape[1:]
            return v, kind, row_n, v.strides[0] // v.itemsize
        v, kind = self.floats(x, "scores", dtype)
        total = v.size
        if n is None:
            if ld is not None:
                raise ArgumentError("give n together with ld for flat scores")
            if total % n_classes:
                raise ArgumentError("flat scores of %d values cannot be split into %d rows; give n "
                                 "(and ld)" % (total, n_classes))
            n = total // n_classes
        ld = n if ld is None else int(ld)
        if total < (n_classes - 1) * ld + n:
            raise ArgumentError("flat scores hold %d values; K=%d rows of n=%d with ld=%d need %d"
                             % (total, n_classes, n, ld, (n_classes - 1) * ld + n))
        return v, kind, int(n), ld


def _resolve_dtype(dtype):
    """None, a name ('f32', 'bfloat16', 'FI_F32'), or a dtype object -> constant name."""
    if dtype is None:
        return None
    if isinstance(dtype, int):
        from ._loader import library
        lib = library()
        for name in ("FI_F64", "FI_F32", "FI_BF16", "FI_F16"):
            if lib.constant(name) == dtype:
                return name
        raise ArgumentError("unknown dtype value %d" % dtype)
    s = str(dtype).replace("torch.", "").replace("numpy.", "")
    if s.startswith("FI_"):
        return s
    if s in _DTYPE_NAMES:
        return _DTYPE_NAMES[s]
    raise ArgumentError("unknown dtype %r (use 'f64', 'f32', 'bf16' or 'f16')" % (dtype,))

