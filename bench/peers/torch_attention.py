#!/usr/bin/env python3
"""PyTorch's attention on the same problems as attn-bench's sweep, for comparison.

Runs when PyTorch is installed (Debian: python3-torch; or pip). Uses
torch.nn.functional.scaled_dot_product_attention when this PyTorch has it (2.0 and later),
else the unfused softmax(Q K^T * scale) V that PyTorch 1.x users write. Shapes follow
attn-bench's sweep: batch 1, heads 8, head_dim 64 (--head-dim), f32, causal and not, seq
512 .. 8192. Prints a table and, with --json FILE, writes the rows as attn-bench does
(algo, seq_q, seq_kv, head_dim, causal, ms, gflops), FLOPs counted the same way (4 * d per
visible pair), median of --iters timed runs after one untimed.

Usage: torch_attention.py [--head-dim D] [--iters N] [--threads T] [--json FILE]
"""
import argparse
import json
import statistics
import sys
import time


def visible_pairs(n, causal):
    return n * (n + 1) // 2 if causal else n * n


def attention(torch, q, k, v, causal):
    sdpa = getattr(torch.nn.functional, "scaled_dot_product_attention", None)
    if sdpa is not None:
        return sdpa(q, k, v, is_causal=causal)
    scale = q.shape[-1] ** -0.5
    s = torch.matmul(q, k.transpose(-1, -2)) * scale
    if causal:
        n = s.shape[-1]
        mask = torch.ones(n, n, dtype=torch.bool).triu(1)
        s = s.masked_fill(mask, float("-inf"))
    return torch.matmul(torch.softmax(s, dim=-1), v)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: its default)")
    parser.add_argument("--max-seq", type=int, default=8192)
    parser.add_argument("--json")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: nothing to compare (apt install python3-torch)",
              file=sys.stderr)
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    impl = ("scaled_dot_product_attention"
            if hasattr(torch.nn.functional, "scaled_dot_product_attention")
            else "softmax(QK^T)V")
    print("PyTorch %s, %s, %d threads" % (torch.__version__, impl, torch.get_num_threads()))
    print("%-8s %6s %5s %10s %9s" % ("causal", "seq", "d", "ms", "GFLOP/s"))
    rows = []
    n = 512
    with torch.no_grad():
        while n <= args.max_seq:
            for causal in (False, True):
                q = torch.rand(1, args.heads, n, args.head_dim) * 2 - 1
                k = torch.rand(1, args.heads, n, args.head_dim) * 2 - 1
                v = torch.rand(1, args.heads, n, args.head_dim) * 2 - 1
                attention(torch, q, k, v, causal)
                times = []
                for _ in range(args.iters):
                    start = time.perf_counter()
                    attention(torch, q, k, v, causal)
                    times.append((time.perf_counter() - start) * 1e3)
                ms = statistics.median(times)
                flops = 4.0 * args.head_dim * args.heads * visible_pairs(n, causal)
                gflops = flops / (ms * 1e6)
                print("%-8s %6d %5d %10.3f %9.2f" % ("yes" if causal else "no", n,
                                                     args.head_dim, ms, gflops))
                rows.append({"algo": "torch " + impl, "batch": 1, "heads": args.heads,
                             "seq_q": n, "seq_kv": n, "head_dim": args.head_dim,
                             "causal": causal, "ms": ms, "gflops": gflops})
            n *= 2
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"peer": "PyTorch " + torch.__version__, "implementation": impl,
                       "threads": torch.get_num_threads(), "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
