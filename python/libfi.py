"""libfi from Python through ctypes: no third-party dependency, numpy optional.

    import libfi
    with libfi.Context(rcond=1e-6) as ctx:
        m = ctx.metric(probs, scores, libfi.Blocks.rows(R, C))   # scores: (K, R, C) array
        fi = m.compute(scores[k])                                 # class target k
        fast = ctx.direct(probs, scores, libfi.Blocks.rows(R, C), target_class=k)

Arrays. Wherever the C API takes an array, any of these is accepted:
  - a numpy array (float64, float32, float16; int64 / uint8 where the call wants indices or a
    mask), read in place when it is contiguous (scores: when each class row is contiguous; the
    row stride becomes the C ``ld``);
  - a CPU torch tensor (float64, float32, float16, bfloat16), read in place through data_ptr()
    even when it requires grad;
  - any object with the buffer protocol (array.array, bytes, bytearray, memoryview, mmap),
    read in place when its format is one of 'd', 'f', 'e' (or 'H' with dtype='bf16');
  - a plain sequence of numbers (copied, necessarily).
Input that cannot be read in place (wrong element type, non-contiguous) is copied once, and the
argument's name is recorded in Context.last_copies, so "did this call copy?" is answerable.
Outputs are never copied: an ``out=`` argument must be a writable, contiguous float64 buffer of
exactly the right size, otherwise ValueError. Returned arrays are numpy arrays when numpy is
importable, array.array otherwise.

Errors. A status other than FI_OK raises FIError, which carries .status (the int code), .name
("FI_ERR_DIMENSION"), and .message (the context's specific text, fi_context_error). Arguments
that Python can reject before calling C (sizes that do not match, wrong types) raise
ValueError / TypeError. Symbols missing from an older libfi raise FIUnavailable.

Threads. ctypes releases the GIL during every libfi call, so Python threads that each own a
Context run in parallel. A Context refuses to be used by two threads at the same time
(RuntimeError) instead of corrupting its state; Metric objects may be shared.

The library is found through $LIBFI_PATH (a file, or a directory holding libfi.so.1), then the
lib/ directory of the source tree this file sits in, then ctypes.util.find_library("fi").
Every FI_* constant is read from the loaded library at run time (fi_constant): libfi.FI_F32,
libfi.constant("FI_OPT_RCOND").
"""

import array
import ctypes
import ctypes.util
import numbers
import os
import sys
import threading

try:
    import numpy as _np
except ImportError:  # numpy is optional
    _np = None

__all__ = [
    "FIError", "FIUnavailable", "Library", "Blocks", "IndexBlocks", "Context", "Metric",
    "Accumulator", "library", "load", "constant", "strerror", "version", "fraction_count",
    "HAVE_NUMPY",
]

HAVE_NUMPY = _np is not None

_c_int64_p = ctypes.POINTER(ctypes.c_int64)
_c_double_p = ctypes.POINTER(ctypes.c_double)
_vp = ctypes.c_void_p
_i64 = ctypes.c_int64


# ------------------------------------------------------------------ errors


class FIError(Exception):
    """A libfi call returned a status other than FI_OK.

    status  -- the int status code (compare with libfi.FI_ERR_DIMENSION etc.)
    name    -- its name, e.g. "FI_ERR_DIMENSION" ("" when the library does not know it)
    message -- the context's detail of the failure (fi_context_error), or fi_strerror's text
    function -- the C function that failed
    """

    def __init__(self, status, message, function="", name=""):
        self.status = int(status)
        self.message = message
        self.function = function
        self.name = name
        where = function + ": " if function else ""
        label = name or "status %d" % self.status
        super().__init__("%s%s (%s)" % (where, message, label))


class FIUnavailable(NotImplementedError):
    """The loaded libfi does not export a function this module wants."""


# ------------------------------------------------------------------ the shared library

# Names of the status codes; their values are read from the library, never from the header.
_STATUS_NAMES = (
    "FI_OK", "FI_ERR_NULL", "FI_ERR_DIMENSION", "FI_ERR_PROBABILITY", "FI_ERR_NONFINITE",
    "FI_ERR_NOMEM", "FI_ERR_LAPACK", "FI_ERR_OPTION", "FI_ERR_FLAG", "FI_ERR_DTYPE",
    "FI_ERR_CLASS", "FI_ERR_MISMATCH", "FI_ERR_FORMAT", "FI_ERR_THREAD", "FI_ERR_NAME",
)


class Blocks(ctypes.Structure):
    """fi_blocks: coordinate j of block b is b*step + j*stride."""

    _fields_ = [("count", _i64), ("size", _i64), ("stride", _i64), ("step", _i64)]

    def __init__(self, count, size=1, stride=1, step=None):
        super().__init__(count, size, stride, size if step is None else step)

    @classmethod
    def elements(cls, n):
        """One block per coordinate (p = 1)."""
        return cls(n, 1, 1, 1)

    @classmethod
    def rows(cls, rows, cols):
        """The rows (output channels) of a rows x cols row-major matrix."""
        return cls(rows, cols, 1, cols)

    @classmethod
    def columns(cls, rows, cols):
        """The columns (input channels) of a rows x cols row-major matrix."""
        return cls(cols, rows, cols, 1)

    @classmethod
    def pixels(cls, height, width, channels=3):
        """The pixels of an HWC image, each a block of its channels."""
        return cls(height * width, channels, 1, channels)

    def __repr__(self):
        return "Blocks(count=%d, size=%d, stride=%d, step=%d)" % (
            self.count, self.size, self.stride, self.step)


class _CIndexBlocks(ctypes.Structure):
    _fields_ = [("count", _i64), ("offsets", _vp), ("indices", _vp)]


class IndexBlocks(object):
    """fi_index_blocks: block b holds indices[offsets[b]:offsets[b+1]].

    IndexBlocks(offsets, indices) or IndexBlocks.from_groups([[0, 5, 9], [1, 2], ...]).
    The offsets and indices are kept (as int64) for as long as this object lives."""

    def __init__(self, offsets, indices):
        self._offsets = _copy_int64(offsets)
        self._indices = _copy_int64(indices)
        self.count = len(self._offsets) - 1
        if self.count < 0:
            raise ValueError("IndexBlocks: offsets needs count+1 >= 1 entries")
        if self._offsets[-1] > len(self._indices):
            raise ValueError("IndexBlocks: offsets[-1] = %d exceeds the %d indices"
                             % (self._offsets[-1], len(self._indices)))
        self._c = _CIndexBlocks(self.count, _address_of_array(self._offsets),
                                _address_of_array(self._indices))

    @classmethod
    def from_groups(cls, groups):
        offsets, indices = [0], []
        for g in groups:
            indices.extend(int(i) for i in g)
            offsets.append(len(indices))
        return cls(offsets, indices)

    def __repr__(self):
        return "IndexBlocks(count=%d, coordinates=%d)" % (self.count, len(self._indices))


def _copy_int64(seq):
    """A private int64 array (numpy when present) holding seq."""
    if _np is not None:
        return _np.array(seq, dtype=_np.int64).reshape(-1)
    try:
        mv = memoryview(seq)
        seq = mv.tolist() if mv.ndim <= 1 else _flatten(mv.tolist())
    except TypeError:
        pass
    return array.array("q", [int(v) for v in seq])


def _address_of_array(a):
    if _np is not None and isinstance(a, _np.ndarray):
        return a.ctypes.data
    return a.buffer_info()[0]


def _protos():
    """restype and argtypes of every exported function, as declared in fi.h."""
    I, D, S, U = ctypes.c_int, ctypes.c_double, ctypes.c_size_t, ctypes.c_uint
    P = ctypes.POINTER
    vpp = P(_vp)
    bl = P(Blocks)
    ib = P(_CIndexBlocks)
    return {
        "fi_version_number": (U, []),
        "fi_version_string": (ctypes.c_char_p, []),
        "fi_constant": (I, [ctypes.c_char_p, _c_int64_p]),
        "fi_dtype_size": (S, [I]),
        "fi_context_create": (I, [vpp]),
        "fi_context_free": (None, [_vp]),
        "fi_strerror": (ctypes.c_char_p, [I]),
        "fi_context_error": (ctypes.c_char_p, [_vp]),
        "fi_context_set": (I, [_vp, I, D]),
        "fi_context_get": (I, [_vp, I, _c_double_p]),
        "fi_metric_from_scores": (I, [_vp, _i64, _vp, I, _vp, _i64, _i64, bl, vpp]),
        "fi_metric_from_scores_indexed": (I, [_vp, _i64, _vp, I, _vp, _i64, _i64, ib, vpp]),
        "fi_compute": (I, [_vp, _vp, I, _vp, _vp, U]),
        "fi_metric_free": (None, [_vp]),
        "fi_direct": (I, [_vp, _i64, _vp, I, _vp, _i64, _i64, bl, _vp, _i64, _vp, U]),
        "fi_direct_indexed": (I, [_vp, _i64, _vp, I, _vp, _i64, _i64, ib, _vp, _i64, _vp, U]),
        "fi_metric_count": (_i64, [_vp]),
        "fi_metric_classes": (_i64, [_vp]),
        "fi_metric_ranks": (I, [_vp, _vp, _vp]),
        "fi_residual": (I, [_vp, _vp, I, _vp, _vp]),
        "fi_class_bound": (I, [_vp, _vp, _i64, _c_double_p]),
        "fi_normalize_class": (I, [_vp, _vp, _i64, _vp, _vp, _vp]),
        "fi_perturbation": (I, [_vp, _i64, _vp, I, _vp, _i64, _i64, bl, _vp, _i64, _vp, _vp,
                                _vp]),
        "fi_reduce": (I, [_vp, _vp, _i64, bl, I, _vp]),
        "fi_fraction_count": (_i64, [_i64, D]),
        "fi_select_top": (I, [_vp, _vp, _i64, _i64, _vp]),
        "fi_select_random_low": (I, [_vp, _vp, _i64, _i64, _i64, ctypes.c_uint64, _vp]),
        "fi_select_complement": (I, [_vp, _i64, _vp, _i64, _vp]),
        "fi_indices_to_mask": (I, [_vp, _i64, _vp, _i64, _vp]),
        "fi_accumulator_create": (I, [_vp, _i64, vpp]),
        "fi_accumulator_free": (None, [_vp]),
        "fi_accumulator_add": (I, [_vp, _vp, _vp, D]),
        "fi_accumulator_merge": (I, [_vp, _vp, _vp]),
        "fi_accumulator_result": (I, [_vp, _vp, _vp, _vp]),
        "fi_accumulator_info": (I, [_vp, _c_int64_p, _c_int64_p, _c_double_p]),
        "fi_accumulator_serialized_size": (S, [_vp]),
        "fi_accumulator_serialize": (I, [_vp, _vp, _vp, S]),
        "fi_accumulator_deserialize": (I, [_vp, _vp, S, vpp]),
    }


class Library(object):
    """One loaded libfi: its functions (typed on first use) and its constants."""

    def __init__(self, path):
        self.path = path
        self._dll = ctypes.CDLL(path)
        self._protos = _protos()
        self._fns = {}
        self._consts = {}
        if not self.has("fi_constant") or not self.has("fi_context_create"):
            raise OSError("%s does not look like libfi (no fi_constant)" % path)
        self.status_names = {}
        for name in _STATUS_NAMES:
            try:
                self.status_names[self.constant(name)] = name
            except KeyError:
                pass

    def has(self, name):
        """True when the library exports the function name."""
        try:
            getattr(self._dll, name)
            return True
        except AttributeError:
            return False

    def fn(self, name):
        """The typed ctypes function name; FIUnavailable when it is not exported."""
        f = self._fns.get(name)
        if f is None:
            try:
                f = getattr(self._dll, name)
            except AttributeError:
                raise FIUnavailable("%s is not exported by %s (libfi %s)"
                                    % (name, self.path, self.version()))
            f.restype, f.argtypes = self._protos[name]
            self._fns[name] = f
        return f

    def constant(self, name):
        """Value of the public constant name, read with fi_constant. KeyError if unknown."""
        v = self._consts.get(name)
        if v is None:
            out = ctypes.c_int64()
            st = self.fn("fi_constant")(name.encode("ascii"), ctypes.byref(out))
            if st != 0:
                raise KeyError("libfi has no constant %r (status %d)" % (name, st))
            v = self._consts[name] = int(out.value)
        return v

    def strerror(self, status):
        return self.fn("fi_strerror")(int(status)).decode("utf-8", "replace")

    def version(self):
        return self.fn("fi_version_string")().decode("ascii", "replace")

    def error(self, status, message, function=""):
        """The FIError for status, message defaulting to fi_strerror's text."""
        return FIError(status, message or self.strerror(status), function,
                       self.status_names.get(int(status), ""))


def _candidate_paths():
    env = os.environ.get("LIBFI_PATH")
    if env:
        # An explicit choice is final: no silent fallback to another copy.
        if os.path.isdir(env):
            for leaf in ("libfi.so.1", "libfi.so"):
                if os.path.exists(os.path.join(env, leaf)):
                    return [os.path.join(env, leaf)]
            return [os.path.join(env, "libfi.so.1")]
        return [env]
    paths = []
    here = os.path.dirname(os.path.abspath(__file__))
    repo_lib = os.path.normpath(os.path.join(here, os.pardir, "lib"))
    for leaf in ("libfi.so.1", "libfi.so"):
        p = os.path.join(repo_lib, leaf)
        if os.path.exists(p):
            paths.append(p)
    found = ctypes.util.find_library("fi")
    if found:
        paths.append(found)
    return paths


_default = None
_default_lock = threading.Lock()


def load(path=None):
    """Loads libfi (from path, or by the search order in the module doc) and makes it the
    library used by default. Returns the Library."""
    global _default
    paths = [path] if path else _candidate_paths()
    errors = []
    for p in paths:
        try:
            lib = Library(p)
        except OSError as e:
            errors.append("%s: %s" % (p, e))
            continue
        with _default_lock:
            _default = lib
        return lib
    raise OSError("libfi not found (set LIBFI_PATH, or build it with `make`). Tried: "
                  + ("; ".join(errors) if errors else "no candidate"))


def library():
    """The default Library, loaded on first use."""
    lib = _default
    return lib if lib is not None else load()


def constant(name):
    """Value of an FI_* constant from the loaded library."""
    return library().constant(name)


def strerror(status):
    return library().strerror(status)


def version():
    """The loaded library's version string, e.g. "1.0.0"."""
    return library().version()


def fraction_count(count, fraction):
    """ceil(fraction * count): how many items a fraction selects (fi_fraction_count).
    ValueError for count < 0 or a fraction outside [0, 1] (where the C call returns -1)."""
    v = int(library().fn("fi_fraction_count")(int(count), float(fraction)))
    if v < 0:
        raise ValueError("fraction_count needs count >= 0 and 0 <= fraction <= 1 (got %r, %r)"
                         % (count, fraction))
    return v


def __getattr__(name):
    # Module attributes libfi.FI_* are the library's constants (PEP 562).
    if name.startswith("FI_"):
        try:
            return library().constant(name)
        except KeyError:
            pass
    raise AttributeError("module 'libfi' has no attribute %r" % name)


# ------------------------------------------------------------------ arrays

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


def _describe(x):
    """A _View of x's memory, or None when x does not expose memory (a list)."""
    # torch tensors (duck-typed: torch is never imported here).
    if hasattr(x, "data_ptr") and hasattr(x, "element_size") and hasattr(x, "stride"):
        if getattr(getattr(x, "device", None), "type", "cpu") != "cpu":
            raise ValueError("libfi reads host memory: move the tensor to the CPU first "
                             "(tensor.cpu())")
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
        return _describe(_np.asarray(mv))
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


def _flatten(v):
    if isinstance(v, (list, tuple)):
        out = []
        for e in v:
            out.extend(_flatten(e))
        return out
    return [v]


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

    def _pin(self, x, name, accept, convert_to, contiguous_from=0):
        v = _describe(x)
        if v is not None and v.kind in accept and v.c_contiguous_from(contiguous_from) \
                and all(s >= 0 for s in v.strides):
            self.keep.append(v)
            return v
        self.copies.append(name)
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
            raise ValueError("%s has %d elements, expected %d" % (name, v.size, size))
        # uint16 storage is accepted only when dtype="bf16" asked for it.
        return v, ("FI_BF16" if v.kind == "u16" else (dtype or v.kind))

    def doubles(self, x, name, size=None):
        v, _ = self.floats(x, name, "FI_F64", size)
        return v

    def ints(self, x, name, size=None):
        v = self._pin(x, name, ("i8",), "i8")
        if size is not None and v.size != size:
            raise ValueError("%s has %d elements, expected %d" % (name, v.size, size))
        return v

    def raw(self, x, name):
        """Any contiguous buffer as bytes (a serialized accumulator)."""
        v = _describe(x)
        if v is None or not v.c_contiguous_from(0):
            self.copies.append(name)
            v = _describe(bytes(x))
        self.keep.append(v)
        return v

    def out(self, x, name, kind, size):
        """A caller-provided output: written in place, so never converted."""
        if x is None:
            x = _new_out(kind, size)
        v = _describe(x)
        if v is None or v.kind != kind or not v.c_contiguous_from(0) or not v.writable:
            raise ValueError("%s must be a writable contiguous %s buffer of %d elements"
                             % (name, {"FI_F64": "float64", "i8": "int64",
                                       "u8": "uint8"}[kind], size))
        if v.size != size:
            raise ValueError("%s has %d elements, expected %d" % (name, v.size, size))
        self.keep.append(v)
        return x, v

    def scores(self, x, n_classes, n, ld, dtype):
        """The K score rows: returns (view, dtype, n, ld).

        An array of shape (K, ...) whose rows are each contiguous is read in place, its row
        stride becoming ld; a flat buffer is K rows of n values, ld apart (default ld = n)."""
        v = _describe(x)
        accept = ("FI_F64", "FI_F32", "FI_F16", "FI_BF16") if dtype is None else \
            (("FI_BF16", "u16") if dtype == "FI_BF16" else (dtype,))
        if v is not None and len(v.shape) >= 2:
            if v.shape[0] != n_classes:
                raise ValueError("scores has %d rows, but %d probabilities were given"
                                 % (v.shape[0], n_classes))
            row_n = 1
            for d in v.shape[1:]:
                row_n *= d
            if n is not None and n != row_n:
                raise ValueError("n = %d, but each scores row holds %d values" % (n, row_n))
            if ld is not None:
                raise ValueError("ld is taken from the row stride of a 2-D scores array")
            if v.kind not in accept or not v.c_contiguous_from(1) or v.strides[0] < 0 \
                    or v.strides[0] % v.itemsize or v.strides[0] < row_n * v.itemsize:
                self.copies.append("scores")
                v = _describe(_converted(x, accept[0] if v.kind not in accept else v.kind))
            self.keep.append(v)
            kind = dtype or ("FI_BF16" if v.kind == "u16" else v.kind)
            return v, kind, row_n, v.strides[0] // v.itemsize
        v, kind = self.floats(x, "scores", dtype)
        total = v.size
        if n is None:
            if ld is not None:
                raise ValueError("give n together with ld for flat scores")
            if total % n_classes:
                raise ValueError("flat scores of %d values cannot be split into %d rows; give n "
                                 "(and ld)" % (total, n_classes))
            n = total // n_classes
        ld = n if ld is None else int(ld)
        if total < (n_classes - 1) * ld + n:
            raise ValueError("flat scores hold %d values; K=%d rows of n=%d with ld=%d need %d"
                             % (total, n_classes, n, ld, (n_classes - 1) * ld + n))
        return v, kind, int(n), ld


def _resolve_dtype(dtype):
    """None, a name ('f32', 'bfloat16', 'FI_F32'), or a dtype object -> constant name."""
    if dtype is None:
        return None
    if isinstance(dtype, int):
        lib = library()
        for name in ("FI_F64", "FI_F32", "FI_BF16", "FI_F16"):
            if lib.constant(name) == dtype:
                return name
        raise ValueError("unknown dtype value %d" % dtype)
    s = str(dtype).replace("torch.", "").replace("numpy.", "")
    if s.startswith("FI_"):
        return s
    if s in _DTYPE_NAMES:
        return _DTYPE_NAMES[s]
    raise ValueError("unknown dtype %r (use 'f64', 'f32', 'bf16' or 'f16')" % (dtype,))


# ------------------------------------------------------------------ context


_OPTIONS = ("rcond", "atol", "prob_tol", "class_mode", "threads", "method", "isa")
_INT_OPTIONS = ("class_mode", "threads", "method", "isa")
_OPTION_VALUE_PREFIX = {"class_mode": "FI_CLASS_", "method": "FI_METHOD_", "isa": "FI_ISA_"}


class Context(object):
    """An fi_context: options, workspace and the text of the last failure.

    Context(rcond=1e-6, threads=2, class_mode="renormalize") sets options at creation; they
    are also properties (ctx.rcond = 1e-8) and reachable by key: ctx.set("FI_OPT_ATOL", 0.0),
    ctx.get("threads"). Use it as a context manager, or call close(); Metric and Accumulator
    objects it made keep it alive."""

    def __init__(self, lib=None, **options):
        self.lib = lib or library()
        self._handle = None
        self._lock = threading.Lock()
        self.last_copies = ()
        h = _vp()
        st = self.lib.fn("fi_context_create")(ctypes.byref(h))
        if st != 0:
            raise self.lib.error(st, "", "fi_context_create")
        self._handle = h.value
        for k, v in options.items():
            self.set(k, v)

    # -- lifetime
    def close(self):
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
    def handle(self):
        """The fi_context* as an int (for cffi or C extensions)."""
        if not self._handle:
            raise ValueError("the Context is closed")
        return self._handle

    @property
    def error(self):
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
            raise ValueError("unknown option %r (known: %s)" % (option, ", ".join(_OPTIONS)))

    def set(self, option, value):
        """fi_context_set. option: a key value or name ("rcond" or "FI_OPT_RCOND"); value: a
        number, or for class_mode / method / isa a name ("renormalize", "reference",
        "portable")."""
        key, short = self._option_key(option)
        if isinstance(value, str) and short in _OPTION_VALUE_PREFIX:
            try:
                value = self.lib.constant(_OPTION_VALUE_PREFIX[short] + value.upper())
            except KeyError:
                raise ValueError("unknown %s %r" % (short, value))
        self._run("fi_context_set", None, self.handle, key, float(value))

    def get(self, option):
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

    def metric(self, probs, scores, blocks=None, n=None, ld=None, dtype=None):
        """fi_metric_from_scores (or _indexed): the per-block factorization of G.

        probs: K probabilities. scores: (K, ...) array (rows read in place, ld = row stride)
        or a flat buffer of K rows of n values ld apart. blocks: Blocks, IndexBlocks, a
        (count, size, stride, step) tuple, a list of index groups, or None for one block per
        coordinate. dtype forces the element type ('bf16' for uint16 storage)."""
        c = _Call(self)
        pv, K = self._probs(c, probs)
        sv, kind, n, ld = c.scores(scores, K, n, ld, _resolve_dtype(dtype))
        blk = _blocks(blocks, n)
        out = _vp()
        if isinstance(blk, IndexBlocks):
            self._run("fi_metric_from_scores_indexed", c, self.handle, K, pv.address,
                      self._dtype_value(kind), sv.address, n, ld, ctypes.byref(blk._c),
                      ctypes.byref(out))
        else:
            self._run("fi_metric_from_scores", c, self.handle, K, pv.address,
                      self._dtype_value(kind), sv.address, n, ld, ctypes.byref(blk),
                      ctypes.byref(out))
        return Metric(self, out.value, n)

    def compute(self, metric, target, out=None, accumulate=False, dtype=None):
        """fi_compute: FI per block of metric for target (n values). Returns out."""
        return metric.compute(target, out=out, accumulate=accumulate, dtype=dtype)

    def direct(self, probs, scores, blocks=None, target=None, target_class=None, n=None,
               ld=None, dtype=None, out=None, accumulate=False, single_pass=False):
        """fi_direct (or _indexed): FI per block straight from the scores, no metric.

        Give target (n values, converted to the scores' dtype if it differs) or
        target_class (the class target k, nothing extra read). Returns out."""
        c = _Call(self)
        pv, K = self._probs(c, probs)
        sv, kind, n, ld = c.scores(scores, K, n, ld, _resolve_dtype(dtype))
        blk = _blocks(blocks, n)
        tgt, k = _target_args(c, target, target_class, kind, n)
        if accumulate and out is None:
            raise ValueError("accumulate=True needs out")
        out, ov = c.out(out, "out", "FI_F64", blk.count)
        flags = self._flags(accumulate, single_pass)
        if isinstance(blk, IndexBlocks):
            self._run("fi_direct_indexed", c, self.handle, K, pv.address,
                      self._dtype_value(kind), sv.address, n, ld, ctypes.byref(blk._c), tgt,
                      k, ov.address, flags)
        else:
            self._run("fi_direct", c, self.handle, K, pv.address, self._dtype_value(kind),
                      sv.address, n, ld, ctypes.byref(blk), tgt, k, ov.address, flags)
        return out

    def perturbation(self, probs, scores, delta, blocks=None, target=None, target_class=None,
                     n=None, ld=None, dtype=None, fisher=True, taylor=True):
        """fi_perturbation: (fisher_len2, taylor2) per block for the perturbation delta (n
        doubles); S^2 = delta^T G delta and (g.delta)^2. An output not asked for is None."""
        c = _Call(self)
        pv, K = self._probs(c, probs)
        sv, kind, n, ld = c.scores(scores, K, n, ld, _resolve_dtype(dtype))
        blk = _blocks(blocks, n)
        if isinstance(blk, IndexBlocks):
            raise TypeError("fi_perturbation takes affine Blocks only")
        dv = c.doubles(delta, "delta", n)
        tgt, k = (None, 0)
        if taylor:
            tgt, k = _target_args(c, target, target_class, kind, n)
        f_out, fv = c.out(None, "fisher_len2", "FI_F64", blk.count) if fisher else (None, None)
        t_out, tv = c.out(None, "taylor2", "FI_F64", blk.count) if taylor else (None, None)
        self._run("fi_perturbation", c, self.handle, K, pv.address, self._dtype_value(kind),
                  sv.address, n, ld, ctypes.byref(blk), tgt, k, dv.address,
                  fv.address if fv else None, tv.address if tv else None)
        return f_out, t_out

    # -- reduction and selection
    def reduce(self, values, groups, op="sum", out=None):
        """fi_reduce: op ("sum", "mean", "max") of values over each group (Blocks)."""
        c = _Call(self)
        vv = c.doubles(values, "values")
        g = _blocks(groups, vv.size)
        if isinstance(g, IndexBlocks):
            raise TypeError("fi_reduce takes affine Blocks only")
        opv = self.lib.constant("FI_REDUCE_" + op.upper()) if isinstance(op, str) else int(op)
        out, ov = c.out(out, "out", "FI_F64", g.count)
        self._run("fi_reduce", c, self.handle, vv.address, vv.size, ctypes.byref(g), opv,
                  ov.address)
        return out

    def select_top(self, values, k):
        """fi_select_top: indices of the k largest values, descending, ties by index."""
        c = _Call(self)
        vv = c.doubles(values, "values")
        out, ov = c.out(None, "indices", "i8", max(int(k), 0))  # a bad k is C's to report
        self._run("fi_select_top", c, self.handle, vv.address, vv.size, int(k), ov.address)
        return out

    def select_random_low(self, values, exclude_top, k, seed):
        """fi_select_random_low: k seeded random indices outside the top exclude_top."""
        c = _Call(self)
        vv = c.doubles(values, "values")
        out, ov = c.out(None, "indices", "i8", max(int(k), 0))
        self._run("fi_select_random_low", c, self.handle, vv.address, vv.size,
                  int(exclude_top), int(k), int(seed) & 0xFFFFFFFFFFFFFFFF, ov.address)
        return out

    def select_complement(self, count, indices):
        """fi_select_complement: the indices in [0,count) not listed, ascending."""
        c = _Call(self)
        iv = c.ints(indices, "indices")
        m = int(count) - iv.size
        if m < 0:
            raise ValueError("more indices (%d) than count (%d)" % (iv.size, count))
        out, ov = c.out(None, "out", "i8", m)
        self._run("fi_select_complement", c, self.handle, int(count), iv.address, iv.size,
                  ov.address)
        return out

    def indices_to_mask(self, count, indices):
        """fi_indices_to_mask: a count-byte mask, 1 at the listed indices."""
        c = _Call(self)
        iv = c.ints(indices, "indices")
        out, ov = c.out(None, "mask", "u8", int(count))
        self._run("fi_indices_to_mask", c, self.handle, int(count), iv.address, iv.size,
                  ov.address)
        return out

    # -- accumulators
    def accumulator(self, count):
        """fi_accumulator_create: an empty accumulator of count blocks."""
        h = _vp()
        self._run("fi_accumulator_create", None, self.handle, int(count), ctypes.byref(h))
        return Accumulator(self, h.value)

    def deserialize_accumulator(self, buf):
        """fi_accumulator_deserialize: an accumulator from bytes made by serialize()."""
        c = _Call(self)
        bv = c.raw(buf, "buf")
        h = _vp()
        self._run("fi_accumulator_deserialize", c, self.handle, bv.address,
                  bv.size * bv.itemsize, ctypes.byref(h))
        return Accumulator(self, h.value)


def _blocks(blocks, n):
    if blocks is None:
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
            raise ValueError("give target or target_class")
        return None, int(target_class)
    tv, _ = c.floats(target, "target", kind, n)
    return tv.address, 0


# ------------------------------------------------------------------ metric


class Metric(object):
    """An fi_metric made by Context.metric. Read-only: may be shared between threads (each
    thread calling through its own Context: metric.compute(target, ctx=...))."""

    def __init__(self, ctx, handle, n):
        self.ctx = ctx
        self._handle = handle
        self.n = n
        lib = ctx.lib
        self.count = int(lib.fn("fi_metric_count")(handle))
        self.classes = int(lib.fn("fi_metric_classes")(handle))

    @property
    def handle(self):
        if not self._handle:
            raise ValueError("the Metric is closed")
        return self._handle

    def close(self):
        h, self._handle = self._handle, None
        if h:
            self.ctx.lib.fn("fi_metric_free")(h)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def compute(self, target, out=None, accumulate=False, dtype=None, ctx=None):
        """fi_compute: FI per block for target (n values, any float dtype read in place). The
        class target k is scores[k]. accumulate=True adds into out."""
        ctx = ctx or self.ctx
        c = _Call(ctx)
        tv, kind = c.floats(target, "target", _resolve_dtype(dtype), self.n)
        if accumulate and out is None:
            raise ValueError("accumulate=True needs out")
        out, ov = c.out(out, "out", "FI_F64", self.count)
        ctx._run("fi_compute", c, ctx.handle, self.handle, ctx._dtype_value(kind), tv.address,
                 ov.address, ctx._flags(accumulate))
        return out

    def residual(self, target, dtype=None, ctx=None):
        """fi_residual: ||(I - V V^T) g[b]|| / ||g[b]|| per block."""
        ctx = ctx or self.ctx
        c = _Call(ctx)
        tv, kind = c.floats(target, "target", _resolve_dtype(dtype), self.n)
        out, ov = c.out(None, "out", "FI_F64", self.count)
        ctx._run("fi_residual", c, ctx.handle, self.handle, ctx._dtype_value(kind), tv.address,
                 ov.address)
        return out

    def ranks(self, ctx=None):
        """fi_metric_ranks: the numerical rank of every block (int64)."""
        ctx = ctx or self.ctx
        c = _Call(ctx)
        out, ov = c.out(None, "ranks", "i8", self.count)
        ctx._run("fi_metric_ranks", c, ctx.handle, self.handle, ov.address)
        return out

    def class_bound(self, k, ctx=None):
        """fi_class_bound: (1-P_k)/P_k (or 1/P_k), the class-target ceiling of FI."""
        ctx = ctx or self.ctx
        b = ctypes.c_double()
        ctx._run("fi_class_bound", None, ctx.handle, self.handle, int(k), ctypes.byref(b))
        return b.value

    def normalize(self, k, fi, ctx=None):
        """fi_normalize_class: (fi / bound, saturated flags) for class target k."""
        ctx = ctx or self.ctx
        c = _Call(ctx)
        fv = c.doubles(fi, "fi", self.count)
        norm, nv = c.out(None, "normalized", "FI_F64", self.count)
        sat, sv = c.out(None, "saturated", "u8", self.count)
        ctx._run("fi_normalize_class", c, ctx.handle, self.handle, int(k), fv.address,
                 nv.address, sv.address)
        return norm, sat


# ------------------------------------------------------------------ accumulator


class Accumulator(object):
    """An fi_accumulator: weighted, mergeable per-block sums of FI."""

    def __init__(self, ctx, handle):
        self.ctx = ctx
        self._handle = handle
        self.count = self.info()[0]

    @property
    def handle(self):
        if not self._handle:
            raise ValueError("the Accumulator is closed")
        return self._handle

    def close(self):
        h, self._handle = self._handle, None
        if h:
            self.ctx.lib.fn("fi_accumulator_free")(h)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def add(self, fi, weight=1.0):
        """fi_accumulator_add: one sample's FI (count values) with weight."""
        c = _Call(self.ctx)
        fv = c.doubles(fi, "fi", self.count)
        self.ctx._run("fi_accumulator_add", c, self.ctx.handle, self.handle, fv.address,
                      float(weight))

    def merge(self, other):
        """fi_accumulator_merge: self += other."""
        self.ctx._run("fi_accumulator_merge", None, self.ctx.handle, self.handle, other.handle)

    def result(self):
        """fi_accumulator_result: (weighted mean, standard error) per block."""
        c = _Call(self.ctx)
        mean, mv = c.out(None, "mean", "FI_F64", self.count)
        se, sv = c.out(None, "std_error", "FI_F64", self.count)
        self.ctx._run("fi_accumulator_result", c, self.ctx.handle, self.handle, mv.address,
                      sv.address)
        return mean, se

    def info(self):
        """fi_accumulator_info: (count, samples, total_weight)."""
        cnt, smp, tw = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_double()
        lib = self.ctx.lib
        st = lib.fn("fi_accumulator_info")(self.handle, ctypes.byref(cnt), ctypes.byref(smp),
                                           ctypes.byref(tw))
        if st != 0:
            raise lib.error(st, "", "fi_accumulator_info")
        return int(cnt.value), int(smp.value), tw.value

    @property
    def samples(self):
        return self.info()[1]

    @property
    def total_weight(self):
        return self.info()[2]

    def serialize(self):
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
