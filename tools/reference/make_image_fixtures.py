#!/usr/bin/python3
"""Reference outputs for the image module tests (tests/core/test_image.cpp).

Everything here is computed with PIL / numpy / torchvision only, never with AttnScope code.
Run from the repository root:  /usr/bin/python3 tools/reference/make_image_fixtures.py
Writes tests/fixtures/image/ (small files only; the real photo is summarised, never copied).
"""
import io
import json
import math
import os
import struct
import zlib

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
from PIL import Image, ImageOps
from torchvision.transforms import InterpolationMode

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "image")
SHARED = os.path.join(ROOT, "..", "shared")
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
PIL_FILTERS = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC,
               "box": Image.BOX, "hamming": Image.HAMMING, "lanczos": Image.LANCZOS}


def out(name):
    return os.path.join(OUT, name)


def synthetic(w, h, seed):
    """Noise + gradients + a hard edge: exercises clipping and negative lobes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.empty((h, w, 3), np.float64)
    img[..., 0] = 255 * x / max(w - 1, 1)
    img[..., 1] = 255 * y / max(h - 1, 1)
    img[..., 2] = np.where((x + y) % 7 < 3, 255, 0)
    img += rng.normal(0, 40, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- resize cases
RESIZE_CASES = [  # (source, out_w, out_h, filter)
    ("src_37x23.png", 16, 11, "bilinear"), ("src_37x23.png", 80, 50, "bilinear"),
    ("src_37x23.png", 16, 11, "bicubic"), ("src_37x23.png", 80, 50, "bicubic"),
    ("src_37x23.png", 29, 61, "bicubic"), ("src_37x23.png", 100, 61, "nearest"),
    ("src_64x48.png", 24, 31, "bicubic"), ("src_64x48.png", 64, 20, "bilinear"),
    ("src_64x48.png", 100, 48, "bicubic"), ("src_64x48.png", 64, 48, "bicubic"),
    ("src_64x48.png", 7, 5, "box"), ("src_64x48.png", 7, 5, "hamming"),
    ("src_64x48.png", 9, 13, "lanczos"), ("src_64x48.png", 9, 13, "nearest"),
    ("src_64x48.png", 33, 21, "bilinear"),
    ("src_5x300.png", 17, 29, "bicubic"), ("src_5x300.png", 3, 77, "lanczos"),
    ("src_5x300.png", 3, 77, "box"), ("src_5x300.png", 11, 150, "hamming"),
    ("src_5x300.png", 1, 1, "bilinear"),
]


def make_resize_cases():
    cases = []
    for i, (src, w, h, flt) in enumerate(RESIZE_CASES):
        im = Image.open(out(src)).convert("RGB")
        res = np.asarray(im.resize((w, h), resample=PIL_FILTERS[flt]), dtype=np.uint8)
        name = f"resize_{i:02d}_{flt}_{w}x{h}.npy"
        np.save(out(name), res)
        cases.append({"source": src, "width": w, "height": h, "filter": flt, "expected": name})
    return cases


# ---------------------------------------------------------------- pipelines
def hf_normalize(arr_u8, mean, std, rescale=1 / 255):
    """HF image_transforms.rescale (float64 → float32) then normalize (float32), HWC → CHW."""
    x = (arr_u8.astype(np.float64) * rescale).astype(np.float32)
    x = (x - np.array(mean, np.float32)) / np.array(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def hf_center_crop(arr, ch, cw):
    """transformers.image_transforms.center_crop (channels last), padding included."""
    oh, ow = arr.shape[:2]
    top, left = (oh - ch) // 2, (ow - cw) // 2
    if top >= 0 and left >= 0 and top + ch <= oh and left + cw <= ow:
        return arr[top:top + ch, left:left + cw]
    nh, nw = max(ch, oh), max(cw, ow)
    new = np.zeros((nh, nw) + arr.shape[2:], arr.dtype)
    tp, lp = math.ceil((nh - oh) / 2), math.ceil((nw - ow) / 2)
    new[tp:tp + oh, lp:lp + ow] = arr
    top, left = top + tp, left + lp
    return new[max(0, top):min(nh, top + ch), max(0, left):min(nw, left + cw)]


def detr_size(h, w, size, max_size):
    """transformers DetrImageProcessor get_size_with_aspect_ratio."""
    raw = None
    if max_size is not None:
        mn, mx = float(min(h, w)), float(max(h, w))
        if mx / mn * size > max_size:
            raw = max_size * mn / mx
            size = int(round(raw))
    if (h <= w and h == size) or (w <= h and w == size):
        return h, w
    if w < h:
        return (int(raw * h / w) if raw is not None else int(size * h / w)), size
    return size, (int(raw * w / h) if raw is not None else int(size * w / h))


def torchvision_eval(im, short, crop, flt):
    tf = T.Compose([T.Resize(short, interpolation=flt), T.CenterCrop(crop), T.ToTensor(),
                    T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    return tf(im).numpy().astype(np.float32)


def make_pipeline_cases():
    cases = []

    def add(name, src, spec, x, geometry):
        np.save(out(name), np.ascontiguousarray(x, dtype=np.float32))
        cases.append({"name": name, "source": src, "spec": spec, "expected": name, "geometry": geometry})

    for src in ["src_64x48.png", "src_37x23.png"]:
        im = Image.open(out(src)).convert("RGB")
        # (a) HF ViTImageProcessor: 32×32 bilinear, 0.5 mean/std
        arr = np.asarray(im.resize((32, 32), Image.BILINEAR))
        add(f"pipe_vit_{src[:-4]}.npy", src,
            {"resize": "exact", "h": 32, "w": 32, "resample": "bilinear", "mean": [0.5] * 3, "std": [0.5] * 3},
            hf_normalize(arr, [0.5] * 3, [0.5] * 3),
            [im.width, im.height, 32, 32, 0, 0, 32, 32])
        # (c) DETR: shortest edge 40, longest 60, bilinear
        oh, ow = detr_size(im.height, im.width, 40, 60)
        arr = np.asarray(im.resize((ow, oh), Image.BILINEAR))
        add(f"pipe_detr_{src[:-4]}.npy", src,
            {"resize": "shortest_max", "shortest": 40, "longest": 60, "resample": "bilinear",
             "mean": IMAGENET_MEAN, "std": IMAGENET_STD},
            hf_normalize(arr, IMAGENET_MEAN, IMAGENET_STD), [im.width, im.height, ow, oh, 0, 0, ow, oh])

    # (b) timm / torchvision eval: Resize(36) bicubic + CenterCrop + ImageNet mean/std
    for src, crop in [("src_64x48.png", 32), ("src_37x23.png", 30), ("src_5x300.png", 40)]:
        im = Image.open(out(src)).convert("RGB")
        x = torchvision_eval(im, 36, crop, InterpolationMode.BICUBIC)
        # geometry per torchvision: resized size, then crop offset (negative = zero padding)
        s, l = (im.width, im.height) if im.width <= im.height else (im.height, im.width)
        nl = int(36 * l / s)
        rw, rh = (36, nl) if im.width <= im.height else (nl, 36)
        cx = int(round((rw - crop) / 2.0)) if rw >= crop else -((crop - rw) // 2)
        cy = int(round((rh - crop) / 2.0)) if rh >= crop else -((crop - rh) // 2)
        add(f"pipe_tv_{src[:-4]}_c{crop}.npy", src,
            {"resize": "shortest", "shortest": 36, "resample": "bicubic", "crop": crop, "rounding": "round",
             "mean": IMAGENET_MEAN, "std": IMAGENET_STD}, x, [im.width, im.height, rw, rh, cx, cy, crop, crop])

    # (d) HF DeiT-style legacy: 40×40 bicubic square + HF floor crop (33 → offset 3; torchvision would use 4),
    # and (e) a crop larger than the resized image (HF pads, image at ceil(d/2))
    im = Image.open(out("src_37x23.png")).convert("RGB")
    for rs, crop in [(40, 33), (20, 25)]:
        arr = hf_center_crop(np.asarray(im.resize((rs, rs), Image.BICUBIC)), crop, crop)
        off = (rs - crop) // 2 if rs >= crop else -math.ceil((crop - rs) / 2)
        add(f"pipe_hfcrop_{rs}_{crop}.npy", "src_37x23.png",
            {"resize": "exact", "h": rs, "w": rs, "resample": "bicubic", "crop": crop, "rounding": "floor",
             "mean": IMAGENET_MEAN, "std": IMAGENET_STD},
            hf_normalize(arr, IMAGENET_MEAN, IMAGENET_STD), [37, 23, rs, rs, off, off, crop, crop])
    return cases


# ---------------------------------------------------------------- decoder inputs
def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def png16(arr16, colour_type):
    """Hand-made 16-bit PNG (PIL cannot write 16-bit RGB). arr16: HxW (grey) or HxWx3, uint16."""
    h, w = arr16.shape[:2]
    rows = arr16.astype(">u2").reshape(h, -1).tobytes()
    stride = len(rows) // h
    raw = b"".join(b"\x00" + rows[i * stride:(i + 1) * stride] for i in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw)) + \
        png_chunk(b"IEND", b"")


def make_decoder_inputs():
    cases = []

    def expect(name, file, arr, note):
        np.save(out(name), np.ascontiguousarray(arr, dtype=np.uint8))
        cases.append({"file": file, "expected": name, "note": note})

    rng = np.random.default_rng(7)
    # JPEG data behind a .png name
    base = synthetic(24, 16, 3)
    Image.fromarray(base).save(out("jpeg_named.png"), format="JPEG", quality=90)
    expect("jpeg_named.npy", "jpeg_named.png", np.asarray(Image.open(out("jpeg_named.png")).convert("RGB")),
           "JPEG data, .png name")
    # EXIF orientation 6 (rotate 90° clockwise for display): stored 16×8, displayed 8×16
    blocks = np.zeros((8, 16, 3), np.uint8)
    blocks[:, :8] = (255, 0, 0)
    blocks[:4, 8:] = (0, 255, 0)
    blocks[4:, 8:] = (0, 0, 255)
    for orientation in range(2, 9):  # every EXIF orientation, as ImageOps.exif_transpose (HF load_image) applies it
        exif = Image.Exif()
        exif[0x0112] = orientation
        name = f"exif_orient{orientation}"
        Image.fromarray(blocks).save(out(name + ".jpg"), format="JPEG", quality=95, exif=exif.tobytes())
        shown = ImageOps.exif_transpose(Image.open(out(name + ".jpg"))).convert("RGB")
        expect(name + ".npy", name + ".jpg", np.asarray(shown), f"EXIF orientation {orientation} applied")
    # greyscale, RGBA (alpha dropped like convert('RGB')), palette
    grey = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    Image.fromarray(grey, "L").save(out("grey_7x5.png"))
    expect("grey_7x5.npy", "grey_7x5.png", np.asarray(Image.open(out("grey_7x5.png")).convert("RGB")), "L")
    rgba = rng.integers(0, 256, (4, 6, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(out("rgba_6x4.png"))
    expect("rgba_6x4.npy", "rgba_6x4.png", np.asarray(Image.open(out("rgba_6x4.png")).convert("RGB")), "RGBA")
    pal = Image.fromarray(synthetic(9, 6, 5)).convert("P", palette=Image.ADAPTIVE, colors=16)
    pal.save(out("palette_9x6.png"))
    expect("palette_9x6.npy", "palette_9x6.png", np.asarray(Image.open(out("palette_9x6.png")).convert("RGB")),
           "P")
    # 16-bit: PIL reads 16-bit RGB PNG keeping the high byte; we expect the high byte for grey too
    rgb16 = rng.integers(0, 65536, (3, 5, 3), dtype=np.uint16)
    with open(out("rgb16_5x3.png"), "wb") as f:
        f.write(png16(rgb16, 2))
    expect("rgb16_5x3.npy", "rgb16_5x3.png", np.asarray(Image.open(out("rgb16_5x3.png")).convert("RGB")),
           "16-bit RGB (PIL: high byte)")
    grey16 = rng.integers(0, 65536, (3, 4), dtype=np.uint16)
    with open(out("grey16_4x3.png"), "wb") as f:
        f.write(png16(grey16, 0))
    expect("grey16_4x3.npy", "grey16_4x3.png", np.repeat((grey16 >> 8).astype(np.uint8)[..., None], 3, 2),
           "16-bit grey: high byte (PIL would saturate I→L instead)")
    return cases


# ---------------------------------------------------------------- real photo summaries
SAMPLE_INDICES = [0, 1, 223, 224, 5000, 50175, 50176, 77777, 100351, 100352, 123456, 150527]


def summarise(x):
    flat = x.reshape(-1).astype(np.float64)
    return {"shape": list(x.shape), "sum": float(flat.sum()),
            "channel_mean": [float(c.astype(np.float64).mean()) for c in x],
            "samples": {str(i): float(flat[i]) for i in SAMPLE_INDICES if i < flat.size}}


def make_shared_summaries():
    cats = os.path.join(SHARED, "images", "coco_000000039769_two_cats.png")
    if not os.path.exists(cats):
        print("no ../shared: shared summaries skipped")
        return None
    im = Image.open(cats).convert("RGB")
    x = torchvision_eval(im, 256, 224, InterpolationMode.BICUBIC)  # timm deit_tiny eval: floor(224/0.875)=256
    summary = {"cats_deit": dict(summarise(x), file="images/coco_000000039769_two_cats.png",
                                 pipeline="Resize(256, bicubic) + CenterCrop(224) + ImageNet mean/std")}
    el1 = os.path.join(SHARED, "images", "transformer-explainability", "el1.png")  # JPEG data
    if os.path.exists(el1):
        a = np.asarray(Image.open(el1).convert("RGB"))
        flat = a.reshape(-1)
        summary["el1_decode"] = {"file": "images/transformer-explainability/el1.png", "width": a.shape[1],
                                 "height": a.shape[0], "sum": int(flat.astype(np.int64).sum()),
                                 "samples": {str(i): int(flat[i]) for i in range(0, flat.size, flat.size // 17)}}
    return summary


def main():
    os.makedirs(OUT, exist_ok=True)
    for (w, h, seed) in [(37, 23, 1), (64, 48, 2), (5, 300, 3)]:
        Image.fromarray(synthetic(w, h, seed)).save(out(f"src_{w}x{h}.png"))
    manifest = {"generator": "tools/reference/make_image_fixtures.py",
                "versions": {"PIL": Image.__version__, "numpy": np.__version__, "torch": torch.__version__,
                             "torchvision": torchvision.__version__},
                "resize": make_resize_cases(), "pipeline": make_pipeline_cases(), "decode": make_decoder_inputs()}
    shared = make_shared_summaries()
    if shared is not None:
        manifest["shared"] = shared
    with open(out("manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    total = sum(os.path.getsize(out(n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes to {OUT}")


if __name__ == "__main__":
    main()
