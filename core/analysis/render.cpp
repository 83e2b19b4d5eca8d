#include "core/analysis/render.h"

#include "core/analysis/colormap.h"
#include "core/analysis/embeddings.h"
#include "core/error.h"
#include "core/io/npy.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace attnscope::analysis {

namespace {

const cv::Scalar kInk(30, 30, 30), kWhite(255, 255, 255), kNan(200, 200, 200);
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

std::string fmt(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3g", v);
    return b;
}

Range finite_range(const float* p, size_t n, Range r) {
    if (r.lo != r.hi) return r;
    r.lo = INFINITY;
    r.hi = -INFINITY;
    for (size_t i = 0; i < n; ++i)
        if (std::isfinite(p[i])) r.lo = std::min<double>(r.lo, p[i]), r.hi = std::max<double>(r.hi, p[i]);
    if (!std::isfinite(r.lo)) r = {0, 1};
    return r;
}

// Viridis BGR colour of v within r: the one table the GUI paints with too (core/analysis/colormap).
cv::Vec3b viridis(double v, Range r) {
    const uint32_t c = colormap_lut(Colormap::Viridis)[static_cast<size_t>(colormap_index(v, r.lo, r.hi))];
    return cv::Vec3b(static_cast<uint8_t>(c & 255), static_cast<uint8_t>((c >> 8) & 255), static_cast<uint8_t>((c >> 16) & 255));
}

// [h, w] → BGR image, each cell `cell` pixels; NaN cells in `nan_colour`.
cv::Mat colourise(const float* p, int h, int w, int cell, Range r, cv::Scalar nan_colour = kNan) {
    cv::Mat m(h * cell, w * cell, CV_8UC3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const float v = p[static_cast<size_t>(y) * w + x];
            const cv::Vec3b c = std::isfinite(v) ? viridis(v, r) : cv::Vec3b(nan_colour[0], nan_colour[1], nan_colour[2]);
            m(cv::Rect(x * cell, y * cell, cell, cell)).setTo(cv::Scalar(c[0], c[1], c[2]));
        }
    return m;
}

void text(cv::Mat& m, const std::string& s, cv::Point org, double scale = 0.4) {
    cv::putText(m, s, org, kFont, scale, kInk, 1, cv::LINE_AA);
}

int text_width(const std::string& s, double scale = 0.4) {
    int base = 0;
    return cv::getTextSize(s, kFont, scale, 1, &base).width;
}

// Text rotated 90° counter-clockwise (for vertical axis titles).
cv::Mat vertical_text(const std::string& s, double scale = 0.45) {
    cv::Mat m(18, text_width(s, scale) + 4, CV_8UC3, kWhite), r;
    text(m, s, {2, 13}, scale);
    cv::rotate(m, r, cv::ROTATE_90_COUNTERCLOCKWISE);
    return r;
}

// A vertical colour bar `height` tall with max/min tick labels and an optional title.
cv::Mat colour_bar(int height, Range r, const std::string& label) {
    height = std::max(height, 40);
    const int w = 16, text_w = std::max(text_width(fmt(r.hi)), text_width(fmt(r.lo))) + 8;
    cv::Mat m(height + 12, w + text_w + (label.empty() ? 0 : 20), CV_8UC3, kWhite);
    for (int y = 0; y < height; ++y) {
        const cv::Vec3b c = viridis(r.hi - (r.hi - r.lo) * y / std::max(1, height - 1), r);
        cv::line(m, {0, y + 6}, {w - 1, y + 6}, cv::Scalar(c[0], c[1], c[2]));
    }
    cv::rectangle(m, {0, 6}, {w - 1, height + 5}, kInk);
    text(m, fmt(r.hi), {w + 4, 12});
    text(m, fmt(r.lo), {w + 4, height + 6});
    if (!label.empty()) {
        cv::Mat v = vertical_text(label, 0.4);
        if (v.rows <= m.rows) v.copyTo(m(cv::Rect(m.cols - v.cols, (m.rows - v.rows) / 2, v.cols, v.rows)));
    }
    return m;
}

// Canvas: title on top, `body` at (left, top), colour bar to its right.
cv::Mat compose(const cv::Mat& body, const std::string& title, const cv::Mat& bar, int left = 10) {
    const int top = title.empty() ? 10 : 30;
    const int W = std::max(left + body.cols + 12 + bar.cols + 10, text_width(title, 0.5) + 20);
    cv::Mat m(top + std::max(body.rows, bar.rows) + 10, W, CV_8UC3, kWhite);
    body.copyTo(m(cv::Rect(left, top, body.cols, body.rows)));
    bar.copyTo(m(cv::Rect(left + body.cols + 12, top - 6, bar.cols, std::min(bar.rows, m.rows - top + 6))));
    if (!title.empty()) text(m, title, {10, 20}, 0.5);
    return m;
}

std::string encode(const cv::Mat& m) {
    std::vector<uint8_t> buf;
    if (!cv::imencode(".png", m, buf)) throw Error(ErrorKind::Io, "", "png", "OpenCV could not encode the PNG");
    return std::string(buf.begin(), buf.end());
}

} // namespace

std::string heatmap_png(const Tensor& map, const std::string& title, int cell_px, Range range, const std::string& bar_label) {
    if (map.dim() != 2) throw Error(ErrorKind::Argument, "", "heatmap", "expected [h, w], got " + shape_str(map.shape));
    const Range r = finite_range(map.ptr(), map.data.size(), range);
    const cv::Mat body = colourise(map.ptr(), static_cast<int>(map.size(0)), static_cast<int>(map.size(1)), cell_px, r);
    return encode(compose(body, title, colour_bar(body.rows, r, bar_label)));
}

std::string heatmap_row_png(const Tensor& maps, const std::string& title, const std::string& prefix, int cell_px) {
    if (maps.dim() != 3) throw Error(ErrorKind::Argument, "", "heatmaps", "expected [n, h, w], got " + shape_str(maps.shape));
    const int n = static_cast<int>(maps.size(0)), h = static_cast<int>(maps.size(1)), w = static_cast<int>(maps.size(2));
    const Range r = finite_range(maps.ptr(), maps.data.size(), {});
    const int gap = 8, lab = 16;
    cv::Mat body(h * cell_px + lab, n * (w * cell_px + gap) - gap, CV_8UC3, kWhite);
    for (int i = 0; i < n; ++i) {
        const cv::Mat tile = colourise(maps.ptr() + static_cast<size_t>(i) * h * w, h, w, cell_px, r);
        const int x = i * (w * cell_px + gap);
        tile.copyTo(body(cv::Rect(x, lab, tile.cols, tile.rows)));
        text(body, prefix + " " + std::to_string(i), {x, 12});
    }
    return encode(compose(body, title, colour_bar(body.rows - lab, r, "")));
}

std::string overlay_png(const ImageRGB8& image, const Tensor& map, const std::string& title, double alpha) {
    if (map.dim() != 2 || map.size(0) != image.height || map.size(1) != image.width)
        throw Error(ErrorKind::Argument, "", "overlay", "map " + shape_str(map.shape) + " does not match the image " + std::to_string(image.width) + "×" + std::to_string(image.height));
    const Range r = finite_range(map.ptr(), map.data.size(), {});
    cv::Mat body(image.height, image.width, CV_8UC3);
    for (int y = 0; y < image.height; ++y)
        for (int x = 0; x < image.width; ++x) {
            const uint8_t* px = image.data.data() + (static_cast<size_t>(y) * image.width + x) * 3;
            cv::Vec3b out(px[2], px[1], px[0]);
            const float v = map.data[static_cast<size_t>(y) * image.width + x];
            if (std::isfinite(v)) {
                const cv::Vec3b c = viridis(v, r);
                for (int k = 0; k < 3; ++k) out[k] = static_cast<uint8_t>(std::lround((1 - alpha) * out[k] + alpha * c[k]));
            }
            body.at<cv::Vec3b>(y, x) = out;
        }
    return encode(compose(body, title, colour_bar(body.rows, r, "")));
}

std::string pos_similarity_png(const Tensor& sim, int grid_h, int grid_w) {
    const Tensor tiles = similarity_tiles(sim, grid_h, grid_w, 1);
    const int cell = std::max(1, 420 / static_cast<int>(std::max(tiles.size(0), tiles.size(1))));
    const Range r{-1, 1};
    const cv::Mat grid = colourise(tiles.ptr(), static_cast<int>(tiles.size(0)), static_cast<int>(tiles.size(1)), cell, r, kWhite);
    const cv::Mat ytitle = vertical_text("Input patch row");
    const int left = ytitle.cols + 26, bottom = 40;
    cv::Mat body(grid.rows + bottom, grid.cols + left, CV_8UC3, kWhite);
    grid.copyTo(body(cv::Rect(left, 0, grid.cols, grid.rows)));
    ytitle.copyTo(body(cv::Rect(0, std::max(0, (grid.rows - ytitle.rows) / 2), ytitle.cols, std::min(ytitle.rows, body.rows))));
    const int step_y = (grid_h + 1) * cell, step_x = (grid_w + 1) * cell; // tile pitch
    const int every_y = grid_h > 16 ? 2 : 1, every_x = grid_w > 16 ? 2 : 1;
    for (int i = 0; i < grid_h; i += every_y) text(body, std::to_string(i + 1), {ytitle.cols + 2, i * step_y + grid_h * cell / 2 + 4}, 0.35);
    for (int j = 0; j < grid_w; j += every_x) {
        const std::string s = std::to_string(j + 1);
        text(body, s, {left + j * step_x + (grid_w * cell - text_width(s, 0.35)) / 2, grid.rows + 14}, 0.35);
    }
    text(body, "Input patch column", {left + (grid.cols - text_width("Input patch column", 0.45)) / 2, grid.rows + 34}, 0.45);
    return encode(compose(body, "Position embedding similarity", colour_bar(grid.rows, r, "Cosine similarity")));
}

std::string filters_png(const Tensor& axes, int cols) {
    if (axes.dim() != 4 || axes.size(1) != 3) throw Error(ErrorKind::Argument, "", "filters", "expected [k, 3, P, P], got " + shape_str(axes.shape));
    const int k = static_cast<int>(axes.size(0)), P = static_cast<int>(axes.size(2)), F = 3 * P * P;
    const int cell = std::max(1, 48 / P), tile = P * cell, gap = 4, rows = (k + cols - 1) / cols;
    cv::Mat body(rows * (tile + gap) - gap, std::min(k, cols) * (tile + gap) - gap, CV_8UC3, kWhite);
    for (int i = 0; i < k; ++i) {
        const float* a = axes.ptr() + static_cast<size_t>(i) * F;
        const auto [lo, hi] = std::minmax_element(a, a + F);
        const double span = *hi > *lo ? *hi - *lo : 1.0;
        cv::Mat t(P, P, CV_8UC3);
        for (int y = 0; y < P; ++y)
            for (int x = 0; x < P; ++x)
                for (int c = 0; c < 3; ++c) // RGB planes → BGR pixels
                    t.at<cv::Vec3b>(y, x)[2 - c] = static_cast<uint8_t>(std::lround(255.0 * (a[(c * P + y) * P + x] - *lo) / span));
        cv::resize(t, t, {tile, tile}, 0, 0, cv::INTER_NEAREST);
        t.copyTo(body(cv::Rect((i % cols) * (tile + gap), (i / cols) * (tile + gap), tile, tile)));
    }
    return encode(compose(body, "RGB embedding filters (first " + std::to_string(k) + " principal components)", cv::Mat(1, 1, CV_8UC3, kWhite)));
}

std::string distance_scatter_png(const std::vector<std::vector<double>>& v, const std::string& title, double y_max) {
    const int L = static_cast<int>(v.size()), pw = 420, ph = 300, left = 70, top = 34, right = 90;
    for (const auto& l : v)
        for (double d : l) y_max = std::max(y_max, d);
    const double step = y_max > 200 ? 50.0 : y_max > 1 ? 20.0 : 0.2;
    y_max = y_max > 0 ? std::ceil(y_max / step) * step : 1.0;
    cv::Mat m(top + ph + 50, left + pw + right, CV_8UC3, kWhite);
    cv::rectangle(m, {left, top}, {left + pw, top + ph}, kInk);
    auto px = [&](double layer) { return left + static_cast<int>(std::lround((layer + 0.5) * pw / std::max(1, L))); };
    auto py = [&](double d) { return top + ph - static_cast<int>(std::lround(d / y_max * ph)); };
    for (double t = 0; t <= y_max + 1e-9; t += step) {
        cv::line(m, {left - 4, py(t)}, {left, py(t)}, kInk);
        text(m, fmt(t), {left - 8 - text_width(fmt(t), 0.35), py(t) + 4}, 0.35);
    }
    for (int l = 0; l < L; ++l) {
        cv::line(m, {px(l), top + ph}, {px(l), top + ph + 4}, kInk);
        text(m, std::to_string(l), {px(l) - text_width(std::to_string(l), 0.35) / 2, top + ph + 16}, 0.35);
    }
    int n_heads = 0;
    for (const auto& l : v) n_heads = std::max<int>(n_heads, static_cast<int>(l.size()));
    for (int h = 0; h < n_heads; ++h) {
        cv::Mat hue(1, 1, CV_8UC3, cv::Scalar(180.0 * h / std::max(1, n_heads), 200, 210)), bgr;
        cv::cvtColor(hue, bgr, cv::COLOR_HSV2BGR);
        const cv::Vec3b c = bgr.at<cv::Vec3b>(0, 0);
        const cv::Scalar col(c[0], c[1], c[2]);
        for (int l = 0; l < L; ++l)
            if (h < static_cast<int>(v[l].size())) cv::circle(m, {px(l), py(v[l][h])}, 4, col, cv::FILLED, cv::LINE_AA);
        if (n_heads <= 16) {
            cv::circle(m, {left + pw + 14, top + 10 + 16 * h}, 4, col, cv::FILLED, cv::LINE_AA);
            text(m, "head " + std::to_string(h), {left + pw + 22, top + 14 + 16 * h}, 0.35);
        }
    }
    text(m, "Network depth (layer)", {left + (pw - text_width("Network depth (layer)", 0.45)) / 2, top + ph + 38}, 0.45);
    const cv::Mat yt = vertical_text("Mean attention distance (pixels)");
    if (yt.rows <= ph) yt.copyTo(m(cv::Rect(4, top + (ph - yt.rows) / 2, yt.cols, yt.rows)));
    text(m, title, {10, 20}, 0.5);
    return encode(m);
}

// ---- token analyses (core/analysis/tokens): additions, the functions above are unchanged ----

std::string marked_heatmap_png(const Tensor& map, const std::vector<std::pair<int, int>>& marks, const std::string& title,
                               int cell_px, const std::string& bar_label) {
    if (map.dim() != 2) throw Error(ErrorKind::Argument, "", "heatmap", "expected [h, w], got " + shape_str(map.shape));
    const int h = static_cast<int>(map.size(0)), w = static_cast<int>(map.size(1));
    const Range r = finite_range(map.ptr(), map.data.size(), {});
    cv::Mat body = colourise(map.ptr(), h, w, cell_px, r);
    for (const auto& [y, x] : marks) {
        if (y < 0 || y >= h || x < 0 || x >= w) continue;
        const cv::Rect cell(x * cell_px, y * cell_px, cell_px, cell_px);
        cv::rectangle(body, cell, cv::Scalar(0, 0, 255), std::max(1, cell_px / 8)); // red (BGR)
    }
    return encode(compose(body, title, colour_bar(body.rows, r, bar_label)));
}

std::string rgb_grid_png(const Tensor& rgb, const std::string& title, int cell_px) {
    if (rgb.dim() != 3 || rgb.size(2) != 3) throw Error(ErrorKind::Argument, "", "rgb", "expected [h, w, 3], got " + shape_str(rgb.shape));
    const int h = static_cast<int>(rgb.size(0)), w = static_cast<int>(rgb.size(1));
    cv::Mat body(h * cell_px, w * cell_px, CV_8UC3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const float* p = rgb.ptr() + (static_cast<size_t>(y) * w + x) * 3;
            auto u8 = [](float v) { return std::isfinite(v) ? static_cast<double>(std::lround(255.0 * std::clamp(v, 0.0f, 1.0f))) : 200.0; };
            body(cv::Rect(x * cell_px, y * cell_px, cell_px, cell_px)).setTo(cv::Scalar(u8(p[2]), u8(p[1]), u8(p[0])));
        }
    return encode(compose(body, title, cv::Mat(1, 1, CV_8UC3, kWhite)));
}

void write_png(const std::string& path, const std::string& png) { write_file_atomic(path, png); }

} // namespace attnscope::analysis
