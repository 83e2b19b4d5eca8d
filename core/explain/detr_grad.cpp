// Taped forward and hand-written backward of one DETR output through the transformer (detr_grad.h).
#include "core/explain/detr_grad.h"

#include "core/error.h"
#include "core/explain/grad_ops.h"
#include "core/tensor/ops.h"

#include <algorithm>
#include <cmath>

namespace attnscope::explain {

namespace {

using Buf = std::vector<float>;

// What one layer keeps for its backward. Each post-norm step x_out = LN(s) keeps s; the FFN keeps its ReLU
// output (the ReLU's mask); attention keeps q/k/v (in its DetrAttnBuffers) — A is in the recorded maps.
struct EncTape {
    DetrAttnBuffers attn;
    Buf s1, hid, s2; // (S, d), (S, ffn), (S, d)
};
struct DecTape {
    DetrAttnBuffers self, cross;
    Buf s1, s2, hid, s3; // (Q, d) ×2, (Q, ffn), (Q, d)
};

void keep_qkv(DetrAttnBuffers& b) { // the context and scratch are not needed by the backward
    b.att = Buf();
    b.scratch = Buf();
}

size_t bytes_of(const DetrAttnBuffers& b) { return (b.q.size() + b.k.size() + b.v.size()) * sizeof(float); }

void add(const float* a, const float* b, int64_t n, float* y) {
    for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

// x (n, d) = LN(x + fc2(ReLU(fc1(x)))) as DetrModel's FFN block, keeping the ReLU output and the LN input.
void ffn_forward(float* x, int n, int d, int ffn, const Tensor& w1, const Tensor& b1, const Tensor& w2, const Tensor& b2,
                 const Tensor& ln_w, const Tensor& ln_b, float eps, Buf& hid, Buf& s, Buf& tmp) {
    hid.resize(static_cast<size_t>(n) * ffn);
    tmp.resize(static_cast<size_t>(n) * d);
    ops::linear(x, n, d, w1.ptr(), b1.ptr(), ffn, hid.data());
    ops::relu(hid.data(), static_cast<int64_t>(n) * ffn);
    ops::linear(hid.data(), n, ffn, w2.ptr(), b2.ptr(), d, tmp.data());
    ops::add_inplace(x, tmp.data(), static_cast<int64_t>(n) * d);
    s.assign(x, x + static_cast<int64_t>(n) * d);
    ops::layer_norm(x, n, d, ln_w.ptr(), ln_b.ptr(), eps, x);
}

// g (n, d): ∂y/∂LN(s) in → ∂y/∂s out.
void ln_backward(const Buf& s, const Tensor& ln_w, float eps, int n, int d, Buf& g) {
    Buf gs(g.size(), 0.0f);
    layer_norm_backward(s.data(), g.data(), ln_w.ptr(), eps, n, d, gs.data());
    g.swap(gs);
}

// The FFN step x_out = LN(s), s = x + fc2(ReLU(fc1(x))): g = ∂y/∂x_out in, ∂y/∂x out.
void ffn_backward(const Buf& s, const Buf& hid, int n, int d, int ffn, const Tensor& w1, const Tensor& w2,
                  const Tensor& ln_w, float eps, Buf& g) {
    ln_backward(s, ln_w, eps, n, d, g); // g = ∂y/∂s
    Buf dh(static_cast<size_t>(n) * ffn);
    linear_backward(g.data(), n, d, w2.ptr(), ffn, dh.data());
    for (size_t i = 0; i < dh.size(); ++i)
        if (!(hid[i] > 0.0f)) dh[i] = 0.0f; // ReLU
    linear_backward(dh.data(), n, ffn, w1.ptr(), d, g.data(), 1.0f); // + the residual
}

// out = detr_attention(a, q_in, k_in, v_in): dout (n_q, d) in. Fills dA; adds ∂y/∂q_in to gq, ∂y/∂k_in to gk
// and ∂y/∂v_in to gv where non-null.
void attention_grad(const DetrAttention& a, const DetrAttnBuffers& b, const AttentionMap& A, int d, const float* dout,
                    float* dA, float* gq, float* gk, float* gv) {
    const int nq = A.n_q, nk = A.n_k, dh = d / A.n_heads;
    Buf dctx(static_cast<size_t>(nq) * d);
    linear_backward(dout, nq, d, a.wo.ptr(), d, dctx.data());
    Buf dq(gq ? static_cast<size_t>(nq) * d : 0), dk(gk ? static_cast<size_t>(nk) * d : 0), dv(gv ? static_cast<size_t>(nk) * d : 0);
    const AttentionGrads o{dA, gq ? dq.data() : nullptr, d, gk ? dk.data() : nullptr, d, gv ? dv.data() : nullptr, d};
    attention_backward(AttentionShape{A.n_heads, dh, nq, nk}, A.probs.data(), b.q.data(), d, b.k.data(), d, b.v.data(), d,
                       1.0f / std::sqrt(static_cast<float>(dh)), dctx.data(), d, o);
    if (gq) linear_backward(dq.data(), nq, d, a.wq.ptr(), d, gq, 1.0f);
    if (gk) linear_backward(dk.data(), nk, d, a.wk.ptr(), d, gk, 1.0f);
    if (gv) linear_backward(dv.data(), nk, d, a.wv.ptr(), d, gv, 1.0f);
}

// ∂(box coordinate `coord` of query `q`)/∂tn (Q, d): the box MLP d → d → d → 4 with ReLUs and the sigmoid.
void box_backward(const DetrWeights& w, const float* tn, int q, int d, int coord, float* g) {
    Buf h1(static_cast<size_t>(d)), h2(static_cast<size_t>(d)), z(4);
    ops::linear(tn + static_cast<int64_t>(q) * d, 1, d, w.box_w[0].ptr(), w.box_b[0].ptr(), d, h1.data());
    ops::relu(h1.data(), d);
    ops::linear(h1.data(), 1, d, w.box_w[1].ptr(), w.box_b[1].ptr(), d, h2.data());
    ops::relu(h2.data(), d);
    ops::linear(h2.data(), 1, d, w.box_w[2].ptr(), w.box_b[2].ptr(), 4, z.data());
    const double sg = 1.0 / (1.0 + std::exp(-static_cast<double>(z[static_cast<size_t>(coord)])));
    const float dz = static_cast<float>(sg * (1.0 - sg));
    Buf d2(static_cast<size_t>(d)), d1(static_cast<size_t>(d));
    for (int i = 0; i < d; ++i)
        d2[i] = h2[i] > 0.0f ? dz * w.box_w[2].data[static_cast<size_t>(coord) * d + i] : 0.0f;
    linear_backward(d2.data(), 1, d, w.box_w[1].ptr(), d, d1.data());
    for (int i = 0; i < d; ++i)
        if (!(h1[i] > 0.0f)) d1[i] = 0.0f;
    linear_backward(d1.data(), 1, d, w.box_w[0].ptr(), d, g + static_cast<int64_t>(q) * d);
}

} // namespace

int detr_top_query(const Tensor& logits) {
    const int Q = static_cast<int>(logits.size(0)), C1 = static_cast<int>(logits.size(1));
    int best = 0;
    double best_p = -1.0;
    for (int q = 0; q < Q; ++q) {
        const float* row = logits.ptr() + static_cast<int64_t>(q) * C1;
        const float mx = *std::max_element(row, row + C1);
        double sum = 0.0, top = 0.0;
        for (int c = 0; c < C1; ++c) sum += std::exp(static_cast<double>(row[c]) - mx);
        for (int c = 0; c + 1 < C1; ++c) top = std::max(top, std::exp(static_cast<double>(row[c]) - mx));
        if (top / sum > best_p) best_p = top / sum, best = q;
    }
    return best;
}

int detr_top_class(const Tensor& logits, int query) {
    const int C1 = static_cast<int>(logits.size(1));
    const float* row = logits.ptr() + static_cast<int64_t>(query) * C1;
    return static_cast<int>(std::max_element(row, row + C1 - 1) - row);
}

std::vector<const AttentionMap*> maps_of(const std::vector<AttentionMap>& maps, Site site) {
    std::vector<const AttentionMap*> out;
    for (const AttentionMap& m : maps)
        if (m.site == site) out.push_back(&m);
    std::stable_sort(out.begin(), out.end(), [](const AttentionMap* a, const AttentionMap* b) { return a->layer < b->layer; });
    return out;
}

DetrGradients detr_gradients(const DetrModel& model, const Tensor& input, const DetrTarget& target, const CancelFlag* cancel) {
    const DetrConfig& c = model.config();
    const DetrWeights& w = model.weights();
    const int d = c.d_model, H = c.n_heads, Q = c.n_queries, n_cls = c.n_labels + 1;
    const float eps = c.ln_eps;
    auto check_cancel = [&] {
        if (cancel && cancel->load()) throw Error(ErrorKind::Cancelled, "", "", "explanation cancelled");
    };
    if (target.query >= Q)
        throw Error(ErrorKind::Argument, "--detection", std::to_string(target.query),
                    "query index outside the model's " + std::to_string(Q) + " object queries");
    if (target.class_index >= n_cls)
        throw Error(ErrorKind::Argument, "--target", std::to_string(target.class_index),
                    "class index outside the model's " + std::to_string(c.n_labels) + " classes and no-object (" +
                        std::to_string(c.n_labels) + ")");
    if (target.box_coord >= 4)
        throw Error(ErrorKind::Argument, "box coordinate", std::to_string(target.box_coord), "expected 0…3 (cx, cy, w, h)");

    // the backbone, projection and position embedding: the model's own code; the tape starts here
    DetrEncoderInput in = model.encoder_input(input, nullptr, cancel);
    const int S = in.h * in.w;
    const int64_t Sd = static_cast<int64_t>(S) * d, Qd = static_cast<int64_t>(Q) * d;
    DetrGradients out;
    out.layout = TokenLayout{0, 0, 0, in.h, in.w, w.backbone.stride};
    TapeRecorder rec(out.attention);
    std::vector<EncTape> enc(static_cast<size_t>(c.n_enc));
    std::vector<DecTape> dec(static_cast<size_t>(c.n_dec));
    Buf& x = in.x; // (S, d)
    Buf qk(static_cast<size_t>(Sd)), a(static_cast<size_t>(Sd)), tmp;
    for (int il = 0; il < c.n_enc; ++il) {
        const DetrEncoderLayer& L = w.enc[static_cast<size_t>(il)];
        EncTape& tp = enc[static_cast<size_t>(il)];
        add(x.data(), in.pos.data(), Sd, qk.data());
        detr_attention(L.attn, qk.data(), S, qk.data(), x.data(), S, d, H, nullptr, rec, Site::Encoder, il, tp.attn, a.data());
        keep_qkv(tp.attn);
        ops::add_inplace(x.data(), a.data(), Sd);
        tp.s1 = x;
        ops::layer_norm(x.data(), S, d, L.ln1_w.ptr(), L.ln1_b.ptr(), eps, x.data());
        ffn_forward(x.data(), S, d, c.n_ffn_enc, L.fc1_w, L.fc1_b, L.fc2_w, L.fc2_b, L.ln2_w, L.ln2_b, eps, tp.hid, tp.s2, tmp);
        check_cancel();
    }
    qk = Buf(), a = Buf();
    const Buf& mem = x;
    Buf mem_pos(static_cast<size_t>(Sd));
    add(mem.data(), in.pos.data(), Sd, mem_pos.data());
    const float* qpos = w.query_pos.ptr();
    Buf t(static_cast<size_t>(Qd), 0.0f), tq(static_cast<size_t>(Qd)), ta(static_cast<size_t>(Qd));
    for (int il = 0; il < c.n_dec; ++il) {
        const DetrDecoderLayer& L = w.dec[static_cast<size_t>(il)];
        DecTape& tp = dec[static_cast<size_t>(il)];
        add(t.data(), qpos, Qd, tq.data());
        detr_attention(L.self_attn, tq.data(), Q, tq.data(), t.data(), Q, d, H, nullptr, rec, Site::DecoderSelf, il, tp.self,
                       ta.data());
        keep_qkv(tp.self);
        ops::add_inplace(t.data(), ta.data(), Qd);
        tp.s1 = t;
        ops::layer_norm(t.data(), Q, d, L.ln1_w.ptr(), L.ln1_b.ptr(), eps, t.data());
        add(t.data(), qpos, Qd, tq.data());
        detr_attention(L.cross_attn, tq.data(), Q, mem_pos.data(), mem.data(), S, d, H, nullptr, rec, Site::DecoderCross, il,
                       tp.cross, ta.data());
        keep_qkv(tp.cross);
        ops::add_inplace(t.data(), ta.data(), Qd);
        tp.s2 = t;
        ops::layer_norm(t.data(), Q, d, L.ln2_w.ptr(), L.ln2_b.ptr(), eps, t.data());
        ffn_forward(t.data(), Q, d, c.n_ffn_dec, L.fc1_w, L.fc1_b, L.fc2_w, L.fc2_b, L.ln3_w, L.ln3_b, eps, tp.hid, tp.s3, tmp);
        check_cancel();
    }
    mem_pos = Buf();
    const Buf t_final = t; // the final LayerNorm's input
    ops::layer_norm(t.data(), Q, d, w.dec_ln_w.ptr(), w.dec_ln_b.ptr(), eps, t.data());
    // heads, as DetrModel: logits (Q, n_labels + 1), boxes (Q, 4) = sigmoid(MLP)
    out.logits = Tensor({Q, n_cls});
    ops::linear(t.data(), Q, d, w.cls_w.ptr(), w.cls_b.ptr(), n_cls, out.logits.ptr());
    {
        Buf h1(static_cast<size_t>(Qd)), h2(static_cast<size_t>(Qd));
        ops::linear(t.data(), Q, d, w.box_w[0].ptr(), w.box_b[0].ptr(), d, h1.data());
        ops::relu(h1.data(), Qd);
        ops::linear(h1.data(), Q, d, w.box_w[1].ptr(), w.box_b[1].ptr(), d, h2.data());
        ops::relu(h2.data(), Qd);
        out.boxes = Tensor({Q, 4});
        ops::linear(h2.data(), Q, d, w.box_w[2].ptr(), w.box_b[2].ptr(), 4, out.boxes.ptr());
        for (float& v : out.boxes.data) v = 1.0f / (1.0f + std::exp(-v));
    }
    out.query = target.query >= 0 ? target.query : detr_top_query(out.logits);
    out.class_index = target.class_index >= 0 ? target.class_index : detr_top_class(out.logits, out.query);
    out.box_coord = target.box_coord;

    // what the tape holds at its peak: q/k/v, LN inputs, ReLU outputs, every A and (below) every ∂A
    size_t bytes = (t_final.size() + mem.size()) * sizeof(float);
    for (const EncTape& tp : enc) bytes += bytes_of(tp.attn) + (tp.s1.size() + tp.hid.size() + tp.s2.size()) * sizeof(float);
    for (const DecTape& tp : dec)
        bytes += bytes_of(tp.self) + bytes_of(tp.cross) + (tp.s1.size() + tp.s2.size() + tp.hid.size() + tp.s3.size()) * sizeof(float);
    for (const AttentionMap& m : out.attention) bytes += 2 * m.probs.size() * sizeof(float);
    out.tape_bytes = bytes;

    // backward: the output → ∂y/∂LN(t_final) → ∂y/∂t_final
    out.grad.reserve(out.attention.size());
    for (const AttentionMap& m : out.attention) out.grad.push_back(grad_like(m));
    Buf g(static_cast<size_t>(Qd), 0.0f);
    if (target.box_coord >= 0) box_backward(w, t.data(), out.query, d, target.box_coord, g.data());
    else std::copy_n(w.cls_w.ptr() + static_cast<int64_t>(out.class_index) * d, d, g.data() + static_cast<int64_t>(out.query) * d);
    ln_backward(t_final, w.dec_ln_w, eps, Q, d, g);
    Buf g_mem(static_cast<size_t>(Sd), 0.0f);
    for (int il = c.n_dec - 1; il >= 0; --il) {
        check_cancel();
        const DetrDecoderLayer& L = w.dec[static_cast<size_t>(il)];
        DecTape& tp = dec[static_cast<size_t>(il)];
        const size_t i_self = static_cast<size_t>(c.n_enc + 2 * il), i_cross = i_self + 1;
        ffn_backward(tp.s3, tp.hid, Q, d, c.n_ffn_dec, L.fc1_w, L.fc2_w, L.ln3_w, eps, g);
        // cross: t2 = LN2(s2), s2 = t1 + attn(t1 + qpos, mem + pos, mem)
        ln_backward(tp.s2, L.ln2_w, eps, Q, d, g);
        Buf gs = g;
        attention_grad(L.cross_attn, tp.cross, out.attention[i_cross], d, gs.data(), out.grad[i_cross].probs.data(), g.data(),
                       g_mem.data(), g_mem.data());
        // self: t1 = LN1(s1), s1 = t0 + attn(t0 + qpos, t0 + qpos, t0); the first layer's t0 is zeros
        ln_backward(tp.s1, L.ln1_w, eps, Q, d, g);
        gs = g;
        float* g0 = il > 0 ? g.data() : nullptr;
        attention_grad(L.self_attn, tp.self, out.attention[i_self], d, gs.data(), out.grad[i_self].probs.data(), g0, g0, g0);
        tp = DecTape();
    }
    g.swap(g_mem); // ∂y/∂(encoder output)
    for (int il = c.n_enc - 1; il >= 0; --il) {
        check_cancel();
        const DetrEncoderLayer& L = w.enc[static_cast<size_t>(il)];
        EncTape& tp = enc[static_cast<size_t>(il)];
        ffn_backward(tp.s2, tp.hid, S, d, c.n_ffn_enc, L.fc1_w, L.fc2_w, L.ln2_w, eps, g);
        ln_backward(tp.s1, L.ln1_w, eps, S, d, g);
        const Buf gs = g;
        float* gx = il > 0 ? g.data() : nullptr; // the encoder's input gradient is not needed
        attention_grad(L.attn, tp.attn, out.attention[static_cast<size_t>(il)], d, gs.data(),
                       out.grad[static_cast<size_t>(il)].probs.data(), gx, gx, gx);
        tp = EncTape();
    }
    return out;
}

} // namespace attnscope::explain
