// Per-head views of one recorded attention map: head fusion, the map of one query over the key
// grid, that map laid back over the ORIGINAL image, attention entropy and top-k keys.
#pragma once

#include "core/image/image.h"
#include "core/models/model.h"
#include "core/tensor/recorder.h"
#include "core/tensor/tensor.h"

#include <string>
#include <vector>

namespace attnscope::analysis {

enum class HeadFusion { Mean, Max, Min };
HeadFusion fusion_from_name(const std::string& name); // "mean" | "max" | "min"; throws Error(Argument)
const char* fusion_name(HeadFusion f);

// One head (head >= 0) or a fusion over all heads (head < 0).
struct HeadSelect {
    int head = -1;
    HeadFusion fusion = HeadFusion::Mean;
};

// [n_q, n_k] fused over heads, in double.
std::vector<double> fuse_heads(const AttentionMap& m, HeadFusion fusion);

// Row `query` of the selected head(s) over the key cells only: the last grid_h·grid_w keys
// (encoder: prefix tokens dropped; DETR cross-attention: all keys). Result [grid_h, grid_w].
Tensor query_map(const AttentionMap& m, const TokenLayout& layout, int query, HeadSelect sel = {});

enum class Upsample { Nearest, Bilinear };
// A [grid_h, grid_w] map resampled onto the original image: [orig_h, orig_w]. Each original pixel
// centre is carried through the resize and crop of `g`; pixels outside the crop get NaN.
// Bilinear interpolates between cell centres (clamped at the border); Nearest takes the cell.
Tensor map_to_original(const Tensor& grid, const PreprocessGeometry& g, Upsample mode = Upsample::Bilinear);

// Attention entropy per head: mean over ALL query rows of −Σ_k p ln p (natural log, 0·ln 0 = 0),
// over all keys (prefix tokens included). Result [n_heads].
std::vector<double> attention_entropy(const AttentionMap& m);

struct KeyScore {
    int key = 0; // token index
    float prob = 0.0f;
};
// The k most attended keys of `query` for the selected head(s), best first (ties: lower index first).
std::vector<KeyScore> top_k_keys(const AttentionMap& m, int query, int k, HeadSelect sel = {});

} // namespace attnscope::analysis
