#!/usr/bin/env bash
# AttnScope beside PyTorch and ONNX Runtime on ViT-Ti/S/B @224 and DETR-R50 @800×1066, in one run:
# each round runs every contender once per model, alternating (A B C D A B C D …), and the table
# gives, per model and contender, the median over rounds of each process's median (and the range),
# with ratios to the faster ONNX Runtime setting (ViT) and to PyTorch. ONNX Runtime runs twice: with
# its default spinning thread pool, and not spinning (on a loaded machine spinning costs it up to 4×). See docs/performance.md and ../shared/docs/peers.md.
#
#   benchmarks/compare.sh [runs per process = 10] [rounds = 3] [models = "ti s b detr"]
#
# Needs: build/bin/attnscope-cli (Release), /usr/bin/python3 with python3-torch + torchvision (Debian),
# node + npm. Creates once: random-weight checkpoints and ONNX exports in $ATTNSCOPE_BENCH_DIR
# (default /tmp/attnscope-bench: large files, never inside the repository), onnxruntime-node from npm
# in benchmarks/.ort (git-ignored). Raw JSON lines go to $ATTNSCOPE_BENCH_DIR/compare-<time>.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}; rounds=${2:-3}; models=${3:-"ti s b detr"}
ckpt=${ATTNSCOPE_BENCH_DIR:-/tmp/attnscope-bench}
cli=build/bin/attnscope-cli
py=/usr/bin/python3
photo=${ATTNSCOPE_SHARED:-../shared}/images/coco_000000039769_two_cats.png
[ -x "$cli" ] || { echo "compare.sh: build attnscope-cli first (cmake --build build --target attnscope-cli)" >&2; exit 1; }
declare -A arch=([ti]=vit_tiny_patch16_224 [s]=vit_small_patch16_224 [b]=vit_base_patch16_224 [detr]=detr-r50)

# ---- inputs, made once ----
for m in $models; do
  if [ "$m" = detr ]; then
    [ -f "$ckpt/detr-r50/config.json" ] || $py tools/reference/make_detr_fixtures.py --save-r50 "$ckpt/detr-r50" >&2
  else
    [ -f "$ckpt/${arch[$m]}/model.safetensors" ] ||
      $py tools/reference/bench_torch.py --models "$m" --save-checkpoints "$ckpt" --no-bench 2>/dev/null >&2
    [ -f "$ckpt/${arch[$m]}/model.onnx" ] || $py benchmarks/export_onnx.py "$ckpt" --models "$m" 2>/dev/null >&2
  fi
done
if [ ! -d benchmarks/.ort/node_modules/onnxruntime-node ]; then
  # --ignore-scripts: the package carries its CPU binaries; its install script only fetches CUDA ones
  npm install --prefix benchmarks/.ort --no-audit --no-fund --ignore-scripts onnxruntime-node >&2
fi
export NODE_PATH="$PWD/benchmarks/.ort/node_modules"

# ---- fair settings (peers.md) ----
export OMP_WAIT_POLICY=PASSIVE # Debian torch on 2 cores: without it torch spins and is 2–3× slower
# Same OpenBLAS kernels for torch as attnscope-cli picks for itself (app/blas_env.cpp): by the CPU's features
if grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell; fi

out="$ckpt/compare-$(date +%Y%m%d-%H%M%S).jsonl"
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1); fam=$(lscpu | sed -n 's/^CPU family: *//p' | head -1)
echo "# $(date -u '+%F %H:%M UTC') · $cpu (family $fam), $(nproc) cores · load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# runs per process: $runs, rounds: $rounds, 2 threads everywhere; raw: $out"
record() { # record RUNNER MODEL COMMAND… : appends {"runner","key","r":<the command's last JSON line>}
  local runner=$1 key=$2; shift 2
  local line; line=$("$@" 2>/dev/null | grep '^{' | tail -1) || true
  [ -n "$line" ] && echo "{\"runner\":\"$runner\",\"key\":\"$key\",\"r\":$line}" >> "$out" ||
    echo "compare.sh: $runner $key failed" >&2
}
for ((round = 1; round <= rounds; round++)); do
  for m in $models; do
    dir="$ckpt/${arch[$m]}"
    if [ "$m" = detr ]; then
      n=$(( runs > 3 ? 3 : runs ))
      # the two-cats photo resized as DETR does: 800×1066, 850 tokens (bench_detr_torch.py's size)
      record attnscope_maps "$m" "$cli" bench --model "$dir" --image "$photo" --runs "$n" --threads 2
      record torch "$m" $py tools/reference/bench_detr_torch.py --threads 2 --runs "$n"
    else
      record attnscope_maps "$m" "$cli" bench --model "$dir" --runs "$runs" --threads 2
      record attnscope_nomaps "$m" "$cli" bench --model "$dir" --runs "$runs" --threads 2 --no-record
      record torch "$m" $py tools/reference/bench_torch.py --models "$m" --runs "$runs" --threads 2 --record-attention
      record ort "$m" node benchmarks/ort_bench.js "$dir/model.onnx" "$runs" 2 spin
      record ort_nospin "$m" node benchmarks/ort_bench.js "$dir/model.onnx" "$runs" 2 nospin
    fi
  done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
$py - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
names = {"ti": "ViT-Ti/16 224", "s": "ViT-S/16 224", "b": "ViT-B/16 224", "detr": "DETR-R50 800×1066"}
runners = [("attnscope_maps", "AttnScope, all maps"), ("attnscope_nomaps", "AttnScope, no maps"),
           ("torch", "PyTorch 1.13 (PASSIVE, maps)"), ("ort", "ORT, spinning (default)"),
           ("ort_nospin", "ORT, not spinning")]
print("| model | " + " | ".join(t for _, t in runners) + " | maps ÷ best ORT | maps ÷ PyTorch | peak RSS (AttnScope, maps) |")
print("|---|" + "---|" * (len(runners) + 3))
for key in ["ti", "s", "b", "detr"]:
    got = {r: [x["r"]["median_ms"] for x in rows if x["key"] == key and x["runner"] == r] for r, _ in runners}
    if not any(got.values()):
        continue
    med = {r: statistics.median(v) if v else None for r, v in got.items()}
    cell = lambda r: "–" if not got[r] else (f"{med[r]:.0f} ms ({min(got[r]):.0f}–{max(got[r]):.0f})")
    ort = [med[r] for r in ("ort", "ort_nospin") if med[r]]
    med["best_ort"] = min(ort) if ort else None
    ratio = lambda a, b: "–" if not (med[a] and med[b]) else f"{med[a] / med[b]:.2f}×"
    rss = [x["r"].get("peak_rss_mb") for x in rows if x["key"] == key and x["runner"] == "attnscope_maps"]
    print(f"| {names[key]} | " + " | ".join(cell(r) for r, _ in runners) +
          f" | {ratio('attnscope_maps', 'best_ort')} | {ratio('attnscope_maps', 'torch')} | " +
          (f"{max(rss):.0f} MB" if rss else "–") + " |")
print()
print("Process CPU time per forward pass (all threads; what the pass costs whatever the machine's load):")
print()
cpu_runners = [r for r in runners if r[0] != "torch"]
print("| model | " + " | ".join(t for _, t in cpu_runners) + " | maps ÷ best ORT |")
print("|---|" + "---|" * (len(cpu_runners) + 1))
for key in ["ti", "s", "b", "detr"]:
    got = {r: [x["r"]["median_cpu_ms"] for x in rows if x["key"] == key and x["runner"] == r and "median_cpu_ms" in x["r"]]
           for r, _ in cpu_runners}
    if not any(got.values()):
        continue
    med = {r: statistics.median(v) if v else None for r, v in got.items()}
    ort = [med[r] for r in ("ort", "ort_nospin") if med[r]]
    cell = lambda r: "–" if not got[r] else f"{med[r]:.0f} ms"
    print(f"| {names[key]} | " + " | ".join(cell(r) for r, _ in cpu_runners) + " | " +
          (f"{med['attnscope_maps'] / min(ort):.2f}×" if ort and med["attnscope_maps"] else "–") + " |")
PY
