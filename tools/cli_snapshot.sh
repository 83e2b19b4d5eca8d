#!/usr/bin/env bash
# Runs the CLI's run / analyze / dataset / eval on the demo models (and, when ../shared is beside the
# repository, the real DeiT-Tiny on the shared photos) into OUT, with timings and other run-to-run
# varying fields removed, so that two builds can be compared with `diff -r A B` (refactors must
# leave it empty). Usage: tools/cli_snapshot.sh OUT [CLI]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$1"; cli="${2:-$root/build/bin/attnscope-cli}"
rm -rf "$out"; mkdir -p "$out"
shared="$root/../shared"
img="$root/resources/images"
strip() { # result.json without timings (they differ run to run) and with the paths relative to the repository
  for f in $(find "$1" -name '*.json'); do
    sed -i -E '/"timings_ms": \{/,/\}/d' "$f"
    sed -i "s#$root/##g; s#$(cd "$root/.." && pwd)/##g" "$f"
  done
  for f in "$1"/*.stdout "$1"/*.stderr; do # eval's speed, and where OUT is
    sed -i -E 's/"(images_per_second|seconds)":[0-9.e+-]+,?//g' "$f"
    sed -i "s#$out#OUT#g" "$f"
  done
}
run() { local name="$1"; shift; "$cli" "$@" > "$out/$name.stdout" 2> "$out/$name.stderr" || echo "exit $?" >> "$out/$name.stdout"; }
cd "$root"
run vit_run      run     --model resources/models/demo-vit  --image "$img/fmnist-09-ankle-boot-test0.png" --out "$out/vit_run"
run vit_analyze  analyze --model resources/models/demo-vit  --image "$img/fmnist-03-dress-test13.png" --out "$out/vit_analyze"
run detr_run     run     --model resources/models/demo-detr --image "$img/scene-seed7-000.png" --out "$out/detr_run"
run detr_analyze analyze --model resources/models/demo-detr --image "$img/scene-seed7-003.png" --out "$out/detr_analyze"
run vit_dataset  dataset --model resources/models/demo-vit  --images "$img" --out "$out/vit_dataset"
run detr_dataset dataset --model resources/models/demo-detr --images "$img" --out "$out/detr_dataset" --limit 4
run vit_eval     eval    --model resources/models/demo-vit  --dataset fashion-mnist-test --limit 300
run detr_eval    eval    --model resources/models/demo-detr --dataset synthetic-scenes --seed 7 --count 20
run bad_model    run     --model /nonexistent/model --image "$img/scene-seed7-000.png" --out "$out/bad"
if [ -d "$shared/models/deit-tiny-imagenet" ]; then
  cats="$shared/images/coco_000000039769_two_cats.png"
  run deit_run     run     --model "$shared/models/deit-tiny-imagenet" --image "$cats" --out "$out/deit_run"
  run deit_analyze analyze --model "$shared/models/deit-tiny-imagenet" --image "$cats" --out "$out/deit_analyze"
  run deit_dataset dataset --model "$shared/models/deit-tiny-imagenet" --images "$shared/images" --out "$out/deit_dataset"
fi
strip "$out"
# progress lines carry no timing; stdout of bench-like commands is not compared
echo "snapshot in $out"
