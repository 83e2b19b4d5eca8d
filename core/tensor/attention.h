// Multi-head scaled dot-product attention with an explicit, recorded softmax.
#pragma once

#include "core/tensor/recorder.h"

#include <cstdint>
#include <vector>

namespace attnscope {

struct AttentionShape {
    int n_heads = 0;
    int head_dim = 0;
    int n_q = 0; // query tokens
    int n_k = 0; // key / value tokens
};

// q: (n_q, ldq) with head h in columns [h·head_dim, (h+1)·head_dim); k, v: (n_k, ldk/ldv) likewise.
// out: (n_q, ldo), head h written to the same columns. probs = softmax(q·kᵀ·scale [+ key_bias]) per head.
// key_bias: optional (n_k) additive bias on the scores (−inf for padded keys), may be null.
// The probabilities go to recorder.acquire(site, layer, …) or, when it declines, to `scratch`.
// Head ablation: recorder.head_output(site, layer, h) decides per head whether its out columns keep
// p·v_h, are 0 (Zero) or the mean of p·v_h over the n_q query rows (Mean); the probabilities are not changed.
void multi_head_attention(const AttentionShape& s, const float* q, int64_t ldq, const float* k, int64_t ldk,
                          const float* v, int64_t ldv, float scale, const float* key_bias, float* out,
                          int64_t ldo, AttentionRecorder& recorder, Site site, int layer,
                          std::vector<float>& scratch);

} // namespace attnscope
