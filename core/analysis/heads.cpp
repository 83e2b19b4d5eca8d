#include "core/analysis/heads.h"

#include "core/error.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace attnscope::analysis {

HeadFusion fusion_from_name(const std::string& name) {
    if (name == "mean") return HeadFusion::Mean;
    if (name == "max") return HeadFusion::Max;
    if (name == "min") return HeadFusion::Min;
    throw Error(ErrorKind::Argument, "", "--fusion", "expects mean, max or min, got '" + name + "'");
}

const char* fusion_name(HeadFusion f) {
    switch (f) {
    case HeadFusion::Mean: return "mean";
    case HeadFusion::Max: return "max";
    case HeadFusion::Min: return "min";
    }
    return "?";
}

std::vector<double> fuse_heads(const AttentionMap& m, HeadFusion fusion) {
    const size_t n = static_cast<size_t>(m.n_q) * m.n_k;
    if (m.n_heads <= 0 || m.probs.size() != n * m.n_heads)
        throw Error(ErrorKind::Mismatch, "", std::string(site_name(m.site)) + " layer " + std::to_string(m.layer),
                    "attention map has " + std::to_string(m.probs.size()) + " values, not heads·q·k");
    std::vector<double> out(m.head(0), m.head(0) + n);
    for (int h = 1; h < m.n_heads; ++h) {
        const float* p = m.head(h);
        for (size_t i = 0; i < n; ++i) {
            switch (fusion) {
            case HeadFusion::Mean: out[i] += p[i]; break;
            case HeadFusion::Max: out[i] = std::max<double>(out[i], p[i]); break;
            case HeadFusion::Min: out[i] = std::min<double>(out[i], p[i]); break;
            }
        }
    }
    if (fusion == HeadFusion::Mean)
        for (double& v : out) v /= m.n_heads;
    return out;
}

namespace {

std::string where(const AttentionMap& m) { return std::string(site_name(m.site)) + " layer " + std::to_string(m.layer); }

// Row `query` of the selected head(s): [n_k].
std::vector<double> select_row(const AttentionMap& m, int query, HeadSelect sel) {
    if (query < 0 || query >= m.n_q)
        throw Error(ErrorKind::Argument, "", "query", "token " + std::to_string(query) + " outside 0.." + std::to_string(m.n_q - 1) + " of " + where(m));
    if (sel.head >= m.n_heads)
        throw Error(ErrorKind::Argument, "", "head", std::to_string(sel.head) + " outside 0.." + std::to_string(m.n_heads - 1) + " of " + where(m));
    if (sel.head >= 0) {
        const float* r = m.head(sel.head) + static_cast<size_t>(query) * m.n_k;
        return std::vector<double>(r, r + m.n_k);
    }
    std::vector<double> row(m.n_k);
    for (int k = 0; k < m.n_k; ++k) {
        double v = m.at(0, query, k);
        for (int h = 1; h < m.n_heads; ++h) {
            const double p = m.at(h, query, k);
            v = sel.fusion == HeadFusion::Mean ? v + p : sel.fusion == HeadFusion::Max ? std::max(v, p) : std::min(v, p);
        }
        row[k] = sel.fusion == HeadFusion::Mean ? v / m.n_heads : v;
    }
    return row;
}

} // namespace

Tensor query_map(const AttentionMap& m, const TokenLayout& layout, int query, HeadSelect sel) {
    const int n_cells = layout.grid_h * layout.grid_w;
    const int offset = m.n_k - n_cells; // keys before the grid (prefix tokens)
    if (n_cells <= 0 || offset < 0)
        throw Error(ErrorKind::Mismatch, "", where(m), std::to_string(m.n_k) + " keys cannot hold a " + std::to_string(layout.grid_h) + "×" + std::to_string(layout.grid_w) + " grid");
    const std::vector<double> row = select_row(m, query, sel);
    Tensor out({layout.grid_h, layout.grid_w});
    for (int i = 0; i < n_cells; ++i) out.data[i] = static_cast<float>(row[offset + i]);
    return out;
}

Tensor map_to_original(const Tensor& grid, const PreprocessGeometry& g, Upsample mode) {
    if (grid.dim() != 2) throw Error(ErrorKind::Argument, "", "grid", "expected [grid_h, grid_w], got " + shape_str(grid.shape));
    if (g.orig_w <= 0 || g.orig_h <= 0 || g.resized_w <= 0 || g.resized_h <= 0 || g.input_w <= 0 || g.input_h <= 0)
        throw Error(ErrorKind::Argument, "", "geometry", "image sizes must be positive");
    const int gh = static_cast<int>(grid.size(0)), gw = static_cast<int>(grid.size(1));
    // original pixel centre → grid coordinate (cell c spans [c, c+1)), or NaN when outside the crop
    auto to_grid = [](int p, int orig, int resized, int crop, int input, int cells) {
        const double u = (p + 0.5) * resized / orig - crop; // input pixels
        if (u < 0.0 || u >= input) return std::numeric_limits<double>::quiet_NaN();
        return u * cells / input;
    };
    std::vector<double> gx(g.orig_w), gy(g.orig_h);
    for (int x = 0; x < g.orig_w; ++x) gx[x] = to_grid(x, g.orig_w, g.resized_w, g.crop_x, g.input_w, gw);
    for (int y = 0; y < g.orig_h; ++y) gy[y] = to_grid(y, g.orig_h, g.resized_h, g.crop_y, g.input_h, gh);
    auto cell = [&](int r, int c) { return static_cast<double>(grid.data[static_cast<size_t>(r) * gw + c]); };
    Tensor out({g.orig_h, g.orig_w});
    for (int y = 0; y < g.orig_h; ++y) {
        for (int x = 0; x < g.orig_w; ++x) {
            float& o = out.data[static_cast<size_t>(y) * g.orig_w + x];
            if (std::isnan(gx[x]) || std::isnan(gy[y])) {
                o = std::numeric_limits<float>::quiet_NaN();
                continue;
            }
            if (mode == Upsample::Nearest) {
                o = static_cast<float>(cell(std::min(gh - 1, static_cast<int>(gy[y])), std::min(gw - 1, static_cast<int>(gx[x]))));
                continue;
            }
            const double fx = std::clamp(gx[x] - 0.5, 0.0, gw - 1.0), fy = std::clamp(gy[y] - 0.5, 0.0, gh - 1.0);
            const int x0 = static_cast<int>(fx), y0 = static_cast<int>(fy);
            const int x1 = std::min(x0 + 1, gw - 1), y1 = std::min(y0 + 1, gh - 1);
            const double tx = fx - x0, ty = fy - y0;
            const double top = cell(y0, x0) * (1 - tx) + cell(y0, x1) * tx;
            const double bot = cell(y1, x0) * (1 - tx) + cell(y1, x1) * tx;
            o = static_cast<float>(top * (1 - ty) + bot * ty);
        }
    }
    return out;
}

std::vector<double> attention_entropy(const AttentionMap& m) {
    std::vector<double> out(m.n_heads, 0.0);
    for (int h = 0; h < m.n_heads; ++h) {
        double sum = 0.0;
        const float* p = m.head(h);
        for (size_t i = 0; i < static_cast<size_t>(m.n_q) * m.n_k; ++i)
            if (p[i] > 0.0f) sum -= static_cast<double>(p[i]) * std::log(static_cast<double>(p[i]));
        out[h] = sum / m.n_q;
    }
    return out;
}

std::vector<KeyScore> top_k_keys(const AttentionMap& m, int query, int k, HeadSelect sel) {
    const std::vector<double> row = select_row(m, query, sel);
    std::vector<int> idx(row.size());
    std::iota(idx.begin(), idx.end(), 0);
    k = std::clamp(k, 0, static_cast<int>(row.size()));
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                      [&](int a, int b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
    std::vector<KeyScore> out;
    for (int i = 0; i < k; ++i) out.push_back({idx[i], static_cast<float>(row[idx[i]])});
    return out;
}

} // namespace attnscope::analysis
