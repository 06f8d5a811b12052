"""The ctypes signatures of the package (python/libfi/_protos.py) against include/fi.h.

The header is parsed here (comments stripped, every FI_API declaration, the typedef'd structs
and function pointers) and each prototype is compared argument by argument with what the C
type requires, so that fi.h and the binding cannot drift: a function added to fi.h without a
prototype, a changed argument, a struct field added or retyped all fail this test."""

import ctypes
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, os.pardir, os.pardir))
HEADER = os.path.join(ROOT, "include", "fi.h")
if os.environ.get("LIBFI_TEST_INSTALLED") != "1":
    sys.path.insert(0, os.path.join(ROOT, "python"))
import libfi  # noqa: E402
from libfi import _protos  # noqa: E402
from libfi.blocks import Blocks, _CIndexBlocks  # noqa: E402

SCALARS = {"int": ctypes.c_int, "unsigned": ctypes.c_uint, "double": ctypes.c_double,
           "size_t": ctypes.c_size_t, "int64_t": ctypes.c_int64, "uint64_t": ctypes.c_uint64,
           "uint8_t": ctypes.c_uint8, "fi_dtype": ctypes.c_int}  # enums are int-sized here
STRUCTS = {"fi_blocks": Blocks, "fi_index_blocks": _CIndexBlocks}


def header_text():
    with open(HEADER) as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def parse_type(decl, named=True):
    """'const double *probs' -> ('double', 1); the name, if any, is dropped."""
    words = decl.replace("*", " * ").split()
    words = [w for w in words if w not in ("const", "struct", "enum")]
    if named and len(words) > 1 and words[-1] != "*":
        words = words[:-1]
    stars = words.count("*")
    base = " ".join(w for w in words if w != "*")
    return base, stars


def parse_functions(text):
    """{name: (return type, [argument types])} of every FI_API declaration."""
    out = {}
    pat = re.compile(r"FI_API\s+(?:FI_NODISCARD\s+)?([\w\s\*]+?)\b(fi_\w+)\s*\(([^)]*)\)\s*;",
                     re.S)
    for ret, name, args in pat.findall(text):
        args = " ".join(args.split())
        params = [] if args in ("", "void") else [parse_type(a) for a in args.split(",")]
        out[name] = (parse_type(ret, named=False), params)
    return out


def parse_structs(text):
    """{typedef name: [(field type, field name)]} of the public structs."""
    out = {}
    for body, name in re.findall(r"typedef\s+struct\s+\w+\s*\{([^}]*)\}\s*(\w+)\s*;", text):
        fields = []
        for line in body.split(";"):
            line = " ".join(line.split())
            if line:
                typ = parse_type(line)
                fname = line.replace("*", " ").split()[-1]
                fields.append((typ, fname))
        out[name] = fields
    return out


def parse_function_pointers(text):
    """{typedef name: (return type, [argument types])} of the function pointer typedefs."""
    out = {}
    for ret, name, args in re.findall(r"typedef\s+([\w\s\*]+?)\(\s*\*\s*(\w+)\s*\)\s*\(([^)]*)\)",
                                      text):
        out[name] = (parse_type(ret, named=False),
                     [parse_type(a) for a in " ".join(args.split()).split(",")])
    return out


def allowed(ctype, fnptrs):
    """The ctypes types that faithfully pass a value of the C type (base, stars)."""
    base, stars = ctype
    if stars == 0:
        if base == "void":
            return (None,)
        if base in SCALARS:
            return (SCALARS[base],)
        if base in fnptrs:
            return ("fnptr:" + base,)
        raise AssertionError("no ctypes mapping for the C type %r" % base)
    if stars == 1:
        if base == "char":
            return (ctypes.c_char_p,)
        if base in STRUCTS:
            return (ctypes.POINTER(STRUCTS[base]),)
        typed = (ctypes.POINTER(SCALARS[base]),) if base in SCALARS else ()
        return (ctypes.c_void_p,) + typed  # addresses of arrays are passed as ints
    if stars == 2:
        return (ctypes.POINTER(ctypes.c_void_p),)  # handle out-parameters
    raise AssertionError("no ctypes mapping for %r with %d stars" % (base, stars))


def matches(py, ctype, fnptrs):
    ok = allowed(ctype, fnptrs)
    if isinstance(ok[0], str) and ok[0].startswith("fnptr:"):
        ret, args = fnptrs[ok[0][6:]]
        return (hasattr(py, "_restype_") and py._restype_ in allowed(ret, fnptrs)
                and len(py._argtypes_) == len(args)
                and all(a in allowed(c, fnptrs) for a, c in zip(py._argtypes_, args)))
    return py in ok


class TestSignatures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        text = header_text()
        cls.functions = parse_functions(text)
        cls.structs = parse_structs(text)
        cls.fnptrs = parse_function_pointers(text)

    def test_parser_sees_the_header(self):
        # The parser must find the core API, or every other test here would pass vacuously.
        for name in ("fi_context_create", "fi_metric_from_scores", "fi_compute", "fi_direct",
                     "fi_accumulator_add", "fi_context_set_allocator"):
            self.assertIn(name, self.functions)
        self.assertGreaterEqual(len(self.functions), 38)
        self.assertEqual(set(self.structs), {"fi_blocks", "fi_index_blocks"})
        self.assertEqual(set(self.fnptrs), {"fi_alloc_fn", "fi_free_fn"})

    def test_every_header_function_has_a_prototype_and_no_other(self):
        missing = sorted(set(self.functions) - set(_protos.PROTOS))
        extra = sorted(set(_protos.PROTOS) - set(self.functions))
        self.assertEqual(missing, [], "functions of fi.h without a prototype in "
                         "python/libfi/_protos.py: add them there")
        self.assertEqual(extra, [], "prototypes of functions fi.h does not declare")

    def test_every_prototype_matches_the_header(self):
        for name, (ret, args) in sorted(self.functions.items()):
            if name not in _protos.PROTOS:
                continue
            with self.subTest(function=name):
                restype, argtypes = _protos.PROTOS[name]
                self.assertTrue(matches(restype, ret, self.fnptrs),
                                "%s returns %r, prototype says %r" % (name, ret, restype))
                self.assertEqual(len(argtypes), len(args), "%s: number of arguments" % name)
                for i, (py, c) in enumerate(zip(argtypes, args)):
                    self.assertTrue(matches(py, c, self.fnptrs),
                                    "%s argument %d is %r, prototype says %r"
                                    % (name, i, c, py))

    def test_structs_match_the_header(self):
        for cname, fields in self.structs.items():
            py = STRUCTS[cname]
            with self.subTest(struct=cname):
                self.assertEqual([f[0] for f in py._fields_], [f[1] for f in fields])
                for (pname, ptype), (ctype, fname) in zip(py._fields_, fields):
                    self.assertIn(ptype, allowed(ctype, self.fnptrs), "%s.%s" % (cname, fname))

    def test_the_library_exports_every_prototype(self):
        lib = libfi.library()
        missing = [n for n in _protos.PROTOS if not lib.has(n)]
        self.assertEqual(missing, [], "%s lacks these functions" % lib.path)

    def test_header_constants_equal_the_library_constants(self):
        # The package reads every constant through fi_constant: it must agree with fi.h.
        text = header_text()
        consts = dict(re.findall(r"#define\s+(FI_[A-Z0-9_]+)\s+(\d+)u?\b", text))
        for body in re.findall(r"typedef\s+enum\s+\w+\s*\{([^}]*)\}", text):
            consts.update(re.findall(r"(FI_[A-Z0-9_]+)\s*=\s*(\d+)", body))
        self.assertGreater(len(consts), 30)
        for name, value in sorted(consts.items()):
            with self.subTest(constant=name):
                self.assertEqual(libfi.constant(name), int(value))

    def test_a_drifted_prototype_is_caught(self):
        # The comparison itself must be able to fail: a retyped argument and a dropped one.
        ret, args = self.functions["fi_context_set"]
        self.assertFalse(matches(ctypes.c_float, args[2], self.fnptrs))
        self.assertFalse(matches(ctypes.c_int, args[1 - 1], self.fnptrs))  # ctx is a pointer
        self.assertFalse(matches(ctypes.c_int64, ("int", 0), self.fnptrs))
        self.assertFalse(matches(ctypes.c_void_p, ("fi_blocks", 1), self.fnptrs))


if __name__ == "__main__":
    unittest.main()
