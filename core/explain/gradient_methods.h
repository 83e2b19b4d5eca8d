// The gradient-based relevance maps of issue 16, computed from one VitGradients (vit_grad.h).
// Each returns [grid_h, grid_w], raw (not rescaled), over the patch tokens (prefix tokens excluded).
#pragma once

#include "core/explain/vit_grad.h"

namespace attnscope::explain {

// Chefer, Gur, Wolf 2021 (ICCV) for ViT: R = I; for each block in order R ← R + Ā·R with
// Ā = mean_h((∂y/∂A ⊙ A)⁺) (negatives clamped per head, then the head mean); the map is R[CLS, patches].
Tensor chefer2_map(const VitGradients& g);

// Grad-CAM on the last block's pre-attention LayerNorm output (pytorch-grad-cam's ViT recipe): the
// patch tokens as a [D, grid_h, grid_w] activation; w_c = mean over the grid of ∂y/∂A_c;
// map = ReLU(Σ_c w_c · A_c).
Tensor gradcam_map(const VitGradients& g);

// vit-explain's gradient rollout with its two bugs fixed: per layer Â = (mean_h(A ⊙ ∂y/∂A))⁺ with
// each layer's gradient paired with that layer's A, then the rollout step of core/analysis/rollout.h
// (discard the `discard_ratio` smallest entries except the CLS row/column, 0.5·Â + 0.5·I, rows
// renormalised one by one), multiplied through the layers; the CLS row over the patches.
Tensor grad_rollout_map(const VitGradients& g, double discard_ratio);

} // namespace attnscope::explain
