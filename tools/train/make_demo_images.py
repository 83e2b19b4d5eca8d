"""Demo images for resources/images: Fashion-MNIST TEST images (never seen in training) upscaled
x8 with nearest neighbour to 224x224 (the demo ViT's preprocessor resizes back with NEAREST, which
returns the original 28x28 pixels exactly), and held-out synthetic scenes (seed 7, test items, the
scenes the demo DETR's card is measured on) from AttnScope's own generator.

    /usr/bin/python3 tools/train/make_demo_images.py   # needs build/bin/attnscope-cli
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import fmnist  # noqa: E402

OUT = os.path.join(ROOT, "resources", "images")
# One test image per class: the first of each class in the t10k order.
SCENES = [0, 3, 5]


def main():
    os.makedirs(OUT, exist_ok=True)
    images, labels = fmnist.load("t10k")
    for c, name in enumerate(fmnist.LABELS):
        i = int(np.flatnonzero(labels == c)[0])
        slug = name.lower().replace("/", "-").replace(" ", "-")
        big = np.kron(images[i], np.ones((8, 8), np.uint8))
        Image.fromarray(big).save(os.path.join(OUT, f"fmnist-{c:02d}-{slug}-test{i}.png"))
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([os.path.join(ROOT, "build", "bin", "attnscope-cli"), "scenes", "--out", tmp, "--seed", "7",
                        "--count", str(max(SCENES) + 1), "--items", "t10k"], check=True)
        scenes = np.load(os.path.join(tmp, "images.npy"))
    for k in SCENES:
        Image.fromarray(scenes[k]).save(os.path.join(OUT, f"scene-seed7-{k:03d}.png"))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
