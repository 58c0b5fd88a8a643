#!/usr/bin/env python3
"""The shared library exports exactly the functions clattn.h declares with CLATTN_API, and
lib/clattn.sym lists exactly those (libinput's symbols-leak test, libdrm's symbols-check).
Usage: check-symbols.py libclattn.so clattn.h clattn.sym"""
import re
import subprocess
import sys


def main():
    lib, header, symfile = sys.argv[1:4]
    with open(header) as f:
        declared = set(re.findall(r"CLATTN_API\s[^;(]*?\b(clattn_\w+)\s*\(", f.read()))
    with open(symfile) as f:
        listed = set(re.findall(r"^\s+(clattn_\w+);", f.read(), re.M))
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True,
                         text=True).stdout
    exported = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRVWiu" and not parts[2].startswith("CLATTN_"):
            exported.add(parts[2].split("@")[0])
    ok = True
    for name, extra in (("exported but not in clattn.h", exported - declared),
                        ("in clattn.h but not exported", declared - exported),
                        ("in clattn.h but not in clattn.sym", declared - listed),
                        ("in clattn.sym but not in clattn.h", listed - declared)):
        if extra:
            ok = False
            print("%s: %s" % (name, " ".join(sorted(extra))))
    print("%d functions declared, %d exported" % (len(declared), len(exported)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
