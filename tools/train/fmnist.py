"""Fashion-MNIST from Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)."""
import gzip
import os

import numpy as np

ROOT = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
# Pixel statistics of the 60k training images (0..1 scale); used by both demo models.
MEAN, STD = 0.2860, 0.3530


def load(split):
    """split: 'train' or 't10k'. Returns (images uint8 [N,28,28], labels int64 [N])."""
    with gzip.open(os.path.join(ROOT, f"{split}-images-idx3-ubyte.gz")) as f:
        raw = f.read()
    n = int.from_bytes(raw[4:8], "big")
    images = np.frombuffer(raw, np.uint8, offset=16).reshape(n, 28, 28)
    with gzip.open(os.path.join(ROOT, f"{split}-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return images, labels
