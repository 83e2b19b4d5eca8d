// Taped forward and hand-written backward of one class logit through a ViT-family model (vit_grad.h).
#include "core/explain/vit_grad.h"

#include "core/error.h"
#include "core/explain/grad_ops.h"
#include "core/tensor/attention.h"
#include "core/tensor/ops.h"

#include <algorithm>
#include <cmath>

namespace attnscope::explain {

namespace {

using Buf = std::vector<float>;

// What one block keeps for its backward.
struct BlockTape {
    Buf x0;  // (T, D) block input
    Buf qkv; // (T, 3D)
    Buf ctx; // (T, D) attention output before the projection
    Buf x1;  // (T, D) residual after the attention branch
    Buf z;   // (T, M) fc1 output before GELU, or (T, 2M) before SwiGLU
};

// One block forward (as vit_block_forward, same kernels), keeping the tape.
void block_forward(const VitConfig& c, const VitBlock& b, int il, float* x, int T, BlockTape& tp, Buf& h, Buf& a,
                   Buf& m, TapeRecorder& rec, Buf& scratch) {
    const int D = c.n_embd, M = c.n_mlp;
    const int64_t TD = static_cast<int64_t>(T) * D;
    const float scale = 1.0f / std::sqrt(static_cast<float>(D / c.n_heads));
    tp.x0.assign(x, x + TD);
    tp.qkv.resize(3 * TD);
    tp.ctx.resize(TD);
    ops::layer_norm(x, T, D, b.ln1_w.ptr(), b.ln1_b.ptr(), c.ln_eps, h.data());
    ops::linear(h.data(), T, D, b.qkv_w.ptr(), b.qkv_b.ptr(), 3LL * D, tp.qkv.data(), 0, {}, b.qkv_p.get());
    const AttentionShape shape{c.n_heads, D / c.n_heads, T, T};
    multi_head_attention(shape, tp.qkv.data(), 3LL * D, tp.qkv.data() + D, 3LL * D, tp.qkv.data() + 2 * D, 3LL * D,
                         scale, nullptr, tp.ctx.data(), D, rec, Site::Encoder, il, scratch);
    ops::linear(tp.ctx.data(), T, D, b.proj_w.ptr(), b.proj_b.ptr(), D, a.data(), 0, {}, b.proj_p.get());
    if (c.layer_scale) ops::add_scaled_rows_inplace(x, a.data(), b.ls1.ptr(), T, D);
    else ops::add_inplace(x, a.data(), TD);
    tp.x1.assign(x, x + TD);
    ops::layer_norm(x, T, D, b.ln2_w.ptr(), b.ln2_b.ptr(), c.ln_eps, h.data());
    const int64_t Mz = c.swiglu ? 2LL * M : M;
    tp.z.resize(static_cast<size_t>(T) * Mz);
    ops::linear(h.data(), T, D, b.fc1_w.ptr(), b.fc1_b.ptr(), Mz, tp.z.data(), 0, {}, b.fc1_p.get());
    if (c.swiglu) {
        for (int t = 0; t < T; ++t) {
            const float* zr = tp.z.data() + t * Mz;
            float* mr = m.data() + static_cast<int64_t>(t) * M;
            std::copy(zr, zr + M, mr);
            ops::silu(mr, M);
            for (int i = 0; i < M; ++i) mr[i] *= zr[M + i];
        }
    } else {
        std::copy(tp.z.begin(), tp.z.end(), m.begin());
        ops::gelu_erf(m.data(), static_cast<int64_t>(T) * M);
    }
    ops::linear(m.data(), T, M, b.fc2_w.ptr(), b.fc2_b.ptr(), D, a.data(), 0, {}, b.fc2_p.get());
    if (c.layer_scale) ops::add_scaled_rows_inplace(x, a.data(), b.ls2.ptr(), T, D);
    else ops::add_inplace(x, a.data(), TD);
}

// g (T, D): ∂y/∂(block output) in, ∂y/∂(block input) out. Fills dA (heads, T, T); h1 / dh1 (T, D)
// receive the pre-attention LayerNorm output and its gradient when non-null.
void block_backward(const VitConfig& c, const VitBlock& b, int T, const BlockTape& tp, const AttentionMap& A,
                    float* g, float* dA, float* h1_out, float* dh1_out) {
    const int D = c.n_embd, M = c.n_mlp, H = c.n_heads, dh = D / H;
    const int64_t TD = static_cast<int64_t>(T) * D;
    const int64_t Mz = c.swiglu ? 2LL * M : M;
    const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
    Buf ga(TD), dm(static_cast<size_t>(T) * M), dz(static_cast<size_t>(T) * Mz), dh_(TD);
    // A weight as its [out, in] matrix: a packed one is unpacked into `wt` (one at a time) rather than read
    // from the checkpoint's pages, which the loader dropped (vit_pack_weight): they would fault back in and
    // stay resident beside the packed copy.
    Buf wt;
    auto plain = [&](const Tensor& w, const std::shared_ptr<const ops::PackedWeight>& packed) -> const float* {
        if (!packed) return w.ptr();
        wt.resize(static_cast<size_t>(w.numel()));
        ops::unpack_linear_weight(*packed, wt.data());
        return wt.data();
    };
    auto scaled = [&](const Tensor& ls) {
        if (!c.layer_scale) {
            std::copy(g, g + TD, ga.begin());
            return;
        }
        for (int64_t i = 0; i < TD; ++i) ga[static_cast<size_t>(i)] = g[i] * ls.data[static_cast<size_t>(i % D)];
    };
    // MLP branch: x_out = x1 + ls2 ⊙ fc2(act(fc1(LN2(x1))))
    scaled(b.ls2);
    linear_backward(ga.data(), T, D, plain(b.fc2_w, b.fc2_p), M, dm.data());
    if (c.swiglu) {
        for (int t = 0; t < T; ++t) {
            const float* zr = tp.z.data() + t * Mz;
            const float* dmr = dm.data() + static_cast<int64_t>(t) * M;
            float* dzr = dz.data() + t * Mz;
            for (int i = 0; i < M; ++i) {
                const double u = zr[i], s = 1.0 / (1.0 + std::exp(-u));
                dzr[i] = static_cast<float>(dmr[i] * zr[M + i] * s * (1.0 + u * (1.0 - s))); // silu'
                dzr[M + i] = static_cast<float>(dmr[i] * u * s);
            }
        }
    } else {
        constexpr double kInvSqrt2 = 0.70710678118654752440, kInvSqrt2Pi = 0.39894228040143267794;
        for (int64_t i = 0; i < static_cast<int64_t>(T) * M; ++i) {
            const double u = tp.z[static_cast<size_t>(i)];
            const double d = 0.5 * (1.0 + std::erf(u * kInvSqrt2)) + u * kInvSqrt2Pi * std::exp(-0.5 * u * u);
            dz[static_cast<size_t>(i)] = static_cast<float>(dm[static_cast<size_t>(i)] * d);
        }
    }
    linear_backward(dz.data(), T, Mz, plain(b.fc1_w, b.fc1_p), D, dh_.data());
    layer_norm_backward(tp.x1.data(), dh_.data(), b.ln2_w.ptr(), c.ln_eps, T, D, g); // g = ∂y/∂x1

    // attention branch: x1 = x0 + ls1 ⊙ proj(MHA(LN1(x0)))
    scaled(b.ls1);
    Buf dctx(TD), dqkv(3 * TD);
    linear_backward(ga.data(), T, D, plain(b.proj_w, b.proj_p), D, dctx.data());
    const float* q = tp.qkv.data();
    AttentionGrads out{dA, dqkv.data(), 3LL * D, dqkv.data() + D, 3LL * D, dqkv.data() + 2 * D, 3LL * D};
    attention_backward(AttentionShape{H, dh, T, T}, A.probs.data(), q, 3LL * D, q + D, 3LL * D, q + 2 * D, 3LL * D, scale,
                       dctx.data(), D, out);
    linear_backward(dqkv.data(), T, 3LL * D, plain(b.qkv_w, b.qkv_p), D, dh_.data());
    if (h1_out) {
        ops::layer_norm(tp.x0.data(), T, D, b.ln1_w.ptr(), b.ln1_b.ptr(), c.ln_eps, h1_out);
        std::copy(dh_.begin(), dh_.end(), dh1_out);
    }
    layer_norm_backward(tp.x0.data(), dh_.data(), b.ln1_w.ptr(), c.ln_eps, T, D, g); // g = ∂y/∂x0
}

// ∂logit_k/∂xn (T, D), xn the sequence the head reads (final-normed; un-normed for MeanPatch).
void head_backward(const VitConfig& c, const VitWeights& w, const float* xn, int T, int k, float* gxn) {
    const int D = c.n_embd, np = 1 + c.n_dist + c.n_reg, n_patch = T - np;
    std::fill(gxn, gxn + static_cast<int64_t>(T) * D, 0.0f);
    switch (c.head) {
    case VitHead::None: return;
    case VitHead::Cls:
        std::copy_n(w.head_w.ptr() + static_cast<int64_t>(k) * D, D, gxn);
        return;
    case VitHead::ClsDist:
        for (int i = 0; i < D; ++i) {
            gxn[i] = 0.5f * w.head_w.data[static_cast<size_t>(k) * D + i];
            gxn[D + i] = 0.5f * w.dist_w.data[static_cast<size_t>(k) * D + i];
        }
        return;
    case VitHead::ClsMeanPatch: {
        const float* row = w.head_w.ptr() + static_cast<int64_t>(k) * 2 * D;
        std::copy_n(row, D, gxn);
        for (int t = np; t < T; ++t)
            for (int i = 0; i < D; ++i) gxn[static_cast<int64_t>(t) * D + i] = row[D + i] / static_cast<float>(n_patch);
        return;
    }
    case VitHead::MeanPatch: {
        Buf mean(static_cast<size_t>(D), 0.0f), gm(static_cast<size_t>(D), 0.0f);
        for (int t = np; t < T; ++t)
            for (int i = 0; i < D; ++i) mean[i] += xn[static_cast<int64_t>(t) * D + i];
        for (float& v : mean) v /= static_cast<float>(n_patch);
        layer_norm_backward(mean.data(), w.head_w.ptr() + static_cast<int64_t>(k) * D, w.norm_w.ptr(), c.ln_eps, 1, D,
                            gm.data());
        for (int t = np; t < T; ++t)
            for (int i = 0; i < D; ++i) gxn[static_cast<int64_t>(t) * D + i] = gm[i] / static_cast<float>(n_patch);
        return;
    }
    }
}

} // namespace

VitGradients vit_gradients(const VitConfig& c, const VitWeights& w, const Tensor& input, int target,
                           const CancelFlag* cancel) {
    if (c.head == VitHead::None)
        throw Error(ErrorKind::Unsupported, "", "classifier head", "this model has no classifier head: there is no class logit to explain");
    if (input.dim() != 3 || input.size(0) != 3)
        throw Error(ErrorKind::Mismatch, "input", "", "expected a [3, H, W] tensor, got " + shape_str(input.shape));
    const int P = c.patch, D = c.n_embd;
    const int gh = static_cast<int>(input.size(1)) / P, gw = static_cast<int>(input.size(2)) / P;
    if (gh < 1 || gw < 1)
        throw Error(ErrorKind::Mismatch, "input", "", "image " + shape_str(input.shape) + " is smaller than one patch");
    const int np = 1 + c.n_dist + c.n_reg, T = np + gh * gw;
    const int64_t TD = static_cast<int64_t>(T) * D;
    auto check_cancel = [&] {
        if (cancel && cancel->load()) throw Error(ErrorKind::Cancelled, "", "", "explanation cancelled");
    };

    VitGradients out;
    out.layout = TokenLayout{1, c.n_dist, c.n_reg, gh, gw, P};
    Buf x(static_cast<size_t>(TD)), h(static_cast<size_t>(TD)), a(static_cast<size_t>(TD));
    Buf m(static_cast<size_t>(T) * c.n_mlp), scratch;
    std::vector<BlockTape> tape(static_cast<size_t>(c.n_layers));
    TapeRecorder rec(out.attention);
    vit_embed(c, w, input, gh, gw, x.data());
    for (int il = 0; il < c.n_layers; ++il) {
        check_cancel();
        block_forward(c, w.blocks[static_cast<size_t>(il)], il, x.data(), T, tape[static_cast<size_t>(il)], h, a, m, rec,
                      scratch);
    }
    m = Buf(); // the MLP work buffer is not needed any more
    if (c.fc_norm) h = x;
    else ops::layer_norm(x.data(), T, D, w.norm_w.ptr(), w.norm_b.ptr(), c.ln_eps, h.data());
    RunResult head;
    vit_head(c, w, h.data(), T, head);
    out.logits = std::move(head.logits);
    const int C = static_cast<int>(out.logits.numel());
    if (target < 0) target = static_cast<int>(std::max_element(out.logits.data.begin(), out.logits.data.end()) - out.logits.data.begin());
    if (target >= C)
        throw Error(ErrorKind::Argument, "--target", std::to_string(target),
                    "class index outside the model's " + std::to_string(C) + " classes");
    out.target = target;

    // backward
    Buf g(static_cast<size_t>(TD));
    head_backward(c, w, h.data(), T, target, g.data());
    if (!c.fc_norm) { // g is ∂y/∂LN(x); take it through the final LayerNorm
        Buf gn(static_cast<size_t>(TD), 0.0f);
        layer_norm_backward(x.data(), g.data(), w.norm_w.ptr(), c.ln_eps, T, D, gn.data());
        g.swap(gn);
    }
    size_t bytes = 0;
    for (const BlockTape& tp : tape)
        bytes += (tp.x0.size() + tp.qkv.size() + tp.ctx.size() + tp.x1.size() + tp.z.size()) * sizeof(float);
    for (const AttentionMap& am : out.attention) bytes += 2 * am.probs.size() * sizeof(float); // A and ∂A
    out.tape_bytes = bytes;
    out.grad.resize(out.attention.size());
    out.last_ln1 = Tensor({T, D});
    out.last_ln1_grad = Tensor({T, D});
    for (int il = c.n_layers - 1; il >= 0; --il) {
        check_cancel();
        const AttentionMap& A = out.attention[static_cast<size_t>(il)];
        AttentionMap& dA = out.grad[static_cast<size_t>(il)];
        dA = grad_like(A);
        const bool last = il == c.n_layers - 1;
        block_backward(c, w.blocks[static_cast<size_t>(il)], T, tape[static_cast<size_t>(il)], A, g.data(),
                       dA.probs.data(), last ? out.last_ln1.ptr() : nullptr, last ? out.last_ln1_grad.ptr() : nullptr);
        tape[static_cast<size_t>(il)] = BlockTape(); // freed as soon as it is used
    }
    return out;
}

} // namespace attnscope::explain
