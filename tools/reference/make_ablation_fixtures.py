#!/usr/bin/python3
"""Head-ablation and patch-masking references (issue 18) → tests/fixtures/ablation/*.json.

    /usr/bin/python3 tools/reference/make_ablation_fixtures.py

Independent of AttnScope's C++ code. The models are the existing reference modules:
`vit_ref.PrefixViT` (torch.nn modules) loaded from the ViT fixtures' checkpoints, the real DeiT-Tiny
(/work/shared/models/deit-tiny-imagenet, skipped when absent) and make_detr_fixtures.DETR loaded from
the r50tiny checkpoint. Every nn.MultiheadAttention gets a forward re-implemented from its in_proj /
out_proj weights with a head mask applied to the per-head outputs (attention-weighted values) before
the output projection — Michel et al. 2019's head mask:
  zero: the head's output is 0 for every query token;
  mean: it is replaced by its mean over the query tokens of this pass.
The re-implementation is first checked against nn.MultiheadAttention itself (no head ablated).
Runs in float64 on the float32 weights. Patch masking sets the pixels of a patch to 0 in the normalised
input. Head importance: clean target value minus the value with one head ablated, for every head of a
site; target = the clean top-1 class (ViT) or, for DETR, the query with the highest detection score
(max over the real classes of the softmax over all logits) and that class.
"""
import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.models.resnet import Bottleneck

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_detr_fixtures as md  # noqa: E402
import st_io  # noqa: E402
import vit_ref as vr  # noqa: E402

ROOT = HERE.parents[1]
FIX = ROOT / "tests" / "fixtures"
OUT = FIX / "ablation"
DEIT_TINY = Path("/work/shared/models/deit-tiny-imagenet")

torch.set_num_threads(1)

# (site, layer) -> (set of heads, mode); read by the patched attention forward.
ABLATE = {}


def mha_forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
    assert attn_mask is None
    if self.batch_first:
        query, key, value = (t.transpose(0, 1) for t in (query, key, value))
    L, B, E = query.shape
    S = key.shape[0]
    H = self.num_heads
    hd = E // H
    w, b = self.in_proj_weight, self.in_proj_bias
    q = F.linear(query, w[:E], b[:E]).reshape(L, B * H, hd).transpose(0, 1)
    k = F.linear(key, w[E:2 * E], b[E:2 * E]).reshape(S, B * H, hd).transpose(0, 1)
    v = F.linear(value, w[2 * E:], b[2 * E:]).reshape(S, B * H, hd).transpose(0, 1)
    scores = (q @ k.transpose(1, 2)) / math.sqrt(hd)  # [B*H, L, S]
    if key_padding_mask is not None:
        scores = scores.masked_fill(key_padding_mask.repeat_interleave(H, 0)[:, None, :], float("-inf"))
    p = scores.softmax(-1)
    ctx = (p @ v).reshape(B, H, L, hd)
    heads, mode = ABLATE.get(self._site, (set(), "zero"))
    for h in heads:
        if mode == "zero":
            ctx[:, h] = 0
        else:
            ctx[:, h] = ctx[:, h].mean(dim=1, keepdim=True)  # over the L query tokens
    out = self.out_proj(ctx.permute(2, 0, 1, 3).reshape(L, B, E))
    if self.batch_first:
        out = out.transpose(0, 1)
    p = p.reshape(B, H, L, S)
    return out, (p.mean(1) if average_attn_weights else p)


def patch(mha, site):
    mha._site = site
    mha.forward = types.MethodType(mha_forward, mha)


def set_ablation(heads, mode):
    """heads: [(site, layer, head)]."""
    ABLATE.clear()
    for s, l, h in heads:
        ABLATE.setdefault((s, l), (set(), mode))[0].add(h)


def maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# ------------------------------------------------------------------------------------------ ViT
def load_prefix_vit(case, prefix, head_names, **kw):
    w, _, _ = st_io.load_file(FIX / "vit" / case / "model.safetensors")
    m = vr.PrefixViT(**kw).eval()
    m.load_state_dict(vr.timm_to_prefixvit(vr.hf_to_timm(w, prefix, "vit", head_names)), strict=True)
    return m


def vit_runner(m, img):
    """Returns run(heads, mode, patches) -> float64 logits; checks the patched attention first."""
    m = m.double()
    x0 = torch.as_tensor(np.asarray(img, np.float64))
    with torch.no_grad():
        clean = m(x0[None])["logits"][0].numpy()
    for i, blk in enumerate(m.blocks):
        patch(blk.attn, ("encoder", i))

    def run(heads=(), mode="zero", patches=()):
        set_ablation(heads, mode)
        x = x0.clone()
        gw = x.shape[2] // m.patch
        for c in patches:
            r, col = divmod(c, gw)
            x[:, r * m.patch:(r + 1) * m.patch, col * m.patch:(col + 1) * m.patch] = 0
        with torch.no_grad():
            return m(x[None])["logits"][0].numpy()

    d = maxdiff(run(), clean)
    assert d < 1e-12, f"re-implemented attention differs from nn.MultiheadAttention by {d}"
    print(f"  patched attention == nn.MultiheadAttention (max diff {d:.1e})")
    return run


def importance_vit(run, layers, heads, mode, base_heads=(), patches=()):
    clean = run(base_heads, mode, patches)
    c = int(np.argmax(clean))
    p0 = softmax(clean)[c]
    table = []
    for l in range(layers):
        for h in range(heads):
            a = run(list(base_heads) + [("encoder", l, h)], mode, patches)
            table.append([l, h, float(clean[c] - a[c]), float(p0 - softmax(a)[c])])
    return {"mode": mode, "site": "encoder", "target_class": c, "target_query": -1, "clean_logit": float(clean[c]),
            "clean_prob": float(p0), "table": table}


def heads_json(heads):
    return [{"site": s, "layer": l, "head": h} for s, l, h in heads]


def vit_fixture(case, prefix, head_names, kw, cases, importance_modes):
    m = load_prefix_vit(case, prefix, head_names, **kw)
    img = np.load(FIX / "vit" / case / "input.npy")
    stored = np.load(FIX / "vit" / case / "logits.npy")
    run = vit_runner(m, img)
    d = maxdiff(run(), stored)
    assert d < 1e-4, f"{case}: clean reference differs from the fixture's logits by {d}"
    out = {"model": f"vit/{case}", "clean_logits": run().tolist(), "cases": [], "importance": []}
    for name, heads, mode, patches in cases:
        lg = run(heads, mode, patches)
        assert maxdiff(lg, run()) > 1e-3, f"{case}/{name}: the intervention changes nothing"
        out["cases"].append({"name": name, "heads": heads_json(heads), "mode": mode, "masked_patches": list(patches),
                             "logits": lg.tolist()})
        print(f"  {case}/{name}: max |Δlogit| {maxdiff(lg, run()):.3f}")
    for mode in importance_modes:
        out["importance"].append(importance_vit(run, kw["layers"], kw["heads"], mode))
    return out


# ------------------------------------------------------------------------------------------ DETR
def detr_fixture():
    labels = ["cat", "dog", "remote", "couch", "N/A"]
    m = md.DETR(Bottleneck, [3, 4, 6, 3], 8, [4, 8, 16, 32], False, 32, 4, 2, 2, 64, 10, len(labels)).eval()
    w, _, _ = st_io.load_file(FIX / "detr" / "r50tiny" / "original" / "model.safetensors")
    m.load_state_dict({k: torch.as_tensor(v) for k, v in w.items()}, strict=True)
    m = m.double()
    img = torch.as_tensor(np.load(FIX / "detr" / "r50tiny" / "input.npy").astype(np.float64))
    with torch.no_grad():
        clean_l, clean_b = (t.numpy() for t in m(img)[:2])
    stored = np.load(FIX / "detr" / "r50tiny" / "expected" / "logits.npy")
    assert maxdiff(clean_l, stored) < 1e-4, "DETR clean reference differs from the fixture"
    for i, L in enumerate(m.transformer.encoder.layers):
        patch(L.self_attn, ("encoder", i))
    for i, L in enumerate(m.transformer.decoder.layers):
        patch(L.self_attn, ("decoder_self", i))
        patch(L.multihead_attn, ("decoder_cross", i))

    def run(heads=(), mode="zero"):
        set_ablation(heads, mode)
        with torch.no_grad():
            lg, bx = m(img)[:2]
        return lg.numpy(), bx.numpy()

    l0, b0 = run()
    assert maxdiff(l0, clean_l) < 1e-12 and maxdiff(b0, clean_b) < 1e-12, "patched DETR attention differs"
    print(f"  DETR: patched attention == nn.MultiheadAttention")
    out = {"model": "detr/r50tiny/hf", "clean_logits": l0.tolist(), "clean_boxes": b0.tolist(), "cases": [],
           "importance": []}
    mixed = [("encoder", 1, 2), ("decoder_self", 0, 1), ("decoder_cross", 1, 3)]
    for name, heads, mode in [("mixed_zero", mixed, "zero"), ("mixed_mean", mixed, "mean"),
                              ("encoder_zero", [("encoder", 0, 0), ("encoder", 0, 3)], "zero"),
                              ("cross_mean", [("decoder_cross", 0, 2)], "mean")]:
        lg, bx = run(heads, mode)
        assert maxdiff(lg, l0) > 1e-3, f"DETR/{name}: the ablation changes nothing"
        out["cases"].append({"name": name, "heads": heads_json(heads), "mode": mode, "masked_patches": [],
                             "logits": lg.tolist(), "boxes": bx.tolist()})
        print(f"  DETR/{name}: max |Δlogit| {maxdiff(lg, l0):.3f}, max |Δbox| {maxdiff(bx, b0):.4f}")
    # importance on the decoder cross-attention: target = the best detection of the clean run
    p0 = softmax(l0)
    q = int(np.argmax(p0[:, :-1].max(1)))
    c = int(np.argmax(p0[q, :-1]))
    table = []
    for l in range(2):
        for h in range(4):
            lg, _ = run([("decoder_cross", l, h)], "zero")
            table.append([l, h, float(l0[q, c] - lg[q, c]), float(p0[q, c] - softmax(lg[q])[c])])
    out["importance"].append({"mode": "zero", "site": "decoder_cross", "target_class": c, "target_query": q,
                              "clean_logit": float(l0[q, c]), "clean_prob": float(p0[q, c]), "table": table})
    return out


# ------------------------------------------------------------------------------------------ DeiT-Tiny
def analytic_input(h, w):
    """The [3, H, W] input the C++ test builds the same way: sin(0.031·x + 0.047·y + 1.3·c)·1.5, float32."""
    c, y, x = np.meshgrid(np.arange(3), np.arange(h), np.arange(w), indexing="ij")
    return (np.sin(0.031 * x + 0.047 * y + 1.3 * c) * 1.5).astype(np.float32)


def deit_tiny_fixture():
    w, _, _ = st_io.load_file(DEIT_TINY / "model.safetensors")
    m = vr.PrefixViT(192, 3, 12, 768, 16, (14, 14), 1e-6, num_classes=1000).eval()
    m.load_state_dict(vr.timm_to_prefixvit({k: v for k, v in w.items()}), strict=True)
    run = vit_runner(m, analytic_input(224, 224))
    clean = run()
    out = {"model": str(DEIT_TINY), "input": "analytic sin(0.031x + 0.047y + 1.3c)·1.5, [3, 224, 224]",
           "clean_logits": clean.tolist(), "cases": [], "importance": []}
    for name, heads, mode, patches in [
            ("zero_3", [("encoder", 3, 1), ("encoder", 7, 2), ("encoder", 11, 0)], "zero", []),
            ("mean_2", [("encoder", 0, 0), ("encoder", 10, 2)], "mean", []),
            ("mask_zero", [("encoder", 5, 1)], "zero", [0, 1, 14, 15, 100, 195])]:
        lg = run(heads, mode, patches)
        out["cases"].append({"name": name, "heads": heads_json(heads), "mode": mode, "masked_patches": patches,
                             "logits": lg.tolist()})
        print(f"  deit-tiny/{name}: max |Δlogit| {maxdiff(lg, clean):.3f}")
    out["importance"].append(importance_vit(run, 12, 3, "zero"))
    return out


def dump(name, obj):
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / name, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT / name}")


def main():
    hf_kw = dict(hidden=48, heads=3, layers=3, mlp=96, patch=8, pos_grid=(4, 4), eps=1e-6, num_classes=10)
    dump("hf_vit.json", vit_fixture("hf_vit", "vit.", ("classifier", None), hf_kw, [
        ("zero", [("encoder", 0, 1), ("encoder", 2, 0)], "zero", []),
        ("mean", [("encoder", 0, 1), ("encoder", 2, 0)], "mean", []),
        ("mean_all_layer1", [("encoder", 1, 0), ("encoder", 1, 1), ("encoder", 1, 2)], "mean", []),
        ("mask", [], "zero", [0, 5, 15]),
        ("mask_zero", [("encoder", 1, 2)], "zero", [3, 6]),
    ], ["zero", "mean"]))
    deit_kw = dict(hidden=32, heads=2, layers=2, mlp=128, patch=8, pos_grid=(4, 4), eps=1e-12, num_classes=10,
                   dist=True)
    dump("deit_distilled.json", vit_fixture("deit_distilled", "deit.", ("cls_classifier", "distillation_classifier"),
                                            deit_kw, [
        ("zero", [("encoder", 1, 1)], "zero", []),
        ("mean", [("encoder", 0, 0), ("encoder", 1, 1)], "mean", []),
        ("mask_mean", [("encoder", 0, 1)], "mean", [2, 7, 14]),
    ], ["zero"]))
    dump("detr_r50tiny.json", detr_fixture())
    if (DEIT_TINY / "model.safetensors").exists():
        dump("deit_tiny_real.json", deit_tiny_fixture())
    else:
        print(f"skipped the real DeiT-Tiny: {DEIT_TINY} is absent")


if __name__ == "__main__":
    main()
