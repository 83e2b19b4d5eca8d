"""PyTorch reference image towers for CLIP and SigLIP, from plain torch.nn modules.

Written from the papers and the published model structure, not from AttnScope's C++ code:
  CLIP (Radford et al. 2021, OpenAI clip/model.py VisionTransformer): conv1 (no bias) -> [class_embedding,
    patches] + positional_embedding -> ln_pre -> residual blocks x + attn(ln_1(x)), x + mlp(ln_2(x)) with
    mlp = c_fc -> QuickGELU (x * sigmoid(1.702 x)) -> c_proj -> ln_post(x[:, 0]) -> @ proj.
  SigLIP (Zhai et al. 2023; big_vision ViT with map head): patches (conv with bias) + posemb, no class
    token -> the same pre-LN blocks with tanh-approximated GELU -> final LayerNorm on every token ->
    MAP head: a learned probe attends over the tokens (nn.MultiheadAttention), then y + mlp(LN(y)).
Attention probabilities come from nn.MultiheadAttention(need_weights=True, average_attn_weights=False).

State dicts are produced in the *OpenAI / open_clip* naming (CLIP) and the *HF* naming (both) by
explicit renaming functions below; HF splits nn.MultiheadAttention's in_proj into q_proj/k_proj/v_proj
and stores `proj` [D, E] as visual_projection.weight [E, D].
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


def make_act(name):
    if name == "quick_gelu":
        return QuickGELU()
    if name == "gelu":
        return nn.GELU()
    if name == "gelu_pytorch_tanh":
        return nn.GELU(approximate="tanh")
    raise ValueError(name)


class ResBlock(nn.Module):
    def __init__(self, d, heads, mlp, eps, act):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, eps=eps)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.c_fc = nn.Linear(d, mlp)
        self.act = make_act(act)
        self.c_proj = nn.Linear(mlp, d)

    def forward(self, x):
        h = self.ln_1(x)
        a, w = self.attn(h, h, h, need_weights=True, average_attn_weights=False)
        x = x + a
        x = x + self.c_proj(self.act(self.c_fc(self.ln_2(x))))
        return x, w


def interp_grid(pos_grid, s, gh, gw):
    """[s*s, D] -> [gh*gw, D], bicubic (align_corners=False), as HF interpolate_pos_encoding."""
    if gh == s and gw == s:
        return pos_grid
    g = pos_grid.reshape(1, s, s, -1).permute(0, 3, 1, 2)
    g = F.interpolate(g, size=(gh, gw), mode="bicubic", align_corners=False)
    return g.permute(0, 2, 3, 1).reshape(gh * gw, -1)


class ClipTower(nn.Module):
    def __init__(self, d, heads, layers, mlp, patch, grid, eps, act, proj_dim):
        super().__init__()
        self.patch, self.grid = patch, grid
        self.conv1 = nn.Conv2d(3, d, patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(d))
        self.positional_embedding = nn.Parameter(torch.zeros(grid * grid + 1, d))
        self.ln_pre = nn.LayerNorm(d, eps=eps)
        self.blocks = nn.ModuleList(ResBlock(d, heads, mlp, eps, act) for _ in range(layers))
        self.ln_post = nn.LayerNorm(d, eps=eps)
        self.proj = nn.Parameter(torch.zeros(d, proj_dim)) if proj_dim else None

    def forward(self, img):
        x = self.conv1(img)  # [B, D, gh, gw]
        B, D, gh, gw = x.shape
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat([self.class_embedding.reshape(1, 1, D).expand(B, 1, D), x], dim=1)
        pos = self.positional_embedding
        pos = torch.cat([pos[:1], interp_grid(pos[1:], self.grid, gh, gw)], 0)
        x = x + pos
        x = self.ln_pre(x)
        attn = []
        for b in self.blocks:
            x, w = b(x)
            attn.append(w)
        pooled = self.ln_post(x[:, 0])
        feats = pooled @ self.proj if self.proj is not None else pooled
        return {"features": feats, "attn": attn, "grid": (gh, gw), "tokens": x.shape[1]}


class SiglipTower(nn.Module):
    def __init__(self, d, heads, layers, mlp, patch, grid, eps, act="gelu_pytorch_tanh", head=True):
        super().__init__()
        self.grid = grid
        self.patch_embed = nn.Conv2d(3, d, patch, stride=patch)
        self.pos = nn.Parameter(torch.zeros(grid * grid, d))
        self.blocks = nn.ModuleList(ResBlock(d, heads, mlp, eps, act) for _ in range(layers))
        self.norm = nn.LayerNorm(d, eps=eps)
        self.has_head = head
        if head:
            self.probe = nn.Parameter(torch.zeros(1, 1, d))
            self.map_attn = nn.MultiheadAttention(d, heads, batch_first=True)
            self.map_ln = nn.LayerNorm(d, eps=eps)
            self.map_fc1 = nn.Linear(d, mlp)
            self.map_act = make_act(act)
            self.map_fc2 = nn.Linear(mlp, d)

    def forward(self, img):
        x = self.patch_embed(img)
        B, D, gh, gw = x.shape
        x = x.flatten(2).transpose(1, 2) + interp_grid(self.pos, self.grid, gh, gw)
        attn = []
        for b in self.blocks:
            x, w = b(x)
            attn.append(w)
        x = self.norm(x)
        out = {"attn": attn, "grid": (gh, gw), "tokens": x.shape[1]}
        if self.has_head:
            y, wp = self.map_attn(self.probe.expand(B, 1, D), x, x, need_weights=True, average_attn_weights=False)
            y = y + self.map_fc2(self.map_act(self.map_fc1(self.map_ln(y))))
            out["features"] = y[:, 0]
            out["pool_attn"] = wp  # [B, heads, 1, T]
        else:
            out["features"] = x.mean(1)
        return out


def randomize_(model, qk_gain=1.5):
    """Every parameter random and O(1)-scaled (LayerNorm weights near 1), q/k sharpened a little."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            owner = model
            for part in name.split(".")[:-1]:
                owner = getattr(owner, part)
            leaf = name.split(".")[-1]
            if isinstance(owner, nn.LayerNorm):
                p.copy_(1.0 + 0.2 * torch.randn_like(p) if leaf == "weight" else 0.1 * torch.randn_like(p))
            elif name in ("class_embedding", "positional_embedding", "pos", "probe"):
                p.copy_(0.5 * torch.randn_like(p))
            elif name == "proj":
                p.copy_(torch.randn_like(p) / math.sqrt(p.shape[0]))
            elif p.dim() >= 2:
                p.copy_(torch.randn_like(p) / math.sqrt(p[0].numel()))
                if leaf == "in_proj_weight":
                    d = p.shape[1]
                    p[: 2 * d] *= qk_gain
            else:
                p.copy_(0.1 * torch.randn_like(p))


# ---- naming -----------------------------------------------------------------------------------------
def _blocks_openai(sd, prefix):
    out = {}
    for k, v in sd.items():
        if not k.startswith("blocks."):
            continue
        i, rest = k[len("blocks."):].split(".", 1)
        rest = rest.replace("c_fc.", "mlp.c_fc.").replace("c_proj.", "mlp.c_proj.")
        out[f"{prefix}transformer.resblocks.{i}.{rest}"] = v
    return out


def clip_to_openai(model, prefix="visual."):
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out = _blocks_openai(sd, prefix)
    for k in ("conv1.weight", "class_embedding", "positional_embedding", "ln_pre.weight", "ln_pre.bias",
              "ln_post.weight", "ln_post.bias", "proj"):
        if k in sd:
            out[prefix + k] = sd[k]
    return out


def _blocks_hf(sd, prefix):
    out = {}
    for k, v in sd.items():
        if not k.startswith("blocks."):
            continue
        i, rest = k[len("blocks."):].split(".", 1)
        b = f"{prefix}encoder.layers.{i}."
        if rest.startswith("attn.in_proj_"):
            leaf = "weight" if rest.endswith("weight") else "bias"
            d = v.shape[0] // 3
            for j, nm in enumerate(("q_proj", "k_proj", "v_proj")):
                out[f"{b}self_attn.{nm}.{leaf}"] = v[j * d:(j + 1) * d].clone()
            continue
        rest = (rest.replace("attn.out_proj.", "self_attn.out_proj.").replace("ln_1.", "layer_norm1.")
                .replace("ln_2.", "layer_norm2.").replace("c_fc.", "mlp.fc1.").replace("c_proj.", "mlp.fc2."))
        out[b + rest] = v
    return out


def clip_to_hf(model, prefix="vision_model."):
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out = _blocks_hf(sd, prefix)
    e = prefix + "embeddings."
    out[e + "class_embedding"] = sd["class_embedding"]
    out[e + "patch_embedding.weight"] = sd["conv1.weight"]
    out[e + "position_embedding.weight"] = sd["positional_embedding"]
    out[prefix + "pre_layrnorm.weight"] = sd["ln_pre.weight"]
    out[prefix + "pre_layrnorm.bias"] = sd["ln_pre.bias"]
    out[prefix + "post_layernorm.weight"] = sd["ln_post.weight"]
    out[prefix + "post_layernorm.bias"] = sd["ln_post.bias"]
    if "proj" in sd:
        out["visual_projection.weight"] = sd["proj"].t().contiguous()
    return out


def siglip_to_hf(model, prefix="vision_model."):
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out = _blocks_hf(sd, prefix)
    e = prefix + "embeddings."
    out[e + "patch_embedding.weight"] = sd["patch_embed.weight"]
    out[e + "patch_embedding.bias"] = sd["patch_embed.bias"]
    out[e + "position_embedding.weight"] = sd["pos"]
    out[prefix + "post_layernorm.weight"] = sd["norm.weight"]
    out[prefix + "post_layernorm.bias"] = sd["norm.bias"]
    if "probe" in sd:
        h = prefix + "head."
        out[h + "probe"] = sd["probe"]
        out[h + "attention.in_proj_weight"] = sd["map_attn.in_proj_weight"]
        out[h + "attention.in_proj_bias"] = sd["map_attn.in_proj_bias"]
        out[h + "attention.out_proj.weight"] = sd["map_attn.out_proj.weight"]
        out[h + "attention.out_proj.bias"] = sd["map_attn.out_proj.bias"]
        out[h + "layernorm.weight"] = sd["map_ln.weight"]
        out[h + "layernorm.bias"] = sd["map_ln.bias"]
        out[h + "mlp.fc1.weight"] = sd["map_fc1.weight"]
        out[h + "mlp.fc1.bias"] = sd["map_fc1.bias"]
        out[h + "mlp.fc2.weight"] = sd["map_fc2.weight"]
        out[h + "mlp.fc2.bias"] = sd["map_fc2.bias"]
    return out


# ---- inverse namings (self-check of the files written: map back, load strict, same outputs) ------------
def _blocks_back(sd, out):
    """HF or OpenAI block names -> the reference module's blocks.{i}.* names (fuses q/k/v back)."""
    import re
    qkv = {}
    for k, v in sd.items():
        m = re.match(r"^(?:vision_model\.encoder\.layers|visual\.transformer\.resblocks)\.(\d+)\.(.+)$", k)
        if not m:
            continue
        i, rest = m.groups()
        mm = re.match(r"^self_attn\.(q|k|v)_proj\.(weight|bias)$", rest)
        if mm:
            qkv.setdefault((i, mm.group(2)), {})[mm.group(1)] = torch.as_tensor(v)
            continue
        for a, b in (("self_attn.out_proj.", "attn.out_proj."), ("layer_norm1.", "ln_1."), ("layer_norm2.", "ln_2."),
                     ("mlp.fc1.", "c_fc."), ("mlp.fc2.", "c_proj."), ("mlp.c_fc.", "c_fc."), ("mlp.c_proj.", "c_proj.")):
            if rest.startswith(a):
                rest = b + rest[len(a):]
        out[f"blocks.{i}.{rest}"] = torch.as_tensor(v)
    for (i, leaf), d in qkv.items():
        out[f"blocks.{i}.attn.in_proj_{leaf}"] = torch.cat([d["q"], d["k"], d["v"]], 0)
    return out


def clip_state_from_file_names(sd):
    out = _blocks_back(sd, {})
    t = {k: torch.as_tensor(v) for k, v in sd.items()}
    if "visual.conv1.weight" in t:
        for k in ("conv1.weight", "class_embedding", "positional_embedding", "ln_pre.weight", "ln_pre.bias",
                  "ln_post.weight", "ln_post.bias", "proj"):
            if "visual." + k in t:
                out[k] = t["visual." + k]
    else:
        e = "vision_model.embeddings."
        out["class_embedding"] = t[e + "class_embedding"]
        out["conv1.weight"] = t[e + "patch_embedding.weight"]
        out["positional_embedding"] = t[e + "position_embedding.weight"]
        for a, b in (("pre_layrnorm", "ln_pre"), ("post_layernorm", "ln_post")):
            out[b + ".weight"] = t[f"vision_model.{a}.weight"]
            out[b + ".bias"] = t[f"vision_model.{a}.bias"]
        if "visual_projection.weight" in t:
            out["proj"] = t["visual_projection.weight"].t().contiguous()
    return out


def siglip_state_from_file_names(sd):
    out = _blocks_back(sd, {})
    t = {k: torch.as_tensor(v) for k, v in sd.items()}
    e = "vision_model.embeddings."
    out["patch_embed.weight"] = t[e + "patch_embedding.weight"]
    out["patch_embed.bias"] = t[e + "patch_embedding.bias"]
    out["pos"] = t[e + "position_embedding.weight"]
    out["norm.weight"] = t["vision_model.post_layernorm.weight"]
    out["norm.bias"] = t["vision_model.post_layernorm.bias"]
    h = "vision_model.head."
    if h + "probe" in t:
        out["probe"] = t[h + "probe"]
        for a, b in (("attention.in_proj_weight", "map_attn.in_proj_weight"), ("attention.in_proj_bias", "map_attn.in_proj_bias"),
                     ("attention.out_proj.weight", "map_attn.out_proj.weight"), ("attention.out_proj.bias", "map_attn.out_proj.bias"),
                     ("layernorm.weight", "map_ln.weight"), ("layernorm.bias", "map_ln.bias"), ("mlp.fc1.weight", "map_fc1.weight"),
                     ("mlp.fc1.bias", "map_fc1.bias"), ("mlp.fc2.weight", "map_fc2.weight"), ("mlp.fc2.bias", "map_fc2.bias")):
            out[b] = t[h + a]
    return out
