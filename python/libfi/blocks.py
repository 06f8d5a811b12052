"""Block layouts: which coordinates are perturbed together (fi_blocks, fi_index_blocks).

A layout also knows the shape its FI values naturally take, so that results come back as
arrays of that shape: (rows, cols) for the elements of a matrix, (H, W) for the pixels of an
image, (H/ph, W/pw) for its patches, (rows,) / (cols,) for channels.
"""

import array
import ctypes
from typing import Iterable, Optional, Sequence, Tuple

try:
    import numpy as _np
except ImportError:  # numpy is optional
    _np = None

__all__ = ["Blocks", "IndexBlocks"]

_i64 = ctypes.c_int64
_vp = ctypes.c_void_p


def _product(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


class Blocks(ctypes.Structure):
    """fi_blocks: coordinate j of block b is b*step + j*stride.

    .shape (not part of the C struct) is the shape of the FI values: results of calls with
    these blocks are numpy arrays of that shape (a flat array when it is None)."""

    _fields_ = [("count", _i64), ("size", _i64), ("stride", _i64), ("step", _i64)]

    def __init__(self, count: int, size: int = 1, stride: int = 1, step: Optional[int] = None,
                 shape: Optional[Tuple[int, ...]] = None):
        super().__init__(count, size, stride, size if step is None else step)
        if shape is not None and _product(shape) != count:
            raise ValueError("shape %r does not hold %d blocks" % (tuple(shape), count))
        self.shape = tuple(int(d) for d in shape) if shape is not None else None

    @classmethod
    def elements(cls, *shape: int) -> "Blocks":
        """One block per coordinate (p = 1); FI comes back in the given shape:
        Blocks.elements(n), Blocks.elements(rows, cols), Blocks.elements(*tensor.shape)."""
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = tuple(shape[0])
        n = _product(shape)
        return cls(n, 1, 1, 1, shape=tuple(shape) if len(shape) > 1 else None)

    @classmethod
    def rows(cls, rows: int, cols: int) -> "Blocks":
        """The rows (output channels) of a rows x cols row-major matrix: FI of shape (rows,)."""
        return cls(rows, cols, 1, cols)

    @classmethod
    def columns(cls, rows: int, cols: int) -> "Blocks":
        """The columns (input channels) of a rows x cols row-major matrix: FI of shape (cols,)."""
        return cls(cols, rows, cols, 1)

    @classmethod
    def pixels(cls, height: int, width: int, channels: int = 3,
               layout: str = "hwc") -> "Blocks":
        """The pixels of an image, each a block of its channels; FI of shape (height, width).
        layout "hwc" (channels last, numpy images) or "chw" (torch images)."""
        if layout == "hwc":
            return cls(height * width, channels, 1, channels, shape=(height, width))
        if layout == "chw":
            return cls(height * width, channels, height * width, 1, shape=(height, width))
        raise ValueError("layout must be 'hwc' or 'chw', not %r" % (layout,))

    def __repr__(self) -> str:
        return "Blocks(count=%d, size=%d, stride=%d, step=%d%s)" % (
            self.count, self.size, self.stride, self.step,
            ", shape=%r" % (self.shape,) if self.shape else "")


class _CIndexBlocks(ctypes.Structure):
    _fields_ = [("count", _i64), ("offsets", _vp), ("indices", _vp)]


class IndexBlocks(object):
    """fi_index_blocks: block b holds indices[offsets[b]:offsets[b+1]].

    IndexBlocks(offsets, indices), IndexBlocks.from_groups([[0, 5, 9], [1, 2], ...]) or
    IndexBlocks.patches(H, W, C, ph, pw). The offsets and indices are kept (as int64) for as
    long as this object lives."""

    def __init__(self, offsets, indices, shape: Optional[Tuple[int, ...]] = None):
        self._offsets = _copy_int64(offsets)
        self._indices = _copy_int64(indices)
        self.count = len(self._offsets) - 1
        if self.count < 0:
            raise ValueError("IndexBlocks: offsets needs count+1 >= 1 entries")
        if self._offsets[-1] > len(self._indices):
            raise ValueError("IndexBlocks: offsets[-1] = %d exceeds the %d indices"
                             % (self._offsets[-1], len(self._indices)))
        if shape is not None and _product(shape) != self.count:
            raise ValueError("shape %r does not hold %d blocks" % (tuple(shape), self.count))
        self.shape = tuple(shape) if shape is not None else None
        self._c = _CIndexBlocks(self.count, _address_of_array(self._offsets),
                                _address_of_array(self._indices))

    @classmethod
    def from_groups(cls, groups: Iterable[Iterable[int]],
                    shape: Optional[Tuple[int, ...]] = None) -> "IndexBlocks":
        offsets, indices = [0], []
        for g in groups:
            indices.extend(int(i) for i in g)
            offsets.append(len(indices))
        return cls(offsets, indices, shape)

    @classmethod
    def patches(cls, height: int, width: int, channels: int, patch_h: int, patch_w: int,
                layout: str = "hwc") -> "IndexBlocks":
        """The patch_h x patch_w patches of an image (all channels): FI of shape
        (height // patch_h, width // patch_w). The patches must tile the image."""
        if height % patch_h or width % patch_w:
            raise ValueError("%dx%d patches do not tile a %dx%d image"
                             % (patch_h, patch_w, height, width))
        if layout not in ("hwc", "chw"):
            raise ValueError("layout must be 'hwc' or 'chw', not %r" % (layout,))
        groups = []
        for pr in range(height // patch_h):
            for pc in range(width // patch_w):
                g = []
                for y in range(pr * patch_h, (pr + 1) * patch_h):
                    for x in range(pc * patch_w, (pc + 1) * patch_w):
                        for c in range(channels):
                            g.append((y * width + x) * channels + c if layout == "hwc"
                                     else c * height * width + y * width + x)
                groups.append(g)
        return cls.from_groups(groups, (height // patch_h, width // patch_w))

    @property
    def indices(self):
        return self._indices

    @property
    def offsets(self):
        return self._offsets

    def __repr__(self) -> str:
        return "IndexBlocks(count=%d, coordinates=%d)" % (self.count, len(self._indices))


def _flatten(v):
    if isinstance(v, (list, tuple)):
        out = []
        for e in v:
            out.extend(_flatten(e))
        return out
    return [v]


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


def _address_of_array(a) -> int:
    if _np is not None and isinstance(a, _np.ndarray):
        return a.ctypes.data
    return a.buffer_info()[0]
