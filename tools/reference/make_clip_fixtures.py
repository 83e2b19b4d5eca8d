#!/usr/bin/python3
"""Regenerate the CLIP / SigLIP reference fixtures under tests/fixtures/{clip,siglip}/.

    /usr/bin/python3 tools/reference/make_clip_fixtures.py

Deterministic (fixed seeds, CPU). The reference towers are clip_ref.ClipTower / SiglipTower (plain torch.nn
modules, written from the papers); their outputs are computed in float64 from the float32 weights that are
saved. Independent of AttnScope's C++ code. Each case folder holds the checkpoint in one naming (HF
safetensors, OpenAI .pth from torch.save, open_clip safetensors), its JSON files, input.npy [3, H, W],
features.npy, attn_layerNN.npy [heads, T, T], pool_attention.npy [heads, 1, T] (SigLIP with a head) and
expected.json (sizes and layout).
"""
import copy
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import clip_ref as cr  # noqa: E402
from fixture_io import dump_json, fresh_dir, save_npy  # noqa: E402
import st_io  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures"

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def new_case(family, name):
    return fresh_dir(OUT / family / name)


def run_reference(model, img):
    """float64 forward of the float32 weights; also checks the float32 forward agrees."""
    x32 = torch.from_numpy(img).unsqueeze(0)
    with torch.no_grad():
        out32 = model(x32)
        m64 = model.double()
        out = m64(x32.double())
        model.float()
    assert np.max(np.abs(out32["features"].numpy() - out["features"].numpy())) < 1e-3
    return out


def self_check(model, weights_file, img):
    """Re-read the written checkpoint, map its names back, load strict into a fresh copy: same features."""
    if weights_file.suffix == ".pth":
        sd = torch.load(weights_file)
    else:
        sd, _, _ = st_io.load_file(weights_file)
    back = (cr.clip_state_from_file_names if isinstance(model, cr.ClipTower) else cr.siglip_state_from_file_names)(sd)
    fresh = copy.deepcopy(model)
    with torch.no_grad():
        for p in fresh.parameters():
            p.zero_()
    fresh.load_state_dict(back, strict=True)
    x = torch.from_numpy(img).unsqueeze(0)
    with torch.no_grad():
        assert torch.equal(fresh(x)["features"], model(x)["features"]), f"{weights_file}: names do not map back"
    CHECKS.append(f"{weights_file.parent.name}/{weights_file.name}: names map back, strict load, identical features")


CHECKS = []


def write_outputs(d, img, out, exp):
    save_npy(d / "input.npy", img)
    save_npy(d / "features.npy", out["features"][0].numpy())
    for i, a in enumerate(out["attn"]):
        a = a[0].numpy()
        assert np.allclose(a.sum(-1), 1.0)
        save_npy(d / f"attn_layer{i:02d}.npy", a)
    if "pool_attn" in out:
        save_npy(d / "pool_attention.npy", out["pool_attn"][0].numpy())
    gh, gw = out["grid"]
    exp.update({"tokens": out["tokens"], "grid_h": gh, "grid_w": gw, "layers": len(out["attn"]),
                "heads": int(out["attn"][0].shape[1]), "features_dim": int(out["features"].shape[-1])})
    dump_json(d / "expected.json", exp)


def tower(seed, cls, *args):
    """A reference tower built under torch.manual_seed(seed), in eval mode, every parameter randomized."""
    torch.manual_seed(seed)
    m = cls(*args).eval()
    cr.randomize_(m)
    return m


def finish_case(m, weights_file, img, family, fmt, patch, d, act, eps):
    """Self-check the written checkpoint, then the reference outputs and expected.json beside it."""
    self_check(m, weights_file, img)
    write_outputs(weights_file.parent, img, run_reference(m, img),
                  {"family": family, "format": fmt, "n_cls": 1 if family == "clip" else 0, "patch": patch,
                   "hidden": d, "act": act, "eps": eps})


def randn_img(seed, h, w):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(3, h, w, generator=g).numpy().astype(np.float32)


def text_tensors_hf(width=32, vocab=50):
    g = torch.Generator().manual_seed(99)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    return {"text_model.embeddings.token_embedding.weight": r(vocab, width),
            "text_model.embeddings.position_embedding.weight": r(16, width),
            "text_model.encoder.layers.0.layer_norm1.weight": r(width),
            "text_model.encoder.layers.0.self_attn.q_proj.weight": r(width, width),
            "text_model.final_layer_norm.weight": r(width),
            "text_model.final_layer_norm.bias": r(width),
            "logit_scale": torch.tensor(2.6592)}


def clip_vision_cfg(d, heads, layers, mlp, patch, grid, architecture=None, **extra):
    """A CLIP / SigLIP vision config; `architecture` (a standalone tower's config.json) goes last."""
    c = {"hidden_size": d, "num_attention_heads": heads, "num_hidden_layers": layers, "intermediate_size": mlp,
         "image_size": patch * grid, "patch_size": patch, "num_channels": 3}
    c.update(extra)
    if architecture:
        c["architectures"] = [architecture]
    return c


def clip_preprocessor(size):
    return {"crop_size": {"height": size, "width": size}, "do_center_crop": True, "do_convert_rgb": True,
            "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": CLIP_MEAN,
            "image_processor_type": "CLIPImageProcessor", "image_std": CLIP_STD, "resample": 3,
            "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": size}}


def case_clip_hf_proj():
    """CLIPVisionModelWithProjection: HF names, quick_gelu and eps from config.json, position_ids kept."""
    d, heads, layers, mlp, patch, grid, proj = 64, 4, 2, 128, 8, 4, 48
    m = tower(1, cr.ClipTower, d, heads, layers, mlp, patch, grid, 1e-5, "quick_gelu", proj)
    dd = new_case("clip", "hf_vision_proj")
    sd = cr.clip_to_hf(m)
    sd["vision_model.embeddings.position_ids"] = torch.arange(grid * grid + 1, dtype=torch.int64).reshape(1, -1)
    st_io.save_file(sd, dd / "model.safetensors")
    cfg = clip_vision_cfg(d, heads, layers, mlp, patch, grid, hidden_act="quick_gelu", layer_norm_eps=1e-5,
                          projection_dim=proj, model_type="clip_vision_model", architecture="CLIPVisionModelWithProjection")
    dump_json(dd / "config.json", cfg)
    dump_json(dd / "preprocessor_config.json", clip_preprocessor(patch * grid))
    img = randn_img(11, patch * grid, patch * grid)
    finish_case(m, dd / "model.safetensors", img, "clip", "hf", patch, d, "quick_gelu", 1e-5)


def case_clip_hf_full():
    """Full CLIPModel checkpoint (text tower present, ignored): vision_config with hidden_act gelu and eps
    1e-6; a 40×48 input (5×6 grid from the 4×4 table: bicubic position interpolation)."""
    d, heads, layers, mlp, patch, grid, proj = 64, 2, 3, 96, 8, 4, 40
    m = tower(2, cr.ClipTower, d, heads, layers, mlp, patch, grid, 1e-6, "gelu", proj)
    dd = new_case("clip", "hf_full")
    sd = cr.clip_to_hf(m)
    sd.update(text_tensors_hf())
    sd["text_projection.weight"] = torch.randn(proj, 32)
    st_io.save_file(sd, dd / "model.safetensors")
    cfg = {"architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": proj,
           "text_config": {"hidden_size": 32, "num_attention_heads": 2, "num_hidden_layers": 1, "hidden_act": "quick_gelu"},
           "vision_config": clip_vision_cfg(d, heads, layers, mlp, patch, grid, hidden_act="gelu", layer_norm_eps=1e-6)}
    dump_json(dd / "config.json", cfg)
    img = randn_img(12, 40, 48)
    finish_case(m, dd / "model.safetensors", img, "clip", "hf", patch, d, "gelu", 1e-6)


def case_clip_hf_vision():
    """CLIPVisionModel: no projection (features = post-LayerNorm CLS); config without hidden_act / eps
    (CLIPVisionConfig defaults quick_gelu, 1e-5)."""
    d, heads, layers, mlp, patch, grid = 64, 4, 2, 128, 8, 3
    m = tower(3, cr.ClipTower, d, heads, layers, mlp, patch, grid, 1e-5, "quick_gelu", 0)
    dd = new_case("clip", "hf_vision")
    st_io.save_file(cr.clip_to_hf(m), dd / "model.safetensors")
    dump_json(dd / "config.json", clip_vision_cfg(d, heads, layers, mlp, patch, grid, model_type="clip_vision_model",
                                                  architecture="CLIPVisionModel"))
    img = randn_img(13, patch * grid, patch * grid)
    finish_case(m, dd / "model.safetensors", img, "clip", "hf", patch, d, "quick_gelu", 1e-5)


def case_clip_openai_pth():
    """OpenAI names (visual.*, text tower beside it) saved with torch.save as a .pth, no config: quick-GELU,
    eps 1e-5 and heads = width / 64 (OpenAI's rule)."""
    d, heads, layers, mlp, patch, grid, proj = 128, 2, 2, 256, 8, 4, 32
    m = tower(4, cr.ClipTower, d, heads, layers, mlp, patch, grid, 1e-5, "quick_gelu", proj)
    dd = new_case("clip", "openai_pth")
    sd = cr.clip_to_openai(m, "visual.")
    g = torch.Generator().manual_seed(98)
    sd.update({"positional_embedding": torch.randn(16, 32, generator=g), "token_embedding.weight": torch.randn(50, 32, generator=g),
               "transformer.resblocks.0.ln_1.weight": torch.randn(32, generator=g), "ln_final.weight": torch.randn(32, generator=g),
               "text_projection": torch.randn(32, proj, generator=g), "logit_scale": torch.tensor(4.6052)})
    torch.save(sd, dd / "model.pth")
    img = randn_img(14, patch * grid, patch * grid)
    finish_case(m, dd / "model.pth", img, "clip", "openai", patch, d, "quick_gelu", 1e-5)


def case_clip_openclip():
    """open_clip hub layout: open_clip_model.safetensors (OpenAI names) + open_clip_config.json saying
    quick_gelu false (exact GELU) and head_width 16 (4 heads)."""
    d, heads, layers, mlp, patch, grid, proj = 64, 4, 2, 128, 8, 4, 24
    m = tower(5, cr.ClipTower, d, heads, layers, mlp, patch, grid, 1e-5, "gelu", proj)
    dd = new_case("clip", "openclip")
    st_io.save_file(cr.clip_to_openai(m, "visual."), dd / "open_clip_model.safetensors")
    dump_json(dd / "open_clip_config.json", {
        "model_cfg": {"embed_dim": proj, "quick_gelu": False,
                      "vision_cfg": {"image_size": patch * grid, "layers": layers, "width": d, "patch_size": patch, "head_width": 16}},
        "preprocess_cfg": {"mean": CLIP_MEAN, "std": CLIP_STD}})
    img = randn_img(15, patch * grid, patch * grid)
    finish_case(m, dd / "open_clip_model.safetensors", img, "clip", "openai", patch, d, "gelu", 1e-5)


def case_siglip_hf():
    """SiglipVisionModel: no CLS, tanh-GELU, post-LayerNorm, MAP head (pool_attention.npy)."""
    d, heads, layers, mlp, patch, grid = 64, 4, 2, 128, 8, 4
    m = tower(6, cr.SiglipTower, d, heads, layers, mlp, patch, grid, 1e-6)
    dd = new_case("siglip", "hf_vision")
    st_io.save_file(cr.siglip_to_hf(m), dd / "model.safetensors")
    cfg = clip_vision_cfg(d, heads, layers, mlp, patch, grid, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6,
                          model_type="siglip_vision_model", architecture="SiglipVisionModel")
    dump_json(dd / "config.json", cfg)
    dump_json(dd / "preprocessor_config.json", {
        "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
        "image_processor_type": "SiglipImageProcessor", "image_std": [0.5, 0.5, 0.5], "processor_class": "SiglipProcessor",
        "resample": 3, "rescale_factor": 0.00392156862745098, "size": {"height": patch * grid, "width": patch * grid}})
    img = randn_img(16, patch * grid, patch * grid)
    finish_case(m, dd / "model.safetensors", img, "siglip", "hf", patch, d, "gelu_pytorch_tanh", 1e-6)


def case_siglip_full():
    """Full SiglipModel checkpoint (text tower ignored), vision_config; a 40×40 input (interpolated table)."""
    d, heads, layers, mlp, patch, grid = 48, 3, 3, 96, 8, 4
    m = tower(7, cr.SiglipTower, d, heads, layers, mlp, patch, grid, 1e-6)
    dd = new_case("siglip", "hf_full")
    sd = cr.siglip_to_hf(m)
    sd.update(text_tensors_hf())
    sd["logit_bias"] = torch.tensor([-10.0])
    st_io.save_file(sd, dd / "model.safetensors")
    cfg = {"architectures": ["SiglipModel"], "model_type": "siglip",
           "text_config": {"hidden_size": 32, "num_attention_heads": 2, "num_hidden_layers": 1},
           "vision_config": clip_vision_cfg(d, heads, layers, mlp, patch, grid, model_type="siglip_vision_model")}
    dump_json(dd / "config.json", cfg)
    img = randn_img(17, 40, 40)
    finish_case(m, dd / "model.safetensors", img, "siglip", "hf", patch, d, "gelu_pytorch_tanh", 1e-6)


def main():
    for f in (case_clip_hf_proj, case_clip_hf_full, case_clip_hf_vision, case_clip_openai_pth, case_clip_openclip,
              case_siglip_hf, case_siglip_full):
        f()
        print("ok", f.__name__)
    for c in CHECKS:
        print("check:", c)


if __name__ == "__main__":
    main()
