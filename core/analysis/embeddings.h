// The ViT paper's Fig. 7 left and centre: patch-embedding filter PCA and position-embedding
// cosine similarity, of the tensors a loaded model hands out (Model::patch_embedding()).
#pragma once

#include "core/tensor/tensor.h"

#include <vector>

namespace attnscope::analysis {

// Cosine similarity of every pair of rows of `pos` [G, D] → [G, G] (a zero row gives 0).
Tensor position_similarity(const Tensor& pos);

// The Fig. 7 layout of a [G, G] similarity (G = grid_h·grid_w): grid_h × grid_w tiles separated by
// `gap` NaN pixels; tile (r, c) is sim[r·grid_w + c, :] as a [grid_h, grid_w] map.
// Result [grid_h·grid_h + (grid_h−1)·gap, grid_w·grid_w + (grid_w−1)·gap].
Tensor similarity_tiles(const Tensor& sim, int grid_h, int grid_w, int gap = 1);

struct FilterPca {
    Tensor axes;                   // [k, 3, P, P] principal axes, largest variance first
    std::vector<double> variance;  // [k] eigenvalues of the covariance (ddof = 1)
    double total_variance = 0.0;   // trace of the covariance: variance[i] / total is the share explained
};
// PCA of the D filters as samples (each 3·P·P values), centred over the D filters; eigenvectors of
// the covariance (Eigen SelfAdjointEigenSolver, double). k = min(n_components, D, 3·P·P).
// Sign: each axis is flipped so that its largest-magnitude component is positive (first on ties).
FilterPca filter_pca(const Tensor& filters, int n_components = 28);

} // namespace attnscope::analysis
