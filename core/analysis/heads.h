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

// Which heads of a map to look at: one head (head >= 0), or `fusion` over all heads (head < 0).
// The CLI, the GUI's selection and every view use this one type.
struct HeadSelect {
    int head = -1;
    HeadFusion fusion = HeadFusion::Mean;
    bool fused() const { return head < 0; }
    bool operator==(const HeadSelect&) const = default;
};

// [n_q, n_k] fused over heads, in double.
std::vector<double> fuse_heads(const AttentionMap& m, HeadFusion fusion);

// Where the image grid starts among a map's keys (resp. queries): the prefix-token count when they are
// every token of `layout` (encoder self-attention), 0 when they are exactly the grid cells (DETR
// cross-attention keys), −1 when they are not the image grid (DETR object queries, no grid).
int key_grid_start(const AttentionMap& m, const TokenLayout& layout);
int query_grid_start(const AttentionMap& m, const TokenLayout& layout);

// Row `query` of the selected head(s) over all keys: [n_k]. Throws Error(Argument) for a query or head
// outside the map.
std::vector<float> query_row(const AttentionMap& m, int query, HeadSelect sel = {});
// The full [n_q, n_k] matrix of the selected head(s), row-major.
std::vector<float> head_matrix(const AttentionMap& m, HeadSelect sel = {});

// One query's attention: over every key, and over the image grid when the keys are grid cells.
struct QueryAttention {
    std::vector<float> row;  // [n_k]
    std::vector<float> grid; // [grid_h · grid_w], row-major; empty when the keys are not the grid
    int grid_h = 0, grid_w = 0;
    bool spatial() const { return !grid.empty(); }
    const std::vector<float>& values() const { return spatial() ? grid : row; } // what a cell shows
};
QueryAttention query_attention(const AttentionMap& m, const TokenLayout& layout, int query, HeadSelect sel = {});
// query_attention of every head alone (head 0 … n_heads−1), unfused.
std::vector<QueryAttention> head_maps(const AttentionMap& m, const TokenLayout& layout, int query);

// Row `query` of the selected head(s) over the key cells only (key_grid_start onwards): [grid_h, grid_w].
// Throws Error(Mismatch) when the keys are not the image grid.
Tensor query_map(const AttentionMap& m, const TokenLayout& layout, int query, HeadSelect sel = {});

// An axis-aligned rectangle in original-image pixels.
struct RectD {
    double x = 0, y = 0, w = 0, h = 0;
    bool empty() const { return !(w > 0 && h > 0); }
    bool operator==(const RectD&) const = default;
};
// The patch / feature grid laid back on the original image (undoing resize and crop): where its
// grid_w × grid_h cells lie, in original pixels. A DETR feature grid (cells of one stride) may overhang the
// image by less than a cell. Empty when the geometry or layout is missing.
RectD grid_in_original(const PreprocessGeometry& g, const TokenLayout& layout);
// The part of the original image the model saw: grid_in_original clipped to the image (a ViT's centre
// crop, DETR's whole image); the whole image when there is no grid.
RectD seen_in_original(const PreprocessGeometry& g, const TokenLayout& layout);

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
