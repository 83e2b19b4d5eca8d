"""Shared PyTorch reference pieces for the ViT-family fixtures and benchmarks.

Nothing here depends on AttnScope's C++ code. Models are either torchvision's
VisionTransformer or `PrefixViT`, a ViT assembled from plain torch.nn modules
(nn.Conv2d, nn.LayerNorm, nn.MultiheadAttention, nn.Linear, nn.GELU, F.interpolate).

Naming: every model is first converted to *timm* names (the hub of all mappings);
HF names are derived from timm names exactly as in HF transformers convert_vit_timm_to_pytorch.py,
convert_deit_timm_to_pytorch.py and convert_dinov2_to_hf.py.
"""
import math
import re
import types

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.vision_transformer import VisionTransformer, EncoderBlock


# --------------------------------------------------------------------------------------
# random re-initialisation (torchvision zero-inits the head and class token, which would
# make a weak test; we want every parameter to matter)
# --------------------------------------------------------------------------------------
def randomize_(model, qk_gain=1.5):
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.split(".")[-1]
            if isinstance(_owner(model, name), nn.LayerNorm):
                if leaf == "weight":
                    p.copy_(1.0 + 0.2 * torch.randn_like(p))
                else:
                    p.copy_(0.1 * torch.randn_like(p))
            elif re.search(r"(cls_token|class_token|dist_token|reg_token|mask_token)$", name):
                p.copy_(0.5 * torch.randn_like(p))
            elif re.search(r"(pos_embed|pos_embedding)$", name):
                p.copy_(0.5 * torch.randn_like(p))
            elif re.search(r"(ls1|ls2)$", name):
                p.copy_(torch.empty_like(p).uniform_(0.1, 1.0))
            elif p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn_like(p) / math.sqrt(fan_in))
                if leaf == "in_proj_weight":  # sharpen attention a little (q and k rows)
                    d = p.shape[1]
                    p[: 2 * d] *= qk_gain
            else:  # biases
                p.copy_(0.1 * torch.randn_like(p))


def _owner(model, pname):
    mod = model
    for part in pname.split(".")[:-1]:
        mod = getattr(mod, part)
    return mod


# --------------------------------------------------------------------------------------
# torchvision VisionTransformer helpers
# --------------------------------------------------------------------------------------
def make_torchvision_vit(image_size, patch, layers, heads, hidden, mlp, num_classes):
    return VisionTransformer(image_size=image_size, patch_size=patch, num_layers=layers,
                             num_heads=heads, hidden_dim=hidden, mlp_dim=mlp,
                             num_classes=num_classes).eval()


def _encoder_block_forward_recording(self, input):
    # Same math as torchvision EncoderBlock.forward, but asks nn.MultiheadAttention for the
    # per-head softmax probabilities.
    x = self.ln_1(input)
    x, w = self.self_attention(query=x, key=x, value=x, need_weights=True,
                               average_attn_weights=False)
    if self._attn_sink is not None:
        self._attn_sink.append(w.detach())
    x = self.dropout(x)
    x = x + input
    y = self.ln_2(x)
    y = self.mlp(y)
    return x + y


def enable_attention_recording(model, sink):
    """Patch every EncoderBlock of a torchvision ViT so that forward appends the [B,h,T,T]
    attention probabilities to `sink` (a list). Call sink.clear() between runs."""
    for m in model.modules():
        if isinstance(m, EncoderBlock):
            m._attn_sink = sink
            m.forward = types.MethodType(_encoder_block_forward_recording, m)


def torchvision_to_timm(sd):
    out = {}
    for k, v in sd.items():
        n = k
        n = n.replace("class_token", "cls_token")
        n = n.replace("encoder.pos_embedding", "pos_embed")
        n = n.replace("conv_proj.", "patch_embed.proj.")
        n = re.sub(r"^encoder\.layers\.encoder_layer_(\d+)\.", r"blocks.\1.", n)
        n = n.replace(".ln_1.", ".norm1.").replace(".ln_2.", ".norm2.")
        n = n.replace(".self_attention.in_proj_weight", ".attn.qkv.weight")
        n = n.replace(".self_attention.in_proj_bias", ".attn.qkv.bias")
        n = n.replace(".self_attention.out_proj.", ".attn.proj.")
        n = n.replace(".mlp.0.", ".mlp.fc1.").replace(".mlp.3.", ".mlp.fc2.")
        n = n.replace("encoder.ln.", "norm.")
        n = n.replace("heads.head.", "head.")
        out[n] = v.detach().clone()
    return out


def timm_to_torchvision(sd):
    out = {}
    for k, v in sd.items():
        n = k
        n = n.replace("cls_token", "class_token")
        n = n.replace("pos_embed", "encoder.pos_embedding")
        n = n.replace("patch_embed.proj.", "conv_proj.")
        n = re.sub(r"^blocks\.(\d+)\.", r"encoder.layers.encoder_layer_\1.", n)
        n = n.replace(".norm1.", ".ln_1.").replace(".norm2.", ".ln_2.")
        n = n.replace(".attn.qkv.weight", ".self_attention.in_proj_weight")
        n = n.replace(".attn.qkv.bias", ".self_attention.in_proj_bias")
        n = n.replace(".attn.proj.", ".self_attention.out_proj.")
        n = n.replace(".mlp.fc1.", ".mlp.0.").replace(".mlp.fc2.", ".mlp.3.")
        n = re.sub(r"^norm\.", "encoder.ln.", n)
        n = re.sub(r"^head\.", "heads.head.", n)
        out[n] = torch.as_tensor(v).clone()
    return out


# --------------------------------------------------------------------------------------
# PrefixViT: ViT / DeiT-distilled / DINO / DINOv2(+registers) from torch.nn modules
# --------------------------------------------------------------------------------------
class Block(nn.Module):
    def __init__(self, dim, heads, mlp, eps, layerscale):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = nn.MultiheadAttention(dim, heads, bias=True, batch_first=True)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.fc1 = nn.Linear(dim, mlp)
        self.act = nn.GELU()  # exact erf GELU
        self.fc2 = nn.Linear(mlp, dim)
        if layerscale:
            self.ls1 = nn.Parameter(torch.ones(dim))
            self.ls2 = nn.Parameter(torch.ones(dim))
        else:
            self.ls1 = self.ls2 = None

    def forward(self, x):
        h = self.norm1(x)
        a, w = self.attn(h, h, h, need_weights=True, average_attn_weights=False)
        return self.finish(x, a), w

    def finish(self, x, a):
        """The rest of the block after the attention output a: layer scale, residual, MLP, residual."""
        if self.ls1 is not None:
            a = a * self.ls1
        x = x + a
        m = self.fc2(self.act(self.fc1(self.norm2(x))))
        if self.ls2 is not None:
            m = m * self.ls2
        return x + m


class PrefixViT(nn.Module):
    """Token order: [CLS, DIST?, REG x R?, patches row-major].
    Position embeddings cover [CLS, DIST?] + pos_grid patches (registers get none and are
    inserted after the position embeddings are added, like DINOv2-with-registers)."""

    def __init__(self, hidden, heads, layers, mlp, patch, pos_grid, eps, num_classes=0,
                 dist=False, n_reg=0, layerscale=False, mask_token=False):
        super().__init__()
        self.patch, self.hidden, self.heads = patch, hidden, heads
        self.n_prefix_pos = 1 + int(dist)
        self.n_reg = n_reg
        self.patch_embed = nn.Conv2d(3, hidden, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, hidden))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, hidden)) if dist else None
        self.reg_token = nn.Parameter(torch.zeros(1, n_reg, hidden)) if n_reg else None
        self.mask_token = nn.Parameter(torch.zeros(1, hidden)) if mask_token else None
        gh, gw = pos_grid
        self.pos_embed = nn.Parameter(torch.zeros(1, self.n_prefix_pos + gh * gw, hidden))
        self.blocks = nn.ModuleList(Block(hidden, heads, mlp, eps, layerscale) for _ in range(layers))
        self.norm = nn.LayerNorm(hidden, eps=eps)
        self.head = nn.Linear(hidden, num_classes) if num_classes else None
        self.head_dist = nn.Linear(hidden, num_classes) if (num_classes and dist) else None

    def interpolated_pos(self, gh, gw, H, W):
        """HF `interpolate_pos_encoding`: size-based bicubic, align_corners=False,
        skipped only when the patch count matches and H == W."""
        pos = self.pos_embed
        npp = self.n_prefix_pos
        num_positions = pos.shape[1] - npp
        if gh * gw == num_positions and H == W:
            return pos
        s = int(round(math.sqrt(num_positions)))
        assert s * s == num_positions
        grid = pos[:, npp:].reshape(1, s, s, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False)
        grid = grid.permute(0, 2, 3, 1).reshape(1, gh * gw, -1)
        return torch.cat([pos[:, :npp], grid], dim=1)

    def embed(self, img):
        """Patch embedding + prefix tokens + position embeddings + registers -> (x, (gh, gw))."""
        B, _, H, W = img.shape
        x = self.patch_embed(img)
        gh, gw = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)
        pre = [self.cls_token.expand(B, -1, -1)]
        if self.dist_token is not None:
            pre.append(self.dist_token.expand(B, -1, -1))
        x = torch.cat(pre + [x], dim=1)
        x = x + self.interpolated_pos(gh, gw, H, W)
        if self.reg_token is not None:
            npp = self.n_prefix_pos
            x = torch.cat([x[:, :npp], self.reg_token.expand(B, -1, -1), x[:, npp:]], dim=1)
        return x, (gh, gw)

    def forward(self, img):
        x, (gh, gw) = self.embed(img)
        attn = []
        for blk in self.blocks:
            x, w = blk(x)
            attn.append(w)
        x = self.norm(x)
        out = {"attn": attn, "features": x[:, 0], "grid": (gh, gw), "tokens": x.shape[1]}
        if self.head is not None:
            logits = self.head(x[:, 0])
            if self.head_dist is not None:
                logits = (logits + self.head_dist(x[:, 1])) / 2
            out["logits"] = logits
        return out


def prefixvit_to_timm(sd):
    out = {}
    for k, v in sd.items():
        n = k
        n = re.sub(r"^patch_embed\.(weight|bias)$", r"patch_embed.proj.\1", n)
        n = n.replace(".attn.in_proj_weight", ".attn.qkv.weight")
        n = n.replace(".attn.in_proj_bias", ".attn.qkv.bias")
        n = n.replace(".attn.out_proj.", ".attn.proj.")
        n = n.replace(".fc1.", ".mlp.fc1.").replace(".fc2.", ".mlp.fc2.")
        n = re.sub(r"\.(ls1|ls2)$", r".\1.gamma", n)
        out[n] = v.detach().clone()
    return out


def timm_to_prefixvit(sd):
    out = {}
    for k, v in sd.items():
        n = k
        n = re.sub(r"^patch_embed\.proj\.", "patch_embed.", n)
        n = n.replace(".attn.qkv.weight", ".attn.in_proj_weight")
        n = n.replace(".attn.qkv.bias", ".attn.in_proj_bias")
        n = n.replace(".attn.proj.", ".attn.out_proj.")
        n = n.replace(".mlp.fc1.", ".fc1.").replace(".mlp.fc2.", ".fc2.")
        n = re.sub(r"\.(ls1|ls2)\.gamma$", r".\1", n)
        out[n] = torch.as_tensor(v).clone()
    return out


# --------------------------------------------------------------------------------------
# timm <-> HF naming (HF convert_vit_timm_to_pytorch.py, convert_deit_timm_to_pytorch.py, convert_dinov2_to_hf.py)
# --------------------------------------------------------------------------------------
_HF_BLOCK = {
    "vit": {"norm1": "layernorm_before", "norm2": "layernorm_after",
            "mlp.fc1": "intermediate.dense", "mlp.fc2": "output.dense"},
    "dinov2": {"norm1": "norm1", "norm2": "norm2", "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"},
}


def timm_to_hf(sd, prefix, style, head_names=("classifier", None)):
    """prefix: 'vit.' / 'deit.' / '' ; style: 'vit' (ViT, DeiT) or 'dinov2'.
    head_names: HF names for timm 'head' and 'head_dist'."""
    bm = _HF_BLOCK[style]
    out = {}
    for k, v in sd.items():
        m = re.match(r"^blocks\.(\d+)\.(.+)\.(weight|bias|gamma)$", k)
        if m:
            i, sub, leaf = m.groups()
            base = f"{prefix}encoder.layer.{i}."
            if sub == "attn.qkv":
                d = v.shape[0] // 3
                for j, nm in enumerate(("query", "key", "value")):
                    out[f"{base}attention.attention.{nm}.{leaf}"] = v[j * d:(j + 1) * d].clone()
            elif sub == "attn.proj":
                out[f"{base}attention.output.dense.{leaf}"] = v.clone()
            elif sub in ("ls1", "ls2"):
                out[f"{base}layer_scale{sub[-1]}.lambda1"] = v.clone()
            else:
                out[f"{base}{bm[sub]}.{leaf}"] = v.clone()
            continue
        e = f"{prefix}embeddings."
        simple = {
            "cls_token": e + "cls_token",
            "dist_token": e + "distillation_token",
            "reg_token": e + "register_tokens",
            "mask_token": e + "mask_token",
            "pos_embed": e + "position_embeddings",
            "patch_embed.proj.weight": e + "patch_embeddings.projection.weight",
            "patch_embed.proj.bias": e + "patch_embeddings.projection.bias",
            "norm.weight": f"{prefix}layernorm.weight",
            "norm.bias": f"{prefix}layernorm.bias",
        }
        if k in simple:
            out[simple[k]] = v.clone()
        elif k.startswith("head_dist."):
            out[head_names[1] + k[len("head_dist"):]] = v.clone()
        elif k.startswith("head."):
            out[head_names[0] + k[len("head"):]] = v.clone()
        else:
            raise KeyError(k)
    return out


def hf_to_timm(sd, prefix, style, head_names=("classifier", None)):
    """Inverse of timm_to_hf, written independently (fuses q,k,v rows back)."""
    inv_bm = {v: k for k, v in _HF_BLOCK[style].items()}
    out, qkv = {}, {}
    for k, v in sd.items():
        v = torch.as_tensor(v)
        m = re.match(rf"^{re.escape(prefix)}encoder\.layer\.(\d+)\.(.+)\.(weight|bias|lambda1)$", k)
        if m:
            i, sub, leaf = m.groups()
            b = f"blocks.{i}."
            mm = re.match(r"^attention\.attention\.(query|key|value)$", sub)
            if mm:
                qkv.setdefault((i, leaf), {})[mm.group(1)] = v
            elif sub == "attention.output.dense":
                out[f"{b}attn.proj.{leaf}"] = v.clone()
            elif sub in ("layer_scale1", "layer_scale2"):
                out[f"{b}ls{sub[-1]}.gamma"] = v.clone()
            else:
                out[f"{b}{inv_bm[sub]}.{leaf}"] = v.clone()
            continue
        e = f"{prefix}embeddings."
        simple = {
            e + "cls_token": "cls_token",
            e + "distillation_token": "dist_token",
            e + "register_tokens": "reg_token",
            e + "mask_token": "mask_token",
            e + "position_embeddings": "pos_embed",
            e + "patch_embeddings.projection.weight": "patch_embed.proj.weight",
            e + "patch_embeddings.projection.bias": "patch_embed.proj.bias",
            f"{prefix}layernorm.weight": "norm.weight",
            f"{prefix}layernorm.bias": "norm.bias",
        }
        if k in simple:
            out[simple[k]] = v.clone()
        elif k.startswith(head_names[0] + "."):
            out["head" + k[len(head_names[0]):]] = v.clone()
        elif head_names[1] and k.startswith(head_names[1] + "."):
            out["head_dist" + k[len(head_names[1]):]] = v.clone()
        else:
            raise KeyError(k)
    for (i, leaf), d in qkv.items():
        out[f"blocks.{i}.attn.qkv.{leaf}"] = torch.cat([d["query"], d["key"], d["value"]], 0)
    return out


# --------------------------------------------------------------------------------------
# Independent float64 numpy forward on timm-named weights (cross-check of the files the
# C++ side reads, and of PyTorch upsample_bicubic2d: Keys cubic, A = -0.75, align_corners=False)
# --------------------------------------------------------------------------------------
def _cubic_weights(t, A=-0.75):
    def k(x):
        x = abs(x)
        if x <= 1:
            return ((A + 2) * x - (A + 3)) * x * x + 1
        if x < 2:
            return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A
        return 0.0
    return [k(t + 1), k(t), k(1 - t), k(2 - t)]


def _resize_matrix(n_in, n_out):
    M = np.zeros((n_out, n_in))
    for d in range(n_out):
        s = (d + 0.5) * (n_in / n_out) - 0.5
        f = math.floor(s)
        w = _cubic_weights(s - f)
        for j in range(4):
            idx = min(max(f - 1 + j, 0), n_in - 1)
            M[d, idx] += w[j]
    return M


def np_bicubic(grid, out_h, out_w):
    """grid [h, w, D] -> [out_h, out_w, D], PyTorch bicubic (A=-0.75, align_corners=False)."""
    Mh = _resize_matrix(grid.shape[0], out_h)
    Mw = _resize_matrix(grid.shape[1], out_w)
    return np.einsum("ah,hwd,bw->abd", Mh, grid, Mw)


def _np_ln(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _np_gelu(x):
    from math import erf
    verf = np.vectorize(erf)
    return 0.5 * x * (1 + verf(x / math.sqrt(2)))


def numpy_forward(w, img, heads, eps, n_reg=0):
    """w: timm-named dict of numpy arrays; img [3,H,W]. Returns dict(logits?, features, attn)."""
    w = {k: np.asarray(v, dtype=np.float64) for k, v in w.items()}
    img = np.asarray(img, dtype=np.float64)
    pw = w["patch_embed.proj.weight"]
    D, C, P, _ = pw.shape
    H, W = img.shape[1:]
    gh, gw = H // P, W // P
    patches = img[:, :gh * P, :gw * P].reshape(C, gh, P, gw, P).transpose(1, 3, 0, 2, 4)
    patches = patches.reshape(gh * gw, C * P * P)
    x = patches @ pw.reshape(D, -1).T + w["patch_embed.proj.bias"]
    pre = [w["cls_token"].reshape(1, D)]
    if "dist_token" in w:
        pre.append(w["dist_token"].reshape(1, D))
    npp = len(pre)
    x = np.concatenate(pre + [x], 0)
    pos = w["pos_embed"].reshape(-1, D)
    npos = pos.shape[0] - npp
    if not (npos == gh * gw and H == W):
        s = int(round(math.sqrt(npos)))
        g = np_bicubic(pos[npp:].reshape(s, s, D), gh, gw).reshape(gh * gw, D)
        pos = np.concatenate([pos[:npp], g], 0)
    x = x + pos
    if n_reg:
        x = np.concatenate([x[:npp], w["reg_token"].reshape(n_reg, D), x[npp:]], 0)
    T = x.shape[0]
    hd = D // heads
    attn = []
    i = 0
    while f"blocks.{i}.norm1.weight" in w:
        b = f"blocks.{i}."
        h = _np_ln(x, w[b + "norm1.weight"], w[b + "norm1.bias"], eps)
        qkv = h @ w[b + "attn.qkv.weight"].T + w[b + "attn.qkv.bias"]
        q, k, v = (qkv[:, j * D:(j + 1) * D].reshape(T, heads, hd).transpose(1, 0, 2) for j in range(3))
        s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
        s = np.exp(s - s.max(-1, keepdims=True))
        a = s / s.sum(-1, keepdims=True)
        attn.append(a)
        ctx = (a @ v).transpose(1, 0, 2).reshape(T, D)
        o = ctx @ w[b + "attn.proj.weight"].T + w[b + "attn.proj.bias"]
        if b + "ls1.gamma" in w:
            o = o * w[b + "ls1.gamma"]
        x = x + o
        h = _np_ln(x, w[b + "norm2.weight"], w[b + "norm2.bias"], eps)
        m = _np_gelu(h @ w[b + "mlp.fc1.weight"].T + w[b + "mlp.fc1.bias"])
        m = m @ w[b + "mlp.fc2.weight"].T + w[b + "mlp.fc2.bias"]
        if b + "ls2.gamma" in w:
            m = m * w[b + "ls2.gamma"]
        x = x + m
        i += 1
    x = _np_ln(x, w["norm.weight"], w["norm.bias"], eps)
    out = {"features": x[0], "attn": attn, "tokens": T, "grid": (gh, gw)}
    if "head.weight" in w:
        logits = x[0] @ w["head.weight"].T + w["head.bias"]
        if "head_dist.weight" in w:
            logits = (logits + x[1] @ w["head_dist.weight"].T + w["head_dist.bias"]) / 2
        out["logits"] = logits
    return out
