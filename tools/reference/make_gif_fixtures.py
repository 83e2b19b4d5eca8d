#!/usr/bin/python3
"""GIF decoding references for tests/core/test_image.cpp (decode_gif_matches_pil).

Every file is written by PIL (Pillow's GIF encoder, LZW) or is a PIL-written file with header bytes
patched by hand; every expected array is PIL's Image.open(f).convert("RGB") of that file: never
AttnScope code. Needs only PIL and numpy (no torch). Run from the repository root:
    /usr/bin/python3 tools/reference/make_gif_fixtures.py
Writes tests/fixtures/image/gif_*.gif, gif_*.npy and gif_manifest.json.
"""
import io
import json
import os
import struct

import numpy as np
import PIL
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "image")


def out(name):
    return os.path.join(OUT, name)


def noise(w, h, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([255 * x / max(w - 1, 1), 255 * y / max(h - 1, 1), np.where((x + y) % 7 < 3, 255, 0)], -1)
    return np.clip(np.round(img + rng.normal(0, 40, img.shape)), 0, 255).astype(np.uint8)


def main():
    cases = []

    def expect(stem, data, note):
        with open(out(stem + ".gif"), "wb") as f:
            f.write(data)
        arr = np.asarray(Image.open(out(stem + ".gif")).convert("RGB"))
        np.save(out(stem + ".npy"), np.ascontiguousarray(arr, dtype=np.uint8))
        cases.append({"file": stem + ".gif", "expected": stem + ".npy", "note": note})

    def gif(im, **kw):
        b = io.BytesIO()
        im.save(b, format="GIF", **kw)
        return bytearray(b.getvalue())

    pal64 = Image.fromarray(noise(37, 23, 1)).convert("P", palette=Image.ADAPTIVE, colors=64)
    expect("gif_interlaced_37x23", gif(pal64, interlace=True), "64 colours, interlaced")
    expect("gif_plain_37x23", gif(pal64, interlace=False), "64 colours, not interlaced")
    two = Image.fromarray((np.indices((9, 13)).sum(0) % 3 == 0).astype(np.uint8) * 255, "L").convert("1")
    expect("gif_bilevel_13x9", gif(two, interlace=False), "two colours: the smallest LZW code size")
    # 256 colours of noise over 160x120: the code width reaches 12 bits and the table fills (clear codes)
    big = Image.fromarray(noise(160, 120, 2)).convert("P", palette=Image.ADAPTIVE, colors=256)
    expect("gif_full_table_160x120", gif(big, interlace=False), "256 colours, 12-bit codes, table resets")
    expect("gif_transparent_37x23", gif(pal64, interlace=False, transparency=5),
           "transparent index 5: its palette colour (convert('RGB') does not composite)")
    # Two frames: the first is what is decoded
    f2 = Image.fromarray(noise(37, 23, 3)).convert("P", palette=Image.ADAPTIVE, colors=64)
    expect("gif_animated_37x23", gif(pal64, save_all=True, append_images=[f2], duration=100, loop=0,
                                     interlace=False), "animated: the first frame")
    # The first frame smaller than the logical screen and offset in it: the rest is index 0
    # (hand-patched: the screen grows to 45x30 and the frame moves to (5, 4))
    b = gif(pal64, interlace=False)
    struct.pack_into("<HH", b, 6, 45, 30)
    at = b.index(b"\x2c")  # PIL writes no extension before the image here
    struct.pack_into("<HH", b, at + 1, 5, 4)
    expect("gif_offset_frame_45x30", bytes(b), "37x23 frame at (5, 4) on a 45x30 screen")
    # The same with a transparent index: the surround is that index
    b = gif(pal64, interlace=False, transparency=7)
    struct.pack_into("<HH", b, 6, 45, 30)
    at = b.index(b"\x21\xf9") + 8  # after the graphic control extension
    assert b[at] == 0x2C
    struct.pack_into("<HH", b, at + 1, 5, 4)
    expect("gif_offset_transparent_45x30", bytes(b), "offset frame, transparent 7: the surround is index 7")

    with open(out("gif_manifest.json"), "w") as f:
        json.dump({"generator": "tools/reference/make_gif_fixtures.py",
                   "versions": {"PIL": PIL.__version__, "numpy": np.__version__}, "decode": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
