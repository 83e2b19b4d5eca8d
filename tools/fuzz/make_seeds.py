#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, derived from tests/fixtures at run time (nothing here is committed).

usage: make_seeds.py FIXTURES_DIR OUT_DIR

Writes OUT_DIR/{safetensors,pth,pickle,config,image}/. Pure Python for everything except the small
.pth seeds (real torch.save, when torch imports) and the extra image formats (Pillow, when it imports);
without them those corpora hold only what can be copied or cut from the fixtures.
"""
import io
import json
import os
import struct
import sys
import zipfile

fixtures, out = sys.argv[1], sys.argv[2]
MAX_SEED = 16384  # keep seeds small: libFuzzer mutates small inputs much faster


def put(kind, name, data):
    d = os.path.join(out, kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def walk(ext):
    for root, _, files in sorted(os.walk(fixtures)):
        if os.path.relpath(root, fixtures).split(os.sep)[0] == "fuzz":
            continue  # the regression inputs are added per target below
        for f in sorted(files):
            if f.endswith(ext):
                yield os.path.join(root, f)


def rel(p):
    return os.path.relpath(p, fixtures).replace("/", "_")


# ---- safetensors: each fixture checkpoint with every tensor cut to at most 2 per dimension ----
SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def shrink_safetensors(blob):
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    new, body = {}, b""
    for k, v in header.items():
        if k == "__metadata__":
            new[k] = v
            continue
        shape = [min(d, 2) for d in v["shape"]]
        count = 1
        for d in shape:
            count *= d
        nbytes = count * SIZES[v["dtype"]]
        b0 = v["data_offsets"][0]
        new[k] = {"dtype": v["dtype"], "shape": shape, "data_offsets": [len(body), len(body) + nbytes]}
        body += data[b0:b0 + nbytes]
    h = json.dumps(new, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + body


for p in walk(".safetensors"):
    with open(p, "rb") as f:
        put("safetensors", rel(p), shrink_safetensors(f.read()))
for name, h in [("empty", b"{}"), ("meta", b'{"__metadata__":{"format":"pt"}}'),
                ("scalar", b'{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}'),
                ("zero", b'{"a":{"dtype":"F16","shape":[0,3],"data_offsets":[0,0]}}')]:
    body = b"\0\0\x80\x3f" if name == "scalar" else b""
    put("safetensors", "hand_" + name, struct.pack("<Q", len(h)) + h + body)

# ---- pth (zip and legacy containers) and pickle (the unpickler alone) ----
pth_fixtures = list(walk(".pth"))
for p in pth_fixtures:
    with open(p, "rb") as f:
        blob = f.read()
    if len(blob) <= MAX_SEED:
        put("pth", rel(p), blob)
        if not blob.startswith(b"PK"):
            put("pickle", rel(p), blob)
    if blob.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            for info in z.infolist():
                if info.filename.endswith("data.pkl"):
                    put("pickle", rel(p) + ".data.pkl", z.read(info))
    elif len(blob) > MAX_SEED:
        put("pickle", rel(p) + ".head", blob[:MAX_SEED])  # the legacy pickles come first

try:
    import torch

    def small(sd):
        out_sd = {}
        for i, (k, v) in enumerate(sd.items()):
            if i >= 8:
                break
            if isinstance(v, torch.Tensor):
                out_sd[k] = v.flatten()[:3].clone() if v.dim() else v.clone()
        return out_sd

    def save(sd, name, legacy):
        buf = io.BytesIO()
        torch.save(sd, buf, _use_new_zipfile_serialization=not legacy)
        blob = buf.getvalue()
        put("pth", name, blob)
        if legacy:
            put("pickle", name, blob)
        else:
            with zipfile.ZipFile(io.BytesIO(blob)) as z:
                put("pickle", name + ".data.pkl", z.read([n for n in z.namelist() if n.endswith("data.pkl")][0]))

    for p in pth_fixtures:
        if "hostile" in p or os.path.basename(os.path.dirname(p)) != "pth":
            continue  # only the benign fixtures made by make_pth_fixtures.py are loaded with torch
        with open(p, "rb") as f:
            legacy = not f.read(2) == b"PK"
        sd = torch.load(p, map_location="cpu")
        wrapped = isinstance(sd, dict) and isinstance(sd.get("model"), dict)
        s = small(sd["model"] if wrapped else sd)
        save({"model": s, "epoch": 3} if wrapped else s, "small_" + rel(p), legacy)
    base = torch.arange(12.0).reshape(3, 4)
    views = {"t": base.t(), "row": base[1:], "cols": base[:, 1:3], "half": base.half(), "bf16": base.bfloat16(),
             "f64": base.double(), "i64": torch.arange(4), "module.x": base[2]}
    save(views, "views_zip.pth", False)
    save(views, "views_legacy.pth", True)
    save({"state_dict": {"a": torch.ones(2, 2)}}, "wrapped_state_dict.pth", False)
except ImportError:
    print("make_seeds: torch not importable; pth seeds are the small fixtures only", file=sys.stderr)

# ---- config: byte 0 picks the fixture checkpoint (same order as kModels in fuzz_config.cpp) ----
MODELS = ["vit/hf_vit", "vit/timm_vit", "vit/deit_distilled", "vit/dinov2_reg", "vit/dino_timm", "detr/basic_dc5"]


def read(p):
    try:
        with open(p, "rb") as f:
            return f.read()
    except OSError:
        return None


hf_pre = read(os.path.join(fixtures, "vit/hf_vit/preprocessor_config.json"))
for i, m in enumerate(MODELS):
    d = os.path.join(fixtures, m)
    cfg = read(os.path.join(d, "config.json")) or b""
    pre = read(os.path.join(d, "preprocessor_config.json"))
    put("config", "%d_%s" % (i, m.replace("/", "_")), bytes([i]) + cfg + (b"\0" + pre if pre else b""))
    put("config", "%d_%s_hfpre" % (i, m.replace("/", "_")), bytes([i]) + cfg + b"\0" + hf_pre)
detr_pre = b'{"image_processor_type":"DetrImageProcessor","size":{"shortest_edge":64,"longest_edge":96}}'
for name in ("config.json", "config_dc5.json"):  # the other DETR fixture's configs, on the DETR weights
    cfg = read(os.path.join(fixtures, "detr/r50tiny/hf", name))
    if cfg:
        put("config", "5_r50tiny_" + name, bytes([5]) + cfg + b"\0" + detr_pre)

# ---- the regression inputs in tests/fixtures/fuzz, each to its target (by file name prefix) ----
fuzz_dir = os.path.join(fixtures, "fuzz")
for f in sorted(os.listdir(fuzz_dir)) if os.path.isdir(fuzz_dir) else []:
    data = read(os.path.join(fuzz_dir, f))
    kind = f.split("_", 1)[0]
    if kind == "config":
        put("config", "regression_" + f, b"\0" + data)  # on the first fixture checkpoint (hf_vit)
    elif kind in ("safetensors", "pth", "pickle", "image") and len(data) <= MAX_SEED:
        put(kind, "regression_" + f, data)

# ---- images: the fixture pictures, plus other formats made from one of them with Pillow ----
for ext in (".png", ".jpg"):
    for p in walk(ext):
        data = read(p)
        if len(data) <= MAX_SEED:
            put("image", rel(p), data)
try:
    from PIL import Image

    src = Image.open(os.path.join(fixtures, "image/src_37x23.png")).convert("RGB").crop((0, 0, 16, 12))
    for fmt, mode, ext in [("BMP", "RGB", "bmp"), ("TIFF", "RGB", "tiff"), ("PPM", "RGB", "ppm"), ("PPM", "L", "pgm"),
                           ("WEBP", "RGB", "webp"), ("GIF", "P", "gif"), ("JPEG", "L", "grey.jpg"),
                           ("PNG", "LA", "la.png"), ("TIFF", "L", "grey.tiff")]:
        buf = io.BytesIO()
        try:
            src.convert(mode).save(buf, fmt)
        except (OSError, KeyError, ValueError):
            continue
        put("image", "pil_" + ext, buf.getvalue())
except ImportError:
    print("make_seeds: Pillow not importable; image seeds are the fixture PNG/JPEG files only", file=sys.stderr)
