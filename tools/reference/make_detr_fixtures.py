#!/usr/bin/python3
"""Independent PyTorch DETR reference → fixtures for tests/core/test_detr.cpp.

Built only from torch.nn / torchvision modules (nn.MultiheadAttention with per-head weights,
torchvision ResNet Bottleneck/BasicBlock blocks, torchvision.ops.FrozenBatchNorm2d), random seeded
weights, narrow widths. Exports HF-named and original-named safetensors and every output.

Run:  /usr/bin/python3 tools/reference/make_detr_fixtures.py            # writes tests/fixtures/detr
      /usr/bin/python3 tools/reference/make_detr_fixtures.py --save-r50 /tmp/attnscope-bench/detr-r50
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock, Bottleneck
from torchvision.ops import FrozenBatchNorm2d

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st_io  # noqa: E402

FIXTURES = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "fixtures", "detr"))
HF_BACKBONE = "model.backbone.conv_encoder.model."


# ---------------------------------------------------------------- safetensors writer
def write_safetensors(path, tensors):
    """F32 safetensors via the shared writer (no __metadata__, as the fixtures were first written)."""
    st_io.save_file(tensors, path, dtype="F32", metadata={})


# ---------------------------------------------------------------- backbone (torchvision blocks)
class ResNetBody(nn.Module):
    """torchvision ResNet layout (conv1/bn1/layer1..4) with free widths; FrozenBatchNorm2d everywhere."""

    def __init__(self, block, layers, stem, planes, dc5):
        super().__init__()
        norm = FrozenBatchNorm2d
        self.conv1 = nn.Conv2d(3, stem, 7, 2, 3, bias=False)
        self.bn1 = norm(stem)
        self.inplanes, self.dilation = stem, 1
        strides = [1, 2, 2, 2]
        dilate = [False, False, False, dc5]
        for i in range(4):
            setattr(self, f"layer{i + 1}", self._make_layer(block, planes[i], layers[i], strides[i], dilate[i]))

    def _make_layer(self, block, planes, blocks, stride, dilate):  # = torchvision ResNet._make_layer
        norm = FrozenBatchNorm2d
        downsample, previous_dilation = None, self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                       norm(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, 1, 64, previous_dilation, norm)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, dilation=self.dilation, norm_layer=norm))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for i in range(4):
            x = getattr(self, f"layer{i + 1}")(x)
        return x


# ---------------------------------------------------------------- transformer (nn.MultiheadAttention)
def sine_pos(mask, n_feats, temperature=10000.0):
    """mask: [B,h,w] bool, True = real pixel. → [B, 2·n_feats, h, w], y first then x."""
    y = mask.cumsum(1, dtype=torch.float32)
    x = mask.cumsum(2, dtype=torch.float32)
    eps, scale = 1e-6, 2 * math.pi
    y = y / (y[:, -1:, :] + eps) * scale
    x = x / (x[:, :, -1:] + eps) * scale
    dim_t = torch.arange(n_feats, dtype=torch.float32)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / n_feats)
    px, py = x[..., None] / dim_t, y[..., None] / dim_t
    px = torch.stack((px[..., 0::2].sin(), px[..., 1::2].cos()), dim=4).flatten(3)
    py = torch.stack((py[..., 0::2].sin(), py[..., 1::2].cos()), dim=4).flatten(3)
    return torch.cat((py, px), dim=3).permute(0, 3, 1, 2)


class EncoderLayer(nn.Module):
    def __init__(self, d, heads, ffn):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d, heads)
        self.linear1, self.linear2 = nn.Linear(d, ffn), nn.Linear(ffn, d)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)

    def forward(self, x, pos, key_padding_mask, maps):
        q = k = x + pos
        a, w = self.self_attn(q, k, x, key_padding_mask=key_padding_mask, need_weights=True,
                              average_attn_weights=False)
        maps.append(w[0])
        x = self.norm1(x + a)
        return self.norm2(x + self.linear2(F.relu(self.linear1(x))))


class DecoderLayer(nn.Module):
    def __init__(self, d, heads, ffn):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d, heads)
        self.multihead_attn = nn.MultiheadAttention(d, heads)
        self.linear1, self.linear2 = nn.Linear(d, ffn), nn.Linear(ffn, d)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)

    def forward(self, t, memory, pos, qpos, key_padding_mask, self_maps, cross_maps):
        q = k = t + qpos
        a, w = self.self_attn(q, k, t, need_weights=True, average_attn_weights=False)
        self_maps.append(w[0])
        t = self.norm1(t + a)
        a, w = self.multihead_attn(t + qpos, memory + pos, memory, key_padding_mask=key_padding_mask,
                                   need_weights=True, average_attn_weights=False)
        cross_maps.append(w[0])
        t = self.norm2(t + a)
        return self.norm3(t + self.linear2(F.relu(self.linear1(t))))


class Transformer(nn.Module):
    def __init__(self, d, heads, n_enc, n_dec, ffn):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList([EncoderLayer(d, heads, ffn) for _ in range(n_enc)])
        self.decoder = nn.Module()
        self.decoder.layers = nn.ModuleList([DecoderLayer(d, heads, ffn) for _ in range(n_dec)])
        self.decoder.norm = nn.LayerNorm(d)


class MLP(nn.Module):
    def __init__(self, d, out):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, out)])

    def forward(self, x):
        return self.layers[2](F.relu(self.layers[1](F.relu(self.layers[0](x)))))


class Joiner(nn.Module):  # original naming: backbone.0.body.*
    def __init__(self, body):
        super().__init__()
        self.body = body


class DETR(nn.Module):
    """Names follow facebookresearch/detr so state_dict() gives original keys."""

    def __init__(self, block, layers, stem, planes, dc5, d, heads, n_enc, n_dec, ffn, n_queries, n_labels):
        super().__init__()
        self.backbone = nn.ModuleList([Joiner(ResNetBody(block, layers, stem, planes, dc5))])
        c_out = planes[3] * block.expansion
        self.input_proj = nn.Conv2d(c_out, d, 1)
        self.query_embed = nn.Embedding(n_queries, d)
        self.transformer = Transformer(d, heads, n_enc, n_dec, ffn)
        self.class_embed = nn.Linear(d, n_labels + 1)
        self.bbox_embed = MLP(d, 4)
        self.d = d

    def forward(self, img, pixel_mask=None):
        feat = self.backbone[0].body(img[None])  # [1, C, h, w]
        h, w = feat.shape[-2:]
        if pixel_mask is None:
            pixel_mask = torch.ones(img.shape[-2:], dtype=torch.bool)
        m = F.interpolate(pixel_mask[None, None].float(), size=(h, w))[0].bool()  # [1,h,w] nearest
        pos = sine_pos(m, self.d // 2).flatten(2).permute(2, 0, 1)  # [S,1,d]
        src = self.input_proj(feat).flatten(2).permute(2, 0, 1)  # [S,1,d]
        kpm = ~m.flatten(1)  # True = padding
        enc, dself, dcross = [], [], []
        x = src
        self.enc_norms = []  # L2 norm of every encoder token after each layer: [S] per layer
        for layer in self.transformer.encoder.layers:
            x = layer(x, pos, kpm, enc)
            self.enc_norms.append(x[:, 0].norm(dim=-1))
        qpos = self.query_embed.weight[:, None, :]
        t = torch.zeros_like(qpos)
        for layer in self.transformer.decoder.layers:
            t = layer(t, x, pos, qpos, kpm, dself, dcross)
        hs = self.transformer.decoder.norm(t)[:, 0]
        return self.class_embed(hs), self.bbox_embed(hs).sigmoid(), (h, w), enc, dself, dcross


# ---------------------------------------------------------------- weights
def randomise(model, gen):
    """Non-trivial random weights: FrozenBN stats, sharper attention, LN affine."""
    with torch.no_grad():
        for name, mod in model.named_modules():
            if isinstance(mod, FrozenBatchNorm2d):
                c = mod.weight.numel()
                last = name.endswith("bn3") or name.endswith("bn2") and "layer" in name and not hasattr(
                    model_block_of(model, name), "conv3")
                mod.weight.copy_(torch.rand(c, generator=gen) * (0.4 if last else 1.0) + (0.1 if last else 0.5))
                mod.bias.copy_(torch.randn(c, generator=gen) * 0.1)
                mod.running_mean.copy_(torch.randn(c, generator=gen) * 0.2)
                mod.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)
            elif isinstance(mod, nn.Conv2d):
                fan_in = mod.weight[0].numel()
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=gen) * math.sqrt(2.0 / fan_in))
                if mod.bias is not None:
                    mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen) * 0.1)
            elif isinstance(mod, nn.MultiheadAttention):
                d = mod.embed_dim
                w = torch.randn(3 * d, d, generator=gen) / math.sqrt(d)
                w[: 2 * d] *= 2.0  # sharper q·k so maps are not uniform
                mod.in_proj_weight.copy_(w)
                mod.in_proj_bias.copy_(torch.randn(3 * d, generator=gen) * 0.1)
                mod.out_proj.weight.copy_(torch.randn(d, d, generator=gen) / math.sqrt(d))
                mod.out_proj.bias.copy_(torch.randn(d, generator=gen) * 0.1)
            elif isinstance(mod, nn.LayerNorm):
                mod.weight.copy_(1.0 + torch.randn(mod.weight.shape, generator=gen) * 0.2)
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen) * 0.1)
            elif isinstance(mod, nn.Linear) and "out_proj" not in name:
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=gen) / math.sqrt(mod.in_features))
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen) * 0.1)
            elif isinstance(mod, nn.Embedding):
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=gen))


def model_block_of(model, bn_name):
    obj = model
    for part in bn_name.split(".")[:-1]:
        obj = getattr(obj, part) if not part.isdigit() else obj[int(part)]
    return obj


def original_state(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def to_hf(orig):
    """HF convert_detr_original_pytorch_checkpoint_to_pytorch.py rename map, original → HF (splitting fused in_proj)."""
    out = {}
    for k, v in orig.items():
        if k.startswith("backbone.0.body."):
            out[HF_BACKBONE + k[len("backbone.0.body."):]] = v
            continue
        if k.startswith("input_proj."):
            out["model.input_projection." + k.split(".", 1)[1]] = v
            continue
        if k == "query_embed.weight":
            out["model.query_position_embeddings.weight"] = v
            continue
        if k.startswith("class_embed."):
            out["class_labels_classifier." + k.split(".", 1)[1]] = v
            continue
        if k.startswith("bbox_embed."):
            out["bbox_predictor." + k.split(".", 1)[1]] = v
            continue
        if k.startswith("transformer.decoder.norm."):
            out["model.decoder.layernorm." + k.rsplit(".", 1)[1]] = v
            continue
        assert k.startswith("transformer."), k
        parts = k.split(".")  # transformer.{encoder,decoder}.layers.i.<mod>....
        side, i, rest = parts[1], parts[3], parts[4:]
        base = f"model.{side}.layers.{i}."
        mod = rest[0]
        if mod in ("self_attn", "multihead_attn"):
            attn = "self_attn" if mod == "self_attn" else "encoder_attn"
            if rest[1] in ("in_proj_weight", "in_proj_bias"):
                kind = "weight" if rest[1] == "in_proj_weight" else "bias"
                d = v.shape[0] // 3
                for j, p in enumerate("qkv"):
                    out[f"{base}{attn}.{p}_proj.{kind}"] = v[j * d:(j + 1) * d]
            else:
                out[f"{base}{attn}.out_proj.{rest[2]}"] = v
            continue
        names = {"linear1": "fc1", "linear2": "fc2"}
        if side == "encoder":
            names.update(norm1="self_attn_layer_norm", norm2="final_layer_norm")
        else:
            names.update(norm1="self_attn_layer_norm", norm2="encoder_attn_layer_norm", norm3="final_layer_norm")
        out[base + names[mod] + "." + rest[1]] = v
    return out


def hf_config(d, heads, n_enc, n_dec, ffn, n_queries, labels, dc5, backbone):
    return {
        "architectures": ["DetrForObjectDetection"], "model_type": "detr", "use_timm_backbone": True,
        "backbone": backbone, "dilation": dc5, "d_model": d, "encoder_layers": n_enc, "decoder_layers": n_dec,
        "encoder_attention_heads": heads, "decoder_attention_heads": heads, "encoder_ffn_dim": ffn,
        "decoder_ffn_dim": ffn, "num_queries": n_queries, "activation_function": "relu",
        "position_embedding_type": "sine",
        "id2label": {str(i): l for i, l in enumerate(labels)}, "label2id": {l: i for i, l in enumerate(labels)},
    }


def save_outputs(folder, model, img, mask=None):
    os.makedirs(folder, exist_ok=True)
    with torch.no_grad():
        logits, boxes, (h, w), enc, dself, dcross = model(img, mask)
    np.save(os.path.join(folder, "logits.npy"), logits.numpy().astype("<f4"))
    np.save(os.path.join(folder, "boxes.npy"), boxes.numpy().astype("<f4"))
    np.save(os.path.join(folder, "encoder_token_norms.npy"), torch.stack(model.enc_norms).numpy().astype("<f4"))
    for name, maps in (("encoder", enc), ("decoder_self", dself), ("decoder_cross", dcross)):
        for i, m in enumerate(maps):
            np.save(os.path.join(folder, f"{name}_layer{i:02d}.npy"), m.numpy().astype("<f4"))
    print(f"  {folder}: grid {h}x{w}, logits {tuple(logits.shape)}, |logits| max {logits.abs().max():.2f}")


def build(seed, block, layers, stem, planes, dc5, d, heads, n_enc, n_dec, ffn, n_q, n_labels, img=None):
    torch.manual_seed(seed)
    model = DETR(block, layers, stem, planes, dc5, d, heads, n_enc, n_dec, ffn, n_q, n_labels).eval()
    randomise(model, torch.Generator().manual_seed(seed))
    if img is not None:  # rescale input_proj so the transformer input has unit scale (maps not saturated)
        with torch.no_grad():
            src = model.input_proj(model.backbone[0].body(img[None]))
            model.input_proj.weight /= src.std()
            model.input_proj.bias /= src.std()
    return model


def make_fixtures():
    labels = ["cat", "dog", "remote", "couch", "N/A"]
    gen = torch.Generator().manual_seed(1234)
    img = torch.randn(3, 72, 104, generator=gen)

    # (a) bottleneck [3,4,6,3], tiny widths, HF names + config; (b) same weights, original names, no config
    d, heads, n_enc, n_dec, ffn, n_q = 32, 4, 2, 2, 64, 10
    spec = dict(block=Bottleneck, layers=[3, 4, 6, 3], stem=8, planes=[4, 8, 16, 32], d=d, heads=heads,
                n_enc=n_enc, n_dec=n_dec, ffn=ffn, n_q=n_q, n_labels=len(labels))
    model = build(1, dc5=False, img=img, **spec)
    root = os.path.join(FIXTURES, "r50tiny")
    os.makedirs(os.path.join(root, "hf"), exist_ok=True)
    os.makedirs(os.path.join(root, "original"), exist_ok=True)
    np.save(os.path.join(root, "input.npy"), img.numpy().astype("<f4"))
    orig = original_state(model)
    write_safetensors(os.path.join(root, "original", "model.safetensors"), orig)
    write_safetensors(os.path.join(root, "hf", "model.safetensors"), to_hf(orig))
    with open(os.path.join(root, "hf", "config.json"), "w") as f:
        json.dump(hf_config(d, heads, n_enc, n_dec, ffn, n_q, labels, False, "resnet50"), f, indent=2)
    save_outputs(os.path.join(root, "expected"), model, img)
    # (a') the same weights run as DC5 (dilation 2 in layer4 blocks 1, 2); config with dilation: true
    dc5_model = build(1, dc5=True, **spec)
    dc5_model.load_state_dict(model.state_dict())
    with open(os.path.join(root, "hf", "config_dc5.json"), "w") as f:
        json.dump(hf_config(d, heads, n_enc, n_dec, ffn, n_q, labels, True, "resnet50"), f, indent=2)
    save_outputs(os.path.join(root, "expected_dc5"), dc5_model, img)
    # (a'') a padded image: pixel mask with the right 44 columns / bottom 32 rows as padding
    mask = torch.ones(72, 104, dtype=torch.bool)
    mask[:, 60:] = False
    mask[40:, :] = False
    np.save(os.path.join(root, "pixel_mask.npy"), mask.numpy().astype("<f4"))
    save_outputs(os.path.join(root, "expected_masked"), model, img, mask)

    # (c) BasicBlock [1,1,1,1] with DC5 (config dilation: true), 2 heads, d 48
    spec_c = dict(block=BasicBlock, layers=[1, 1, 1, 1], stem=8, planes=[8, 16, 24, 32], d=48, heads=2,
                  n_enc=2, n_dec=2, ffn=96, n_q=8, n_labels=3)
    img_c = torch.randn(3, 88, 60, generator=gen)
    model_c = build(2, dc5=True, img=img_c, **spec_c)
    root_c = os.path.join(FIXTURES, "basic_dc5")
    os.makedirs(root_c, exist_ok=True)
    np.save(os.path.join(root_c, "input.npy"), img_c.numpy().astype("<f4"))
    write_safetensors(os.path.join(root_c, "model.safetensors"), to_hf(original_state(model_c)))
    with open(os.path.join(root_c, "config.json"), "w") as f:
        json.dump(hf_config(48, 2, 2, 2, 96, 8, ["a", "b", "c"], True, "resnet18"), f, indent=2)
    save_outputs(os.path.join(root_c, "expected"), model_c, img_c)


def save_r50(folder):
    """Full-size DETR-R50 (random weights), HF names + config.json, for benchmarking only."""
    os.makedirs(folder, exist_ok=True)
    labels = ["N/A"] * 91
    model = build(7, Bottleneck, [3, 4, 6, 3], 64, [64, 128, 256, 512], False, 256, 8, 6, 6, 2048, 100, 91)
    write_safetensors(os.path.join(folder, "model.safetensors"), to_hf(original_state(model)))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(hf_config(256, 8, 6, 6, 2048, 100, labels, False, "resnet50"), f, indent=2)
    print(f"wrote {folder}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--save-r50", metavar="DIR", help="write a full-size random DETR-R50 (HF names) to DIR")
    args = ap.parse_args()
    if args.save_r50:
        save_r50(args.save_r50)
    else:
        make_fixtures()
