"""The exceptions of libfi.

Every status other than FI_OK becomes an FIError carrying the int code, its name and the
context's specific message. Problems Python can see before calling C (a CUDA tensor, a shape
that does not match, an array that would have to be copied when copies are forbidden) raise
ValueError / TypeError subclasses defined here, so no bad argument ever reaches the library.
"""

from typing import Optional

__all__ = ["FIError", "FIUnavailable", "LibraryNotFound", "LibraryVersionError",
           "ArgumentError", "CopyRefused"]


class FIError(Exception):
    """A libfi call returned a status other than FI_OK.

    code     -- the int status (compare with libfi.FI_ERR_DIMENSION etc.); also .status
    name     -- its name, e.g. "FI_ERR_DIMENSION" ("" when the library does not know it)
    message  -- the context's detail of the failure (fi_context_error), or fi_strerror's text
    function -- the C function that failed
    """

    def __init__(self, status: int, message: str, function: str = "", name: str = ""):
        self.code = int(status)
        self.message = message
        self.function = function
        self.name = name
        where = function + ": " if function else ""
        label = name or "status %d" % self.code
        super().__init__("%s%s (%s)" % (where, message, label))

    @property
    def status(self) -> int:
        """The int status code (the name used before 1.2: same as code)."""
        return self.code


class FIUnavailable(NotImplementedError):
    """The loaded libfi does not export a function this package wants (an older library)."""


class LibraryNotFound(OSError):
    """No libfi shared library could be loaded; the message lists what was tried and what to
    do (make install + ldconfig, or LIBFI_PATH)."""


class LibraryVersionError(OSError):
    """The loaded libfi has another ABI major version, or is older than this package needs."""


class ArgumentError(ValueError):
    """An argument rejected before any C call: wrong device, dtype, shape or layout."""

    def __init__(self, message: str, argument: Optional[str] = None):
        self.argument = argument
        super().__init__(message)


class CopyRefused(ArgumentError):
    """An input would have to be copied or converted, and the Context forbids copies."""
