#!/usr/bin/python3
"""Exports the random-weight ViT-Ti/S/B of tools/reference/bench_torch.py (same seeds, so the same
weights as the checkpoints it saves) to ONNX for the ONNX Runtime side of benchmarks/compare.sh.

    /usr/bin/python3 benchmarks/export_onnx.py DIR [--models ti,s,b]

writes DIR/<timm arch>/model.onnx (DIR outside the repository: the files are large). The exported
graph is the plain forward pass (logits only; ONNX Runtime records no attention maps).
"""
import argparse
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "reference"))
import bench_torch as bt  # noqa: E402
import vit_ref as vr  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--models", default="ti,s,b")
    a = ap.parse_args()
    dst = Path(a.dir).resolve()
    if dst == REPO or REPO in dst.parents:
        sys.exit(f"refusing to write large files inside the repository: {dst}")
    for key in a.models.split(","):
        arch = bt.MODELS[key][1]
        m = bt.build(key)
        torch.manual_seed(1234)
        vr.randomize_(m)  # as bench_torch.save_checkpoint does
        out = dst / arch
        out.mkdir(parents=True, exist_ok=True)
        x = torch.randn(1, 3, 224, 224)
        # Not under no_grad(): with gradients enabled nn.MultiheadAttention skips its fused inference fast
        # path (aten::_native_multi_head_attention), which torch 1.13 cannot export; the graph is the same.
        torch.onnx.export(m, x, str(out / "model.onnx"), input_names=["pixel_values"], output_names=["logits"],
                          opset_version=14, do_constant_folding=True)
        print(f"exported {arch} -> {out / 'model.onnx'}", file=sys.stderr)


if __name__ == "__main__":
    main()
