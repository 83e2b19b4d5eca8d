#!/usr/bin/python3
"""PyTorch CPU baseline timings for ViT-Ti/S/B at 224x224 (random weights).

Run as:
    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tools/reference/bench_torch.py [options]

Prints one JSON line per model:
    {"model": "vit_ti", "threads": 2, "runs": 10, "median_ms": ..., "min_ms": ..., ...}

Options:
    --models ti,s,b          which models (default all three)
    --runs N                 timed runs per model (default 10)
    --warmup N               untimed warm-up runs (default 2)
    --threads N              torch.set_num_threads (default 2)
    --record-attention       patch every encoder block to call nn.MultiheadAttention with
                             need_weights=True, average_attn_weights=False and keep every
                             layer's [heads,T,T] probabilities (like AttnScope does)
    --save-checkpoints DIR   also write random timm-named checkpoints
                             DIR/<timm arch>/{model.safetensors,config.json,input.npy,logits.npy}
                             (DIR must be outside the repository; these files are large)
    --no-bench               only save checkpoints
"""
import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import st_io  # noqa: E402
import vit_ref as vr  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

# name -> (timm architecture, hidden, heads, mlp); all 12 layers, patch 16, 224 input, 1000 classes
MODELS = {
    "ti": ("vit_ti", "vit_tiny_patch16_224", 192, 3, 768),
    "s": ("vit_s", "vit_small_patch16_224", 384, 6, 1536),
    "b": ("vit_b_16", "vit_base_patch16_224", 768, 12, 3072),
}
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def build(key, seed=0):
    name, arch, hidden, heads, mlp = MODELS[key]
    torch.manual_seed(seed)
    if key == "b":
        from torchvision.models import vit_b_16
        m = vit_b_16(weights=None)
    else:
        m = vr.make_torchvision_vit(224, 16, 12, heads, hidden, mlp, 1000)
    return m.eval()


def timm_config(arch, hidden, heads, mlp):
    return {
        "architecture": arch,
        "num_classes": 1000,
        "num_features": hidden,
        "global_pool": "token",
        "model_args": {"img_size": 224, "patch_size": 16, "embed_dim": hidden, "depth": 12,
                       "num_heads": heads, "mlp_ratio": mlp / hidden, "qkv_bias": True},
        "pretrained_cfg": {
            "tag": "attnscope_random",
            "custom_load": False,
            "input_size": [3, 224, 224],
            "fixed_input_size": True,
            "interpolation": "bicubic",
            "crop_pct": 0.9,
            "crop_mode": "center",
            "mean": [0.5, 0.5, 0.5],
            "std": [0.5, 0.5, 0.5],
            "num_classes": 1000,
            "pool_size": None,
            "first_conv": "patch_embed.proj",
            "classifier": "head",
        },
    }


def save_checkpoint(key, m, outdir):
    name, arch, hidden, heads, mlp = MODELS[key]
    d = Path(outdir) / arch
    d.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(1234)
    vr.randomize_(m)  # torchvision zero-inits the head; make every weight matter
    st_io.save_file(vr.torchvision_to_timm(m.state_dict()), d / "model.safetensors")
    with open(d / "config.json", "w") as f:
        json.dump(timm_config(arch, hidden, heads, mlp), f, indent=2)
        f.write("\n")
    img = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        logits = m(img)[0]
    np.save(d / "input.npy", img[0].numpy())
    np.save(d / "logits.npy", logits.numpy())
    return d


def bench(m, runs, warmup, record):
    sink = []
    if record:
        vr.enable_attention_recording(m, sink)
    x = torch.randn(1, 3, 224, 224)
    times = []
    with torch.no_grad():
        for i in range(warmup + runs):
            sink.clear()
            t0 = time.perf_counter()
            m(x)
            dt = (time.perf_counter() - t0) * 1000.0
            if record:
                assert len(sink) == 12 and sink[0].shape[-1] == 197
            if i >= warmup:
                times.append(dt)
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="ti,s,b")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--record-attention", action="store_true")
    ap.add_argument("--save-checkpoints", metavar="DIR")
    ap.add_argument("--no-bench", action="store_true")
    a = ap.parse_args()

    if os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        print("warning: run with OMP_WAIT_POLICY=PASSIVE for comparable timings", file=sys.stderr)
    if a.save_checkpoints:
        dst = Path(a.save_checkpoints).resolve()
        if dst == REPO or REPO in dst.parents:
            sys.exit(f"refusing to write large checkpoints inside the repository: {dst}")
    torch.set_num_threads(a.threads)

    for key in a.models.split(","):
        key = key.strip()
        if key not in MODELS:
            sys.exit(f"unknown model {key!r}; choose from {','.join(MODELS)}")
        name, arch = MODELS[key][:2]
        m = build(key)
        if a.save_checkpoints:
            d = save_checkpoint(key, m, a.save_checkpoints)
            print(f"saved {arch} -> {d}", file=sys.stderr)
        if a.no_bench:
            continue
        t = bench(m, a.runs, a.warmup, a.record_attention)
        print(json.dumps({
            "model": name, "timm_arch": arch, "threads": a.threads, "runs": a.runs,
            "warmup": a.warmup, "record_attention": a.record_attention,
            "median_ms": round(statistics.median(t), 3), "min_ms": round(min(t), 3),
            "torch": torch.__version__,
        }), flush=True)


if __name__ == "__main__":
    main()
