#!/usr/bin/env python3
"""Keeps docs/api.md in step with include/fi.h and lib/libfi.so. Fails (exit 1, one line per
problem) when:
  - a public function, type, enumerator or macro of fi.h is not documented in docs/api.md;
  - a function's section lacks its exact prototype (as in the header, without FI_API and
    FI_NODISCARD, whitespace-insensitive), a parameter, or one of the parts every entry has:
    **Returns:** or **Statuses:**, **Ownership:**, **Thread safety:**;
  - a struct's section does not name each of its fields;
  - lib/libfi.so (nm -D) exports an fi_* symbol that is not in the header or not documented;
  - docs/api.md documents a function or names an FI_* constant the header does not have.
Plain python3, no third-party module. Usage: check_api_docs.py [header] [doc] [library]."""
import os
import re
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
HEADER = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "include", "fi.h")
DOC = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "docs", "api.md")
LIBRARY = sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "lib", "libfi.so")


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def norm(s):
    """Whitespace-insensitive form of a declaration."""
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r"\s*([(),;*])\s*", r"\1", s)
    return s


def parse_header(path):
    src = strip_comments(open(path, encoding="utf-8").read())
    # Join preprocessor continuation lines, then take macros out of the C text.
    src = src.replace("\\\n", " ")
    macros = re.findall(r"^\s*#\s*define\s+(FI_\w+)", src, flags=re.M)
    code = re.sub(r"^\s*#.*$", " ", src, flags=re.M)
    code = code.replace('extern "C" {', " ")
    functions = {}
    for m in re.finditer(r"FI_API\s+((?:FI_NODISCARD\s+)?[^;{}]*?\b(fi_\w+)\s*\(([^;]*?)\))\s*;",
                         code, flags=re.S):
        decl = m.group(1).replace("FI_NODISCARD", "")
        params = []
        for p in m.group(3).split(","):
            p = p.strip()
            if p and p != "void":
                params.append(re.findall(r"(\w+)\s*(?:\[\s*\])?$", p)[0])
        functions[m.group(2)] = (norm(decl + ";"), params)
    types = set(re.findall(r"typedef\s+(?:struct|enum)\s+\w+\s*(?:\{[^}]*\})?\s*(fi_\w+)\s*;",
                           code, flags=re.S))
    types |= set(re.findall(r"typedef[^;]*\(\s*\*\s*(fi_\w+)\s*\)", code))
    enumerators = []
    for body in re.findall(r"enum\s+\w+\s*\{([^}]*)\}", code, flags=re.S):
        enumerators += re.findall(r"\b(FI_\w+)\s*(?:=|,|$)", body)
    fields = {}
    for body, name in re.findall(r"typedef\s+struct\s+\w+\s*\{([^}]*)\}\s*(fi_\w+)\s*;", code,
                                 flags=re.S):
        fields[name] = re.findall(r"(\w+)\s*;", body)
    return functions, types, enumerators, macros, fields


def sections(doc):
    """'### name' heading -> the text up to the next heading of level <= 3."""
    out = {}
    parts = re.split(r"^(#{1,3} .*)$", doc, flags=re.M)
    for i in range(1, len(parts), 2):
        title = parts[i].lstrip("#").strip().strip("`")
        if parts[i].startswith("### "):
            out[title] = parts[i + 1]
    return out


def exported(path):
    try:
        out = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        print("check_api_docs: cannot list the symbols of %s (%s); build it with `make`"
              % (path, e))
        return None
    return {m.split("@")[0] for m in re.findall(r"\s[TDBRW]\s+(fi_\S+)", out)}


def main():
    functions, types, enumerators, macros, fields = parse_header(HEADER)
    doc = open(DOC, encoding="utf-8").read()
    secs = sections(doc)
    ticks = set(re.findall(r"`([^`\n]+)`", doc))
    doc_code = doc
    problems = []

    for name, (proto, params) in sorted(functions.items()):
        sec = secs.get(name)
        if sec is None:
            problems.append("function %s: no '### %s' section" % (name, name))
            continue
        if proto not in norm(sec):
            problems.append("function %s: prototype not shown as in fi.h: %s" % (name, proto))
        for p in params:
            if "`%s`" % p not in sec:
                problems.append("function %s: parameter `%s` not described" % (name, p))
        if "**Returns:**" not in sec and "**Statuses:**" not in sec:
            problems.append("function %s: no **Returns:** / **Statuses:**" % name)
        for part in ("**Ownership:**", "**Thread safety:**"):
            if part not in sec:
                problems.append("function %s: no %s" % (name, part))
    for t in sorted(types):
        if t not in secs:
            problems.append("type %s: no '### %s' section" % (t, t))
    for t, fs in sorted(fields.items()):
        for f in fs:
            if t in secs and "`%s`" % f not in secs[t]:
                problems.append("struct %s: field `%s` not described" % (t, f))
    for c in sorted(set(enumerators) | set(macros)):
        if c not in ticks and c not in secs:
            problems.append("constant %s: not documented (`%s` nowhere in docs/api.md)" % (c, c))

    known = set(functions) | types | set(enumerators) | set(macros)
    # Configuration macros the header tests but does not define (FI_NO_NODISCARD).
    mentioned = set(re.findall(r"\bFI_\w+", open(HEADER, encoding="utf-8").read()))
    for title in secs:
        if re.fullmatch(r"fi_\w+", title) and title not in known:
            problems.append("docs/api.md documents %s, which fi.h does not declare" % title)
    for c in sorted(set(re.findall(r"\bFI_[A-Z0-9_]*[A-Z0-9]\b(?!\*)", doc_code))):
        if c not in known and c not in mentioned:
            problems.append("docs/api.md names %s, which fi.h does not define" % c)

    syms = exported(LIBRARY)
    if syms is None:
        problems.append("no symbol list for %s" % LIBRARY)
    else:
        for s in sorted(syms):
            if s not in functions:
                problems.append("libfi.so exports %s, which fi.h does not declare" % s)

    if problems:
        for p in problems:
            print("check_api_docs: " + p)
        print("check_api_docs: %d problem(s)" % len(problems))
        return 1
    print("check_api_docs: %d functions, %d types, %d constants documented; %s exports %s "
          "fi_* symbols, all declared and documented"
          % (len(functions), len(types), len(set(enumerators) | set(macros)),
             os.path.basename(LIBRARY), len(syms)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
