// Mean attention distance (ViT paper Fig. 7 right, App. D.7): per layer and head, in input pixels.
#pragma once

#include "core/models/model.h"
#include "core/tensor/recorder.h"

#include <string>
#include <vector>

namespace attnscope::analysis {

// For each head: (1/N) Σᵢ Σⱼ Aᵢⱼ ‖pᵢ − pⱼ‖₂ over the N patch tokens only (prefix rows AND columns
// dropped, rows NOT renormalised), pᵢ = (row, col) of patch i × layout.patch_size. [n_heads].
std::vector<double> mean_attention_distance(const AttentionMap& m, const TokenLayout& layout);

// [layer][head] for every encoder map of one image.
std::vector<std::vector<double>> mean_attention_distances(const std::vector<AttentionMap>& maps, const TokenLayout& layout);

// Streams per-image [layer][head] distances; keeps only running sums (Welford), min and max.
class DistanceAccumulator {
public:
    void add(const std::vector<std::vector<double>>& per_image); // throws Error(Mismatch) if shapes differ
    int n_images() const { return n_; }
    int n_layers() const { return static_cast<int>(mean_.size()); }
    int n_heads(int layer) const { return static_cast<int>(mean_[layer].size()); }
    double mean(int layer, int head) const { return mean_[layer][head]; }
    double std_dev(int layer, int head) const; // population std (ddof = 0) across images
    double min(int layer, int head) const { return min_[layer][head]; }
    double max(int layer, int head) const { return max_[layer][head]; }

private:
    int n_ = 0;
    std::vector<std::vector<double>> mean_, m2_, min_, max_;
};

// THE attention_distance.csv layout (CLI `analyze` and `dataset`, the GUI's Export CSV): one row per
// layer and head, "layer,head,mean_px,std_px,n_images,min_px,max_px", numbers "%.6f" (std: population).
// One image is an accumulator of one image (std 0, min = max = mean).
std::string distance_csv(const DistanceAccumulator& acc);

} // namespace attnscope::analysis
