// PNG renderings of the analyses (OpenCV, no Qt), in the GUI's conventions: the same colormap table and
// head colours (core/analysis/colormap), round colour-bar ticks (nice_ticks), layers / heads / patches
// counted from 0, figures about a paper column wide with readable text. Each returns PNG bytes.
#pragma once

#include "core/image/image.h"
#include "core/tensor/tensor.h"

#include <string>
#include <utility>
#include <vector>

namespace attnscope::analysis {

struct Range {
    double lo = 0, hi = 0; // lo == hi: use the data's finite min / max
};

// Axes of a heatmap: titles and index ticks (0-based, as the GUI) along columns and rows.
struct HeatmapAxes {
    std::string x_label, y_label; // "head", "layer"; empty: no title
    bool index_ticks = false;     // label columns / rows 0, 1, … (thinned to fit)
};

// [h, w] map (NaN drawn grey), each cell `cell_px` pixels, title above, colour bar with round ticks.
std::string heatmap_png(const Tensor& map, const std::string& title, int cell_px = 16, Range range = {},
                        const std::string& bar_label = "", const HeatmapAxes& axes = {});

// [n, h, w] maps side by side on one shared colour scale, each labelled "<prefix> i" (0-based), one
// colour bar (e.g. the patch-token norms after every block).
std::string heatmap_row_png(const Tensor& maps, const std::string& title, const std::string& prefix, int cell_px = 8);

// [n, h, w] yes/no masks side by side, kept cells in head i's colour, dropped ones light grey, labelled
// "head i", with a kept / dropped legend (no colour bar: the values are not a scale).
std::string masks_png(const Tensor& masks, const std::string& title, int cell_px = 16);

// `map` [orig_h, orig_w] (NaN = not covered) over the image as the GUI's overlay draws it by default: low
// values transparent (alpha = opacity × the value's place in the range); colour bar on the right.
// bar_label names the colour bar ("relevance" for explanations).
std::string overlay_png(const ImageRGB8& image, const Tensor& map, const std::string& title, double opacity = 0.6,
                        const std::string& bar_label = "attention");

// ViT Fig. 7 centre: similarity_tiles(sim) with axes "Input patch row" / "Input patch column",
// colour bar "Cosine similarity" −1…1.
std::string pos_similarity_png(const Tensor& sim, int grid_h, int grid_w);

// ViT Fig. 7 left: [k, 3, P, P] axes as RGB tiles (each scaled to its own min/max), `cols` per row;
// `share[i]` (optional): the variance share of axis i, printed under its tile.
std::string filters_png(const Tensor& axes, int cols = 7, const std::vector<double>& share = {});

// ViT Fig. 7 right: one dot per head (mean distance, px) against layer index, heads in their colours.
std::string distance_scatter_png(const std::vector<std::vector<double>>& layer_head_px, const std::string& title,
                                 double y_max = 0);

// Token analyses. A heatmap ([h, w], as heatmap_png) with the cells `marks` (row, col) outlined in red.
std::string marked_heatmap_png(const Tensor& map, const std::vector<std::pair<int, int>>& marks, const std::string& title,
                               int cell_px = 16, const std::string& bar_label = "");
// [h, w, 3] RGB in [0, 1] (e.g. feature_pca), each cell `cell_px` pixels, title above; NaN drawn grey.
std::string rgb_grid_png(const Tensor& rgb, const std::string& title, int cell_px = 16);

// Writes PNG bytes atomically (cv::imencode result → write_file_atomic).
void write_png(const std::string& path, const std::string& png);

} // namespace attnscope::analysis
