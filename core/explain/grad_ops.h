// Hand-written backward kernels shared by the explanation engines (vit_grad, detr_grad): input gradients
// only (no weight gradients), on the same ops:: kernels as the forward passes.
#pragma once

#include "core/models/model.h"
#include "core/tensor/attention.h"

#include <cstdint>
#include <vector>

namespace attnscope::explain {

// x (n, d) → gx += ∂/∂x of Σ gy ⊙ LN(x) (biased variance, affine weight w), in double per row.
void layer_norm_backward(const float* x, const float* gy, const float* w, float eps, int64_t n, int64_t d, float* gx);

// gx (n, in) = gy (n, out) · W (out, in): the input gradient of y = x·Wᵀ + b. beta = 1 accumulates into gx.
void linear_backward(const float* gy, int64_t n, int64_t out, const float* w, int64_t in, float* gx, float beta = 0.0f);

// at (cols, rows) = aᵀ.
void transpose(const float* a, int64_t rows, int64_t cols, float* at);

// The input gradients of ctx_h = softmax(scale · Q_h·K_hᵀ) · V_h for every head h (multi_head_attention's
// layout: head h in columns [h·head_dim, (h+1)·head_dim)). A: the probabilities (heads, n_q, n_k); dctx the
// gradient of the context (n_q, ldc). Writes dA (heads, n_q, n_k) and, where non-null, dq (n_q, lddq),
// dk (n_k, lddk), dv (n_k, lddv).
struct AttentionGrads {
    float* dA = nullptr;
    float* dq = nullptr;
    int64_t lddq = 0;
    float* dk = nullptr;
    int64_t lddk = 0;
    float* dv = nullptr;
    int64_t lddv = 0;
};
void attention_backward(const AttentionShape& s, const float* A, const float* q, int64_t ldq, const float* k, int64_t ldk,
                        const float* v, int64_t ldv, float scale, const float* dctx, int64_t ldc, const AttentionGrads& out);

// Records the maps a taped forward asks for straight into `maps` (one buffer per map, in order).
class TapeRecorder final : public AttentionRecorder {
public:
    explicit TapeRecorder(std::vector<AttentionMap>& maps) : maps_(maps) {}
    float* acquire(Site site, int layer, int n_heads, int n_q, int n_k) override;

private:
    std::vector<AttentionMap>& maps_;
};

// An empty map with A's site, layer and shape, its buffer sized (zeros): where ∂y/∂A goes.
AttentionMap grad_like(const AttentionMap& A);

} // namespace attnscope::explain
