#!/usr/bin/env python3
"""Keeps the tables of docs/examples.md and docs/transformer.md equal to the files that
`make experiments` writes into docs/tables/.

In a doc, a generated table sits between two markers:

    <!-- table: docs/tables/mlp_zeroing.md -->
    ...the file's content, without its first "written by" comment line...
    <!-- end table -->

--write replaces every such span by the file's current content (run by `make experiments`);
--check (run by `make check`) fails, naming the table, when a span differs from its file or
a file is missing. Standard library only."""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "docs" / "examples.md", ROOT / "docs" / "transformer.md"]
SPAN = re.compile(r"(<!-- table: (\S+) -->\n)(.*?)(<!-- end table -->)", re.S)


def body(rel):
    lines = (ROOT / rel).read_text().splitlines(keepends=True)
    if lines and lines[0].startswith("<!--"):
        lines = lines[1:]
    return "".join(lines)


def main(argv):
    if len(argv) != 2 or argv[1] not in ("--write", "--check"):
        print(__doc__)
        return 2
    bad, spans = [], 0
    for doc in DOCS:
        text = doc.read_text()

        def replace(m):
            nonlocal spans
            spans += 1
            rel = m.group(2)
            if not (ROOT / rel).is_file():
                bad.append(f"{doc.name}: {rel} does not exist (run `make experiments`)")
                return m.group(0)
            want = body(rel)
            if m.group(3) != want:
                bad.append(f"{doc.name}: the table from {rel} differs from the file")
            return m.group(1) + want + m.group(4)

        new = SPAN.sub(replace, text)
        if argv[1] == "--write" and new != text:
            doc.write_text(new)
    if argv[1] == "--write":
        print(f"example_tables: {spans} tables written into the docs")
        return 0
    for line in bad:
        print("example_tables:", line)
    print(f"example_tables: {spans} tables, {len(bad)} out of date")
    return 1 if bad or spans == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
