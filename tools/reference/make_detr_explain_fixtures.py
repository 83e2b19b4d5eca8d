#!/usr/bin/python3
"""Reference gradients and relevance maps for DETR explanations (issue 16), independent of the C++ code.

    /usr/bin/python3 tools/reference/make_detr_explain_fixtures.py

The models are make_detr_fixtures.py's independent PyTorch DETR (torch.nn / torchvision modules, not a port of
the C++), rebuilt from the same seeds and checked bit-for-bit against the committed safetensors
(tests/fixtures/detr/r50tiny/hf, tests/fixtures/detr/basic_dc5). Gradients come from PyTorch autograd in
float64. nn.MultiheadAttention's returned weights are not the tensor its output is computed from, so the
forward here recomputes every attention explicitly from the module's own parameters (q/k/v from in_proj,
softmax(q·kᵀ/√d_h), ·v, out_proj) with retain_grad() on the probabilities, and asserts that the result equals
nn.MultiheadAttention's output and weights to 1e-10. Logits, boxes and maps are checked against the forward
fixtures (tests/fixtures/detr/*/expected).

The maps are computed with NumPy (float64) from the autograd gradients, following Chefer, Gur, Wolf 2021b
(ICCV) as the authors' DETR code does it (hila-chefer/Transformer-MM-Explainability,
DETR/modules/ExplanationGenerator.py, Generator.generate_ours with use_lrp=False as in their DETR notebook;
generate_attn_gradcam, generate_rollout, generate_raw_attn), written from their definitions:

  avg_heads(A, G) = mean_h clip(G ⊙ A, 0)
  chefer2   R_ii = I, R_qq = I, R_qi = 0; encoder: R_ii += avg_heads·R_ii; per decoder layer:
            self: R_qq += c·R_qq, R_qi += c·R_qi (c = avg_heads of the self map, both from the old values);
            cross: R_qi += handle_residual(R_qq)ᵀ · avg_heads(cross) · handle_residual(R_ii), NaN → 0,
            handle_residual(R) = (R − I) / rowsum(R − I) + I; the map is R_qi[query] on the feature grid
  gradcam   last cross map: w_h = mean of G_h; clip(mean_h w_h·A_h, 0)[query]
  rollout   rollout(M) = ∏ (mean_h A + I)/rowsum, first layer rightmost; R_qqᵀ · mean_h A_cross(last) · R_ii
  attention mean_h A_cross(last)[query]

Targets per case: `top` (the most confident query — softmax over every class, no-object dropped — and its
arg-max class), `class2` (the same query, its second class), `query2` (the second most confident query, its
class), `box` (the top query's box cx after the sigmoid), `box_h` (its box height); gradients, chefer2 and
gradcam for every target.
Files (tests/fixtures/explain/detr_<case>/): explain.json; grad_<target>_<site>_layerNN.npy [heads, n_q, n_k]
(site: encoder, decoder_self, decoder_cross); chefer2_<target>.npy, gradcam_<target>.npy [h, w];
rollout_q<Q>.npy, attention_q<Q>.npy [h, w].
"""
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock, Bottleneck

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_detr_fixtures as md  # noqa: E402
import st_io  # noqa: E402

ROOT = HERE.parents[1]
DETR = ROOT / "tests" / "fixtures" / "detr"
OUT = ROOT / "tests" / "fixtures" / "explain"
torch.set_num_threads(1)


def maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def save(d, name, a):
    np.save(d / name, np.ascontiguousarray(a, dtype="<f4"))


# ---------------------------------------------------------------------------------------------
# explicit, differentiable forward over the reference DETR's modules (float64)
# ---------------------------------------------------------------------------------------------
def mha(attn, q_in, k_in, v_in, heads):
    """q_in (n_q, d), k_in / v_in (n_k, d) → out (n_q, d), A (heads, n_q, n_k) with its gradient retained."""
    d = attn.embed_dim
    dh = d // heads
    W, b = attn.in_proj_weight, attn.in_proj_bias
    q = F.linear(q_in, W[:d], b[:d]).view(-1, heads, dh).transpose(0, 1)
    k = F.linear(k_in, W[d:2 * d], b[d:2 * d]).view(-1, heads, dh).transpose(0, 1)
    v = F.linear(v_in, W[2 * d:], b[2 * d:]).view(-1, heads, dh).transpose(0, 1)
    A = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(dh), dim=-1)
    if A.requires_grad:
        A.retain_grad()
    out = attn.out_proj((A @ v).transpose(0, 1).reshape(-1, d))
    with torch.no_grad():  # the explicit attention is nn.MultiheadAttention's
        ref, w = attn(q_in[:, None], k_in[:, None], v_in[:, None], need_weights=True, average_attn_weights=False)
        assert maxdiff(ref[:, 0].numpy(), out.detach().numpy()) < 1e-10
        assert maxdiff(w[0].numpy(), A.detach().numpy()) < 1e-10
    return out, A


def forward(model, img, heads):
    feat = model.backbone[0].body(img[None])
    h, w = feat.shape[-2:]
    mask = torch.ones(1, h, w, dtype=torch.bool)
    pos = md.sine_pos(mask, model.d // 2).to(torch.float64).flatten(2)[0].T  # (S, d)
    x = model.input_proj(feat).flatten(2)[0].T  # (S, d)
    enc, dself, dcross = [], [], []
    for L in model.transformer.encoder.layers:
        a, A = mha(L.self_attn, x + pos, x + pos, x, heads)
        enc.append(A)
        x = L.norm1(x + a)
        x = L.norm2(x + L.linear2(F.relu(L.linear1(x))))
    qpos = model.query_embed.weight
    t = torch.zeros_like(qpos)
    for L in model.transformer.decoder.layers:
        a, A = mha(L.self_attn, t + qpos, t + qpos, t, heads)
        dself.append(A)
        t = L.norm1(t + a)
        a, A = mha(L.multihead_attn, t + qpos, x + pos, x, heads)
        dcross.append(A)
        t = L.norm2(t + a)
        t = L.norm3(t + L.linear2(F.relu(L.linear1(t))))
    hs = model.transformer.decoder.norm(t)
    return model.class_embed(hs), model.bbox_embed(hs).sigmoid(), (int(h), int(w)), enc, dself, dcross


# ---------------------------------------------------------------------------------------------
# the maps, from the authors' definitions (NumPy, float64)
# ---------------------------------------------------------------------------------------------
def avg_heads(A, G):
    return np.clip(G * A, 0, None).mean(0)


def handle_residual(R):
    n = R.shape[-1]
    X = R - np.eye(n)
    assert X.diagonal().min() >= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        X = X / X.sum(-1, keepdims=True)
    return X + np.eye(n)


def chefer2(enc, dself, dcross, query):
    """enc / dself / dcross: lists of (A, G). Returns R_qi[query] and how many cross terms were zeroed by NaN."""
    S, Q = enc[0][0].shape[-1], dself[0][0].shape[-1]
    R_ii, R_qq, R_qi = np.eye(S), np.eye(Q), np.zeros((Q, S))
    for A, G in enc:
        R_ii = R_ii + avg_heads(A, G) @ R_ii
    dropped = 0
    for (As, Gs), (Ac, Gc) in zip(dself, dcross):
        cam = avg_heads(As, Gs)
        R_qq, R_qi = R_qq + cam @ R_qq, R_qi + cam @ R_qi
        with np.errstate(invalid="ignore"):
            add = handle_residual(R_qq).T @ (avg_heads(Ac, Gc) @ handle_residual(R_ii))
        if np.isnan(add).any():
            dropped += 1
        add[np.isnan(add)] = 0
        R_qi = R_qi + add
    return R_qi[query], dropped


def gradcam(A, G, query):
    w = G.mean(axis=(1, 2), keepdims=True)
    return np.clip((A * w).mean(0), 0, None)[query]


def rollout_of(maps):
    n = maps[0].shape[-1]
    ms = [m.mean(0) + np.eye(n) for m in maps]
    ms = [m / m.sum(-1, keepdims=True) for m in ms]
    joint = ms[0]
    for m in ms[1:]:
        joint = m @ joint
    return joint


def rollout(enc_A, self_A, cross_last, query):
    return (rollout_of(self_A).T @ (cross_last.mean(0) @ rollout_of(enc_A)))[query]


# ---------------------------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------------------------
def scores(logits):
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return p, p[:, :-1].max(-1)


def run_case(name, model, img, heads, expected, stored):
    model = model.double().eval()
    ours = md.to_hf(md.original_state(model.float()))
    model = model.double()
    assert set(ours) == set(stored), f"{name}: tensor names differ from the committed checkpoint"
    for k in ours:
        assert np.array_equal(ours[k], stored[k]), f"{name}: {k} differs from the committed checkpoint"
    with torch.no_grad():
        logits, boxes, (h, w), enc, dself, dcross = forward(model, img, heads)
    logits, boxes = logits.numpy(), boxes.numpy()
    assert maxdiff(logits, np.load(expected / "logits.npy")) < 1e-4, f"{name}: logits differ from the forward fixture"
    assert maxdiff(boxes, np.load(expected / "boxes.npy")) < 1e-4, f"{name}: boxes differ"
    for site, maps in (("encoder", enc), ("decoder_self", dself), ("decoder_cross", dcross)):
        for il, A in enumerate(maps):
            assert maxdiff(A.numpy(), np.load(expected / f"{site}_layer{il:02d}.npy")) < 1e-5, f"{name}: {site} {il}"
    prob, score = scores(logits)
    order = np.argsort(-score, kind="stable")
    q1, q2 = int(order[0]), int(order[1])
    c_order = np.argsort(-logits[q1, :-1], kind="stable")
    targets = [("top", q1, int(c_order[0]), -1), ("class2", q1, int(c_order[1]), -1),
               ("query2", q2, int(np.argmax(logits[q2, :-1])), -1), ("box", q1, int(c_order[0]), 0),
               ("box_h", q1, int(c_order[0]), 3)]
    d = OUT / f"detr_{name}"
    d.mkdir(parents=True, exist_ok=True)
    meta = {"case": name, "grid": [h, w], "queries": int(logits.shape[0]), "targets": []}
    for tname, q, c, coord in targets:
        model.zero_grad()
        lg, bx, _, enc, dself, dcross = forward(model, img, heads)
        (bx[q, coord] if coord >= 0 else lg[q, c]).backward()
        pairs = {s: [(A.detach().numpy()[...], A.grad.numpy()) for A in maps]
                 for s, maps in (("encoder", enc), ("decoder_self", dself), ("decoder_cross", dcross))}
        for s, pr in pairs.items():
            for il, (_, G) in enumerate(pr):
                save(d, f"grad_{tname}_{s}_layer{il:02d}.npy", G)
        cm, dropped = chefer2(pairs["encoder"], pairs["decoder_self"], pairs["decoder_cross"], q)
        save(d, f"chefer2_{tname}.npy", cm.reshape(h, w))
        Ac, Gc = pairs["decoder_cross"][-1]
        save(d, f"gradcam_{tname}.npy", gradcam(Ac, Gc, q).reshape(h, w))
        As = {s: [a for a, _ in pr] for s, pr in pairs.items()}
        save(d, f"rollout_q{q}.npy", rollout(As["encoder"], As["decoder_self"], As["decoder_cross"][-1], q).reshape(h, w))
        save(d, f"attention_q{q}.npy", As["decoder_cross"][-1].mean(0)[q].reshape(h, w))
        y = float(bx[q, coord]) if coord >= 0 else float(lg[q, c])
        meta["targets"].append({"name": tname, "query": q, "class": c, "box_coord": coord, "value": y,
                                "logit": float(logits[q, c]), "prob": float(prob[q, c]),
                                "box": [float(v) for v in boxes[q]], "chefer2_cross_terms_zeroed": dropped})
        print(f"  {name} {tname}: query {q} class {c} coord {coord} y {y:.5f}; cross terms zeroed {dropped}; "
              f"max|dA| enc {max(np.abs(G).max() for _, G in pairs['encoder']):.3e} "
              f"cross {max(np.abs(G).max() for _, G in pairs['decoder_cross']):.3e}")
    (d / "explain.json").write_text(json.dumps(meta, indent=2) + "\n")


def main():
    img = torch.from_numpy(np.load(DETR / "r50tiny" / "input.npy"))
    spec = dict(block=Bottleneck, layers=[3, 4, 6, 3], stem=8, planes=[4, 8, 16, 32], d=32, heads=4,
                n_enc=2, n_dec=2, ffn=64, n_q=10, n_labels=5)
    model = md.build(1, dc5=False, img=img, **spec)
    stored, _, _ = st_io.load_file(DETR / "r50tiny" / "hf" / "model.safetensors")
    run_case("r50tiny", model, img.double(), 4, DETR / "r50tiny" / "expected", stored)

    img_c = torch.from_numpy(np.load(DETR / "basic_dc5" / "input.npy"))
    spec_c = dict(block=BasicBlock, layers=[1, 1, 1, 1], stem=8, planes=[8, 16, 24, 32], d=48, heads=2,
                  n_enc=2, n_dec=2, ffn=96, n_q=8, n_labels=3)
    model_c = md.build(2, dc5=True, img=img_c, **spec_c)
    stored_c, _, _ = st_io.load_file(DETR / "basic_dc5" / "model.safetensors")
    run_case("basic_dc5", model_c, img_c.double(), 2, DETR / "basic_dc5" / "expected", stored_c)


if __name__ == "__main__":
    main()
