"""How the libfi package finds, loads and checks the library (python/libfi/_loader.py), and
the constants it reads from it. Each search rule runs in a fresh interpreter."""

import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, os.pardir, os.pardir))
if os.environ.get("LIBFI_TEST_INSTALLED") != "1":
    sys.path.insert(0, os.path.join(ROOT, "python"))  # the source tree's package
import libfi  # noqa: E402


# ---------------------------------------------------------------- loading and constants


class TestLoading(unittest.TestCase):
    def test_version_and_constants_come_from_the_library(self):
        major, minor, patch = (int(x) for x in libfi.version().split("."))
        self.assertEqual(libfi.FI_VERSION_NUMBER, major * 10000 + minor * 100 + patch)
        self.assertEqual(libfi.FI_OK, 0)
        codes = [libfi.constant(n) for n in libfi._STATUS_NAMES[1:]]
        self.assertEqual(len(set(codes)), len(codes), "status codes must be distinct")
        self.assertTrue(all(c > 0 for c in codes))
        with self.assertRaises(AttributeError):
            libfi.FI_NO_SUCH_CONSTANT

    def test_libfi_path_is_final(self):
        script = "import libfi; print(libfi.library().path)"
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
        env["LIBFI_PATH"] = os.path.join(ROOT, "lib")
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True, check=True).stdout.strip()
        self.assertEqual(os.path.dirname(out), os.path.join(ROOT, "lib"))
        env["LIBFI_PATH"] = "/nonexistent/libfi.so.1"
        r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("/nonexistent/libfi.so.1", r.stderr)
        self.assertIn("LIBFI_PATH", r.stderr)


class TestLoader(unittest.TestCase):
    """The search order of python/libfi/_loader.py, in fresh interpreters."""

    def run_py(self, code, **env_changes):
        env = {k: v for k, v in os.environ.items() if k not in ("LIBFI_PATH", "LD_LIBRARY_PATH")}
        if os.environ.get("LIBFI_TEST_INSTALLED") != "1":
            env["PYTHONPATH"] = os.path.join(ROOT, "python")
        env.update(env_changes)
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, cwd="/")

    LOADED = ("import libfi, os; lib = libfi.library(); "
              "maps = open('/proc/self/maps').read(); "
              "print(lib.path); print([l.split()[-1] for l in maps.splitlines() "
              "if 'libfi.so' in l][0])")

    def test_found_without_libfi_path(self):
        if os.environ.get("LIBFI_TEST_INSTALLED") == "1":
            # Installed: through the dynamic linker's search for the SONAME.
            r = self.run_py(self.LOADED, LD_LIBRARY_PATH=os.path.join(ROOT, "lib"))
            self.assertEqual(r.returncode, 0, r.stderr)
            path, mapped = r.stdout.split()
            self.assertEqual(path, "libfi.so.1")
        else:
            # Source tree: its own lib/, before anything installed on the system.
            r = self.run_py(self.LOADED)
            self.assertEqual(r.returncode, 0, r.stderr)
            path, mapped = r.stdout.split()
            self.assertEqual(os.path.dirname(path), os.path.join(ROOT, "lib"))
        self.assertEqual(os.path.realpath(mapped),
                         os.path.realpath(os.path.join(ROOT, "lib", "libfi.so.1")))

    def test_not_found_says_what_to_do(self):
        r = self.run_py("import libfi; libfi.library()", LIBFI_PATH="/nonexistent/dir/")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("LibraryNotFound", r.stderr)
        self.assertIn("make install", r.stderr)
        self.assertIn("LIBFI_PATH", r.stderr)

    def test_other_abi_version_is_refused(self):
        import shutil
        import tempfile
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc is None:
            self.fail("no C compiler to build the fake library")
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        src = os.path.join(d, "fake.c")
        with open(src, "w") as f:
            f.write("#include <stdint.h>\n"
                    "unsigned fi_version_number(void) { return 20001; }\n"
                    "const char *fi_version_string(void) { return \"2.0.1\"; }\n"
                    "int fi_constant(const char *n, int64_t *v) { (void)n; *v = 0; return 0; }\n")
        so = os.path.join(d, "libfi.so.1")
        subprocess.run([cc, "-shared", "-fPIC", "-o", so, src], check=True)
        r = self.run_py("import libfi; libfi.library()", LIBFI_PATH=so)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("LibraryVersionError", r.stderr)
        self.assertIn("2.0.1", r.stderr)
        self.assertIn("ABI 1", r.stderr)



if __name__ == "__main__":
    unittest.main()
