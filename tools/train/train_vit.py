"""Train the ViT demo on Fashion-MNIST (CPU) and export it in the Hugging Face
ViTForImageClassification layout (config.json, model.safetensors, preprocessor_config.json).

The network is vit_ref.PrefixViT: plain torch.nn modules (nn.MultiheadAttention, nn.LayerNorm,
nn.GELU), converted to HF names with vit_ref's timm->HF mapping.

    /usr/bin/python3 tools/train/train_vit.py --out build/train/demo-vit --epochs 20 --threads 1   # the shipped run

Input: the 28x28 grey image replicated to 3 channels, normalised with the Fashion-MNIST mean/std.
Patch 4 -> 7x7 = 49 patches + CLS. Augmentation: random shift (pad 2, crop 28) and horizontal flip.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import vit_ref  # noqa: E402
import fmnist  # noqa: E402
import run_io  # noqa: E402


def block_forward_train(self, x):
    # vit_ref.Block.forward asks for the attention weights; training does not need them.
    h = self.norm1(x)
    a, _ = self.attn(h, h, h, need_weights=False)
    x = x + a
    return x + self.fc2(self.act(self.fc1(self.norm2(x)))), None


def to_input(images_u8):
    x = torch.from_numpy(images_u8).float().div_(255.0)
    x = (x - fmnist.MEAN) / fmnist.STD
    return x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous()


def augment(batch_u8, rng):
    n = batch_u8.shape[0]
    padded = np.pad(batch_u8, ((0, 0), (2, 2), (2, 2)))
    out = np.empty_like(batch_u8)
    dy = rng.integers(0, 5, n)
    dx = rng.integers(0, 5, n)
    flip = rng.random(n) < 0.5
    for i in range(n):
        crop = padded[i, dy[i]:dy[i] + 28, dx[i]:dx[i] + 28]
        out[i] = crop[:, ::-1] if flip[i] else crop
    return out


@torch.no_grad()
def accuracy(model, images, labels, bs=500):
    model.eval()
    correct = 0
    for i in range(0, len(images), bs):
        logits = model(to_input(images[i:i + bs]))["logits"]
        correct += (logits.argmax(1).numpy() == labels[i:i + bs]).sum()
    model.train()
    return correct / len(images)


def export_hf(model, args, out_dir, meta):
    sd = vit_ref.prefixvit_to_timm(model.state_dict())
    hf = vit_ref.timm_to_hf(sd, "vit.", "vit")
    tensors = {k: v.detach().float().numpy() for k, v in hf.items()}
    config = {
        "architectures": ["ViTForImageClassification"],
        "model_type": "vit",
        "hidden_size": args.hidden, "num_hidden_layers": args.layers,
        "num_attention_heads": args.heads, "intermediate_size": args.mlp,
        "hidden_act": "gelu", "layer_norm_eps": 1e-6,
        "image_size": 28, "patch_size": 4, "num_channels": 3, "qkv_bias": True,
        "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
        "id2label": {str(i): n for i, n in enumerate(fmnist.LABELS)},
        "label2id": {n: i for i, n in enumerate(fmnist.LABELS)},
        "attnscope_training": meta,
    }
    prep = {
        "image_processor_type": "ViTImageProcessor",
        "do_resize": True, "size": {"height": 28, "width": 28}, "resample": 0,
        "do_rescale": True, "rescale_factor": 1 / 255,
        "do_normalize": True, "image_mean": [fmnist.MEAN] * 3, "image_std": [fmnist.STD] * 3,
    }
    run_io.write_hf_folder(out_dir, tensors, config, prep)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="HF folder to write")
    ap.add_argument("--work", default="build/train/vit", help="checkpoints and log")
    ap.add_argument("--minutes", type=float, default=50.0, help="wall-clock budget")
    ap.add_argument("--epochs", type=int, default=0, help="fixed epoch count (overrides --minutes)")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--mlp", type=int, default=256)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--augment", choices=["shift-flip", "none"], default="shift-flip")
    ap.add_argument("--fresh-cosine", action="store_true",
                    help="with --resume: the cosine runs from --lr over the remaining steps only")
    ap.add_argument("--swa", action="store_true",
                    help="stochastic weight averaging: a constant --lr (after the warm-up), the weights averaged "
                         "at the end of every epoch; the average is what is evaluated and exported")
    ap.add_argument("--resume", help="continue from this last.pt (model weights and step; a fresh optimiser "
                                     "with a 100-step warm-up, the schedule of --epochs)")
    args = ap.parse_args()

    rng, say = run_io.start(args)

    xtr, ytr = fmnist.load("train")
    xte, yte = fmnist.load("t10k")
    vit_ref.Block.forward = block_forward_train
    model = vit_ref.PrefixViT(args.hidden, args.heads, args.layers, args.mlp, 4, (7, 7), 1e-6,
                              num_classes=10)
    with torch.no_grad():
        nn.init.trunc_normal_(model.pos_embed, std=0.02)
        nn.init.trunc_normal_(model.cls_token, std=0.02)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    start = 0
    if args.resume:
        ck = torch.load(args.resume)
        model.load_state_dict(ck["model"])
        start = ck["step"]
        say(f"resumed from {args.resume} at step {start}")

    # Measure speed for 20 iterations to turn the minute budget into an iteration count, so the
    # cosine schedule ends when the budget does.
    steps_per_epoch = len(xtr) // args.batch
    t0 = time.time()
    step, total, epoch = start, None, start // steps_per_epoch
    say(f"start: {json.dumps(vars(args))}")

    def warmup(step):
        return min(1.0, (step - start + 1) / 100) if args.resume else min(1.0, (step + 1) / 300)
    swa, swa_n = None, 0
    if args.swa:
        averaged = vit_ref.PrefixViT(args.hidden, args.heads, args.layers, args.mlp, 4, (7, 7), 1e-6,
                                     num_classes=10)
    model.train()
    while True:
        perm = rng.permutation(len(xtr))
        for b in range(steps_per_epoch):
            if total is not None and step >= total:
                break
            idx = perm[b * args.batch:(b + 1) * args.batch]
            x = to_input(augment(xtr[idx], rng) if args.augment == "shift-flip" else xtr[idx])
            y = torch.from_numpy(ytr[idx])
            if total is None or args.swa:
                lr = args.lr * warmup(step)
            else:
                progress = (step - start) / (total - start) if args.fresh_cosine else step / total
                lr = args.lr * warmup(step) * 0.5 * (1 + math.cos(math.pi * progress))
            for g in opt.param_groups:
                g["lr"] = lr
            loss = F.cross_entropy(model(x)["logits"], y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if total is None and step == start + 40:
                per_step = (time.time() - t0) / (step - start)
                total = args.epochs * steps_per_epoch if args.epochs else int(args.minutes * 60 / per_step)
                say(f"{per_step:.3f} s/step -> {total} steps ({total / steps_per_epoch:.1f} epochs)")
            if step % 100 == 0:
                say(f"step {step}/{total} loss {loss.item():.4f} lr {lr:.2e} t {time.time() - t0:.0f}s")
        epoch += 1
        done = total is not None and step >= total
        shown = model
        if args.swa:
            with torch.no_grad():
                sd = model.state_dict()
                if swa is None:
                    swa = {k: v.detach().clone() for k, v in sd.items()}
                else:
                    for k in swa:
                        swa[k].mul_(swa_n / (swa_n + 1)).add_(sd[k], alpha=1 / (swa_n + 1))
                swa_n += 1
            averaged.load_state_dict(swa)
            shown = averaged
        acc = accuracy(shown, xte, yte)
        say(f"epoch {epoch} step {step} test_acc {acc:.4f}" + (f" (average of {swa_n})" if args.swa else "")
            + f" t {time.time() - t0:.0f}s")
        torch.save({"model": model.state_dict(), "step": step, "args": vars(args)},
                   os.path.join(args.work, "last.pt"))
        meta = {"seed": args.seed, "steps": step, "epochs": round(step / steps_per_epoch, 2),
                "minutes": round((time.time() - t0) / 60, 1), "pytorch_test_accuracy": float(acc),
                "command": "tools/train/train_vit.py " + " ".join(sys.argv[1:])}
        export_hf(shown, args, args.out, meta)
        if done:
            break
    say("done")


if __name__ == "__main__":
    main()
