#!/usr/bin/python3
"""Reference gradients and relevance maps for the explanation engine (issue 16), independent of the C++ code.

    /usr/bin/python3 tools/reference/make_explain_fixtures.py

Gradients come from PyTorch autograd (float64) on `vit_ref.PrefixViT` (plain torch.nn modules). Its blocks
use nn.MultiheadAttention, whose returned weights are not the tensor the output is computed from, so the
forward here recomputes each block's attention explicitly from the same nn.MultiheadAttention parameters
(q/k/v from in_proj, softmax(q·kᵀ/√d_h), ·v, out_proj) with `retain_grad()` on the probabilities, and
asserts that the block output equals nn.MultiheadAttention's own to 1e-10. Logits and attention maps are
checked against the forward fixtures (tests/fixtures/vit) where a case comes from there.

The maps are computed with NumPy from the autograd gradients, written from the method definitions
(docs/explanations.md), not from the C++:

  chefer2       R = I; per block R += mean_h(clip(∂y/∂A ⊙ A, 0)) @ R; R[0, prefix:]   (Chefer et al. 2021, ICCV)
  gradcam       act = LN1 output of the last block (patch tokens), w = mean over patches of ∂y/∂act,
                relu(act @ w)                                                         (pytorch-grad-cam ViT recipe)
  grad_rollout  vit-explain grad_rollout with each layer's own gradient and row-wise normalisation:
                fused = clip(mean_h(A ⊙ ∂y/∂A), 0); drop the int(ratio·T²) smallest (stable order) except
                in row/column 0; a = (fused + I)/2 row-normalised; result = a @ result; result[0, prefix:]

Cases (tests/fixtures/explain/<case>/):
  hf_vit, timm_vit, deit_distilled   the forward fixtures' models and inputs (Cls / ClsDist heads)
  dinov2_reg_cls                     new: DINOv2 with 2 registers, layer scale, HF classifier on
                                     [CLS, mean of patch tokens] (ClsMeanPatch); model written here
  timm_avg                           new: timm global_pool='avg' with fc_norm (MeanPatch); model written here
  deit_tiny_real                     the real DeiT-Tiny (../shared, NOT committed) on the two-cats photo;
                                     only the input crop (uint8) and summary numbers are written
Per case and target t (top-1 and the runner-up): grad_tT_layerNN.npy [heads, T, T] (tiny cases), chefer2_tT.npy,
gradcam_tT.npy, grad_rollout_dR_tT.npy (R = 0, 90 for discard 0 / 0.9, vit-explain's default); explain.json with logits, targets.
"""
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import st_io  # noqa: E402
import vit_ref as vr  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
VIT = ROOT / "tests" / "fixtures" / "vit"
OUT = ROOT / "tests" / "fixtures" / "explain"
SHARED = ROOT.parent / "shared"
DISCARDS = (0.0, 0.9)
torch.set_num_threads(1)


def maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def save(d, name, a):
    np.save(d / name, np.ascontiguousarray(a, dtype="<f4"))


# ---------------------------------------------------------------------------------------------
# explicit, differentiable forward over PrefixViT's modules
# ---------------------------------------------------------------------------------------------
def embed(m, img):
    B, _, H, W = img.shape
    x = m.patch_embed(img)
    gh, gw = x.shape[-2:]
    x = x.flatten(2).transpose(1, 2)
    pre = [m.cls_token.expand(B, -1, -1)]
    if m.dist_token is not None:
        pre.append(m.dist_token.expand(B, -1, -1))
    x = torch.cat(pre + [x], dim=1)
    x = x + m.interpolated_pos(gh, gw, H, W)
    if m.reg_token is not None:
        npp = m.n_prefix_pos
        x = torch.cat([x[:, :npp], m.reg_token.expand(B, -1, -1), x[:, npp:]], dim=1)
    return x, (int(gh), int(gw))


def block(blk, x, heads):
    B, T, D = x.shape
    dh = D // heads
    h = blk.norm1(x)
    if h.requires_grad:
        h.retain_grad()
    qkv = F.linear(h, blk.attn.in_proj_weight, blk.attn.in_proj_bias)
    q, k, v = (t.reshape(B, T, heads, dh).transpose(1, 2) for t in qkv.split(D, dim=-1))
    A = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)
    if A.requires_grad:
        A.retain_grad()
    ctx = (A @ v).transpose(1, 2).reshape(B, T, D)
    a = blk.attn.out_proj(ctx)
    with torch.no_grad():  # the explicit attention is nn.MultiheadAttention's
        ref, w = blk.attn(h, h, h, need_weights=True, average_attn_weights=False)
        assert maxdiff(ref.numpy(), a.detach().numpy()) < 1e-10 and maxdiff(w.numpy(), A.detach().numpy()) < 1e-10
    if blk.ls1 is not None:
        a = a * blk.ls1
    x = x + a
    mm = blk.fc2(blk.act(blk.fc1(blk.norm2(x))))
    if blk.ls2 is not None:
        mm = mm * blk.ls2
    return x + mm, A, h


def forward(m, img, head_kind, heads, extra):
    """head_kind: cls | cls_dist | cls_mean_patch | mean_patch."""
    x, grid = embed(m, img)
    n_prefix = 1 + int(m.dist_token is not None) + m.n_reg
    attn, ln1 = [], []
    for blk in m.blocks:
        x, A, h = block(blk, x, heads)
        attn.append(A)
        ln1.append(h)
    if head_kind == "mean_patch":  # timm global_pool='avg': norm = Identity, fc_norm after pooling
        logits = extra["head"](extra["fc_norm"](x[:, n_prefix:].mean(1)))
    else:
        xn = m.norm(x)
        if head_kind == "cls":
            logits = m.head(xn[:, 0])
        elif head_kind == "cls_dist":
            logits = (m.head(xn[:, 0]) + m.head_dist(xn[:, 1])) / 2
        else:  # HF Dinov2(WithRegisters)ForImageClassification: cat(CLS, mean of tokens after the registers)
            logits = extra["head"](torch.cat([xn[:, 0], xn[:, n_prefix:].mean(1)], dim=-1))
    return logits[0], attn, ln1, grid, n_prefix


# ---------------------------------------------------------------------------------------------
# the maps, from their definitions (NumPy, float64)
# ---------------------------------------------------------------------------------------------
def chefer2(As, Gs, n_prefix):
    T = As[0].shape[-1]
    R = np.eye(T)
    for A, G in zip(As, Gs):
        R = R + np.clip(G * A, 0, None).mean(0) @ R
    return R[0, n_prefix:]


def gradcam(act, grad, n_prefix):
    a, g = act[n_prefix:], grad[n_prefix:]
    return np.maximum(a @ g.mean(0), 0.0)


def grad_rollout(As, Gs, n_prefix, ratio):
    T = As[0].shape[-1]
    result = np.eye(T)
    for A, G in zip(As, Gs):
        fused = (A * G).mean(0)
        fused[fused < 0] = 0
        flat = fused.reshape(-1)
        n = int(flat.size * ratio)
        if n:
            order = np.lexsort((np.arange(flat.size), flat))[:n]  # ascending value, ties by index
            order = order[(order // T != 0) & (order % T != 0)]
            flat[order] = 0
        a = (fused + np.eye(T)) / 2
        a = a / a.sum(-1, keepdims=True)
        result = a @ result
    return result[0, n_prefix:]


def explain_case(m, img, head_kind, heads, extra, targets):
    """Returns logits, and per target: gradients per layer, attention, maps."""
    out = {}
    for t in targets:
        m.zero_grad()
        logits, attn, ln1, grid, n_prefix = forward(m, img, head_kind, heads, extra)
        logits[t].backward()
        As = [a[0].detach().numpy() for a in attn]
        Gs = [a.grad[0].numpy() for a in attn]
        act, g = ln1[-1][0].detach().numpy(), ln1[-1].grad[0].numpy()
        gh, gw = grid
        maps = {"chefer2": chefer2(As, Gs, n_prefix).reshape(gh, gw),
                "gradcam": gradcam(act, g, n_prefix).reshape(gh, gw)}
        for r in DISCARDS:
            maps[f"grad_rollout_d{int(round(r * 100))}"] = grad_rollout(As, Gs, n_prefix, r).reshape(gh, gw)
        out[t] = {"grads": Gs, "attn": As, "maps": maps}
    return logits.detach().numpy(), out


def write_case(d, name, logits, res, targets, n_prefix, grid, full_grads=True, labels=None):
    d.mkdir(parents=True, exist_ok=True)
    save(d, "logits.npy", logits)
    z = logits - logits.max()
    prob = np.exp(z) / np.exp(z).sum()
    meta = {"case": name, "targets": [int(t) for t in targets], "n_prefix": n_prefix, "grid": list(grid),
            "logits": [float(logits[t]) for t in targets], "probs": [float(prob[t]) for t in targets],
            "discards": list(DISCARDS), "layers": len(res[targets[0]]["grads"])}
    for t in targets:
        r = res[t]
        for key, mp in r["maps"].items():
            save(d, f"{key}_t{t}.npy", mp)
        if full_grads:
            for il, g in enumerate(r["grads"]):
                save(d, f"grad_t{t}_layer{il:02d}.npy", g)
        else:  # summary: per layer the CLS rows of ∂y/∂A, (max |∂y/∂A|, Σ|∂y/∂A|, Σ∂y/∂A), 256 sampled entries
            rng = np.random.default_rng(16)
            idx = np.stack([rng.choice(g.size, 256, replace=False) for g in r["grads"]])
            save(d, "grad_sample_index.npy", idx)  # exact in float32 (< 2^24)
            save(d, f"grad_t{t}_samples.npy", np.stack([g.reshape(-1)[i] for g, i in zip(r["grads"], idx)]))
            save(d, f"grad_t{t}_stats.npy", np.array([[np.abs(g).max(), np.abs(g).sum(), g.sum()] for g in r["grads"]]))
            for il, g in enumerate(r["grads"]):
                save(d, f"grad_t{t}_layer{il:02d}_cls.npy", g[:, 0, :])
        print(f"  {name} target {t}: logit {logits[t]:.5f} prob {prob[t]:.5f}; max|dA| per layer "
              + " ".join(f"{np.abs(g).max():.3e}" for g in r["grads"]))
    if labels:
        meta["labels"] = [labels[t] for t in targets]
    (d / "explain.json").write_text(json.dumps(meta, indent=2) + "\n")


def top2(m, img, head_kind, heads, extra):
    with torch.no_grad():
        logits = forward(m, img, head_kind, heads, extra)[0].numpy()
    order = np.argsort(-logits, kind="stable")
    return [int(order[0]), int(order[1])], logits


# ---------------------------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------------------------
FWD = {  # forward fixture -> (HF prefix or None for timm, style, head names, head kind)
    "hf_vit": ("vit.", "vit", ("classifier", None), "cls"),
    "timm_vit": (None, None, None, "cls"),
    "deit_distilled": ("deit.", "vit", ("cls_classifier", "distillation_classifier"), "cls_dist"),
}


def case_from_forward_fixture(name):
    prefix, style, hn, kind = FWD[name]
    ex = json.loads((VIT / name / "expected.json").read_text())
    w, _, _ = st_io.load_file(VIT / name / "model.safetensors")
    sd = {k: torch.from_numpy(v.copy()) for k, v in w.items()}
    timm = sd if prefix is None else vr.hf_to_timm(sd, prefix, style, hn)
    sd = vr.timm_to_prefixvit(timm)
    pg = (ex.get("pos_grid_h", ex["grid_h"]), ex.get("pos_grid_w", ex["grid_w"]))
    m = vr.PrefixViT(ex["hidden"], ex["heads"], ex["layers"], ex["mlp"], ex["patch"], pg, ex["layer_norm_eps"],
                     num_classes=ex["num_labels"], dist=ex["n_dist"] == 1, n_reg=ex["n_reg"])
    m.load_state_dict(sd, strict=True)
    m = m.double().eval()
    img = torch.from_numpy(np.load(VIT / name / "input.npy").astype(np.float64))[None]
    targets, logits = top2(m, img, kind, ex["heads"], {})
    assert maxdiff(logits, np.load(VIT / name / "logits.npy")) < 1e-4, f"{name}: logits differ from the fixture"
    logits, res = explain_case(m, img, kind, ex["heads"], {}, targets)
    for il, A in enumerate(res[targets[0]]["attn"]):
        assert maxdiff(A, np.load(VIT / name / f"attn_layer{il:02d}.npy")) < 1e-5, f"{name}: attention {il} differs"
    write_case(OUT / name, name, logits, res, targets, 1 + ex["n_dist"] + ex["n_reg"], (ex["grid_h"], ex["grid_w"]))


def case_dinov2_reg_cls():
    torch.manual_seed(1601)
    D, H, L, M, P, G, R, C, eps = 32, 2, 2, 64, 4, 4, 2, 7, 1e-6
    m = vr.PrefixViT(D, H, L, M, P, (G, G), eps, n_reg=R, layerscale=True)
    head = torch.nn.Linear(2 * D, C)
    vr.randomize_(m)
    vr.randomize_(head)
    m, head = m.double().eval(), head.double().eval()
    img = torch.randn(1, 3, G * P, G * P, dtype=torch.float64)
    extra = {"head": head}
    targets, _ = top2(m, img, "cls_mean_patch", H, extra)
    logits, res = explain_case(m, img, "cls_mean_patch", H, extra, targets)
    d = OUT / "dinov2_reg_cls"
    d.mkdir(parents=True, exist_ok=True)
    timm = vr.prefixvit_to_timm(m.state_dict())
    timm["head.weight"], timm["head.bias"] = head.weight.detach(), head.bias.detach()
    st_io.save_file({k: v.float() for k, v in vr.timm_to_hf(timm, "", "dinov2").items()}, d / "model.safetensors")
    (d / "config.json").write_text(json.dumps({
        "architectures": ["Dinov2WithRegistersForImageClassification"], "model_type": "dinov2_with_registers",
        "hidden_size": D, "num_hidden_layers": L, "num_attention_heads": H, "mlp_ratio": M // D,
        "hidden_act": "gelu", "layer_norm_eps": eps, "image_size": G * P, "patch_size": P,
        "num_register_tokens": R, "layerscale_value": 1.0, "use_swiglu_ffn": False}, indent=2) + "\n")
    save(d, "input.npy", img[0].numpy())
    write_case(d, "dinov2_reg_cls", logits, res, targets, 1 + R, (G, G))


def case_timm_avg():
    torch.manual_seed(1602)
    D, H, L, M, P, G, C, eps = 32, 2, 2, 64, 4, 4, 6, 1e-6
    m = vr.PrefixViT(D, H, L, M, P, (G, G), eps)
    fc_norm, head = torch.nn.LayerNorm(D, eps=eps), torch.nn.Linear(D, C)
    for mod in (m, fc_norm, head):
        vr.randomize_(mod)
    with torch.no_grad():  # randomize_ leaves a bare LayerNorm's parameters to the generic branches
        fc_norm.weight.copy_(1.0 + 0.2 * torch.randn(D))
        fc_norm.bias.copy_(0.1 * torch.randn(D))
    m, fc_norm, head = m.double().eval(), fc_norm.double().eval(), head.double().eval()
    img = torch.randn(1, 3, G * P, G * P, dtype=torch.float64)
    extra = {"head": head, "fc_norm": fc_norm}
    targets, _ = top2(m, img, "mean_patch", H, extra)
    logits, res = explain_case(m, img, "mean_patch", H, extra, targets)
    d = OUT / "timm_avg"
    d.mkdir(parents=True, exist_ok=True)
    timm = {k: v for k, v in vr.prefixvit_to_timm(m.state_dict()).items() if not k.startswith("norm.")}
    timm.update({"fc_norm.weight": fc_norm.weight, "fc_norm.bias": fc_norm.bias,
                 "head.weight": head.weight, "head.bias": head.bias})
    st_io.save_file({k: v.detach().float() for k, v in timm.items()}, d / "model.safetensors")
    (d / "config.json").write_text(json.dumps({
        "architecture": "vit_custom_avg_patch4_16", "num_classes": C, "global_pool": "avg",
        "model_args": {"img_size": G * P, "patch_size": P, "embed_dim": D, "depth": L, "num_heads": H,
                       "global_pool": "avg", "fc_norm": True}}, indent=2) + "\n")
    save(d, "input.npy", img[0].numpy())
    write_case(d, "timm_avg", logits, res, targets, 1, (G, G))


def case_deit_tiny_real():
    src = SHARED / "models" / "deit-tiny-imagenet"
    photo = SHARED / "images" / "coco_000000039769_two_cats.png"
    if not (src / "model.safetensors").exists() or not photo.exists():
        print("deit_tiny_real: ../shared absent, skipped")
        return
    from PIL import Image
    w, _, _ = st_io.load_file(src / "model.safetensors")
    m = vr.PrefixViT(192, 3, 12, 768, 16, (14, 14), 1e-6, num_classes=1000)
    m.load_state_dict(vr.timm_to_prefixvit({k: torch.from_numpy(v.copy()) for k, v in w.items()}), strict=True)
    m = m.double().eval()
    # timm eval preprocessing in PIL: shortest side 256 bicubic, centre crop 224 (kept as uint8)
    im = Image.open(photo).convert("RGB")
    s = 256 / min(im.size)
    im = im.resize((round(im.size[0] * s), round(im.size[1] * s)), Image.BICUBIC)
    l, t = (im.size[0] - 224) // 2, (im.size[1] - 224) // 2
    rgb = np.asarray(im.crop((l, t, l + 224, t + 224)), dtype=np.uint8)  # [224, 224, 3]
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    x = ((rgb.astype(np.float64) / 255.0 - mean) / std).transpose(2, 0, 1)
    img = torch.from_numpy(np.ascontiguousarray(x))[None]
    targets = [281, 282]  # tabby, tiger cat
    logits, res = explain_case(m, img, "cls", 3, {}, targets)
    d = OUT / "deit_tiny_real"
    d.mkdir(parents=True, exist_ok=True)
    np.save(d / "input_rgb.npy", rgb)
    labels = [ln.split(" ", 1)[1].strip() for ln in (src / "imagenet_synsets.txt").read_text().splitlines()]
    write_case(d, "deit_tiny_real", logits, res, targets, 1, (14, 14), full_grads=False, labels=labels)


def main():
    for name in FWD:
        case_from_forward_fixture(name)
    case_dinov2_reg_cls()
    case_timm_avg()
    case_deit_tiny_real()


if __name__ == "__main__":
    main()
