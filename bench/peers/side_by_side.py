#!/usr/bin/env python3
"""clattn's rows beside PyTorch's, from attn-bench's and torch_sdpa.py's JSON files.

Usage: side_by_side.py --torch TORCH.json [--peak GFLOPS] [--json OUT] ATTN_BENCH.json...

Prints one line per row of TORCH.json with the attn-bench row of the same problem beside it:
the same dtype, head_dim, heads, kv heads, lengths and mask. A decoding step (one query row) is
matched with attn-bench's decode row: clattn's causal mask, aligned bottom-right, shows that row
every key, as PyTorch's unmasked call does. Only the Python standard library is used.
"""
import argparse
import json
import sys


def key(row):
    # one query row aligned bottom-right sees every key: causal or not is the same problem
    causal = bool(row["causal"]) and row["seq_q"] > 1
    return (row["dtype"], row["head_dim"], row["heads"], row["kv_heads"], row["seq_q"],
            row["seq_kv"], causal)


def clattn_rows(paths):
    rows = {}
    for path in paths:
        with open(path) as f:
            report = json.load(f)
        for row in report["rows"]:
            # tiled for the sweep's problems; decode, not tiled, for a decoding step
            if row["algo"] == ("decode" if row["seq_q"] == 1 else "tiled"):
                rows[key(row)] = dict(row, command=report["command"])
    return rows


def percent(gflops, peak):
    return "%.1f%%" % (100.0 * gflops / peak) if peak else "-"


SHAPE = "%-6s %-5s %4s %-6s %6s %7s"
CLATTN = "%9s %9s %9s %6s"
TORCH = "%9s %9s %6s"
GROUPS = "%s | %s | %s | %8s"
HEADER = GROUPS % (SHAPE % ("part", "dtype", "d", "causal", "seq_q", "seq_kv"),
                   CLATTN % ("ms", "wall ms", "GFLOP/s", "%peak"),
                   TORCH % ("ms", "GFLOP/s", "%peak"), "speed-up")
TITLES = GROUPS % ("".ljust(len(SHAPE % (("",) * 6))),
                   "clattn".ljust(len(CLATTN % (("",) * 4))),
                   "PyTorch".ljust(len(TORCH % (("",) * 3))), "")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--torch", required=True, help="torch_sdpa.py's --json file")
    p.add_argument("--peak", type=float, help="the device's measured peak, GFLOP/s")
    p.add_argument("--json", help="also write the matched rows to this file")
    p.add_argument("attn_bench", nargs="+", help="attn-bench --json files")
    args = p.parse_args()
    with open(args.torch) as f:
        torch_report = json.load(f)
    clattn = clattn_rows(args.attn_bench)

    print("clattn: attn-bench, tiled (decode for the decoding step); ms = device time, wall ms "
          "= enqueue to clFinish,")
    print("        GFLOP/s from device time, each the median of its runs")
    print("PyTorch %s: torch.nn.functional.scaled_dot_product_attention, %d threads; ms = wall "
          "clock of one call" % (torch_report["torch_version"], torch_report["threads"]))
    print("%%peak:  of %s; speed-up: PyTorch's ms / clattn's wall ms"
          % ("%.1f GFLOP/s, attn-bench --peak" % args.peak if args.peak else "no peak given"))
    print()
    print(TITLES.rstrip())
    print(HEADER)
    matched, missing = [], 0
    for t in torch_report["rows"]:
        c = clattn.get(key(t))
        shape = SHAPE % (t["part"], t["dtype"], t["head_dim"], "yes" if t["causal"] else "no",
                         t["seq_q"], t["seq_kv"])
        theirs = TORCH % ("%.3f" % t["ms"], "%.2f" % t["gflops"],
                          percent(t["gflops"], args.peak))
        if c is None:
            missing += 1
            print(GROUPS % (shape, "(no attn-bench row)".ljust(len(CLATTN % (("",) * 4))),
                            theirs, "-"))
            continue
        ours = CLATTN % ("%.3f" % c["ms"], "%.3f" % c["ms_wall"], "%.2f" % c["gflops"],
                         percent(c["gflops"], args.peak))
        print(GROUPS % (shape, ours, theirs, "%.2fx" % (t["ms"] / c["ms_wall"])))
        matched.append({"clattn": c, "torch": t})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"peak_gflops": args.peak, "torch_version": torch_report["torch_version"],
                       "torch_build": torch_report["build"],
                       "torch_threads": torch_report["threads"],
                       "torch_command": torch_report["command"], "rows": matched}, f, indent=1)
    if missing:
        print("%d PyTorch rows had no attn-bench row beside them" % missing, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
