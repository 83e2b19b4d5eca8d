#include "core/explain/grad_ops.h"

#include "core/tensor/ops.h"

#include <cmath>

namespace attnscope::explain {

void layer_norm_backward(const float* x, const float* gy, const float* w, float eps, int64_t n, int64_t d, float* gx) {
    for (int64_t r = 0; r < n; ++r) {
        const float* xr = x + r * d;
        const float* gr = gy + r * d;
        double mu = 0.0, var = 0.0;
        for (int64_t i = 0; i < d; ++i) mu += xr[i];
        mu /= static_cast<double>(d);
        for (int64_t i = 0; i < d; ++i) var += (xr[i] - mu) * (xr[i] - mu);
        var /= static_cast<double>(d);
        const double rstd = 1.0 / std::sqrt(var + static_cast<double>(eps));
        double mg = 0.0, mgx = 0.0; // mean(g), mean(g ⊙ x̂) with g = gy ⊙ w
        for (int64_t i = 0; i < d; ++i) {
            const double g = static_cast<double>(gr[i]) * w[i];
            mg += g;
            mgx += g * (xr[i] - mu) * rstd;
        }
        mg /= static_cast<double>(d);
        mgx /= static_cast<double>(d);
        float* o = gx + r * d;
        for (int64_t i = 0; i < d; ++i) {
            const double g = static_cast<double>(gr[i]) * w[i];
            const double xh = (xr[i] - mu) * rstd;
            o[i] += static_cast<float>(rstd * (g - mg - xh * mgx));
        }
    }
}

void linear_backward(const float* gy, int64_t n, int64_t out, const float* w, int64_t in, float* gx, float beta) {
    ops::gemm(n, in, out, 1.0f, gy, out, w, in, /*b_transposed=*/false, beta, gx, in);
}

void transpose(const float* a, int64_t rows, int64_t cols, float* at) {
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) at[j * rows + i] = a[i * cols + j];
}

void attention_backward(const AttentionShape& s, const float* A, const float* q, int64_t ldq, const float* k, int64_t ldk,
                        const float* v, int64_t ldv, float scale, const float* dctx, int64_t ldc, const AttentionGrads& o) {
    const int nq = s.n_q, nk = s.n_k, dh = s.head_dim;
    const int64_t QK = static_cast<int64_t>(nq) * nk;
    std::vector<float> at(static_cast<size_t>(QK)), ds(static_cast<size_t>(QK));
    for (int hh = 0; hh < s.n_heads; ++hh) {
        const int64_t col = static_cast<int64_t>(hh) * dh;
        const float* a = A + hh * QK;
        float* da = o.dA + hh * QK;
        // ctx_h = A_h · V_h  →  dA_h = dctx_h · V_hᵀ,  dV_h = A_hᵀ · dctx_h
        ops::gemm(nq, nk, dh, 1.0f, dctx + col, ldc, v + col, ldv, true, 0.0f, da, nk);
        if (o.dv) {
            transpose(a, nq, nk, at.data());
            ops::gemm(nk, dh, nq, 1.0f, at.data(), nq, dctx + col, ldc, false, 0.0f, o.dv + col, o.lddv);
        }
        if (!o.dq && !o.dk) continue;
        // softmax: dS = A ⊙ (dA − rowsum(A ⊙ dA))
        for (int i = 0; i < nq; ++i) {
            const float* ar = a + static_cast<int64_t>(i) * nk;
            const float* dr = da + static_cast<int64_t>(i) * nk;
            double dot = 0.0;
            for (int j = 0; j < nk; ++j) dot += static_cast<double>(ar[j]) * dr[j];
            float* sr = ds.data() + static_cast<int64_t>(i) * nk;
            for (int j = 0; j < nk; ++j) sr[j] = static_cast<float>(ar[j] * (dr[j] - dot));
        }
        // S = scale · Q_h · K_hᵀ  →  dQ_h = scale · dS · K_h,  dK_h = scale · dSᵀ · Q_h
        if (o.dq) ops::gemm(nq, dh, nk, scale, ds.data(), nk, k + col, ldk, false, 0.0f, o.dq + col, o.lddq);
        if (o.dk) {
            transpose(ds.data(), nq, nk, at.data());
            ops::gemm(nk, dh, nq, scale, at.data(), nq, q + col, ldq, false, 0.0f, o.dk + col, o.lddk);
        }
    }
}

float* TapeRecorder::acquire(Site site, int layer, int n_heads, int n_q, int n_k) {
    AttentionMap m;
    m.site = site;
    m.layer = layer;
    m.n_heads = n_heads, m.n_q = n_q, m.n_k = n_k;
    m.probs.resize(static_cast<size_t>(n_heads) * n_q * n_k);
    maps_.push_back(std::move(m));
    return maps_.back().probs.data();
}

AttentionMap grad_like(const AttentionMap& A) {
    AttentionMap g;
    g.site = A.site, g.layer = A.layer, g.n_heads = A.n_heads, g.n_q = A.n_q, g.n_k = A.n_k;
    g.probs.assign(A.probs.size(), 0.0f);
    return g;
}

} // namespace attnscope::explain
