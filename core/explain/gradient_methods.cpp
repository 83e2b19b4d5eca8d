#include "core/explain/gradient_methods.h"

#include "core/analysis/rollout.h"
#include "core/error.h"
#include "core/tensor/ops.h"

#include <algorithm>

namespace attnscope::explain {

namespace {

void check(const VitGradients& g) {
    if (g.attention.empty() || g.attention.size() != g.grad.size())
        throw Error(ErrorKind::Missing, "", "gradients", "no attention gradients were computed");
}

Tensor patch_row(const float* row, const TokenLayout& layout) {
    Tensor out({layout.grid_h, layout.grid_w});
    std::copy_n(row + layout.n_prefix(), layout.grid_h * layout.grid_w, out.ptr());
    return out;
}

} // namespace

Tensor chefer2_map(const VitGradients& g) {
    check(g);
    const int T = g.attention.front().n_q;
    const int64_t TT = static_cast<int64_t>(T) * T;
    std::vector<float> R(static_cast<size_t>(TT), 0.0f), abar(R.size()), step(R.size());
    for (int i = 0; i < T; ++i) R[static_cast<size_t>(i) * T + i] = 1.0f;
    for (size_t l = 0; l < g.attention.size(); ++l) {
        const AttentionMap& A = g.attention[l];
        const AttentionMap& dA = g.grad[l];
        std::fill(abar.begin(), abar.end(), 0.0f);
        for (int h = 0; h < A.n_heads; ++h) {
            const float* a = A.head(h);
            const float* d = dA.head(h);
            for (int64_t i = 0; i < TT; ++i) abar[static_cast<size_t>(i)] += std::max(a[i] * d[i], 0.0f);
        }
        const float inv = 1.0f / static_cast<float>(A.n_heads);
        for (float& v : abar) v *= inv;
        ops::gemm(T, T, T, 1.0f, abar.data(), T, R.data(), T, false, 0.0f, step.data(), T); // Ā·R
        for (int64_t i = 0; i < TT; ++i) R[static_cast<size_t>(i)] += step[static_cast<size_t>(i)];
    }
    return patch_row(R.data(), g.layout); // row 0: CLS
}

Tensor gradcam_map(const VitGradients& g) {
    const TokenLayout& L = g.layout;
    if (g.last_ln1.dim() != 2 || g.last_ln1.shape != g.last_ln1_grad.shape)
        throw Error(ErrorKind::Missing, "", "gradients", "no gradient of the last block's LayerNorm output");
    const int D = static_cast<int>(g.last_ln1.size(1)), np = L.n_prefix(), n = L.grid_h * L.grid_w;
    std::vector<double> wc(static_cast<size_t>(D), 0.0);
    for (int t = np; t < np + n; ++t)
        for (int c = 0; c < D; ++c) wc[static_cast<size_t>(c)] += g.last_ln1_grad.data[static_cast<size_t>(t) * D + c];
    for (double& v : wc) v /= static_cast<double>(n);
    Tensor out({L.grid_h, L.grid_w});
    for (int i = 0; i < n; ++i) {
        const float* act = g.last_ln1.ptr() + static_cast<int64_t>(np + i) * D;
        double s = 0.0;
        for (int c = 0; c < D; ++c) s += wc[static_cast<size_t>(c)] * act[c];
        out.data[static_cast<size_t>(i)] = static_cast<float>(std::max(s, 0.0));
    }
    return out;
}

Tensor grad_rollout_map(const VitGradients& g, double discard_ratio) {
    check(g);
    std::vector<AttentionMap> fused;
    fused.reserve(g.attention.size());
    for (size_t l = 0; l < g.attention.size(); ++l) {
        const AttentionMap& A = g.attention[l];
        const AttentionMap& dA = g.grad[l];
        const size_t TT = static_cast<size_t>(A.n_q) * A.n_k;
        AttentionMap f;
        f.site = Site::Encoder;
        f.layer = A.layer;
        f.n_heads = 1, f.n_q = A.n_q, f.n_k = A.n_k;
        std::vector<double> acc(TT, 0.0);
        for (int h = 0; h < A.n_heads; ++h) {
            const float* a = A.head(h);
            const float* d = dA.head(h);
            for (size_t i = 0; i < TT; ++i) acc[i] += static_cast<double>(a[i]) * d[i];
        }
        f.probs.resize(TT);
        for (size_t i = 0; i < TT; ++i) f.probs[i] = static_cast<float>(std::max(acc[i] / A.n_heads, 0.0));
        fused.push_back(std::move(f));
    }
    analysis::RolloutOptions ro;
    ro.discard_ratio = discard_ratio; // one fused "head": the mean fusion is the identity
    return analysis::attention_rollout(fused, g.layout, ro);
}

} // namespace attnscope::explain
