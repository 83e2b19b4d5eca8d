#!/usr/bin/python3
"""Head importance vs mean attention distance vs explanation maps (docs/analyses.md, "Head importance").

Runs attnscope-cli on a folder of images and prints the numbers the docs quote; copies the CLI's averaged
head-importance grid (head_importance.png) to --figure. Standard library only (no numpy): the .npy files
are read by the small reader below.

  /usr/bin/python3 tools/head_importance_study.py --cli build/bin/attnscope-cli \
      --model ../shared/models/deit-tiny-imagenet --images ../shared/images --work /tmp/importance \
      [--figure docs/analyses/deit_tiny_head_importance_21_images.png]

Steps: `ablate --images --importance` (zero-ablation, encoder: every image's top-1 class, Δ = clean − ablated),
`dataset` (mean attention distance per head), and per image `run` (every head's attention) and
`explain --method chefer2` (Chefer et al.'s relevance of the same top-1 class). A head's *agreement* with
the explanation on an image is the Pearson correlation of its CLS row over the patches with the chefer2
map; rank correlations are Spearman's (average ranks for ties).
"""
import argparse
import ast
import csv
import math
import os
import shutil
import struct
import subprocess
import sys
from collections import defaultdict


def read_npy(path):
    """(shape, flat list of floats) of a little-endian float32 C-order .npy file."""
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            raise ValueError(f"{path}: not an .npy file")
        major = f.read(2)[0]
        hlen = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))[0]
        header = ast.literal_eval(f.read(hlen).decode("latin1"))
        if header["descr"] != "<f4" or header["fortran_order"]:
            raise ValueError(f"{path}: expected little-endian float32, C order; got {header}")
        shape = tuple(header["shape"])
        n = math.prod(shape)
        return shape, list(struct.unpack(f"<{n}f", f.read(4 * n)))


def pearson(a, b):
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    da = [x - ma for x in a]
    db = [y - mb for y in b]
    sa = math.sqrt(sum(x * x for x in da))
    sb = math.sqrt(sum(y * y for y in db))
    return sum(x * y for x, y in zip(da, db)) / (sa * sb) if sa > 0 and sb > 0 else 0.0


def ranks(v):
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2.0
        i = j + 1
    return r


def spearman(a, b):
    return pearson(ranks(a), ranks(b))


def median(v):
    s = sorted(v)
    n = len(s)
    return (s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2) if n else float("nan")


def cli(args, *cmd):
    out = subprocess.run([args.cli, *cmd], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"attnscope-cli {' '.join(cmd)} failed:\n{out.stderr}")
    return out.stdout


def read_table(path, key_cols, val_cols):
    with open(path, newline="") as f:
        return {tuple(int(r[k]) for k in key_cols): tuple(float(r[v]) for v in val_cols) for r in csv.DictReader(f)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--figure", help="where to copy the averaged head-importance grid (PNG)")
    args = ap.parse_args()
    w = args.work
    os.makedirs(w, exist_ok=True)
    imp_dir, ds_dir = os.path.join(w, "importance"), os.path.join(w, "dataset")
    cli(args, "ablate", "--model", args.model, "--images", args.images, "--importance", "--out", imp_dir)
    cli(args, "dataset", "--model", args.model, "--images", args.images, "--out", ds_dir)

    mean_imp = read_table(os.path.join(imp_dir, "head_importance.csv"), ["layer", "head"], ["delta_prob", "delta_logit"])
    dist = read_table(os.path.join(ds_dir, "attention_distance.csv"), ["layer", "head"], ["mean_px"])
    heads = sorted(mean_imp)
    per_image = defaultdict(dict)  # image → (layer, head) → delta_prob
    with open(os.path.join(imp_dir, "head_importance_per_image.csv"), newline="") as f:
        for r in csv.DictReader(f):
            per_image[r["image"]][(int(r["layer"]), int(r["head"]))] = float(r["delta_prob"])

    # Per image: every head's CLS row against the chefer2 map of the same (top-1) class.
    agreement = defaultdict(dict)  # image → head → Pearson
    for i, image in enumerate(sorted(per_image)):
        src = os.path.join(args.images, image)
        run_dir, ex_dir = os.path.join(w, "run", str(i)), os.path.join(w, "explain", str(i))
        cli(args, "run", "--model", args.model, "--image", src, "--out", run_dir)
        cli(args, "explain", "--model", args.model, "--image", src, "--method", "chefer2", "--out", ex_dir)
        rshape, rel = read_npy(os.path.join(ex_dir, "relevance.npy"))
        n_patch = rshape[0] * rshape[1]
        for layer in sorted({l for l, _ in heads}):
            (nh, nq, nk), a = read_npy(os.path.join(run_dir, "attention", f"encoder_layer{layer:02d}.npy"))
            prefix = nk - n_patch
            for h in range(nh):
                row = a[h * nq * nk: h * nq * nk + nk]  # query 0: CLS
                agreement[image][(layer, h)] = pearson(row[prefix:], rel)
        print(f"[{i + 1}/{len(per_image)}] {image}", file=sys.stderr)

    imp = [mean_imp[k][0] for k in heads]
    imp_logit = [mean_imp[k][1] for k in heads]
    d = [dist[k][0] for k in heads]
    agr = [sum(agreement[im][k] for im in agreement) / len(agreement) for k in heads]
    print(f"images: {len(per_image)}, heads: {len(heads)}")
    print("mean importance (delta_prob) top 6:",
          ", ".join(f"{l}:{h} {v:.3f}" for (l, h), v in sorted(zip(heads, imp), key=lambda x: -x[1])[:6]))
    print(f"Spearman importance vs mean distance: dprob {spearman(imp, d):+.2f}, dlogit {spearman(imp_logit, d):+.2f}")
    late = [i for i, (l, _) in enumerate(heads) if l < 9]
    print(f"  without layers 9-11: {spearman([imp[i] for i in late], [d[i] for i in late]):+.2f}")
    print("mean agreement with chefer2 (Pearson of the CLS row), top 6:",
          ", ".join(f"{l}:{h} {v:+.2f}" for (l, h), v in sorted(zip(heads, agr), key=lambda x: -x[1])[:6]))
    print(f"Spearman mean importance vs mean agreement: {spearman(imp, agr):+.2f}")
    rhos, top_above, top_agr, others = [], 0, [], []
    for im in sorted(per_image):
        pi = [per_image[im][k] for k in heads]
        ai = [agreement[im][k] for k in heads]
        rhos.append(spearman(pi, ai))
        best = max(range(len(heads)), key=lambda j: pi[j])
        top_agr.append(ai[best])
        others.append(median(ai))
        top_above += ai[best] > median(ai)
        print(f"  {im}: most important {heads[best][0]}:{heads[best][1]} (dprob {pi[best]:.3f}) agreement {ai[best]:+.2f}"
              f" (median head {median(ai):+.2f}); rho {rhos[-1]:+.2f}")
    print(f"per image Spearman(importance, agreement): median {median(rhos):+.2f}, range {min(rhos):+.2f}..{max(rhos):+.2f}")
    print(f"the most important head agrees better than the median head in {top_above} of {len(rhos)} images "
          f"(median agreement {median(top_agr):+.2f} vs {median(others):+.2f})")
    if args.figure:
        tmp = args.figure + ".tmp"
        shutil.copyfile(os.path.join(imp_dir, "head_importance.png"), tmp)
        os.replace(tmp, args.figure)
        print(f"wrote {args.figure} ({os.path.getsize(args.figure)} bytes)")


if __name__ == "__main__":
    main()
