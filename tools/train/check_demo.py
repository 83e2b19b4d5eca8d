"""Checks a trained demo model end to end against PyTorch: the training checkpoint (last.pt) run by
the torch.nn reference modules vs `attnscope-cli run` on the exported HF folder, for the same input
tensor (the one our CLI wrote to input.npy). Prints max |difference| of logits (and boxes) and of
every recorded attention map; exits 1 beyond 1e-4 / 1e-5.

    /usr/bin/python3 tools/train/check_demo.py vit  build/train/vit/last.pt  resources/models/demo-vit  IMG
    /usr/bin/python3 tools/train/check_demo.py detr build/train/detr/last.pt resources/models/demo-detr IMG
"""
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import vit_ref  # noqa: E402
import make_detr_fixtures as ref  # noqa: E402
import fmnist  # noqa: E402
from torchvision.models.resnet import BasicBlock  # noqa: E402


def training_input(kind, a, image):
    grey = Image.open(image).convert("L")
    if kind == "vit":
        grey = grey.resize((28, 28), Image.NEAREST)
    else:
        w, h = grey.size
        side = a["size"] * a.get("upscale", 1)  # shortest = longest edge: the longer side becomes `side`
        scale = side / max(w, h)
        grey = grey.resize((round(w * scale), round(h * scale)), Image.BILINEAR)
    x = (np.asarray(grey, dtype=np.float32) / 255.0 - fmnist.MEAN) / fmnist.STD
    return np.repeat(x[None], 3, axis=0)


def main():
    kind, ckpt, model_dir, image = sys.argv[1:5]
    ck = torch.load(ckpt)
    a = ck["args"]
    with tempfile.TemporaryDirectory() as run:
        subprocess.run([os.path.join(ROOT, "build", "bin", "attnscope-cli"), "run", "--model", model_dir,
                        "--image", image, "--out", run, "--threshold", "0.0"] if kind == "detr" else
                       [os.path.join(ROOT, "build", "bin", "attnscope-cli"), "run", "--model", model_dir,
                        "--image", image, "--out", run], check=True, capture_output=True)
        x = torch.from_numpy(np.load(os.path.join(run, "input.npy")))
        # The input itself, against what training fed the network (PIL resize + Fashion-MNIST statistics):
        # a preprocessing mismatch would otherwise pass unseen, both sides using our tensor.
        want = training_input(kind, a, image)
        worst_input = float(np.abs(x.numpy() - want).max())
        ours = {os.path.basename(p)[:-4]: np.load(p) for p in glob.glob(os.path.join(run, "attention", "*.npy"))}
        logits = np.load(os.path.join(run, "logits.npy"))
        boxes = np.load(os.path.join(run, "boxes.npy")) if kind == "detr" else None
    with torch.no_grad():
        if kind == "vit":
            m = vit_ref.PrefixViT(a["hidden"], a["heads"], a["layers"], a["mlp"], 4, (7, 7), 1e-6, num_classes=10)
            m.load_state_dict(ck["model"])
            out = m.eval()(x[None])
            ref_logits, ref_boxes = out["logits"][0].numpy(), None
            ref_maps = {f"encoder_layer{i:02d}": w[0].numpy() for i, w in enumerate(out["attn"])}
        else:
            ref.FrozenBatchNorm2d = nn.BatchNorm2d
            m = ref.DETR(BasicBlock, [1, 1, 1, 1], a["stem"], a["widths"], a.get("dc5", "on") == "on", a["d"], a["heads"], a["layers"],
                         a["layers"], a["ffn"], a["queries"], 10)
            m.load_state_dict(ck["model"])
            lg, bx, _, enc, dself, dcross = m.eval()(x)
            ref_logits, ref_boxes = lg.numpy(), bx.numpy()
            ref_maps = {}
            for name, maps in (("encoder", enc), ("decoder_self", dself), ("decoder_cross", dcross)):
                ref_maps.update({f"{name}_layer{i:02d}": w.numpy() for i, w in enumerate(maps)})
    worst_logit = float(np.abs(logits.reshape(ref_logits.shape) - ref_logits).max())
    if ref_boxes is not None:
        worst_logit = max(worst_logit, float(np.abs(boxes.reshape(ref_boxes.shape) - ref_boxes).max()))
    assert set(ours) == set(ref_maps), (sorted(ours), sorted(ref_maps))
    worst_map = max(float(np.abs(ours[k] - ref_maps[k]).max()) for k in ref_maps)
    print(f"{kind}: input max |Δ| {worst_input:.2e} against training's preprocessing; {len(ref_maps)} attention maps; "
          f"max |Δ| logits/boxes {worst_logit:.2e}, attention {worst_map:.2e}")
    sys.exit(0 if worst_input <= 1e-5 and worst_logit <= 1e-4 and worst_map <= 1e-5 else 1)


if __name__ == "__main__":
    main()
