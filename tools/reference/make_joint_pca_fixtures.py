#!/usr/bin/python3
"""Reference for the joint feature PCA of `dataset` (core/analysis/tokens.h JointFeaturePca), in NumPy
from the definition, independent of the C++ code.

    /usr/bin/python3 tools/reference/make_joint_pca_fixtures.py

Three "images" of final tokens [1 + grid_h*grid_w, 16] (one prefix token, grids 4x5, 3x3, 6x4) drawn from
a low-rank model plus noise, so the three leading axes are well separated. The definition:
  patches of every image stacked, centred on their joint mean; axes = first three right singular vectors,
  each with its largest coefficient positive; axis 1 negated when the mean projection of all border
  patches (first/last row/column of each image's grid) is > 0; each component min-max scaled over all
  images together; mask = first component > 0; explained = squared singular values / their sum.
Writes tests/fixtures/analysis/joint_pca/: tokens_<i>.npy, pca_<i>.npy [gh, gw, 3], mask_<i>.npy, meta.json.
"""
import json
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "analysis" / "joint_pca"
GRIDS = [(4, 5), (3, 3), (6, 4)]
D = 16


def main():
    rng = np.random.default_rng(17)
    basis = rng.standard_normal((3, D)) * np.array([[6.0], [3.5], [2.0]])
    shift = rng.standard_normal(D)
    tokens, patches = [], []
    for i, (gh, gw) in enumerate(GRIDS):
        n = gh * gw
        coef = rng.standard_normal((n, 3))
        x = coef @ basis + 0.3 * rng.standard_normal((n, D)) + shift + 0.5 * i  # images differ in offset too
        t = np.concatenate([rng.standard_normal((1, D)) * 10, x], 0).astype(np.float32)  # prefix token: ignored
        tokens.append(t)
        patches.append(t[1:].astype(np.float64))
    allp = np.concatenate(patches, 0)
    xc = allp - allp.mean(0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    axes = vt[:3].copy()
    for a in axes:
        j = np.argmax(np.abs(a))
        if a[j] < 0:
            a *= -1
    proj = xc @ axes.T
    border = np.concatenate([np.pad(np.zeros((gh - 2, gw - 2), bool), 1, constant_values=True).reshape(-1)
                             if gh > 2 and gw > 2 else np.ones(gh * gw, bool) for gh, gw in GRIDS])
    if not border.all() and proj[border, 0].mean() > 0:
        proj[:, 0] *= -1
    lo, hi = proj.min(0), proj.max(0)
    scaled = (proj - lo) / np.where(hi > lo, hi - lo, 1.0)
    explained = (s[:3] ** 2 / np.sum(s ** 2)).tolist()
    assert s[2] / s[3] > 2, "leading axes not well separated"
    OUT.mkdir(parents=True, exist_ok=True)
    start = 0
    for i, (gh, gw) in enumerate(GRIDS):
        n = gh * gw
        np.save(OUT / f"tokens_{i}.npy", tokens[i])
        np.save(OUT / f"pca_{i}.npy", scaled[start:start + n].reshape(gh, gw, 3).astype("<f4"))
        np.save(OUT / f"mask_{i}.npy", (proj[start:start + n, 0] > 0).reshape(gh, gw).astype("<f4"))
        start += n
    meta = {"grids": GRIDS, "n_prefix": 1, "hidden": D, "explained": explained,
            "min_abs_first_component": float(np.min(np.abs(proj[:, 0])))}
    (OUT / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print("explained", np.round(explained, 4).tolist(), "min |pc1|", meta["min_abs_first_component"])


if __name__ == "__main__":
    main()
