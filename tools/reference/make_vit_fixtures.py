#!/usr/bin/python3
"""Regenerate the ViT-family reference fixtures under tests/fixtures/vit/.

    /usr/bin/python3 tools/reference/make_vit_fixtures.py

Deterministic (fixed seeds, CPU, float64 reference math). Independent of the C++ code:
models are torchvision's VisionTransformer or `vit_ref.PrefixViT` (plain torch.nn modules).
See tools/reference/README.md for the case list and conventions.
"""
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import st_io  # noqa: E402
from fixture_io import dump_json, fresh_dir, save_npy  # noqa: E402
import vit_ref as vr  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "vit"

FASHION = ["t-shirt", "trouser", "pullover", "dress", "coat",
           "sandal", "shirt", "sneaker", "bag", "ankle boot"]

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

CHECKS = []


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)
    CHECKS.append(msg)


def maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def new_case(name):
    return fresh_dir(OUT / name)


def write_outputs(d, case, family, img, ref, heads, layers, hidden, patch, n_dist, n_reg, extra):
    """ref: dict with float64 numpy 'attn' list of [h,T,T], 'logits' or 'features'."""
    save_npy(d / "input.npy", img)
    if "logits" in ref:
        save_npy(d / "logits.npy", ref["logits"])
    else:
        save_npy(d / "features.npy", ref["features"])
    for i, a in enumerate(ref["attn"]):
        save_npy(d / f"attn_layer{i:02d}.npy", a)
    T = ref["attn"][0].shape[-1]
    gh, gw = ref["grid"]
    assert T == 1 + n_dist + n_reg + gh * gw
    exp = {"case": case, "family": family, "tokens": T, "n_cls": 1, "n_dist": n_dist,
           "n_reg": n_reg, "grid_h": gh, "grid_w": gw, "patch": patch, "heads": heads,
           "layers": layers, "hidden": hidden}
    exp.update(extra)
    dump_json(d / "expected.json", exp)


def check_attn(attn, heads, T, label):
    for i, a in enumerate(attn):
        check(a.shape == (heads, T, T), f"{label}: attn{i} shape {a.shape}")
        check(np.all(a >= 0) and maxdiff(a.sum(-1), 1.0) < 1e-6, f"{label}: attn{i} rows sum to 1")


def fashion_labels():
    """id2label / label2id of the Fashion-MNIST classes (HF config fields)."""
    return {"id2label": {str(i): n for i, n in enumerate(FASHION)}, "label2id": {n: i for i, n in enumerate(FASHION)}}


def hf_config(arch, model_type, D, L, H, mlp, eps, img, patch, **tail):
    """An HF ViT-family config.json: the fields every such config has, in HF's order, with `mlp` (the MLP width
    field) after the sizes and the model's own fields (`tail`) before torch_dtype."""
    c = {"architectures": [arch], "model_type": model_type, "hidden_size": D, "num_hidden_layers": L,
         "num_attention_heads": H}
    c.update(mlp)
    c.update({"hidden_act": "gelu", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
              "initializer_range": 0.02, "layer_norm_eps": eps, "image_size": img, "patch_size": patch,
              "num_channels": 3, "qkv_bias": True})
    c.update(tail)
    c["torch_dtype"] = "float32"
    return c


def randn_img(h, w):
    return torch.randn(3, h, w)


# --------------------------------------------------------------------------------------
# torchvision runs
# --------------------------------------------------------------------------------------
def tv_run(model, img, dtype):
    m = vr.make_torchvision_vit(model.image_size, model.patch_size, len(model.encoder.layers),
                                model.encoder.layers[0].num_heads, model.hidden_dim,
                                model.mlp_dim, model.num_classes)
    m.load_state_dict(model.state_dict())
    m = m.to(dtype).eval()
    sink = []
    vr.enable_attention_recording(m, sink)
    with torch.no_grad():
        logits = m(img[None].to(dtype))[0]
    return {"logits": logits.numpy(), "attn": [a[0].numpy() for a in sink]}


def prefix_run(model, img, dtype):
    import copy
    m = copy.deepcopy(model).to(dtype).eval()
    with torch.no_grad():
        o = m(img[None].to(dtype))
    r = {"features": o["features"][0].numpy(), "attn": [a[0].numpy() for a in o["attn"]],
         "grid": tuple(int(g) for g in o["grid"])}
    if "logits" in o:
        r["logits"] = o["logits"][0].numpy()
    return r


def compare_np(ref, w_timm, img, heads, eps, n_reg, label, tol=1e-9):
    npo = vr.numpy_forward({k: np.asarray(v) for k, v in w_timm.items()}, img.numpy(), heads, eps, n_reg)
    key = "logits" if "logits" in ref else "features"
    check(maxdiff(npo[key], ref[key]) < tol, f"{label}: numpy float64 forward {key} matches torch "
          f"(max diff {maxdiff(npo[key], ref[key]):.2e})")
    check(all(maxdiff(a, b) < tol for a, b in zip(npo["attn"], ref["attn"])) and
          len(npo["attn"]) == len(ref["attn"]), f"{label}: numpy float64 attention matches torch")


# --------------------------------------------------------------------------------------
# cases 1 & 2: torchvision ViT -> HF names and timm names (+ F16 / BF16 timm copies)
# --------------------------------------------------------------------------------------
def cases_vit():
    IMG, P, D, H, L, MLP, C = 32, 8, 48, 3, 3, 96, 10
    EPS = 1e-6  # torchvision LayerNorm eps
    torch.manual_seed(1001)
    tv = vr.make_torchvision_vit(IMG, P, L, H, D, MLP, C)
    vr.randomize_(tv)
    tv.eval()
    img = randn_img(IMG, IMG)

    ref = tv_run(tv, img, torch.float64)
    ref["grid"] = (IMG // P, IMG // P)
    ref32 = tv_run(tv, img, torch.float32)
    check(maxdiff(ref32["logits"], ref["logits"]) < 1e-4, "hf_vit: float32 torch ~ float64 torch")
    T = 1 + (IMG // P) ** 2
    check_attn(ref["attn"], H, T, "hf_vit")

    timm_sd = vr.torchvision_to_timm(tv.state_dict())
    hf_sd = vr.timm_to_hf(timm_sd, "vit.", "vit", ("classifier", None))
    assert len(hf_sd) == 4 + L * 16 + 4

    # independent re-implementations agree
    compare_np(ref, timm_sd, img, H, EPS, 0, "hf_vit")
    pv = vr.PrefixViT(D, H, L, MLP, P, (IMG // P, IMG // P), EPS, num_classes=C)
    pv.load_state_dict(vr.timm_to_prefixvit(timm_sd), strict=True)
    pref = prefix_run(pv, img, torch.float64)
    check(maxdiff(pref["logits"], ref["logits"]) < 1e-9, "hf_vit: PrefixViT(nn modules) == torchvision ViT")

    extra = {"layer_norm_eps": EPS, "input_h": IMG, "input_w": IMG, "mlp": MLP, "num_labels": C,
             "dtype": "F32"}

    # ---- case 1: HF folder
    d = new_case("hf_vit")
    st_io.save_file(hf_sd, d / "model.safetensors")
    dump_json(d / "config.json", hf_config("ViTForImageClassification", "vit", D, L, H, {"intermediate_size": MLP}, EPS, IMG, P,
                                           encoder_stride=P, **fashion_labels()))
    dump_json(d / "preprocessor_config.json", {
        "do_resize": True,
        "size": {"height": IMG, "width": IMG},
        "resample": 2,
        "do_rescale": True,
        "rescale_factor": 0.00392156862745098,
        "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "image_processor_type": "ViTImageProcessor",
    })
    write_outputs(d, "hf_vit", "vit", img, ref, H, L, D, P, 0, 0, extra)

    # reload HF file -> torchvision model -> identical logits
    w, _, _ = st_io.load_file(d / "model.safetensors")
    tv2 = vr.make_torchvision_vit(IMG, P, L, H, D, MLP, C)
    tv2.load_state_dict(vr.timm_to_torchvision(vr.hf_to_timm(w, "vit.", "vit")), strict=True)
    r2 = tv_run(tv2, img, torch.float32)
    check(np.array_equal(r2["logits"], ref32["logits"]), "hf_vit: HF-named export reloads to identical logits")

    # ---- case 2: timm folder (same weights, same input, same outputs)
    def timm_cfg(arch_suffix=""):
        return {
            "architecture": "vit_custom_patch8_32" + arch_suffix,
            "num_classes": C,
            "num_features": D,
            "global_pool": "token",
            "model_args": {"img_size": IMG, "patch_size": P, "embed_dim": D, "depth": L,
                           "num_heads": H, "mlp_ratio": MLP / D, "qkv_bias": True,
                           "class_token": True, "global_pool": "token"},
            "pretrained_cfg": {
                "tag": "attnscope_fixture",
                "custom_load": False,
                "input_size": [3, IMG, IMG],
                "fixed_input_size": True,
                "interpolation": "bicubic",
                "crop_pct": 0.875,
                "crop_mode": "center",
                "mean": [0.5, 0.5, 0.5],
                "std": [0.5, 0.5, 0.5],
                "num_classes": C,
                "pool_size": None,
                "first_conv": "patch_embed.proj",
                "classifier": "head",
            },
            "label_names": FASHION,
        }

    d = new_case("timm_vit")
    st_io.save_file(timm_sd, d / "model.safetensors")
    dump_json(d / "config.json", timm_cfg())
    write_outputs(d, "timm_vit", "timm_vit", img, ref, H, L, D, P, 0, 0, extra)
    w, _, _ = st_io.load_file(d / "model.safetensors")
    tv2 = vr.make_torchvision_vit(IMG, P, L, H, D, MLP, C)
    tv2.load_state_dict(vr.timm_to_torchvision(w), strict=True)
    r2 = tv_run(tv2, img, torch.float32)
    check(np.array_equal(r2["logits"], ref32["logits"]), "timm_vit: timm-named export reloads to identical logits")
    hf_from_file, _, _ = st_io.load_file(OUT / "hf_vit" / "model.safetensors")
    check(all(np.array_equal(hf_from_file[k], v.numpy()) for k, v in
              vr.timm_to_hf({k: torch.from_numpy(a) for k, a in w.items()}, "vit.", "vit").items()),
          "timm_vit and hf_vit files hold the same tensors")

    # ---- half-precision copies: outputs from the weights rounded to F16/BF16 and back
    for dt, case in (("F16", "timm_vit_f16"), ("BF16", "timm_vit_bf16")):
        rounded = {k: torch.from_numpy(st_io.round_to(v.numpy(), dt)) for k, v in timm_sd.items()}
        tvr = vr.make_torchvision_vit(IMG, P, L, H, D, MLP, C)
        tvr.load_state_dict(vr.timm_to_torchvision(rounded), strict=True)
        rref = tv_run(tvr, img, torch.float64)
        rref["grid"] = ref["grid"]
        check_attn(rref["attn"], H, T, case)
        compare_np(rref, rounded, img, H, EPS, 0, case)
        d = new_case(case)
        st_io.save_file(timm_sd, d / "model.safetensors", dtype=dt)
        dump_json(d / "config.json", timm_cfg())
        e2 = dict(extra, dtype=dt)
        write_outputs(d, case, "timm_vit", img, rref, H, L, D, P, 0, 0, e2)
        w, _, dts = st_io.load_file(d / "model.safetensors")
        check(set(dts.values()) == {dt}, f"{case}: every tensor stored as {dt}")
        check(all(np.array_equal(w[k], rounded[k].numpy()) for k in w), f"{case}: file == rounded weights")
        print(f"  {case}: |logits(f32 weights) - logits({dt} weights)| max = "
              f"{maxdiff(rref['logits'], ref['logits']):.3e}")


# --------------------------------------------------------------------------------------
# PrefixViT-based cases
# --------------------------------------------------------------------------------------
def check_interp(model, gh, gw, H, W, label):
    """F.interpolate(bicubic) vs the numpy Keys(A=-0.75) resampler from the facts sheet."""
    with torch.no_grad():
        t = model.double().interpolated_pos(gh, gw, H, W)[0].numpy()
    model.float()
    npp = model.n_prefix_pos
    pos = model.pos_embed.detach().double().numpy()[0]
    s = int(round((pos.shape[0] - npp) ** 0.5))
    g = vr.np_bicubic(pos[npp:].reshape(s, s, -1), gh, gw).reshape(gh * gw, -1)
    check(maxdiff(t[npp:], g) < 1e-12 and maxdiff(t[:npp], pos[:npp]) == 0,
          f"{label}: F.interpolate bicubic == numpy Keys A=-0.75 ({s}x{s} -> {gh}x{gw})")


def case_deit():
    IMG, P, D, H, L, MLP, C = 32, 8, 32, 2, 2, 128, 10
    EPS = 1e-12
    IH, IW = 40, 24
    torch.manual_seed(2002)
    m = vr.PrefixViT(D, H, L, MLP, P, (IMG // P, IMG // P), EPS, num_classes=C, dist=True).eval()
    vr.randomize_(m)
    img = randn_img(IH, IW)
    ref = prefix_run(m, img, torch.float64)
    ref32 = prefix_run(m, img, torch.float32)
    gh, gw = IH // P, IW // P
    check(ref["grid"] == (gh, gw), "deit: grid 5x3")
    check(maxdiff(ref32["logits"], ref["logits"]) < 1e-4, "deit: float32 torch ~ float64 torch")
    check_attn(ref["attn"], H, 2 + gh * gw, "deit_distilled")
    check_interp(m, gh, gw, IH, IW, "deit_distilled")
    timm_sd = vr.prefixvit_to_timm(m.state_dict())
    compare_np(ref, timm_sd, img, H, EPS, 0, "deit_distilled")
    heads = ("cls_classifier", "distillation_classifier")
    hf_sd = vr.timm_to_hf(timm_sd, "deit.", "vit", heads)

    d = new_case("deit_distilled")
    st_io.save_file(hf_sd, d / "model.safetensors")
    dump_json(d / "config.json", hf_config("DeiTForImageClassificationWithTeacher", "deit", D, L, H, {"intermediate_size": MLP},
                                           EPS, IMG, P, encoder_stride=P, **fashion_labels()))
    write_outputs(d, "deit_distilled", "deit", img, ref, H, L, D, P, 1, 0,
                  {"layer_norm_eps": EPS, "input_h": IH, "input_w": IW, "mlp": MLP, "num_labels": C,
                   "dtype": "F32", "pos_grid_h": IMG // P, "pos_grid_w": IMG // P,
                   "pos_interpolation": "bicubic size=(H//P,W//P) align_corners=False, 2 prefix rows kept"})
    w, _, _ = st_io.load_file(d / "model.safetensors")
    m2 = vr.PrefixViT(D, H, L, MLP, P, (IMG // P, IMG // P), EPS, num_classes=C, dist=True).eval()
    m2.load_state_dict(vr.timm_to_prefixvit(vr.hf_to_timm(w, "deit.", "vit", heads)), strict=True)
    check(np.array_equal(prefix_run(m2, img, torch.float32)["logits"], ref32["logits"]),
          "deit_distilled: HF-named export reloads to identical logits")


def case_dinov2_reg():
    IMG, P, D, H, L, R = 32, 4, 32, 2, 2, 2
    MLP = 4 * D
    EPS = 1e-6
    torch.manual_seed(3003)
    m = vr.PrefixViT(D, H, L, MLP, P, (IMG // P, IMG // P), EPS, num_classes=0, n_reg=R,
                     layerscale=True, mask_token=True).eval()
    vr.randomize_(m)
    img = randn_img(IMG, IMG)
    ref = prefix_run(m, img, torch.float64)
    ref32 = prefix_run(m, img, torch.float32)
    gh = gw = IMG // P
    check(maxdiff(ref32["features"], ref["features"]) < 1e-4, "dinov2_reg: float32 torch ~ float64 torch")
    check_attn(ref["attn"], H, 1 + R + gh * gw, "dinov2_reg")
    timm_sd = vr.prefixvit_to_timm(m.state_dict())
    compare_np(ref, timm_sd, img, H, EPS, R, "dinov2_reg")
    hf_sd = vr.timm_to_hf(timm_sd, "", "dinov2")

    d = new_case("dinov2_reg")
    st_io.save_file(hf_sd, d / "model.safetensors")
    dump_json(d / "config.json", hf_config("Dinov2WithRegistersModel", "dinov2_with_registers", D, L, H, {"mlp_ratio": MLP // D},
                                           EPS, IMG, P, layerscale_value=1.0, drop_path_rate=0.0, use_swiglu_ffn=False,
                                           num_register_tokens=R, apply_layernorm=True, reshape_hidden_states=True))
    write_outputs(d, "dinov2_reg", "dinov2", img, ref, H, L, D, P, 0, R,
                  {"layer_norm_eps": EPS, "input_h": IMG, "input_w": IMG, "mlp": MLP, "dtype": "F32",
                   "pos_grid_h": gh, "pos_grid_w": gw, "layerscale": True})
    w, _, _ = st_io.load_file(d / "model.safetensors")
    m2 = vr.PrefixViT(D, H, L, MLP, P, (gh, gw), EPS, num_classes=0, n_reg=R,
                      layerscale=True, mask_token=True).eval()
    m2.load_state_dict(vr.timm_to_prefixvit(vr.hf_to_timm(w, "", "dinov2")), strict=True)
    check(np.array_equal(prefix_run(m2, img, torch.float32)["features"], ref32["features"]),
          "dinov2_reg: HF-named export reloads to identical features")


def case_dino_timm():
    IMG, P, D, H, L = 32, 8, 32, 4, 2
    MLP = 4 * D
    EPS = 1e-6
    IH, IW = 24, 40
    torch.manual_seed(4004)
    m = vr.PrefixViT(D, H, L, MLP, P, (IMG // P, IMG // P), EPS, num_classes=0).eval()
    vr.randomize_(m)
    img = randn_img(IH, IW)
    ref = prefix_run(m, img, torch.float64)
    ref32 = prefix_run(m, img, torch.float32)
    gh, gw = IH // P, IW // P
    check(ref["grid"] == (gh, gw), "dino_timm: grid 3x5")
    check(maxdiff(ref32["features"], ref["features"]) < 1e-4, "dino_timm: float32 torch ~ float64 torch")
    check_attn(ref["attn"], H, 1 + gh * gw, "dino_timm")
    check_interp(m, gh, gw, IH, IW, "dino_timm")
    timm_sd = vr.prefixvit_to_timm(m.state_dict())
    compare_np(ref, timm_sd, img, H, EPS, 0, "dino_timm")

    d = new_case("dino_timm")
    st_io.save_file(timm_sd, d / "model.safetensors")
    write_outputs(d, "dino_timm", "dino", img, ref, H, L, D, P, 0, 0,
                  {"layer_norm_eps": EPS, "input_h": IH, "input_w": IW, "mlp": MLP, "dtype": "F32",
                   "pos_grid_h": IMG // P, "pos_grid_w": IMG // P,
                   "pos_interpolation": "bicubic size=(H//P,W//P) align_corners=False (HF style, no +0.1 offset)"})
    w, _, _ = st_io.load_file(d / "model.safetensors")
    m2 = vr.PrefixViT(D, H, L, MLP, P, (IMG // P, IMG // P), EPS, num_classes=0).eval()
    m2.load_state_dict(vr.timm_to_prefixvit(w), strict=True)
    check(np.array_equal(prefix_run(m2, img, torch.float32)["features"], ref32["features"]),
          "dino_timm: timm-named export reloads to identical features")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"torch {torch.__version__}; writing {OUT.relative_to(ROOT)}")
    cases_vit()
    case_deit()
    case_dinov2_reg()
    case_dino_timm()
    print(f"{len(CHECKS)} checks passed:")
    for c in CHECKS:
        print("  ok:", c)
    total = 0
    print("sizes:")
    for d in sorted(p for p in OUT.iterdir() if p.is_dir()):
        n = sum(f.stat().st_size for f in d.iterdir())
        total += n
        e = json.loads((d / "expected.json").read_text())
        print(f"  {d.name:16s} {n / 1024:8.1f} KiB  tokens={e['tokens']} heads={e['heads']} "
              f"layers={e['layers']} hidden={e['hidden']} files={len(list(d.iterdir()))}")
    print(f"  total {total / 1024:.1f} KiB")
    assert total < 2.5 * 1024 * 1024, "fixtures too large"


if __name__ == "__main__":
    main()
