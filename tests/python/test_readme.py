"""The Python code shown in README.md and docs/python.md runs, and prints what its comments
say (docs cannot rot). Every ```python block is executed in a fresh interpreter."""

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
        blocks = []
        for doc in ("README.md", os.path.join("docs", "python.md")):
            found = python_blocks(os.path.join(ROOT, doc))
            self.assertGreaterEqual(len(found), 1, "%s lost its Python example" % doc)
            blocks += found
        env = dict(os.environ)
        if env.get("LIBFI_TEST_INSTALLED") != "1":
            env["PYTHONPATH"] = os.path.join(ROOT, "python")
        for code in blocks:
            with self.subTest(code=code.splitlines()[0]):
                r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                   text=True, cwd=HERE)
                self.assertEqual(r.returncode, 0, r.stderr)
                # A comment on a print line is the output it promises.
                promised = [m.group(1) for m in (re.match(r"\s*print\(.*\)\s*#\s*(.*?)\s*$", l)
                                                 for l in code.splitlines()) if m]
                self.assertTrue(promised)
                for text in promised:
                    self.assertIn(text, r.stdout)


if __name__ == "__main__":
    unittest.main()
