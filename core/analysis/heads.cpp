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

void check_query(const AttentionMap& m, int query, HeadSelect sel) {
    if (query < 0 || query >= m.n_q)
        throw Error(ErrorKind::Argument, "", "query", "token " + std::to_string(query) + " outside 0.." + std::to_string(m.n_q - 1) + " of " + where(m));
    if (sel.head >= m.n_heads)
        throw Error(ErrorKind::Argument, "", "head", std::to_string(sel.head) + " outside 0.." + std::to_string(m.n_heads - 1) + " of " + where(m));
}

// Row `query` of the selected head(s): [n_k], fused in double.
std::vector<double> select_row(const AttentionMap& m, int query, HeadSelect sel) {
    check_query(m, query, sel);
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

int grid_start(int n, const TokenLayout& L) {
    const int cells = L.grid_h * L.grid_w;
    if (cells <= 0) return -1;
    if (n == L.n_tokens()) return L.n_prefix();
    if (n == cells) return 0;
    return -1;
}

} // namespace

int key_grid_start(const AttentionMap& m, const TokenLayout& layout) { return grid_start(m.n_k, layout); }
int query_grid_start(const AttentionMap& m, const TokenLayout& layout) { return grid_start(m.n_q, layout); }

std::vector<float> query_row(const AttentionMap& m, int query, HeadSelect sel) {
    const std::vector<double> row = select_row(m, query, sel);
    return std::vector<float>(row.begin(), row.end());
}

std::vector<float> head_matrix(const AttentionMap& m, HeadSelect sel) {
    check_query(m, 0, sel);
    if (sel.head >= 0) return std::vector<float>(m.head(sel.head), m.head(sel.head) + static_cast<size_t>(m.n_q) * m.n_k);
    const std::vector<double> all = fuse_heads(m, sel.fusion);
    return std::vector<float>(all.begin(), all.end());
}

QueryAttention query_attention(const AttentionMap& m, const TokenLayout& layout, int query, HeadSelect sel) {
    QueryAttention out;
    out.row = query_row(m, query, sel);
    const int start = key_grid_start(m, layout);
    if (start >= 0) {
        const int cells = layout.grid_h * layout.grid_w;
        out.grid.assign(out.row.begin() + start, out.row.begin() + start + cells);
        out.grid_h = layout.grid_h;
        out.grid_w = layout.grid_w;
    }
    return out;
}

std::vector<QueryAttention> head_maps(const AttentionMap& m, const TokenLayout& layout, int query) {
    std::vector<QueryAttention> out;
    for (int h = 0; h < m.n_heads; ++h) out.push_back(query_attention(m, layout, query, {h}));
    return out;
}

Tensor query_map(const AttentionMap& m, const TokenLayout& layout, int query, HeadSelect sel) {
    if (key_grid_start(m, layout) < 0)
        throw Error(ErrorKind::Mismatch, "", where(m), "its " + std::to_string(m.n_k) + " keys are not the " + std::to_string(layout.grid_h) + "×" +
                                                         std::to_string(layout.grid_w) + " image grid (nor prefix tokens + grid)");
    QueryAttention a = query_attention(m, layout, query, sel);
    Tensor out({layout.grid_h, layout.grid_w});
    out.data = std::move(a.grid);
    return out;
}

RectD grid_in_original(const PreprocessGeometry& g, const TokenLayout& L) {
    if (g.orig_w <= 0 || g.orig_h <= 0 || g.resized_w <= 0 || g.resized_h <= 0 || L.grid_w <= 0 || L.grid_h <= 0) return {};
    // A cell is one patch (or one stride of a feature map) of the model input; without a patch size the
    // grid spans the input.
    const double p_w = L.patch_size > 0 ? L.patch_size : double(g.input_w) / L.grid_w;
    const double p_h = L.patch_size > 0 ? L.patch_size : double(g.input_h) / L.grid_h;
    const double sx = double(g.orig_w) / g.resized_w, sy = double(g.orig_h) / g.resized_h;
    return {g.crop_x * sx, g.crop_y * sy, L.grid_w * p_w * sx, L.grid_h * p_h * sy};
}

RectD seen_in_original(const PreprocessGeometry& g, const TokenLayout& L) {
    const RectD image{0, 0, double(std::max(0, g.orig_w)), double(std::max(0, g.orig_h))};
    const RectD grid = grid_in_original(g, L);
    if (grid.empty()) return image;
    if (grid.x >= 0 && grid.y >= 0 && grid.x + grid.w <= image.w && grid.y + grid.h <= image.h) return grid; // inside
    const double x0 = std::max(grid.x, 0.0), y0 = std::max(grid.y, 0.0);
    const double x1 = std::min(grid.x + grid.w, image.w), y1 = std::min(grid.y + grid.h, image.h);
    return {x0, y0, std::max(0.0, x1 - x0), std::max(0.0, y1 - y0)};
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
