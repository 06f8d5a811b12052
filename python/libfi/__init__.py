"""libfi from Python: FI, the first-order local influence of a perturbation on a classifier's
prediction, computed by the libfi C library through ctypes (numpy optional).

    import libfi
    with libfi.Context() as ctx:
        m = ctx.metric(probs, scores, libfi.Blocks.rows(R, C))   # scores: (K, R, C) array
        fi = m.compute(scores[k])                                 # class target k: (R,) FI
        fast = ctx.direct(probs, scores, libfi.Blocks.pixels(H, W), target_class=k)  # (H, W)

PyTorch models: libfi.torch (per parameter tensor, per input pixel or patch, streaming).

Modules: _loader (finding and checking the library), _arrays (reading numpy arrays, torch
tensors and buffers in place), blocks, context, metric, accumulator, selection, errors; the
workflow at scale (libfi 1.2): mean (16-byte-per-block mean), threshold (top k and FI-Low
across arrays never concatenated), class_stream (FI from classes fed one at a time).
Every FI_* constant is read from the loaded library at run time (fi_constant):
libfi.FI_F32, libfi.constant("FI_OPT_RCOND").
"""

from typing import Any

from ._loader import MIN_VERSION, Library, library, load
from ._protos import STATUS_NAMES as _STATUS_NAMES
from .accumulator import Accumulator
from .class_stream import ClassStream
from .mean import Mean
from .threshold import Threshold
from .blocks import Blocks, IndexBlocks
from .context import Context
from .errors import (ArgumentError, CopyRefused, FIError, FIUnavailable, LibraryNotFound,
                     LibraryVersionError)
from .metric import Metric
from .selection import (Selection, fraction_count, indices_to_mask, random_low_fraction,
                        select_complement, select_random_low, select_top, top_fraction)

try:
    import numpy as _np
except ImportError:  # numpy is optional
    _np = None

__version__ = "1.2.0"

HAVE_NUMPY = _np is not None

__all__ = [
    "FIError", "FIUnavailable", "LibraryNotFound", "LibraryVersionError", "ArgumentError",
    "CopyRefused", "Library", "Blocks", "IndexBlocks", "Context", "Metric", "Accumulator",
    "Mean", "Threshold", "ClassStream",
    "Selection", "library", "load", "constant", "strerror", "version", "fraction_count",
    "select_top", "select_random_low", "select_complement", "indices_to_mask", "top_fraction",
    "random_low_fraction", "HAVE_NUMPY", "MIN_VERSION",
]


def constant(name: str) -> int:
    """Value of an FI_* constant from the loaded library (KeyError when it has none)."""
    return library().constant(name)


def strerror(status: int) -> str:
    """fi_strerror: the static text of a status code."""
    return library().strerror(status)


def version() -> str:
    """The loaded library's version string, e.g. "1.1.0"."""
    return library().version()


def __getattr__(name: str) -> Any:
    # Module attributes libfi.FI_* are the library's constants (PEP 562).
    if name.startswith("FI_"):
        try:
            return library().constant(name)
        except KeyError:
            pass
    raise AttributeError("module 'libfi' has no attribute %r" % name)
