#!/usr/bin/env bash
# Regenerates every image in docs/screenshots/ with the GUI's own --screenshot (offscreen, no display
# needed): what a user gets, at the sizes --screenshot renders.
#
#   tools/screenshots.sh [APP]          # APP: build/bin/attnscope by default
#
# Demo models and images from resources/ always; the DeiT-Tiny shots (main window, each view, the
# distance plot over the shared photos) only when ../shared has the model and the photos (ATTNSCOPE_SHARED
# overrides where that is); they are skipped with a message otherwise. The user's settings are neither
# read nor written (HOME points into a temporary folder).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
app=${1:-$root/build/bin/attnscope}
out=$root/docs/screenshots
shared=${ATTNSCOPE_SHARED:-$root/../shared}
[ -x "$app" ] || { echo "screenshots: no GUI binary at $app (build it: cmake --build build --target attnscope)" >&2; exit 2; }
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HOME=$tmp XDG_CONFIG_HOME=$tmp/.config QT_QPA_PLATFORM=offscreen

fail=0
shot() { # NAME ARGS...: one --screenshot run into docs/screenshots/NAME.png
    local name=$1
    shift
    if "$app" "$@" --screenshot "$out/$name.png" >"$tmp/$name.log" 2>&1; then
        echo "screenshots: docs/screenshots/$name.png"
    else
        echo "screenshots: $name FAILED:" >&2
        cat "$tmp/$name.log" >&2
        fail=1
    fi
}

demo_vit=$root/resources/models/demo-vit
demo_detr=$root/resources/models/demo-detr
shot demo_vit --model "$demo_vit" --image "$root/resources/images/fmnist-09-ankle-boot-test0.png"
shot view_detections --model "$demo_detr" --image "$root/resources/images/scene-seed7-000.png" --view detections
shot view_predictions_detr --model "$demo_detr" --image "$root/resources/images/scene-seed7-000.png" --view predictions

deit=$shared/models/deit-tiny-imagenet
cats=$shared/images/coco_000000039769_two_cats.png
if [ -d "$deit" ] && [ -f "$cats" ]; then
    shot main_window --model "$deit" --image "$cats"
    for v in overlay model matrix predictions rollout masks posembed filters explain tokens; do
        shot "view_$v" --model "$deit" --image "$cats" --view "$v"
    done
    shot view_distance --model "$deit" --image "$cats" --view distance --images "$shared/images"
else
    echo "screenshots: skipped the DeiT-Tiny shots (main_window, view_*): no $deit or $cats" >&2
fi
exit $fail
