"""The Python code shown in README.md runs, and prints what its comments say (docs cannot rot).
Every ```python block of README.md is executed in a fresh interpreter."""

import os
import re
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, os.pardir, os.pardir))


def python_blocks(path):
    with open(path) as f:
        return re.findall(r"```python\n(.*?)```", f.read(), re.S)


class TestReadme(unittest.TestCase):
    def test_python_snippets_run(self):
        blocks = python_blocks(os.path.join(ROOT, "README.md"))
        self.assertGreaterEqual(len(blocks), 1, "README.md lost its Python example")
        env = dict(os.environ)
        if env.get("LIBFI_TEST_INSTALLED") != "1":
            env["PYTHONPATH"] = os.path.join(ROOT, "python")
        for code in blocks:
            with self.subTest(code=code.splitlines()[0]):
                r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                   text=True, cwd=HERE)
                self.assertEqual(r.returncode, 0, r.stderr)
                # A "# (shape) (shape)" comment on a print line is the output it promises.
                for line in code.splitlines():
                    m = re.match(r"\s*print\(.*\)\s*#\s*(\(.*\))\s*$", line)
                    if m:
                        self.assertIn(m.group(1), r.stdout)


if __name__ == "__main__":
    unittest.main()
