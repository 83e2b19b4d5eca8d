#!/usr/bin/env bash
# ViT-Ti/S/B @224: attnscope-cli bench (recording every attention map) beside PyTorch 1.13 (Debian),
# both on 2 threads, alternating A B A B in the same run (see ../shared/docs/peers.md).
# Usage: benchmarks/run_vit.sh [runs] [rounds]     (needs /usr/bin/python3 with python3-torch)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}; rounds=${2:-2}
ckpt=${ATTNSCOPE_BENCH_DIR:-/tmp/attnscope-bench}
[ -d "$ckpt/vit_base_patch16_224" ] ||
  /usr/bin/python3 tools/reference/bench_torch.py --save-checkpoints "$ckpt" --no-bench >&2
# Same BLAS kernels for both: OpenBLAS 0.3.21 does not recognise this CPU and falls back to SSE3 for torch
# too (attnscope-cli re-executes itself with OPENBLAS_CORETYPE; torch needs it in the environment).
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell; fi
fi
declare -A short=([tiny]=ti [small]=s [base]=b)
for size in tiny small base; do
  for ((r = 1; r <= rounds; r++)); do
    build/bin/attnscope-cli bench --model "$ckpt/vit_${size}_patch16_224" --runs "$runs" --threads 2
    build/bin/attnscope-cli bench --model "$ckpt/vit_${size}_patch16_224" --runs "$runs" --threads 2 --no-record
    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tools/reference/bench_torch.py --models "${short[$size]}" \
      --runs "$runs" --threads 2 --record-attention
    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tools/reference/bench_torch.py --models "${short[$size]}" \
      --runs "$runs" --threads 2
  done
done
