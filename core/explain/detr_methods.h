// The relevance maps of one DETR detection (issue 16), each the query's row over the image (feature-grid)
// tokens, [grid_h, grid_w], raw (not rescaled). Definitions from Chefer, Gur, Wolf 2021b (ICCV) and the
// authors' public DETR code (hila-chefer/Transformer-MM-Explainability, DETR/modules/ExplanationGenerator.py);
// docs/explanations.md says which details are followed.
#pragma once

#include "core/explain/detr_grad.h"

namespace attnscope::explain {

// Chefer 2021b (generate_ours with use_lrp=False, as their DETR notebook): Ā = mean_h((∂y/∂A ⊙ A)⁺).
// R_ii = I, R_qq = I, R_qi = 0; encoder: R_ii += Ā·R_ii; per decoder layer, self: R_qq += Ā·R_qq and
// R_qi += Ā·R_qi (both from the old values); cross: R_qi += R̄_qqᵀ·Ā·R̄_ii with R̄ = handle_residual(R)
// (R − I, rows divided by their sums, + I). As in their code, a zero row of R − I makes the division 0/0,
// the NaN spreads through both products and their NaN-zeroing drops that layer's whole cross term.
Tensor detr_chefer2_map(const DetrGradients& g);

// Their generate_attn_gradcam: the last decoder layer's cross-attention; per head the weight = mean of
// ∂y/∂A over all its entries; map = (mean_h w_h·A_h)⁺, the query's row.
Tensor detr_gradcam_map(const DetrGradients& g);

// Their generate_rollout (not class-specific): encoder and decoder-self rollouts of the head-mean maps, each
// layer (Ā + I) row-normalised, multiplied from the first layer up; R_qi = R_qqᵀ · Ā_cross(last) · R_ii;
// the query's row.
Tensor detr_rollout_map(const std::vector<AttentionMap>& maps, const TokenLayout& layout, int query);

// Their generate_raw_attn: the last decoder layer's cross-attention row of the query, mean of heads.
Tensor detr_attention_map(const std::vector<AttentionMap>& maps, const TokenLayout& layout, int query);

} // namespace attnscope::explain
