"""Train the DETR demo on synthetic Fashion-MNIST scenes (CPU) and export it in the Hugging Face
DetrForObjectDetection layout (config.json, model.safetensors, preprocessor_config.json).

The network is tools/reference/make_detr_fixtures.DETR (torchvision BasicBlocks, torch.nn
MultiheadAttention, DETR's original names) with trainable BatchNorm in place of FrozenBatchNorm2d
(in eval mode the two compute the same thing, and the exported running statistics are what
AttnScope folds). Training recipe: ../shared/docs/demo-training.md (Hungarian matching with
class 1 / L1 5 / GIoU 2, no-object weight 0.1, auxiliary decoder losses, AdamW 5e-4, clip 0.1,
200 warm-up iterations, lr x0.1 at 85 %).

The scene pool comes from AttnScope's own generator (one implementation for training and
evaluation):  build/bin/attnscope-cli scenes --out build/train/scenes --count 60000 --seed 1000
Progress is measured with build/bin/attnscope-cli eval --dataset synthetic-scenes (our C++ forward
pass on held-out scenes built from Fashion-MNIST test items).

    /usr/bin/python3 tools/train/train_detr.py --out build/train/demo-detr --iterations 8000
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import make_detr_fixtures as ref  # noqa: E402
import fmnist  # noqa: E402
import run_io  # noqa: E402

NUM_CLASSES = 10


# ------------------------------------------------------------------ batched training forward
def forward_train(model, imgs):
    """Same math as ref.DETR.forward (batch of equal-size images, no padding), without asking for
    attention weights; returns per-decoder-layer logits [L,B,Q,C+1] and boxes [L,B,Q,4]."""
    feat = model.backbone[0].body(imgs)
    B, _, h, w = feat.shape
    mask = torch.ones(B, h, w, dtype=torch.bool)
    pos = ref.sine_pos(mask, model.d // 2).flatten(2).permute(2, 0, 1)
    x = model.input_proj(feat).flatten(2).permute(2, 0, 1)
    for layer in model.transformer.encoder.layers:
        q = x + pos
        a = layer.self_attn(q, q, x, need_weights=False)[0]
        x = layer.norm1(x + a)
        x = layer.norm2(x + layer.linear2(F.relu(layer.linear1(x))))
    qpos = model.query_embed.weight[:, None, :].expand(-1, B, -1)
    t = torch.zeros_like(qpos)
    outs = []
    for layer in model.transformer.decoder.layers:
        q = t + qpos
        a = layer.self_attn(q, q, t, need_weights=False)[0]
        t = layer.norm1(t + a)
        a = layer.multihead_attn(t + qpos, x + pos, x, need_weights=False)[0]
        t = layer.norm2(t + a)
        t = layer.norm3(t + layer.linear2(F.relu(layer.linear1(t))))
        outs.append(model.transformer.decoder.norm(t).transpose(0, 1))  # [B,Q,d]
    hs = torch.stack(outs)
    return model.class_embed(hs), model.bbox_embed(hs).sigmoid()


# ------------------------------------------------------------------ matching and loss
def hungarian(cost):
    """Minimum-cost assignment of every row to a distinct column (rows <= columns).
    Classic O(n^2 m) shortest-augmenting-path with potentials. Returns column per row."""
    n, m = len(cost), len(cost[0])
    INF = float("inf")
    u, v = [0.0] * (n + 1), [0.0] * (m + 1)
    p, way = [0] * (m + 1), [0] * (m + 1)
    for i in range(1, n + 1):
        p[0], j0 = i, 0
        minv, used = [INF] * (m + 1), [False] * (m + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = p[j0], INF, 0
            for j in range(1, m + 1):
                if not used[j]:
                    cur = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(m + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    col = [0] * n
    for j in range(1, m + 1):
        if p[j]:
            col[p[j] - 1] = j - 1
    return col


def cxcywh_to_xyxy(b):
    cx, cy, w, h = b.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


def giou(a, b):
    """Pairwise generalized IoU of xyxy boxes a [N,4], b [M,4] -> [N,M]."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = torch.max(a[:, None, :2], b[None, :, :2])
    rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    union = area_a[:, None] + area_b[None] - inter
    iou = inter / union
    lt2 = torch.min(a[:, None, :2], b[None, :, :2])
    rb2 = torch.max(a[:, None, 2:], b[None, :, 2:])
    enclose = (rb2 - lt2).clamp(min=0).prod(-1)
    return iou - (enclose - union) / enclose


def set_loss(logits, boxes, targets, class_weight):
    """logits [B,Q,C+1], boxes [B,Q,4] (cx,cy,w,h in 0..1); targets: list of (labels [T], boxes [T,4])."""
    B, Q, _ = logits.shape
    target_cls = torch.full((B, Q), NUM_CLASSES, dtype=torch.long)
    src_boxes, tgt_boxes = [], []
    with torch.no_grad():
        prob = logits.softmax(-1)
    for b, (lab, tb) in enumerate(targets):
        if len(lab) == 0:
            continue
        with torch.no_grad():
            c = (-prob[b][:, lab] + 5 * torch.cdist(boxes[b], tb, p=1)
                 - 2 * giou(cxcywh_to_xyxy(boxes[b]), cxcywh_to_xyxy(tb)))  # [Q,T]
            cols = hungarian(c.t().tolist())  # target t -> query
        q = torch.tensor(cols)
        target_cls[b, q] = lab
        src_boxes.append(boxes[b, q])
        tgt_boxes.append(tb)
    loss_ce = F.cross_entropy(logits.reshape(-1, NUM_CLASSES + 1), target_cls.reshape(-1), weight=class_weight)
    n = max(1, sum(len(t[0]) for t in targets))
    if src_boxes:
        s, t = torch.cat(src_boxes), torch.cat(tgt_boxes)
        loss_l1 = (s - t).abs().sum() / n
        loss_giou = (1 - torch.diag(giou(cxcywh_to_xyxy(s), cxcywh_to_xyxy(t)))).sum() / n
    else:
        loss_l1 = loss_giou = logits.sum() * 0
    return loss_ce + 5 * loss_l1 + 2 * loss_giou


# ------------------------------------------------------------------ data
class Pool:
    def __init__(self, folder, size):
        self.images = np.load(os.path.join(folder, "images.npy"), mmap_mode="r")
        objects = np.load(os.path.join(folder, "objects.npy"))
        self.targets = [([], []) for _ in range(len(self.images))]
        for s, label, x0, y0, x1, y1 in objects:
            lab, bx = self.targets[int(s)]
            lab.append(int(label))
            bx.append([(x0 + x1) / 2 / size, (y0 + y1) / 2 / size, (x1 - x0) / size, (y1 - y0) / size])
        self.targets = [(torch.tensor(l, dtype=torch.long), torch.tensor(b, dtype=torch.float32).reshape(-1, 4))
                        for l, b in self.targets]

    def batch(self, idx, upscale=1):
        x = torch.from_numpy(np.stack([self.images[i] for i in idx])).float()
        if upscale != 1:
            # What the exported preprocessor_config asks for (PIL bilinear, size x upscale): for an integer
            # upscale PIL's triangle filter and torch's half-pixel bilinear agree up to PIL's fixed-point
            # rounding (within one grey level on a quarter of the pixels, measured on scene-seed7-000).
            x = F.interpolate(x.unsqueeze(1), scale_factor=upscale, mode="bilinear", align_corners=False)
            x = x.squeeze(1).round_().clamp_(0, 255)
        x = ((x.div_(255.0) - fmnist.MEAN) / fmnist.STD).unsqueeze(1).expand(-1, 3, -1, -1).contiguous()
        return x, [self.targets[i] for i in idx]


# ------------------------------------------------------------------ export
def export_hf(model, args, out_dir, meta):
    orig = {k: v.detach().float().numpy().copy() for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}
    config = ref.hf_config(args.d, args.heads, args.layers, args.layers, args.ffn, args.queries, fmnist.LABELS,
                           args.dc5 == "on", "resnet18")
    config["attnscope_backbone"] = {"block": "BasicBlock", "layers": [1, 1, 1, 1], "stem": args.stem,
                                    "widths": args.widths,
                                    "note": "narrower than timm resnet18; AttnScope reads widths from the weights"}
    config["attnscope_training"] = meta
    prep = {"image_processor_type": "DetrImageProcessor", "do_resize": True,
            "size": {"shortest_edge": args.size * args.upscale, "longest_edge": args.size * args.upscale}, "resample": 2,
            "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
            "image_mean": [fmnist.MEAN] * 3, "image_std": [fmnist.STD] * 3, "do_pad": True}
    run_io.write_hf_folder(out_dir, ref.to_hf(orig), config, prep)


def evaluate_cpp(cli, out_dir, seed, count):
    r = subprocess.run([cli, "eval", "--model", out_dir, "--dataset", "synthetic-scenes", "--seed", str(seed),
                        "--count", str(count), "--threads", "1", "--quiet"], capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": r.stderr.strip()}
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--pool", default="build/train/scenes")
    ap.add_argument("--work", default="build/train/detr")
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "bin", "attnscope-cli"))
    ap.add_argument("--iterations", type=int, default=8000)
    ap.add_argument("--eval-every", type=int, default=1000)
    ap.add_argument("--eval-seed", type=int, default=7)
    ap.add_argument("--eval-count", type=int, default=500)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--upscale", type=int, default=1,
                    help="the model sees the scene resized by this factor (written to preprocessor_config.json): "
                         "2 with --dc5 off gives stage 1 at 64x64 and 8x8 tokens for 128x128 scenes")
    ap.add_argument("--dc5", choices=["on", "off"], default="on",
                    help="dilate the last stage instead of striding it (config dilation)")
    ap.add_argument("--stem", type=int, default=16)
    ap.add_argument("--widths", type=int, nargs=4, default=[16, 32, 64, 128])
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--ffn", type=int, default=512)
    ap.add_argument("--queries", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--resume", help="start from this checkpoint (a last.pt written by this script)")
    ap.add_argument("--start-it", type=int, default=1,
                    help="with --resume: the iteration to continue at (the schedule is that of --iterations)")
    args = ap.parse_args()

    rng, say = run_io.start(args)

    pool = Pool(args.pool, args.size)
    say(f"start: {json.dumps(vars(args))}; pool {len(pool.images)} scenes")
    ref.FrozenBatchNorm2d = nn.BatchNorm2d  # trainable BN; eval-mode BN == frozen BN
    model = ref.DETR(BasicBlock, [1, 1, 1, 1], args.stem, args.widths, args.dc5 == "on", args.d, args.heads, args.layers,
                     args.layers, args.ffn, args.queries, NUM_CLASSES)
    # sanity: the training forward equals the reference forward (eval mode, one image)
    model.eval()
    with torch.no_grad():
        x0, _ = pool.batch([0], args.upscale)
        lg, bx = forward_train(model, x0)
        rl, rb, *_ = model(x0[0])
        assert torch.allclose(lg[-1, 0], rl, atol=1e-5) and torch.allclose(bx[-1, 0], rb, atol=1e-5)
    if args.resume:
        ck = torch.load(args.resume)
        model.load_state_dict(ck["model"])
        say(f"resumed from {args.resume} (saved at iteration {ck['it']}); continuing at {args.start_it}")
    model.train()
    class_weight = torch.ones(NUM_CLASSES + 1)
    class_weight[-1] = 0.1
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    t0 = time.time()
    drop_at = int(0.85 * args.iterations)
    for it in range(args.start_it, args.iterations + 1):
        warm = 1.0 if args.resume else min(1.0, it / 200)
        lr = args.lr * warm * (0.1 if it > drop_at else 1.0)
        for g in opt.param_groups:
            g["lr"] = lr
        idx = rng.integers(0, len(pool.images), args.batch)
        x, targets = pool.batch(idx, args.upscale)
        logits, boxes = forward_train(model, x)
        loss = sum(set_loss(logits[l], boxes[l], targets, class_weight) for l in range(logits.shape[0]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        opt.step()
        if it % 50 == 0:
            say(f"it {it}/{args.iterations} loss {loss.item():.3f} lr {lr:.1e} t {time.time() - t0:.0f}s")
        if it % args.eval_every == 0 or it == args.iterations:
            model.eval()
            meta = {"seed": args.seed, "iterations": it, "minutes": round((time.time() - t0) / 60, 1),
                    "pool": "attnscope-cli scenes --count %d --seed 1000 --items train" % len(pool.images),
                    "command": "tools/train/train_detr.py " + " ".join(sys.argv[1:])}
            export_hf(model, args, args.out, meta)
            torch.save({"model": model.state_dict(), "it": it, "args": vars(args)}, os.path.join(args.work, "last.pt"))
            r = evaluate_cpp(args.cli, args.out, args.eval_seed, args.eval_count)
            say(f"eval it {it}: {json.dumps(r)}")
            model.train()
    say("done")


if __name__ == "__main__":
    main()
