#!/usr/bin/env bash
# Downloads well-known checkpoints from the Hugging Face hub, for a machine WITH internet access
# (AttnScope itself never downloads anything). Each model lands in its own folder as the hub has
# it: config.json, model.safetensors (or pytorch_model.bin, which AttnScope reads safely without
# Python), preprocessor_config.json. Then:  build/bin/attnscope --model DIR
#
# usage: tools/fetch_models.sh [--dest DIR] [--revision REV] [MODEL ...]
#   MODEL defaults to all of: google/vit-base-patch16-224 facebook/deit-tiny-patch16-224
#                             facebook/dino-vits16 facebook/detr-resnet-50
#                             openai/clip-vit-base-patch32 google/siglip-base-patch16-224 hustvl/yolos-tiny
#   --dest      where to put them (default: $ATTNSCOPE_MODELS or ~/attnscope-models)
#   --revision  a branch, tag or commit of each repository (default: main)
# Environment: HF_TOKEN (sent as a bearer token if set), HF_ENDPOINT (default https://huggingface.co).
set -euo pipefail

dest="${ATTNSCOPE_MODELS:-$HOME/attnscope-models}"
revision=main
models=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dest) dest="${2:?--dest needs a directory}"; shift 2 ;;
    --revision) revision="${2:?--revision needs a value}"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "fetch_models: unknown option $1" >&2; exit 2 ;;
    *) models+=("$1"); shift ;;
  esac
done
[ ${#models[@]} -gt 0 ] || models=(google/vit-base-patch16-224 facebook/deit-tiny-patch16-224
                                    facebook/dino-vits16 facebook/detr-resnet-50
                                    openai/clip-vit-base-patch32 google/siglip-base-patch16-224 hustvl/yolos-tiny)
endpoint="${HF_ENDPOINT:-https://huggingface.co}"
command -v curl >/dev/null || { echo "fetch_models: needs curl (apt-get install curl)" >&2; exit 1; }
auth=()
[ -n "${HF_TOKEN:-}" ] && auth=(-H "Authorization: Bearer $HF_TOKEN")

# fetch REPO FILE OUTDIR: 0 = downloaded (or already there), 1 = the repository has no such file.
fetch() {
  local repo="$1" file="$2" out="$3/$2"
  [ -s "$out" ] && { echo "  $file: already there"; return 0; }
  local url="$endpoint/$repo/resolve/$revision/$file" code
  # Download to a temporary name and rename, so an interrupted run never leaves a truncated file.
  code=$(curl -sS -L --retry 3 --retry-delay 2 --connect-timeout 20 "${auth[@]}" \
              -o "$out.part" -w '%{http_code}' "$url") || { rm -f "$out.part"; echo "  $file: network error" >&2; return 2; }
  case "$code" in
    200) mv -f "$out.part" "$out"; echo "  $file: $(du -h "$out" | cut -f1)"; return 0 ;;
    404) rm -f "$out.part"; return 1 ;;
    401|403) rm -f "$out.part"; echo "  $file: HTTP $code (gated or private; set HF_TOKEN)" >&2; return 2 ;;
    *) rm -f "$out.part"; echo "  $file: HTTP $code from $url" >&2; return 2 ;;
  esac
}

status=0
for repo in "${models[@]}"; do
  dir="$dest/${repo//\//--}"
  mkdir -p "$dir"
  echo "$repo -> $dir"
  fetch "$repo" config.json "$dir" || { echo "  config.json missing: is '$repo' a model repository?" >&2; status=1; continue; }
  fetch "$repo" preprocessor_config.json "$dir" || echo "  (no preprocessor_config.json; AttnScope uses the family's defaults)"
  if ! fetch "$repo" model.safetensors "$dir"; then
    fetch "$repo" pytorch_model.bin "$dir" || { echo "  no model.safetensors or pytorch_model.bin" >&2; status=1; continue; }
  fi
  # Check what was fetched with AttnScope itself when it is built.
  cli="$(dirname "$0")/../build/bin/attnscope-cli"
  if [ -x "$cli" ]; then
    "$cli" info --model "$dir" >/dev/null && echo "  attnscope-cli info: OK" || { echo "  attnscope-cli info failed on $dir" >&2; status=1; }
  fi
done
exit $status
