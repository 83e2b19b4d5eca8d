#include "core/analysis/distance.h"

#include "core/error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace attnscope::analysis {

std::vector<double> mean_attention_distance(const AttentionMap& m, const TokenLayout& layout) {
    const int gh = layout.grid_h, gw = layout.grid_w, N = gh * gw, off = layout.n_prefix();
    if (m.n_q != layout.n_tokens() || m.n_k != layout.n_tokens() || N <= 0)
        throw Error(ErrorKind::Mismatch, "", "layer " + std::to_string(m.layer),
                    "map is " + std::to_string(m.n_q) + "×" + std::to_string(m.n_k) + " but the layout has " + std::to_string(layout.n_tokens()) + " tokens");
    std::vector<double> dist(static_cast<size_t>(N) * N); // (N, N) pixel distances
    for (int i = 0; i < N; ++i)
        for (int j = 0; j < N; ++j)
            dist[static_cast<size_t>(i) * N + j] =
                layout.patch_size * std::hypot(static_cast<double>(i / gw - j / gw), static_cast<double>(i % gw - j % gw));
    std::vector<double> out(m.n_heads, 0.0);
    for (int h = 0; h < m.n_heads; ++h) {
        double sum = 0.0;
        for (int i = 0; i < N; ++i) {
            const float* row = m.head(h) + static_cast<size_t>(off + i) * m.n_k + off;
            const double* d = dist.data() + static_cast<size_t>(i) * N;
            for (int j = 0; j < N; ++j) sum += row[j] * d[j];
        }
        out[h] = sum / N;
    }
    return out;
}

std::vector<std::vector<double>> mean_attention_distances(const std::vector<AttentionMap>& maps, const TokenLayout& layout) {
    std::vector<std::vector<double>> out;
    for (const AttentionMap& m : maps)
        if (m.site == Site::Encoder) out.push_back(mean_attention_distance(m, layout));
    return out;
}

void DistanceAccumulator::add(const std::vector<std::vector<double>>& v) {
    if (n_ == 0) {
        mean_.assign(v.size(), {});
        for (size_t l = 0; l < v.size(); ++l) mean_[l].assign(v[l].size(), 0.0);
        m2_ = mean_;
        min_ = max_ = v;
    }
    bool same = v.size() == mean_.size();
    for (size_t l = 0; same && l < v.size(); ++l) same = v[l].size() == mean_[l].size();
    if (!same) throw Error(ErrorKind::Mismatch, "", "attention distance", "layer/head counts differ from the first image");
    ++n_;
    for (size_t l = 0; l < v.size(); ++l)
        for (size_t h = 0; h < v[l].size(); ++h) {
            const double x = v[l][h], d = x - mean_[l][h];
            mean_[l][h] += d / n_;
            m2_[l][h] += d * (x - mean_[l][h]);
            min_[l][h] = std::min(min_[l][h], x);
            max_[l][h] = std::max(max_[l][h], x);
        }
}

double DistanceAccumulator::std_dev(int layer, int head) const {
    return n_ > 0 ? std::sqrt(m2_[layer][head] / n_) : 0.0;
}

std::string distance_csv(const DistanceAccumulator& acc) {
    auto num = [](double v) {
        char b[32];
        std::snprintf(b, sizeof b, "%.6f", v);
        return std::string(b);
    };
    std::string s = "layer,head,mean_px,std_px,n_images,min_px,max_px\n";
    for (int l = 0; l < acc.n_layers(); ++l)
        for (int h = 0; h < acc.n_heads(l); ++h)
            s += std::to_string(l) + "," + std::to_string(h) + "," + num(acc.mean(l, h)) + "," + num(acc.std_dev(l, h)) + "," +
                 std::to_string(acc.n_images()) + "," + num(acc.min(l, h)) + "," + num(acc.max(l, h)) + "\n";
    return s;
}

} // namespace attnscope::analysis
