// PNG renderings of the analyses (OpenCV, no Qt): viridis heatmaps with a colour bar, the ViT
// Fig. 7 tiles, filter grids, overlays and the distance scatter. Each returns PNG bytes.
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

// [h, w] map (NaN drawn grey), each cell `cell_px` pixels, title above, colour bar with min/max ticks.
std::string heatmap_png(const Tensor& map, const std::string& title, int cell_px = 16, Range range = {},
                        const std::string& bar_label = "");

// [n, h, w] maps side by side (one heatmap per slice, shared range), labelled "<prefix> i".
std::string heatmap_row_png(const Tensor& maps, const std::string& title, const std::string& prefix, int cell_px = 8);

// `map` [orig_h, orig_w] (NaN = not covered) blended over the image; colour bar on the right.
std::string overlay_png(const ImageRGB8& image, const Tensor& map, const std::string& title, double alpha = 0.5);

// ViT Fig. 7 centre: similarity_tiles(sim) with axes "Input patch row" / "Input patch column",
// colour bar "Cosine similarity" −1…1.
std::string pos_similarity_png(const Tensor& sim, int grid_h, int grid_w);

// ViT Fig. 7 left: [k, 3, P, P] axes as RGB tiles (each scaled to its own min/max), `cols` per row.
std::string filters_png(const Tensor& axes, int cols = 7);

// ViT Fig. 7 right: one dot per head (mean distance, px) against layer index.
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
