#!/usr/bin/env bash
# Installs what is missing, builds, and opens AttnScope on the demo.
# The demo is the embedded ViT trained on Fashion-MNIST (resources/models/demo-vit) on a held-out
# test image; without it (a partial checkout), the real DeiT-Tiny from ../shared, else a fixture.
set -euo pipefail
cd "$(dirname "$0")"
source tools/deps.sh
attnscope_install_deps
attnscope_build
if [ -d resources/models/demo-vit ]; then
  model=resources/models/demo-vit; image=resources/images/fmnist-09-ankle-boot-test0.png
elif [ -d ../shared/models/deit-tiny-imagenet ]; then
  model=../shared/models/deit-tiny-imagenet; image=../shared/images/coco_000000039769_two_cats.png
else
  model=tests/fixtures/vit/hf_vit; image=""
fi
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  export ATTNSCOPE_DEMO_MODEL="${ATTNSCOPE_DEMO_MODEL:-$model}" ATTNSCOPE_DEMO_IMAGE="${ATTNSCOPE_DEMO_IMAGE:-$image}"
  exec build/bin/attnscope "$@"
fi
echo "attnscope: no display here, so this is the CLI summary. On a desktop run ./attnscope.sh again,"
echo "or headless: QT_QPA_PLATFORM=offscreen build/bin/attnscope --model $model ${image:+--image $image} --screenshot out.png"
if [ -n "$image" ]; then
  exec build/bin/attnscope-cli run --model "$model" --image "$image" --out build/demo-run
fi
exec build/bin/attnscope-cli run --model "$model" --input-npy tests/fixtures/vit/hf_vit/input.npy --out build/demo-run
