#!/usr/bin/python3
"""Times the independent PyTorch DETR-R50 reference (make_detr_fixtures.py) at 800×1066 on CPU.

Run: OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tools/reference/bench_detr_torch.py [--threads 2] [--runs 5]
Prints one JSON line: {"model": "detr-r50", "input": [3, 800, 1066], "threads": 2, "median_ms": ..., ...}
Random weights (timing does not depend on them); attention maps are returned per head as in the fixtures.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
from torchvision.models.resnet import Bottleneck

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_detr_fixtures import build  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--height", type=int, default=800)
ap.add_argument("--width", type=int, default=1066)
args = ap.parse_args()

torch.set_num_threads(args.threads)
model = build(7, Bottleneck, [3, 4, 6, 3], 64, [64, 128, 256, 512], False, 256, 8, 6, 6, 2048, 100, 91)
img = torch.randn(3, args.height, args.width, generator=torch.Generator().manual_seed(0))
times = []
with torch.no_grad():
    model(img)  # warm-up
    for _ in range(args.runs):
        t0 = time.perf_counter()
        model(img)
        times.append((time.perf_counter() - t0) * 1000.0)
print(json.dumps({"model": "detr-r50", "input": [3, args.height, args.width], "threads": torch.get_num_threads(),
                  "runs": args.runs, "median_ms": round(statistics.median(times), 1),
                  "min_ms": round(min(times), 1), "torch": torch.__version__}))
