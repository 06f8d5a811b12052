#!/usr/bin/env python3
"""The layering rules of docs/architecture.md, checked on the sources: which internal headers
each layer of src/ may include. A file that reaches a layer above its own (say a kernel that
includes an entry point's header) fails `make check`. Files directly in src/ (no layer folder
yet) are held to the rules of an entry point."""
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SRC = os.path.join(ROOT, "src")

# layer -> the layers (folders of src/) whose headers it may include; "" is src/ itself
# (src/internal.h, the umbrella of the core headers).
ALLOWED = {
    "core": {"core"},
    "kernels": {"core", "kernels"},
    "linalg": {"core", "linalg"},
    "solve": {"core", "kernels", "solve"},
    "aggregate": {"core", "aggregate", ""},
    "api": {"core", "kernels", "linalg", "solve", "aggregate", ""},
    "": {"core", "kernels", "linalg", "solve", "aggregate", ""},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(rel):
    parts = rel.split("/")
    return parts[0] if len(parts) > 1 else ""


def main():
    problems = []
    files = 0
    for dirpath, _, names in os.walk(SRC):
        for name in sorted(names):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, SRC).replace(os.sep, "/")
            layer = layer_of(rel)
            if layer not in ALLOWED:
                problems.append("%s: src/%s/ is not a layer of docs/architecture.md" % (rel, layer))
                continue
            files += 1
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for inc in INCLUDE.findall(text):
                if inc == "fi.h":
                    continue
                target = layer_of(inc)
                if not os.path.exists(os.path.join(SRC, inc)):
                    problems.append("src/%s includes \"%s\", which is not src/%s" % (rel, inc, inc))
                elif target not in ALLOWED[layer]:
                    problems.append("src/%s (layer %s) includes \"%s\" (layer %s): not allowed"
                                    % (rel, layer or "src", inc, target or "src"))
    for p in problems:
        print("check_layers: " + p, file=sys.stderr)
    if problems or files == 0:
        print("check_layers: %d problem(s)" % len(problems), file=sys.stderr)
        return 1
    print("check_layers: %d files of src/ include only what their layer may use" % files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
