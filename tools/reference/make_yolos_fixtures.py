#!/usr/bin/python3
"""Independent PyTorch YOLOS reference → fixtures for tests/core/models/test_yolos.cpp.

Written from the YOLOS paper (Fang et al. 2021, "You Only Look at One Sequence") and the HF config fields
(image_size, patch_size, num_detection_tokens, use_mid_position_embeddings), from plain torch.nn modules:
nn.Conv2d patch embedding, vit_ref.Block (nn.LayerNorm, nn.MultiheadAttention, exact GELU), F.interpolate
(bicubic, align_corners=False) for the position tables, nn.Linear MLP heads. Random seeded weights.

Sequence [CLS, patches, DET × N]; position table [1, 1 + G0 + N, D] with G0 = (image_size / patch) cells,
its grid resized to the input's (H // P, W // P); with mid position embeddings, L − 1 more tables, table i
added after block i (i < L − 1); final LayerNorm; class MLP (→ C + 1) and box MLP (→ 4, sigmoid) on the
last N tokens. Saved with HF YolosForObjectDetection names (the original → HF rename of
convert_yolos_to_pytorch.py: det_token → embeddings.detection_tokens, pos_embed → embeddings.position_embeddings,
mid_pos_embed → encoder.mid_position_embeddings, blocks → encoder.layer, norm → layernorm,
class_embed → class_labels_classifier, bbox_embed → bbox_predictor; all under "vit." but the heads).

Run:  /usr/bin/python3 tools/reference/make_yolos_fixtures.py     # writes tests/fixtures/yolos
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st_io  # noqa: E402
import vit_ref  # noqa: E402

FIXTURES = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "fixtures", "yolos"))


class Mlp3(nn.Module):
    def __init__(self, d, out):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, out)])

    def forward(self, x):
        return self.layers[2](F.relu(self.layers[1](F.relu(self.layers[0](x)))))


class Yolos(nn.Module):
    def __init__(self, hidden, heads, layers, mlp, patch, image_size, n_det, n_labels, mid, eps):
        super().__init__()
        self.patch, self.hidden, self.n_det = patch, hidden, n_det
        self.g0 = (image_size[0] // patch, image_size[1] // patch)
        seq = 1 + self.g0[0] * self.g0[1] + n_det
        self.patch_embed = nn.Conv2d(3, hidden, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, hidden))
        self.det_token = nn.Parameter(torch.zeros(1, n_det, hidden))
        self.pos_embed = nn.Parameter(torch.zeros(1, seq, hidden))
        self.mid_pos_embed = nn.Parameter(torch.zeros(layers - 1, 1, seq, hidden)) if mid else None
        self.blocks = nn.ModuleList(vit_ref.Block(hidden, heads, mlp, eps, False) for _ in range(layers))
        self.norm = nn.LayerNorm(hidden, eps=eps)
        self.class_embed = Mlp3(hidden, n_labels + 1)
        self.bbox_embed = Mlp3(hidden, 4)

    def table_for(self, table, gh, gw):
        """[1, 1 + G0 + N, D] → [1, 1 + gh·gw + N, D]: the grid part resized, CLS and DET rows kept."""
        h0, w0 = self.g0
        cls, grid, det = table[:, :1], table[:, 1:1 + h0 * w0], table[:, 1 + h0 * w0:]
        grid = grid.transpose(1, 2).reshape(1, self.hidden, h0, w0)
        grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False)
        grid = grid.flatten(2).transpose(1, 2)
        return torch.cat([cls, grid, det], dim=1)

    def forward(self, img):
        x = self.patch_embed(img)
        gh, gw = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token, x, self.det_token], dim=1) + self.table_for(self.pos_embed, gh, gw)
        attn, norms = [], []
        for i, blk in enumerate(self.blocks):
            x, w = blk(x)
            attn.append(w)
            norms.append(x[0].norm(dim=-1))
            if self.mid_pos_embed is not None and i < len(self.blocks) - 1:
                x = x + self.table_for(self.mid_pos_embed[i], gh, gw)
        x = self.norm(x)
        d = x[:, -self.n_det:]
        return {"logits": self.class_embed(d)[0], "boxes": self.bbox_embed(d).sigmoid()[0], "attn": attn,
                "grid": (gh, gw), "token_norms": torch.stack(norms), "final_tokens": x[0]}


def hf_state(model):
    """Original YOLOS names → HF YolosForObjectDetection names."""
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    base = {k: v for k, v in sd.items() if not k.startswith(("det_token", "mid_pos_embed", "class_embed", "bbox_embed"))}
    out = vit_ref.timm_to_hf(vit_ref.prefixvit_to_timm(base), "vit.", "vit")
    out["vit.embeddings.detection_tokens"] = sd["det_token"]
    if "mid_pos_embed" in sd:
        out["vit.encoder.mid_position_embeddings"] = sd["mid_pos_embed"]
    for k, v in sd.items():
        if k.startswith("class_embed."):
            out["class_labels_classifier." + k[len("class_embed."):]] = v
        elif k.startswith("bbox_embed."):
            out["bbox_predictor." + k[len("bbox_embed."):]] = v
    return out


def config(hidden, heads, layers, mlp, patch, image_size, n_det, labels, mid, eps):
    return {
        "architectures": ["YolosForObjectDetection"], "model_type": "yolos", "hidden_size": hidden,
        "num_hidden_layers": layers, "num_attention_heads": heads, "intermediate_size": mlp, "hidden_act": "gelu",
        "layer_norm_eps": eps, "image_size": list(image_size), "patch_size": patch, "num_channels": 3,
        "qkv_bias": True, "num_detection_tokens": n_det, "use_mid_position_embeddings": mid,
        "id2label": {str(i): l for i, l in enumerate(labels)}, "label2id": {l: i for i, l in enumerate(labels)},
    }


def build(seed, mid, spec):
    torch.manual_seed(seed)
    model = Yolos(mid=mid, n_labels=len(spec["labels"]), **{k: v for k, v in spec.items() if k != "labels"}).eval()
    vit_ref.randomize_(model)
    with torch.no_grad():  # tokens and tables at unit-ish scale (randomize_ only knows ViT's names)
        model.det_token.copy_(0.5 * torch.randn_like(model.det_token))
        if model.mid_pos_embed is not None:
            model.mid_pos_embed.copy_(0.5 * torch.randn_like(model.mid_pos_embed))
    return model


def save_run(folder, model, img):
    os.makedirs(folder, exist_ok=True)
    with torch.no_grad():
        out = model(img[None])
    np.save(os.path.join(folder, "logits.npy"), out["logits"].numpy().astype("<f4"))
    np.save(os.path.join(folder, "boxes.npy"), out["boxes"].numpy().astype("<f4"))
    np.save(os.path.join(folder, "token_norms.npy"), out["token_norms"].numpy().astype("<f4"))
    np.save(os.path.join(folder, "final_tokens.npy"), out["final_tokens"].numpy().astype("<f4"))
    for i, w in enumerate(out["attn"]):
        np.save(os.path.join(folder, f"encoder_layer{i:02d}.npy"), w[0].numpy().astype("<f4"))
    p = torch.softmax(out["logits"], -1)[:, :-1].max(-1).values
    print(f"  {folder}: input {tuple(img.shape)}, grid {out['grid']}, logits {tuple(out['logits'].shape)}, "
          f"scores {np.round(p.numpy(), 3)}")


def make_fixtures():
    labels = ["cat", "remote", "N/A", "couch"]
    spec = dict(hidden=32, heads=4, layers=3, mlp=64, patch=8, image_size=(32, 48), n_det=5, eps=1e-12, labels=labels)
    gen = torch.Generator().manual_seed(77)
    for name, mid, seed in (("mid", True, 5), ("nomid", False, 6)):
        model = build(seed, mid, spec)
        root = os.path.join(FIXTURES, name)
        os.makedirs(os.path.join(root, "hf"), exist_ok=True)
        st_io.save_file(hf_state(model), os.path.join(root, "hf", "model.safetensors"), dtype="F32", metadata={"format": "pt"})
        with open(os.path.join(root, "hf", "config.json"), "w") as f:
            json.dump(config(mid=mid, **spec), f, indent=2)
        # non-square, not a multiple of the patch (5×9 grid from the 4×6 table), and the native size (no resize)
        for run, (h, w) in (("resized", (44, 76)), ("native", (32, 48))):
            img = torch.randn(3, h, w, generator=gen)
            np.save(os.path.join(root, f"input_{run}.npy"), img.numpy().astype("<f4"))
            save_run(os.path.join(root, f"expected_{run}"), model, img)


if __name__ == "__main__":
    make_fixtures()
