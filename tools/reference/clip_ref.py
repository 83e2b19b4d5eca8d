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


def run_blocks(blocks, x):
    """The residual blocks in order: the stream after the last, and each block's attention [B, heads, T, T]."""
    attn = []
    for b in blocks:
        x, w = b(x)
        attn.append(w)
    return x, attn


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
        x, attn = run_blocks(self.blocks, self.ln_pre(x))
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
        x, attn = run_blocks(self.blocks, x.flatten(2).transpose(1, 2) + interp_grid(self.pos, self.grid, gh, gw))
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
# The non-block tensors of each tower: reference module name -> name in the file, after the prefix. The
# blocks have their own renaming (_blocks_openai / _blocks_hf), and CLIP's `proj` is handled apart (HF
# stores it transposed, as visual_projection.weight, outside the prefix).
CLIP_OPENAI_NAMES = {k: k for k in ("conv1.weight", "class_embedding", "positional_embedding", "ln_pre.weight",
                                    "ln_pre.bias", "ln_post.weight", "ln_post.bias", "proj")}
CLIP_HF_NAMES = {"class_embedding": "embeddings.class_embedding", "conv1.weight": "embeddings.patch_embedding.weight",
                 "positional_embedding": "embeddings.position_embedding.weight",
                 "ln_pre.weight": "pre_layrnorm.weight", "ln_pre.bias": "pre_layrnorm.bias",
                 "ln_post.weight": "post_layernorm.weight", "ln_post.bias": "post_layernorm.bias"}
SIGLIP_HF_NAMES = {"patch_embed.weight": "embeddings.patch_embedding.weight", "patch_embed.bias": "embeddings.patch_embedding.bias",
                   "pos": "embeddings.position_embedding.weight",
                   "norm.weight": "post_layernorm.weight", "norm.bias": "post_layernorm.bias",
                   "probe": "head.probe",
                   "map_attn.in_proj_weight": "head.attention.in_proj_weight", "map_attn.in_proj_bias": "head.attention.in_proj_bias",
                   "map_attn.out_proj.weight": "head.attention.out_proj.weight", "map_attn.out_proj.bias": "head.attention.out_proj.bias",
                   "map_ln.weight": "head.layernorm.weight", "map_ln.bias": "head.layernorm.bias",
                   "map_fc1.weight": "head.mlp.fc1.weight", "map_fc1.bias": "head.mlp.fc1.bias",
                   "map_fc2.weight": "head.mlp.fc2.weight", "map_fc2.bias": "head.mlp.fc2.bias"}


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _rename(sd, names, prefix, out):
    """sd's tensors named in `names` (those present) into out under prefix + their file names."""
    for k, f in names.items():
        if k in sd:
            out[prefix + f] = sd[k]
    return out


def _rename_back(t, names, prefix, out):
    """The inverse of _rename: file tensors present in t back under the module names."""
    for k, f in names.items():
        if prefix + f in t:
            out[k] = t[prefix + f]
    return out


def _block_items(sd):
    """(block index, name inside the block, tensor) of the reference module's blocks.{i}.* tensors."""
    for k, v in sd.items():
        if k.startswith("blocks."):
            i, rest = k[len("blocks."):].split(".", 1)
            yield i, rest, v


def _blocks_openai(sd, prefix):
    out = {}
    for i, rest, v in _block_items(sd):
        rest = rest.replace("c_fc.", "mlp.c_fc.").replace("c_proj.", "mlp.c_proj.")
        out[f"{prefix}transformer.resblocks.{i}.{rest}"] = v
    return out


def clip_to_openai(model, prefix="visual."):
    sd = _state(model)
    return _rename(sd, CLIP_OPENAI_NAMES, prefix, _blocks_openai(sd, prefix))


def _blocks_hf(sd, prefix):
    out = {}
    for i, rest, v in _block_items(sd):
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
    sd = _state(model)
    out = _rename(sd, CLIP_HF_NAMES, prefix, _blocks_hf(sd, prefix))
    if "proj" in sd:
        out["visual_projection.weight"] = sd["proj"].t().contiguous()
    return out


def siglip_to_hf(model, prefix="vision_model."):
    sd = _state(model)
    return _rename(sd, SIGLIP_HF_NAMES, prefix, _blocks_hf(sd, prefix))


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
        return _rename_back(t, CLIP_OPENAI_NAMES, "visual.", out)
    _rename_back(t, CLIP_HF_NAMES, "vision_model.", out)
    if "visual_projection.weight" in t:
        out["proj"] = t["visual_projection.weight"].t().contiguous()
    return out


def siglip_state_from_file_names(sd):
    return _rename_back({k: torch.as_tensor(v) for k, v in sd.items()}, SIGLIP_HF_NAMES, "vision_model.",
                        _blocks_back(sd, {}))
