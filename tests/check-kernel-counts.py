#!/usr/bin/env python3
"""tools/kernel-counts on tiny problems under oclgrind: its report must parse, hold the counts
of every kernel launched, and give positive, finite figures; with no counts in oclgrind's output
it must fail. Skipped (77) only when oclgrind is not installed (.ci/trust installs it).
Usage: check-kernel-counts.py TOOL ATTN-BENCH"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

PREFILL = ("fmas_per_local_load", "instructions_per_fma", "global_bytes_per_fma",
           "bytes_per_global_load")
DECODE = ("instructions_per_kv_element", "global_load_bytes_per_kv_byte")
LABELS = {"fmas_per_local_load": "useful FMAs per __local load",
          "instructions_per_fma": "instructions per useful FMA",
          "global_bytes_per_fma": "global bytes per useful FMA",
          "bytes_per_global_load": "bytes per global load",
          "instructions_per_kv_element": "instructions per K/V element",
          "global_load_bytes_per_kv_byte": "global bytes loaded / K/V needed"}


class Failed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Failed(message)


def sanitizer_env(scratch):
    """The environment for an attn-bench built with ASan (.ci/trust): oclgrind preloads its
    runtime ahead of ASan's, and leaks its counter's per-thread state; clattn's own leaks are
    still reported, under the suppressions already in force."""
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"),
                                                 "verify_asan_link_order=0"]))
    options = [o for o in env.get("LSAN_OPTIONS", "").split(":") if o]
    lines = ["leak:liboclgrind"]
    for option in options:
        if option.startswith("suppressions="):
            with open(option.split("=", 1)[1]) as f:
                lines.append(f.read())
    suppressions = os.path.join(scratch, "lsan.supp")
    with open(suppressions, "w") as f:
        f.write("\n".join(lines) + "\n")
    options = [o for o in options if not o.startswith("suppressions=")]
    env["LSAN_OPTIONS"] = ":".join(options + ["suppressions=" + suppressions])
    return env


def run_tool(tool, bench, scratch, options, bench_args, oclgrind="oclgrind"):
    out = os.path.join(scratch, "counts.json")
    if os.path.exists(out):
        os.remove(out)
    command = [sys.executable, tool, "--attn-bench", bench, "--oclgrind", oclgrind,
               "--json", out] + options + ["--"] + bench_args
    done = subprocess.run(command, capture_output=True, text=True, env=sanitizer_env(scratch))
    return done, out


def positive(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def check_report(done, out, figures):
    expect(done.returncode == 0, "exit status %d:\n%s%s"
           % (done.returncode, done.stdout, done.stderr))
    lines = done.stdout.splitlines()
    expect(len(lines) > 2 and lines[0].startswith("# ") and "kernel-counts" in lines[0],
           "the report does not start with the tool's command:\n" + done.stdout)
    expect(lines[1].startswith("# ran: ") and "oclgrind --inst-counts" in lines[1]
           and "CLATTN_CACHE_DIR=off" in lines[1],
           "the report's second line is not the command it ran:\n" + done.stdout)
    with open(out) as f:
        report = json.load(f)
    kernels, total = report["kernels"], report["total"]
    expect(kernels, "no kernels in the report")
    for name, values in kernels.items():
        expect(values["launches"] >= 1 and values["instructions"] > 0,
               "kernel %s: %r" % (name, values))
    for key in ("launches", "instructions", "local_loads", "global_loads", "global_load_bytes"):
        expect(total[key] == sum(v[key] for v in kernels.values()),
               "total %s is not the sum over kernels" % key)
    for key in figures:
        expect(positive(total[key]), "total %s is %r" % (key, total[key]))
        # the text report's line for it, whose last column is the total
        line = next((line for line in lines if line.startswith(LABELS[key] + " ")), "")
        expect(positive(last_number(line)), "text report: %r for %s" % (line, LABELS[key]))
    return report


def last_number(line):
    try:
        return float(line.split()[-1])
    except (ValueError, IndexError):
        return None


def main():
    tool, bench = sys.argv[1:3]
    if not shutil.which("oclgrind"):
        print("oclgrind is not installed")
        return 77
    with tempfile.TemporaryDirectory() as scratch:
        # Prefill: useful FMAs are 2 * B * H * Nq * Nk * d unmasked.
        done, out = run_tool(tool, bench, scratch, [],
                             ["--algo", "tiled", "--batch", "1", "--heads", "2", "--seq", "32",
                              "--head-dim", "16"])
        report = check_report(done, out, PREFILL)
        expect(report["problem"]["useful_fmas"] == 2 * 2 * 32 * 32 * 16,
               "useful FMAs %r" % report["problem"]["useful_fmas"])

        # Decode in f16, whose K/V loads are vload_half calls to oclgrind: every K/V byte
        # needed is read at least once, in loads of 2 bytes or more. Four compute units split
        # the keys, so that partial results are merged by a kernel of its own.
        done, out = run_tool(tool, bench, scratch, ["--compute-units", "4"],
                             ["--algo", "decode", "--heads", "4", "--kv-heads", "2", "--seq-q",
                              "1", "--seq-kv", "512", "--head-dim", "16", "--dtype", "f16"])
        report = check_report(done, out, PREFILL + DECODE)
        total = report["total"]
        expect(report["problem"]["kv_elements"] == 2 * 2 * 512 * 16,
               "K/V elements %r" % report["problem"]["kv_elements"])
        expect(total["global_load_bytes_per_kv_byte"] >= 1,
               "K/V bytes read / needed %r < 1" % total["global_load_bytes_per_kv_byte"])
        expect(total["bytes_per_global_load"] >= 2,
               "bytes per global load %r" % total["bytes_per_global_load"])

        # oclgrind without its counter: nothing to parse, which must fail, not report zeros.
        fake = os.path.join(scratch, "oclgrind-without-counter")
        with open(fake, "w") as f:
            f.write('#!/bin/sh\nshift\nexec oclgrind "$@"\n')
        os.chmod(fake, 0o755)
        done, out = run_tool(tool, bench, scratch, [],
                             ["--algo", "tiled", "--heads", "1", "--seq", "16", "--head-dim",
                              "16"], oclgrind=fake)
        expect(done.returncode == 1 and "no kernel counts" in done.stderr,
               "without counts: exit status %d, %r" % (done.returncode, done.stderr))
        expect(not os.path.exists(out), "without counts a JSON report was written")
    print("ok")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failed as e:
        print("FAIL: %s" % e)
        sys.exit(1)
