#include "core/explain/detr_methods.h"

#include "core/error.h"
#include "core/explain/grad_ops.h"
#include "core/tensor/ops.h"

#include <algorithm>

namespace attnscope::explain {

namespace {

using Buf = std::vector<float>;

void matmul(const Buf& a, const Buf& b, int m, int k, int n, Buf& c) { // c (m, n) = a (m, k) · b (k, n)
    c.resize(static_cast<size_t>(m) * n);
    ops::gemm(m, n, k, 1.0f, a.data(), k, b.data(), n, false, 0.0f, c.data(), n);
}

Buf eye(int n) {
    Buf I(static_cast<size_t>(n) * n, 0.0f);
    for (int i = 0; i < n; ++i) I[static_cast<size_t>(i) * n + i] = 1.0f;
    return I;
}

// Their avg_heads: mean over heads of (∂y/∂A ⊙ A) clamped at 0, (n_q, n_k).
Buf avg_heads(const AttentionMap& A, const AttentionMap& dA) {
    const size_t n = static_cast<size_t>(A.n_q) * A.n_k;
    Buf out(n, 0.0f);
    for (int h = 0; h < A.n_heads; ++h) {
        const float* a = A.head(h);
        const float* d = dA.head(h);
        for (size_t i = 0; i < n; ++i) out[i] += std::max(a[i] * d[i], 0.0f);
    }
    for (float& v : out) v /= static_cast<float>(A.n_heads);
    return out;
}

Buf mean_heads(const AttentionMap& A) {
    const size_t n = static_cast<size_t>(A.n_q) * A.n_k;
    Buf out(n, 0.0f);
    for (int h = 0; h < A.n_heads; ++h) {
        const float* a = A.head(h);
        for (size_t i = 0; i < n; ++i) out[i] += a[i];
    }
    for (float& v : out) v /= static_cast<float>(A.n_heads);
    return out;
}

// Their handle_residual: (R − I) with each row divided by its sum, + I. False when a row sums to 0 (their
// division gives a NaN row there).
bool handle_residual(const Buf& R, int n, Buf& out) {
    out = R;
    bool finite = true;
    for (int i = 0; i < n; ++i) {
        float* row = out.data() + static_cast<int64_t>(i) * n;
        row[i] -= 1.0f;
        double sum = 0.0;
        for (int j = 0; j < n; ++j) sum += row[j];
        if (sum == 0.0) finite = false;
        const float inv = static_cast<float>(1.0 / sum);
        for (int j = 0; j < n; ++j) row[j] *= inv;
        row[i] += 1.0f;
    }
    return finite;
}

// Their compute_rollout_attention over head-mean maps: each (Ā + I) row-normalised, multiplied from the first up.
Buf rollout(const std::vector<const AttentionMap*>& maps) {
    const int n = maps.front()->n_q;
    Buf joint, step, next;
    for (size_t l = 0; l < maps.size(); ++l) {
        Buf m = mean_heads(*maps[l]);
        for (int i = 0; i < n; ++i) {
            float* row = m.data() + static_cast<int64_t>(i) * n;
            row[i] += 1.0f;
            double sum = 0.0;
            for (int j = 0; j < n; ++j) sum += row[j];
            for (int j = 0; j < n; ++j) row[j] = static_cast<float>(row[j] / sum);
        }
        if (l == 0) joint = std::move(m);
        else {
            matmul(m, joint, n, n, n, next);
            joint.swap(next);
        }
    }
    return joint;
}

Tensor query_row(const Buf& R_qi, int query, const TokenLayout& L) {
    const int S = L.grid_h * L.grid_w;
    Tensor out({L.grid_h, L.grid_w});
    std::copy_n(R_qi.data() + static_cast<int64_t>(query) * S, S, out.ptr());
    return out;
}

struct Sites {
    std::vector<const AttentionMap*> enc, self, cross;
};

Sites sites_of(const std::vector<AttentionMap>& maps) {
    Sites s{maps_of(maps, Site::Encoder), maps_of(maps, Site::DecoderSelf), maps_of(maps, Site::DecoderCross)};
    if (s.enc.empty() || s.self.empty() || s.cross.empty() || s.self.size() != s.cross.size())
        throw Error(ErrorKind::Missing, "", "attention", "the DETR encoder / decoder maps were not all recorded");
    return s;
}

// ∂A of map `A` (same site and layer) in g.
const AttentionMap& grad_of(const DetrGradients& g, const AttentionMap* A) {
    const size_t i = static_cast<size_t>(A - g.attention.data());
    if (i >= g.grad.size()) throw Error(ErrorKind::Missing, "", "gradients", "no gradient for an attention map");
    return g.grad[i];
}

} // namespace

Tensor detr_chefer2_map(const DetrGradients& g) {
    const Sites s = sites_of(g.attention);
    const int S = s.enc.front()->n_q, Q = s.self.front()->n_q;
    Buf R_ii = eye(S), R_qq = eye(Q), R_qi(static_cast<size_t>(Q) * S, 0.0f), step, step2;
    for (const AttentionMap* A : s.enc) { // image self-attention: R_ii += Ā·R_ii
        matmul(avg_heads(*A, grad_of(g, A)), R_ii, S, S, S, step);
        for (size_t i = 0; i < R_ii.size(); ++i) R_ii[i] += step[i];
    }
    Buf Rn_ii;
    const bool ii_finite = handle_residual(R_ii, S, Rn_ii);
    for (size_t l = 0; l < s.self.size(); ++l) {
        // decoder self-attention: R_qq += Ā·R_qq, R_qi += Ā·R_qi
        const Buf cam = avg_heads(*s.self[l], grad_of(g, s.self[l]));
        matmul(cam, R_qq, Q, Q, Q, step);
        matmul(cam, R_qi, Q, Q, S, step2);
        for (size_t i = 0; i < R_qq.size(); ++i) R_qq[i] += step[i];
        for (size_t i = 0; i < R_qi.size(); ++i) R_qi[i] += step2[i];
        // cross-attention: R_qi += R̄_qqᵀ · Ā · R̄_ii
        Buf Rn_qq;
        const bool qq_finite = handle_residual(R_qq, Q, Rn_qq);
        if (!ii_finite || !qq_finite) continue; // their NaN → 0 zeroes the whole term
        const Buf cam_qi = avg_heads(*s.cross[l], grad_of(g, s.cross[l]));
        matmul(cam_qi, Rn_ii, Q, S, S, step);
        Buf Rt(Rn_qq.size());
        transpose(Rn_qq.data(), Q, Q, Rt.data());
        matmul(Rt, step, Q, Q, S, step2);
        for (size_t i = 0; i < R_qi.size(); ++i) R_qi[i] += step2[i];
    }
    return query_row(R_qi, g.query, g.layout);
}

Tensor detr_gradcam_map(const DetrGradients& g) {
    const Sites s = sites_of(g.attention);
    const AttentionMap& A = *s.cross.back();
    const AttentionMap& dA = grad_of(g, s.cross.back());
    const size_t n = static_cast<size_t>(A.n_q) * A.n_k;
    Buf cam(n, 0.0f);
    for (int h = 0; h < A.n_heads; ++h) {
        double wh = 0.0;
        const float* d = dA.head(h);
        for (size_t i = 0; i < n; ++i) wh += d[i];
        wh /= static_cast<double>(n);
        const float* a = A.head(h);
        for (size_t i = 0; i < n; ++i) cam[i] += static_cast<float>(a[i] * wh);
    }
    for (float& v : cam) v = std::max(v / static_cast<float>(A.n_heads), 0.0f);
    return query_row(cam, g.query, g.layout);
}

Tensor detr_rollout_map(const std::vector<AttentionMap>& maps, const TokenLayout& layout, int query) {
    const Sites s = sites_of(maps);
    const int S = s.enc.front()->n_q, Q = s.self.front()->n_q;
    const Buf R_ii = rollout(s.enc), R_qq = rollout(s.self);
    Buf step, out, Rt(R_qq.size());
    matmul(mean_heads(*s.cross.back()), R_ii, Q, S, S, step);
    transpose(R_qq.data(), Q, Q, Rt.data());
    matmul(Rt, step, Q, Q, S, out);
    return query_row(out, query, layout);
}

Tensor detr_attention_map(const std::vector<AttentionMap>& maps, const TokenLayout& layout, int query) {
    const Sites s = sites_of(maps);
    return query_row(mean_heads(*s.cross.back()), query, layout);
}

} // namespace attnscope::explain
