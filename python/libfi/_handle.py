"""The lifetime of a C object owned by a Python wrapper: close() frees it once, a closed
object raises ArgumentError before any C call, `with` closes it, pickling is refused (images
go through serialize() and the Context's deserialize_* instead)."""

import ctypes
from typing import Tuple

from .errors import ArgumentError

__all__ = ["Owned"]


class Owned(object):
    """Base of the wrappers of fi_metric, fi_accumulator, fi_mean, fi_threshold and
    fi_class_stream."""

    _free = ""        # the C function that frees the handle
    _info_name = ""   # what the object is called in messages

    def __init__(self, ctx, handle: int):
        self.ctx = ctx  # kept alive: every call goes through it
        self._handle = handle

    @property
    def handle(self) -> int:
        if not self._handle:
            raise ArgumentError("the %s is closed" % type(self).__name__)
        return self._handle

    @property
    def closed(self) -> bool:
        return not self._handle

    def close(self) -> None:
        h, self._handle = self._handle, None
        if h:
            self.ctx.lib.fn(self._free)(h)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _serialize(self, size_fn: str, write_fn: str) -> bytes:
        size = int(self.ctx.lib.fn(size_fn)(self.handle))
        buf = ctypes.create_string_buffer(size)
        self.ctx._run(write_fn, None, self.ctx.handle, self.handle, buf, size)
        return buf.raw

    def _same_kind(self, other, what: str) -> None:
        if not isinstance(other, type(self)):
            raise ArgumentError("%s needs another %s, got %s"
                                % (what, type(self).__name__, type(other).__name__), "other")
        other.handle  # a closed one fails here, before any C call

    def __reduce__(self) -> Tuple:
        raise TypeError("a %s owns a C object and cannot be pickled; where it has serialize(), "
                        "pickle its image and read it back with the Context's deserialize_*"
                        % type(self).__name__)
