#!/usr/bin/env python3
"""PyTorch's scaled_dot_product_attention on the CPU, on attn-bench's shapes.

Run it through bench/peers/torch-sdpa, which gives it PyTorch 2.x in a virtual environment of
its own. Times torch.nn.functional.scaled_dot_product_attention on two sets of problems:

  sweep   batch 1, 8 heads, seq_q = seq_kv = 512 .. 8192 (doubling), head_dim 64 and 128,
          f32 and bf16, causal and not: the shapes of attn-bench's sweep and of its tiled grid
  decode  one query row against 32768 keys, 32 query heads sharing 8 kv heads
          (enable_gqa=True), head_dim 128, f32: attn-bench --decode-compare's step

Q, K and V are laid out as clattn's default, [B, N, H, d], and handed to PyTorch as
[B, H, N, d] views of that memory (--layout bhnd makes them contiguous [B, H, N, d] instead).
Each row is timed by the wall clock around one call, median of --iters timed calls after
--warmup untimed ones, and counted as attn-bench counts: 4 * d FLOPs per visible query-key pair
per query head, so a causal row is credited with n (n + 1) / 2 pairs, not n^2. The decode row
passes is_causal=False: PyTorch aligns is_causal top-left, where one query row would see one
key, while clattn's causal decoding step (aligned bottom-right) sees all of them.

Before the timed calls of each row, one call runs under torch.profiler, and the row names the
ATen operators that call ran beneath scaled_dot_product_attention: which kernel PyTorch chose
(aten::_scaled_dot_product_flash_attention_for_cpu is its fused flash-attention kernel;
aten::_scaled_dot_product_attention_math the unfused matmul-softmax-matmul).
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit("torch_sdpa.py: this Python has no PyTorch; run bench/peers/torch-sdpa, which "
             "makes an environment with it")

DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16}
SDPA_OP = "aten::scaled_dot_product_attention"


def int_list(text):
    return [int(x) for x in text.split(",")]


def str_list(text):
    return text.split(",")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                   help="torch.set_num_threads (default: the cores this process may use)")
    p.add_argument("--iters", type=int, default=5, help="timed calls per row (default 5)")
    p.add_argument("--warmup", type=int, default=2, help="untimed calls before them (default 2)")
    p.add_argument("--parts", type=str_list, default=["sweep", "decode"],
                   help="sweep, decode or both (default sweep,decode)")
    p.add_argument("--min-seq", type=int, default=512, help="the sweep's first length (512)")
    p.add_argument("--max-seq", type=int, default=8192, help="the sweep's last length (8192)")
    p.add_argument("--head-dims", type=int_list, default=[64, 128], help="default 64,128")
    p.add_argument("--dtypes", type=str_list, default=["f32", "bf16"], help="default f32,bf16")
    p.add_argument("--heads", type=int, default=8, help="the sweep's heads (default 8)")
    p.add_argument("--decode-seq-kv", type=int, default=32768,
                   help="the decoding step's keys (default 32768)")
    p.add_argument("--layout", choices=["bnhd", "bhnd"], default="bnhd",
                   help="memory layout of Q, K, V: clattn's [B, N, H, d] (default) or "
                        "PyTorch's contiguous [B, H, N, d]")
    p.add_argument("--json", help="also write the rows to this file as JSON")
    args = p.parse_args()
    for part in args.parts:
        if part not in ("sweep", "decode"):
            p.error("--parts: %r is neither sweep nor decode" % part)
    for name in args.dtypes:
        if name not in DTYPES:
            p.error("--dtypes: %r is not one of %s" % (name, ", ".join(DTYPES)))
    if args.iters < 1 or args.warmup < 0 or args.threads < 1:
        p.error("--iters and --threads must be at least 1, --warmup at least 0")
    if not 1 <= args.min_seq <= args.max_seq:
        p.error("need 1 <= --min-seq <= --max-seq")
    return args


class Problem:
    def __init__(self, part, dtype, head_dim, causal, heads, kv_heads, seq_q, seq_kv):
        self.part, self.dtype, self.head_dim, self.causal = part, dtype, head_dim, causal
        self.heads, self.kv_heads, self.seq_q, self.seq_kv = heads, kv_heads, seq_q, seq_kv

    def visible_pairs(self):
        """Query-key pairs a query head attends to. Only square problems are causal here,
        where PyTorch's top-left alignment and clattn's bottom-right one agree."""
        if not self.causal:
            return self.seq_q * self.seq_kv
        assert self.seq_q == self.seq_kv
        return self.seq_q * (self.seq_q + 1) // 2

    def flops(self):
        return 4.0 * self.head_dim * self.heads * self.visible_pairs()


def problems(args):
    if "sweep" in args.parts:
        for dtype in args.dtypes:
            for d in args.head_dims:
                n = args.min_seq
                while n <= args.max_seq:
                    for causal in (False, True):
                        yield Problem("sweep", dtype, d, causal, args.heads, args.heads, n, n)
                    n *= 2
    if "decode" in args.parts:
        yield Problem("decode", "f32", 128, False, 32, 8, 1, args.decode_seq_kv)


def tensor(layout, heads, seq, d, dtype):
    """Uniform in [-1, 1), shaped [1, heads, seq, d] over memory laid out as `layout`."""
    if layout == "bnhd":
        return (torch.rand(1, seq, heads, d) * 2 - 1).to(DTYPES[dtype]).transpose(1, 2)
    return (torch.rand(1, heads, seq, d) * 2 - 1).to(DTYPES[dtype])


# What Kineto, the profiler's engine, writes to stderr on every profiled call of a CUDA build on
# a machine without a GPU: its start and stop announcements, and its failed search for a GPU.
KINETO_CHATTER = ("USDT:", "gpuGetDeviceCount failed")


def without_kineto_chatter(call):
    """Runs call() with file descriptor 2 captured, and passes on every line of what was
    written there except KINETO_CHATTER."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            result = call()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        for line in captured.read().decode(errors="replace").splitlines(keepends=True):
            if not any(mark in line for mark in KINETO_CHATTER):
                sys.stderr.write(line)
    return result


def kernels_seen(call):
    """The ATen operators that one call of `call` ran directly beneath
    scaled_dot_product_attention: the backend PyTorch dispatched to."""
    def profiled():
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            call()
        return prof.events()

    names = []
    for event in without_kineto_chatter(profiled):
        parent = event.cpu_parent
        if parent is not None and parent.name == SDPA_OP and event.name not in names:
            names.append(event.name)
    return names


def measure(args, prob):
    q = tensor(args.layout, prob.heads, prob.seq_q, prob.head_dim, prob.dtype)
    k = tensor(args.layout, prob.kv_heads, prob.seq_kv, prob.head_dim, prob.dtype)
    v = tensor(args.layout, prob.kv_heads, prob.seq_kv, prob.head_dim, prob.dtype)
    gqa = prob.heads != prob.kv_heads

    def call():
        return F.scaled_dot_product_attention(q, k, v, is_causal=prob.causal, enable_gqa=gqa)

    kernels = kernels_seen(call)
    for _ in range(args.warmup):
        call()
    times = []
    for _ in range(args.iters):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    ms = statistics.median(times)
    return ms, prob.flops() / (ms * 1e6), kernels


def describe_build():
    cuda = torch.version.cuda
    lines = ["PyTorch %s%s, run on the CPU with %d threads (%s)"
             % (torch.__version__, " (a CUDA %s build)" % cuda if cuda else "",
                torch.get_num_threads(), torch.backends.cpu.get_cpu_capability()),
             "oneDNN %s, MKL %s" % ("yes" if torch.backends.mkldnn.is_available() else "no",
                                    "yes" if torch.backends.mkl.is_available() else "no")]
    return lines


HEADER = "%-6s %-5s %4s %-6s %5s %4s %6s %7s %10s %9s  %s"
ROW = "%-6s %-5s %4d %-6s %5d %4d %6d %7d %10.3f %9.2f  %s"


def main():
    args = parse_args()
    if tuple(int(x) for x in torch.__version__.split(".")[:2]) < (2, 5):
        print("torch_sdpa.py: PyTorch %s has no enable_gqa; it needs 2.5 or later"
              % torch.__version__, file=sys.stderr)
        return 1
    torch.set_num_threads(args.threads)
    for line in describe_build():
        print(line)
    print("problem: torch.nn.functional.scaled_dot_product_attention, batch 1, Q, K, V laid out "
          + ("[B, N, H, d] (clattn's) as [B, H, N, d] views" if args.layout == "bnhd"
             else "[B, H, N, d], contiguous"))
    print("timing:  ms = wall clock of one call, median of %d timed calls after %d untimed; "
          "GFLOP/s = 4 * d * visible pairs * heads / ms" % (args.iters, args.warmup))
    print("kernel:  the ATen operators beneath %s in one profiled call" % SDPA_OP)
    print()
    print(HEADER % ("part", "dtype", "d", "causal", "heads", "kv", "seq_q", "seq_kv", "ms",
                    "GFLOP/s", "kernel"))
    rows = []
    with torch.inference_mode():
        for prob in problems(args):
            ms, gflops, kernels = measure(args, prob)
            kernel = ", ".join(kernels) if kernels else "(none seen)"
            print(ROW % (prob.part, prob.dtype, prob.head_dim, "yes" if prob.causal else "no",
                         prob.heads, prob.kv_heads, prob.seq_q, prob.seq_kv, ms, gflops, kernel),
                  flush=True)
            rows.append({"part": prob.part, "dtype": prob.dtype, "batch": 1,
                         "heads": prob.heads, "kv_heads": prob.kv_heads, "seq_q": prob.seq_q,
                         "seq_kv": prob.seq_kv, "head_dim": prob.head_dim,
                         "causal": prob.causal, "ms": ms, "flops": prob.flops(),
                         "gflops": gflops, "kernels": kernels})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"tool": "torch_sdpa.py", "torch_version": torch.__version__,
                       "build": describe_build(), "threads": torch.get_num_threads(),
                       "layout": args.layout, "iters": args.iters, "warmup": args.warmup,
                       "command": " ".join(sys.argv), "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
