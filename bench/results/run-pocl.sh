#!/bin/sh
# Re-creates the figures in this folder on the machine at hand: run from the source root
# after `meson setup build && ninja -C build`, with nothing else running (2 cores: a second
# job halves every figure). Each command's output lands in pocl-*.txt with the command on
# its first line; JSON/CSV/SVG files beside them. Takes about 15 minutes on PoCL, and 5 to
# 10 more for the comparison with PyTorch at the end.
set -eu
out=bench/results
bench=build/bench/attn-bench
run() {
    name=$1
    shift
    echo "\$ attn-bench $*" > "$out/$name.txt"
    "$bench" "$@" >> "$out/$name.txt" 2>&1
}
# the standard sweep (naive, tiled, windowed; d 64; causal and not)
run pocl-sweep --json "$out/pocl-sweep.json" --csv "$out/pocl-sweep.csv" \
    --plot "$out/pocl-sweep.svg"
# the tiled grid of the performance issue: d 64 and 128, seq 1024..8192, causal and not
for d in 64 128; do
    for causal in "" --causal; do
        for n in 1024 2048 4096 8192; do
            run "pocl-tiled-d$d-$n${causal:+-causal}" --seq "$n" --heads 8 --head-dim "$d" \
                $causal --algo tiled --profile --json "$out/json/tiled-d$d-$n${causal:+-causal}.json"
        done
    done
done
# sliding window (255, 0) at 32768 keys
run pocl-windowed-32768 --seq 32768 --heads 8 --window 255,0 --causal --algo windowed \
    --profile --json "$out/json/windowed-32768.json"
# storage types
for dtype in f32 f16 bf16; do
    run "pocl-dtype-$dtype" --seq 4096 --heads 8 --dtype "$dtype" --algo tiled --check \
        --json "$out/json/dtype-$dtype.json"
done
# decoding: split-KV against tiled with seq_q = 1 at 32k keys, and a generation loop
run pocl-decode-compare --decode-compare --seq-kv 32768 --profile --json "$out/json/decode-compare.json"
run pocl-decode-loop --decode --check --json "$out/json/decode-loop.json"
# start-up with the kernel cache cold and warm
run pocl-startup --startup
# PyTorch 2.x's scaled_dot_product_attention beside clattn on the same problems, in one run
# (installs PyTorch into a virtual environment under ~/.cache the first time)
bench/peers/compare-torch "$out/peer-torch.txt"
