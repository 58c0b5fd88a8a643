#!/usr/bin/env python3
"""attn-bench's files use each other in one direction only: bench.h has a section per file
("/* ==== name.c ==== */"), in layers, and a file may call the functions of the sections above
its own, never those below (main.c, which has no section, comes last). args.c calls none.
Usage: check-bench-layers.py bench.h file.c..."""
import os
import re
import sys


def sections(header):
    """[(file, {function names declared in its section})], in the header's order."""
    with open(header) as f:
        text = f.read()
    parts = re.split(r"^/\* ==== (\w+\.c) ==== \*/$", text, flags=re.M)
    out = []
    for name, body in zip(parts[1::2], parts[2::2]):
        body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
        declared = set(re.findall(r"^(?!typedef|struct|enum|#)[A-Za-z_][\w \*]*?\b(\w+)\(",
                                  body, re.M))
        out.append((name, declared))
    return out


def main():
    header, files = sys.argv[1], sys.argv[2:]
    layers = sections(header)
    order = [name for name, _ in layers]
    ok = True
    for path in files:
        name = os.path.basename(path)
        with open(path) as f:
            code = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
        code = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', code)  # string literals
        called = set(re.findall(r"\b\w+\b", code))  # calls, and functions passed as values
        rank = -1 if name == "args.c" else order.index(name) if name in order else len(order)
        for other, declared in layers:
            if other == name:
                continue
            uses = sorted(called & declared)
            if uses and order.index(other) >= rank:
                ok = False
                print("%s calls %s, which is not above it in bench.h: %s" %
                      (name, other, " ".join(uses)))
    print("%d files, %d layers" % (len(files), len(layers)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
