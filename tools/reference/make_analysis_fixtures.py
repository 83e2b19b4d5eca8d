#!/usr/bin/python3
"""Reference values for core/analysis, computed in NumPy (float64) from the ViT fixtures'
PyTorch attention maps and checkpoints in tests/fixtures/vit.

    /usr/bin/python3 tools/reference/make_analysis_fixtures.py

Writes tests/fixtures/analysis/<case>/*.npy + meta.json. Independent of the C++ code: each
analysis is written from its definition (docs/analyses.md, README_analysis.md).
"""
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import st_io  # noqa: E402
from fixture_io import save  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "tests" / "fixtures" / "vit"
OUT = ROOT / "tests" / "fixtures" / "analysis"
CASES = ["hf_vit", "deit_distilled", "dinov2_reg"]
FUSIONS = ["mean", "max", "min"]
DISCARDS = [0.0, 0.5, 0.9]
MASSES = [0.6, 0.9]


def fuse(a, fusion):  # a: (heads, T, T)
    return {"mean": a.mean(0), "max": a.max(0), "min": a.min(0)}[fusion]


def rollout(maps, prefix, gh, gw, fusion, discard):
    T = maps[0].shape[-1]
    result = np.eye(T)
    for a in maps:
        f = fuse(a, fusion).copy()
        flat = f.reshape(-1)
        k = int(discard * flat.size)
        order = np.argsort(flat, kind="stable")[:k]      # k smallest, ties by index
        order = order[(order // T != 0) & (order % T != 0)]  # never the CLS row / column
        flat[order] = 0.0
        s = 0.5 * f + 0.5 * np.eye(T)
        s = s / s.sum(axis=1, keepdims=True)            # rows sum to 1
        result = s @ result
    return result[0, prefix:].reshape(gh, gw)


def mean_distance(a, prefix, gh, gw, patch):  # -> (heads,)
    ys, xs = np.divmod(np.arange(gh * gw), gw)
    p = np.stack([ys, xs], 1) * patch
    d = np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(-1))
    sub = a[:, prefix:, prefix:]
    return (sub * d[None]).sum((1, 2)) / (gh * gw)


def entropy(a):
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(a > 0, -a * np.log(a), 0.0)
    return t.sum(-1).mean(-1)


def dino_masks(a, prefix, gh, gw, mass):
    att = a[:, 0, prefix:]  # (heads, N)
    idx = np.argsort(att, axis=1, kind="stable")
    val = np.take_along_axis(att, idx, 1)
    val = val / val.sum(1, keepdims=True)
    keep = np.cumsum(val, 1) > 1 - mass
    out = np.zeros_like(att)
    np.put_along_axis(out, idx, keep.astype(np.float64), 1)
    return out.reshape(-1, gh, gw)


def to_original(grid, g, mode):
    gh, gw = grid.shape

    def coords(n, orig, resized, crop, inp, cells):
        u = (np.arange(n) + 0.5) * resized / orig - crop
        c = u * cells / inp
        c[(u < 0) | (u >= inp)] = np.nan
        return c

    cx = coords(g["orig_w"], g["orig_w"], g["resized_w"], g["crop_x"], g["input_w"], gw)
    cy = coords(g["orig_h"], g["orig_h"], g["resized_h"], g["crop_y"], g["input_h"], gh)
    out = np.full((g["orig_h"], g["orig_w"]), np.nan)
    for y in range(g["orig_h"]):
        for x in range(g["orig_w"]):
            if np.isnan(cx[x]) or np.isnan(cy[y]):
                continue
            if mode == "nearest":
                out[y, x] = grid[min(gh - 1, int(cy[y])), min(gw - 1, int(cx[x]))]
                continue
            fx = np.clip(cx[x] - 0.5, 0, gw - 1)
            fy = np.clip(cy[y] - 0.5, 0, gh - 1)
            x0, y0 = int(fx), int(fy)
            x1, y1 = min(x0 + 1, gw - 1), min(y0 + 1, gh - 1)
            tx, ty = fx - x0, fy - y0
            top = grid[y0, x0] * (1 - tx) + grid[y0, x1] * tx
            bot = grid[y1, x0] * (1 - tx) + grid[y1, x1] * tx
            out[y, x] = top * (1 - ty) + bot * ty
    return out


def embeddings(weights):
    key = next(k for k in weights if k.endswith("embeddings.position_embeddings"))
    fkey = next(k for k in weights if k.endswith("patch_embeddings.projection.weight"))
    dist = any(k.endswith("distillation_token") for k in weights)
    pos = weights[key][0].astype(np.float64)
    prefix = 1 + int(dist)
    g = int(round(np.sqrt(pos.shape[0] - prefix)))
    assert g * g == pos.shape[0] - prefix
    e = pos[prefix:]
    u = e / np.linalg.norm(e, axis=1, keepdims=True)
    sim = u @ u.T
    f = weights[fkey].astype(np.float64)
    x = f.reshape(f.shape[0], -1)
    x = x - x.mean(0)
    cov = x.T @ x / (x.shape[0] - 1)
    w, v = np.linalg.eigh(cov)
    k = min(28, x.shape[0], x.shape[1])
    axes = v[:, ::-1][:, :k].T.copy()
    for i in range(k):
        j = np.argmax(np.abs(axes[i]))  # first on ties
        if axes[i, j] < 0:
            axes[i] = -axes[i]
    gap = np.sort(w)[::-1]
    return sim, g, axes.reshape(k, *f.shape[1:]), gap[:k]




def main():
    for case in CASES:
        src = SRC / case
        ex = json.loads((src / "expected.json").read_text())
        gh, gw, patch = ex["grid_h"], ex["grid_w"], ex["patch"]
        prefix = ex["n_cls"] + ex["n_dist"] + ex["n_reg"]
        maps = [np.load(src / f"attn_layer{i:02d}.npy").astype(np.float64) for i in range(ex["layers"])]
        d = OUT / case
        d.mkdir(parents=True, exist_ok=True)
        save(d, "rollout.npy", np.stack([np.stack([rollout(maps, prefix, gh, gw, f, r) for r in DISCARDS]) for f in FUSIONS]))
        save(d, "distance.npy", np.stack([mean_distance(a, prefix, gh, gw, patch) for a in maps]))
        save(d, "entropy.npy", np.stack([entropy(a) for a in maps]))
        save(d, "masks.npy", np.stack([dino_masks(maps[-1], prefix, gh, gw, m) for m in MASSES]))
        # query maps: layer 0; head 1 of the CLS query, max-fusion of the last patch's query
        q_cls = maps[0][1, 0, prefix:].reshape(gh, gw)
        q_patch = maps[0].max(0)[-1, prefix:].reshape(gh, gw)
        save(d, "query_map.npy", np.stack([q_cls, q_patch]))
        geom = {"orig_w": 53, "orig_h": 41, "resized_w": ex["input_w"] + 6, "resized_h": ex["input_h"] + 4,
                "crop_x": 3, "crop_y": 2, "input_w": ex["input_w"], "input_h": ex["input_h"]}
        save(d, "query_map_original.npy", np.stack([to_original(q_cls, geom, m) for m in ("bilinear", "nearest")]))
        weights = st_io.load_file(str(src / "model.safetensors"))[0]
        sim, g, axes, var = embeddings(weights)
        save(d, "pos_similarity.npy", sim)
        save(d, "filters_pca.npy", axes)
        meta = {"case": case, "grid_h": gh, "grid_w": gw, "patch": patch, "n_cls": ex["n_cls"], "n_dist": ex["n_dist"],
                "n_reg": ex["n_reg"], "layers": ex["layers"], "heads": ex["heads"], "fusions": FUSIONS,
                "discards": DISCARDS, "masses": MASSES, "pos_grid": g, "pca_variance": [float(v) for v in var],
                "geometry": geom}
        (d / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        print(case, "ok:", sorted(p.name for p in d.iterdir()))


if __name__ == "__main__":
    main()
