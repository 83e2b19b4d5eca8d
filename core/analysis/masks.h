// DINO thresholded attention masks (DINO §4.2, visualize_attention.py).
#pragma once

#include "core/models/model.h"
#include "core/tensor/recorder.h"

namespace attnscope::analysis {

// Per head, the CLS → patch row of `last` (prefix columns dropped): sort ascending, divide by its
// sum, cumulative sum; keep patches whose cumulative value > 1 − mass; un-sort.
// mass (τ) = 0.6 keeps the smallest top set holding 60% of the mass. Result [heads, grid_h, grid_w], 0/1.
Tensor dino_masks(const AttentionMap& last, const TokenLayout& layout, double mass = 0.6);

// Nearest-neighbour upsample of [..., h, w] by an integer factor → [..., h·factor, w·factor].
Tensor upsample_nearest(const Tensor& t, int factor);

} // namespace attnscope::analysis
