"""Finding, loading and checking the libfi shared library.

Search order (the first that loads and passes the version check wins):
  1. $LIBFI_PATH: a libfi.so file, or a directory holding libfi.so.1. An explicit choice is
     final: when it fails there is no silent fallback to another copy.
  2. the lib/ directory of the source tree, when this package is imported from one
     (python/libfi inside a checkout that has include/fi.h and a built lib/libfi.so.1);
  3. the dynamic linker's search for the SONAME libfi.so.1 (ld.so.cache: make install
     followed by ldconfig, LD_LIBRARY_PATH);
  4. ctypes.util.find_library("fi") (ldconfig -p, then the compiler's search path);
  5. the default install directories of `make install` (/usr/local/lib, /usr/lib/<triplet>),
     for an install that ldconfig has not seen yet.
The library must be ABI version 1 (SONAME libfi.so.1) and at least MIN_VERSION.
"""

import ctypes
import ctypes.util
import os
import sysconfig
import threading
from typing import Dict, List, Optional

from ._protos import PROTOS, STATUS_NAMES
from .errors import FIError, FIUnavailable, LibraryNotFound, LibraryVersionError

__all__ = ["Library", "load", "library", "MIN_VERSION", "ABI_MAJOR"]

ABI_MAJOR = 1
MIN_VERSION = (1, 1, 0)  # fi_direct*, FI_BF16/FI_F16 and FI_OPT_ISA are used without checks
SONAME = "libfi.so.%d" % ABI_MAJOR

_HINT = ("Build and install libfi (`make && make install && ldconfig` in the libfi source tree), "
         "or point LIBFI_PATH at libfi.so.1 or the directory that holds it")


class Library(object):
    """One loaded libfi: its functions (typed on first use) and its constants."""

    def __init__(self, path: str):
        self.path = path
        self._dll = ctypes.CDLL(path)
        self._fns: Dict[str, object] = {}
        self._consts: Dict[str, int] = {}
        if not self.has("fi_constant") or not self.has("fi_version_number"):
            raise OSError("%s does not look like libfi (no fi_constant)" % path)
        self.version_number = int(self.fn("fi_version_number")())
        major = self.version_number // 10000
        need = MIN_VERSION[0] * 10000 + MIN_VERSION[1] * 100 + MIN_VERSION[2]
        if major != ABI_MAJOR or self.version_number < need:
            raise LibraryVersionError(
                "%s is libfi %s; this package needs ABI %d, version >= %s. %s"
                % (path, self.version(), ABI_MAJOR, ".".join(map(str, MIN_VERSION)), _HINT))
        self.status_names: Dict[int, str] = {}
        for name in STATUS_NAMES:
            try:
                self.status_names[self.constant(name)] = name
            except KeyError:
                pass

    def has(self, name: str) -> bool:
        """True when the library exports the function name."""
        try:
            getattr(self._dll, name)
            return True
        except AttributeError:
            return False

    def fn(self, name: str):
        """The typed ctypes function name; FIUnavailable when it is not exported."""
        f = self._fns.get(name)
        if f is None:
            try:
                f = getattr(self._dll, name)
            except AttributeError:
                raise FIUnavailable("%s is not exported by %s (libfi %s)"
                                    % (name, self.path, self.version()))
            f.restype, f.argtypes = PROTOS[name]
            self._fns[name] = f
        return f

    def constant(self, name: str) -> int:
        """Value of the public constant name, read with fi_constant. KeyError if unknown."""
        v = self._consts.get(name)
        if v is None:
            out = ctypes.c_int64()
            st = self.fn("fi_constant")(name.encode("ascii"), ctypes.byref(out))
            if st != 0:
                raise KeyError("libfi has no constant %r (status %d)" % (name, st))
            v = self._consts[name] = int(out.value)
        return v

    def strerror(self, status: int) -> str:
        return self.fn("fi_strerror")(int(status)).decode("utf-8", "replace")

    def version(self) -> str:
        return self.fn("fi_version_string")().decode("ascii", "replace")

    def error(self, status: int, message: str, function: str = "") -> FIError:
        """The FIError for status, message defaulting to fi_strerror's text."""
        return FIError(status, message or self.strerror(status), function,
                       self.status_names.get(int(status), ""))


def _source_tree_lib() -> List[str]:
    """lib/libfi.so.1 of the checkout this package sits in (python/libfi/ -> ../../lib)."""
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, os.pardir, os.pardir))
    if not os.path.exists(os.path.join(root, "include", "fi.h")):
        return []  # an installed package: no source tree around it
    return [p for p in (os.path.join(root, "lib", leaf) for leaf in (SONAME, "libfi.so"))
            if os.path.exists(p)]


def _install_dirs() -> List[str]:
    dirs = ["/usr/local/lib", "/usr/local/lib64"]
    triplet = sysconfig.get_config_var("MULTIARCH")
    if triplet:
        dirs += ["/usr/local/lib/" + triplet, "/usr/lib/" + triplet]
    dirs += ["/usr/lib", "/usr/lib64"]
    return [os.path.join(d, SONAME) for d in dirs if os.path.exists(os.path.join(d, SONAME))]


def candidate_paths() -> List[str]:
    """Where load() looks, in order (see the module doc)."""
    env = os.environ.get("LIBFI_PATH")
    if env:
        if os.path.isdir(env):
            for leaf in (SONAME, "libfi.so"):
                if os.path.exists(os.path.join(env, leaf)):
                    return [os.path.join(env, leaf)]
            return [os.path.join(env, SONAME)]
        return [env]
    paths = _source_tree_lib() + [SONAME]
    found = ctypes.util.find_library("fi")
    if found:
        paths.append(found)
    for p in _install_dirs():
        if p not in paths:
            paths.append(p)
    return paths


_default: Optional[Library] = None
_default_lock = threading.Lock()


def load(path: Optional[str] = None) -> Library:
    """Loads libfi (from path, or by the search order of this module) and makes it the
    library used by default. Returns the Library; LibraryNotFound / LibraryVersionError
    (both OSError) say what was tried and what to do."""
    global _default
    paths = [path] if path else candidate_paths()
    errors = []
    version_error = None
    for p in paths:
        try:
            lib = Library(p)
        except LibraryVersionError as e:
            version_error = e
            errors.append(str(e))
            continue
        except OSError as e:
            errors.append("%s: %s" % (p, e))
            continue
        with _default_lock:
            _default = lib
        return lib
    tried = "; ".join(errors) if errors else "no candidate"
    if version_error is not None and len(errors) == 1:
        raise version_error
    where = " (LIBFI_PATH=%s)" % os.environ["LIBFI_PATH"] if os.environ.get("LIBFI_PATH") else ""
    raise LibraryNotFound("libfi not found%s. %s. Tried: %s" % (where, _HINT, tried))


def library() -> Library:
    """The default Library, loaded on first use."""
    lib = _default
    return lib if lib is not None else load()
