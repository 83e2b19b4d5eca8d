#!/usr/bin/python3
"""Reference values for the token analyses (core/analysis/tokens), independent of the C++ code.

    /usr/bin/python3 tools/reference/make_token_fixtures.py

For each ViT fixture (tests/fixtures/vit/<case>) the checkpoint is loaded into `vit_ref.PrefixViT`
(plain torch.nn modules, float64) and run on the fixture's input with forward hooks on every block
(residual stream after the block) and on the final LayerNorm. The model is first checked to
reproduce the fixture's logits/features and attention maps. Then, from the definitions
(docs/analyses.md):

  token_norms.npy   [layers, tokens]  L2 norm of every token after each block
  final_tokens.npy  [tokens, hidden]  the final-LayerNorm output (all tokens)
  sinks.npy         [layers, heads, 3] (most-attended key index, its mean share, non-patch share:
                    the attention on every key outside the patch grid),
                    from the fixture's attention maps (NumPy)
  feature_pca.npy   [grid_h, grid_w, 3] patch tokens on their first three principal axes, min-max to [0, 1]
  feature_pca_mask.npy [grid_h, grid_w] first component > 0 (sign: border patches' mean ≤ 0)
  meta.json         layout, outlier lists for k = 1.2 and 2, explained variance

Written to tests/fixtures/analysis/<case>/ (beside make_analysis_fixtures.py's files).
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import st_io  # noqa: E402
from fixture_io import save  # noqa: E402
import vit_ref as vr  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "tests" / "fixtures" / "vit"
OUT = ROOT / "tests" / "fixtures" / "analysis"
# case -> (HF prefix, naming style, head names)
CASES = {
    "hf_vit": ("vit.", "vit", ("classifier", None)),
    "deit_distilled": ("deit.", "vit", ("cls_classifier", "distillation_classifier")),
    "dinov2_reg": ("", "dinov2", ("classifier", None)),
}
torch.set_num_threads(1)


def maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def run_reference(case, ex):
    prefix, style, heads = CASES[case]
    w, _, _ = st_io.load_file(SRC / case / "model.safetensors")
    timm = vr.hf_to_timm({k: torch.from_numpy(v.copy()) for k, v in w.items()}, prefix, style, heads)
    sd = vr.timm_to_prefixvit(timm)
    sd.pop("mask_token", None)
    D, L, H = ex["hidden"], ex["layers"], ex["heads"]
    pg = (ex.get("pos_grid_h", ex["grid_h"]), ex.get("pos_grid_w", ex["grid_w"]))
    m = vr.PrefixViT(D, H, L, ex["mlp"], ex["patch"], pg, ex["layer_norm_eps"],
                     num_classes=ex.get("num_labels", 0) if "head.weight" in sd else 0,
                     dist=ex["n_dist"] == 1, n_reg=ex["n_reg"], layerscale=bool(ex.get("layerscale")))
    m.load_state_dict(sd, strict=True)
    m = m.double().eval()
    resid, final = [], []
    for blk in m.blocks:
        blk.register_forward_hook(lambda mod, inp, out: resid.append(out[0][0].detach().numpy().copy()))
    m.norm.register_forward_hook(lambda mod, inp, out: final.append(out[0].detach().numpy().copy()))
    img = torch.from_numpy(np.load(SRC / case / "input.npy").astype(np.float64))
    with torch.no_grad():
        o = m(img[None])
    # the reconstruction is the fixture's model
    for i, a in enumerate(o["attn"]):
        d = maxdiff(a[0].numpy(), np.load(SRC / case / f"attn_layer{i:02d}.npy"))
        assert d < 1e-5, f"{case}: attention layer {i} differs from the fixture by {d}"
    if "logits" in o:
        d = maxdiff(o["logits"][0].numpy(), np.load(SRC / case / "logits.npy"))
    else:
        d = maxdiff(o["features"][0].numpy(), np.load(SRC / case / "features.npy"))
    assert d < 1e-4, f"{case}: output differs from the fixture by {d}"
    assert len(resid) == L and len(final) == 1
    return np.stack(resid), final[0]


def sinks(maps, n_prefix, n_patch):  # -> [layers, heads, 3]
    out = []
    for a in maps:  # (heads, q, k)
        col = a.mean(1)  # mean over queries of the attention each key receives
        top = col.argmax(1)  # first on ties
        share = col[np.arange(a.shape[0]), top]
        non_patch = np.ones(a.shape[2], dtype=bool)  # every key outside the grid [n_prefix, n_prefix + n_patch)
        non_patch[n_prefix:n_prefix + n_patch] = False
        pre = a[:, :, non_patch].sum(-1).mean(-1)
        out.append(np.stack([top.astype(np.float64), share, pre], -1))
    return np.stack(out)


def outliers(norms, n_prefix, k):
    rows = []
    for layer, n in enumerate(norms):
        med = float(np.median(n[n_prefix:]))
        for t in np.nonzero(n > k * med)[0]:
            rows.append([layer, int(t), float(n[t]), med])
    return rows


def feature_pca(final, n_prefix, gh, gw):
    x = final[n_prefix:].astype(np.float64)
    x = x - x.mean(0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    axes = vt[:3].copy()
    for i in range(3):
        j = np.argmax(np.abs(axes[i]))  # largest coefficient positive (first on ties)
        if axes[i, j] < 0:
            axes[i] = -axes[i]
    proj = x @ axes.T  # (N, 3)
    border = np.zeros((gh, gw), bool)
    border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = True
    bm = proj[border.reshape(-1), 0].mean()
    if not border.all() and bm > 0:  # first axis: the border (most often background) on the negative side
        proj[:, 0] = -proj[:, 0]
    lo, hi = proj.min(0), proj.max(0)
    img = (proj - lo) / np.where(hi > lo, hi - lo, 1.0)
    mask = (proj[:, 0] > 0).astype(np.float64)
    explained = (s[:3] ** 2 / np.sum(s ** 2)).tolist()
    return img.reshape(gh, gw, 3), mask.reshape(gh, gw), explained, float(np.min(np.abs(proj[:, 0])))




def main():
    for case in CASES:
        ex = json.loads((SRC / case / "expected.json").read_text())
        n_prefix = ex["n_cls"] + ex["n_dist"] + ex["n_reg"]
        resid, final = run_reference(case, ex)
        norms = np.linalg.norm(resid, axis=-1)  # (layers, tokens)
        maps = [np.load(SRC / case / f"attn_layer{i:02d}.npy").astype(np.float64) for i in range(ex["layers"])]
        sk = sinks(maps, n_prefix, ex["grid_h"] * ex["grid_w"])
        img, mask, explained, margin = feature_pca(final, n_prefix, ex["grid_h"], ex["grid_w"])
        d = OUT / case
        d.mkdir(parents=True, exist_ok=True)
        save(d, "token_norms.npy", norms)
        save(d, "final_tokens.npy", final)
        save(d, "sinks.npy", sk)
        save(d, "feature_pca.npy", img)
        save(d, "feature_pca_mask.npy", mask)
        meta = {"n_cls": ex["n_cls"], "n_dist": ex["n_dist"], "n_reg": ex["n_reg"], "grid_h": ex["grid_h"],
                "grid_w": ex["grid_w"], "patch": ex["patch"], "layers": ex["layers"], "heads": ex["heads"],
                "outliers_k1_2": outliers(norms, n_prefix, 1.2), "outliers_k2": outliers(norms, n_prefix, 2.0),
                "pca_explained": explained, "pca_min_abs_first_component": margin}
        (d / "tokens_meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        print(f"{case}: norms {norms.shape} range {norms.min():.3f}..{norms.max():.3f}, "
              f"outliers k=1.2: {len(meta['outliers_k1_2'])}, k=2: {len(meta['outliers_k2'])}, "
              f"pca explained {np.round(explained, 3).tolist()}, mask {int(mask.sum())}/{mask.size}, "
              f"min |pc1| {margin:.2e}")


if __name__ == "__main__":
    main()
