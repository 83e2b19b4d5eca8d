#!/usr/bin/env bash
# Regenerates the method pictures in docs/explanations/ from the CLI's own relevance_overlay.png:
#   deit_tiny_two_cats_methods.jpg  DeiT-Tiny on the COCO two-cats photo (../shared), five methods
#                                   (columns) for tabby (281) and tiger cat (282) (rows)
# Needs ImageMagick (montage). Usage: tools/explain_figures.sh [CLI]   (build/bin/attnscope-cli by default)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cli=${1:-$root/build/bin/attnscope-cli}
shared=${ATTNSCOPE_SHARED:-$root/../shared}
model=$shared/models/deit-tiny-imagenet
cats=$shared/images/coco_000000039769_two_cats.png
[ -d "$model" ] && [ -f "$cats" ] || { echo "explain_figures: needs $model and $cats" >&2; exit 2; }
command -v montage >/dev/null || { echo "explain_figures: needs ImageMagick's montage (apt-get install imagemagick)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tiles=()
for target in 281 282; do
  for method in chefer2 gradcam grad-rollout rollout attention; do
    extra=(); [ "$method" = grad-rollout ] && extra=(--discard 0.9)
    "$cli" explain --model "$model" --image "$cats" --method "$method" --target "$target" "${extra[@]}" \
      --out "$tmp/$method-$target" >/dev/null
    tiles+=("$tmp/$method-$target/relevance_overlay.png")
  done
done
out=$root/docs/explanations/deit_tiny_two_cats_methods.jpg
montage "${tiles[@]}" -tile 5x2 -geometry 394x276+4+4 -quality 85 "$tmp/out.jpg"
mv "$tmp/out.jpg" "$out"
echo "explain_figures: $out"
