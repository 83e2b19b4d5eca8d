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

const cv::Scalar kInk(30, 30, 30), kMuted(110, 110, 110), kWhite(255, 255, 255), kNan(200, 200, 200),
    kGridLine(228, 228, 228), kDropped(232, 232, 232);
constexpr int kFont = cv::FONT_HERSHEY_DUPLEX;
constexpr double kText = 0.5, kSmall = 0.44, kTitle = 0.62; // Hershey scales: ~11, ~10, ~14 px capitals
constexpr int kMargin = 16;

enum class Align { Left, Centre, Right };

cv::Scalar bgr(uint32_t rgb) { return {double(rgb & 255), double((rgb >> 8) & 255), double((rgb >> 16) & 255)}; }

int text_width(const std::string& s, double scale = kText) {
    int base = 0;
    return cv::getTextSize(s, kFont, scale, 1, &base).width;
}
int text_height(double scale = kText) {
    int base = 0;
    return cv::getTextSize("0A", kFont, scale, 1, &base).height;
}

// `s` with its vertical centre at y, aligned at x.
void label(cv::Mat& m, const std::string& s, int x, int y, Align a = Align::Left, double scale = kText,
           cv::Scalar colour = kInk) {
    const int w = text_width(s, scale);
    const int x0 = a == Align::Left ? x : a == Align::Centre ? x - w / 2 : x - w;
    cv::putText(m, s, {x0, y + text_height(scale) / 2}, kFont, scale, colour, 1, cv::LINE_AA);
}

// Text rotated 90° counter-clockwise (vertical axis titles), on white.
cv::Mat vertical_text(const std::string& s, double scale = kText) {
    const int h = text_height(scale) + 8;
    cv::Mat m(h, text_width(s, scale) + 4, CV_8UC3, kWhite), r;
    label(m, s, 2, h / 2, Align::Left, scale);
    cv::rotate(m, r, cv::ROTATE_90_COUNTERCLOCKWISE);
    return r;
}

void paste(cv::Mat& dst, const cv::Mat& src, int x, int y) {
    const cv::Rect r = cv::Rect(x, y, src.cols, src.rows) & cv::Rect(0, 0, dst.cols, dst.rows);
    if (r.area() > 0) src(cv::Rect(r.x - x, r.y - y, r.width, r.height)).copyTo(dst(r));
}

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

// A colour bar: the strip `height` px tall starting `kBarPad` px below the Mat's top, round ticks on its
// right (nice_ticks: 0.01 0.02 …, as the GUI's), `title` rotated on the far right.
constexpr int kBarPad = 10;
cv::Mat colour_bar(int height, Range r, const std::string& title) {
    height = std::max(height, 60);
    const int w = 20;
    const Ticks ticks = nice_ticks(r.lo, r.hi, std::clamp(height / 45, 2, 6));
    std::vector<std::string> labels;
    int text_w = 0;
    for (double v : ticks.values) {
        labels.push_back(tick_label(v, ticks.step));
        text_w = std::max(text_w, text_width(labels.back(), kSmall));
    }
    if (ticks.values.empty()) text_w = text_width(fmt(r.lo), kSmall);
    const cv::Mat vt = title.empty() ? cv::Mat() : vertical_text(title, kSmall);
    cv::Mat m(height + 2 * kBarPad, w + 8 + text_w + (vt.empty() ? 4 : vt.cols + 10), CV_8UC3, kWhite);
    for (int y = 0; y < height; ++y) {
        const cv::Vec3b c = viridis(r.hi - (r.hi - r.lo) * y / std::max(1, height - 1), r);
        cv::line(m, {0, y + kBarPad}, {w - 1, y + kBarPad}, cv::Scalar(c[0], c[1], c[2]));
    }
    cv::rectangle(m, {0, kBarPad}, {w - 1, kBarPad + height - 1}, kInk);
    for (size_t i = 0; i < ticks.values.size(); ++i) {
        const int y = kBarPad + height - 1 - int(std::lround((ticks.values[i] - r.lo) / (r.hi - r.lo) * (height - 1)));
        cv::line(m, {w, y}, {w + 4, y}, kInk);
        label(m, labels[i], w + 8, y, Align::Left, kSmall);
    }
    if (ticks.values.empty()) label(m, fmt(r.lo), w + 8, kBarPad + height / 2, Align::Left, kSmall); // a constant map
    if (!vt.empty()) paste(m, vt, m.cols - vt.cols, kBarPad + (height - vt.rows) / 2);
    return m;
}

// Canvas: title on top, `body` below it, `bar` to its right with its strip level with body row `bar_top`.
cv::Mat compose(const cv::Mat& body, const std::string& title, const cv::Mat& bar, int bar_top = 0) {
    const int top = title.empty() ? kMargin : kMargin + text_height(kTitle) + 16;
    const int bar_x = kMargin + body.cols + (bar.empty() ? 0 : 18);
    const int W = std::max(bar_x + (bar.empty() ? 0 : bar.cols) + kMargin, 2 * kMargin + text_width(title, kTitle));
    const int H = top + std::max(body.rows, bar.empty() ? 0 : bar_top + bar.rows - kBarPad) + kMargin;
    cv::Mat m(H, W, CV_8UC3, kWhite);
    paste(m, body, kMargin, top);
    if (!bar.empty()) paste(m, bar, bar_x, top + bar_top - kBarPad);
    if (!title.empty()) label(m, title, kMargin, kMargin + text_height(kTitle) / 2 + 2, Align::Left, kTitle);
    return m;
}

std::string encode(const cv::Mat& m) {
    std::vector<uint8_t> buf;
    if (!cv::imencode(".png", m, buf)) throw Error(ErrorKind::Io, "", "png", "OpenCV could not encode the PNG");
    return std::string(buf.begin(), buf.end());
}

// Every how many indices a label fits when they are `pitch` px apart and need `need` px each.
int label_every(int pitch, int need) {
    for (int step : {1, 2, 5, 10, 20, 50, 100})
        if (step * pitch >= need) return step;
    return 200;
}

// `grid` (cells `cell` px) with 0-based index ticks and axis titles left and below.
cv::Mat with_index_axes(const cv::Mat& grid, int rows, int cols, int cell, const HeatmapAxes& axes, int& grid_x) {
    const cv::Mat yt = axes.y_label.empty() ? cv::Mat() : vertical_text(axes.y_label);
    const int tick_w = axes.index_ticks ? text_width(std::to_string(std::max(rows - 1, 0)), kSmall) + 10 : 0;
    grid_x = (yt.empty() ? 0 : yt.cols + 6) + tick_w;
    const int below = (axes.index_ticks ? text_height(kSmall) + 12 : 0) + (axes.x_label.empty() ? 0 : text_height() + 14);
    cv::Mat m(grid.rows + below, grid_x + grid.cols, CV_8UC3, kWhite);
    paste(m, grid, grid_x, 0);
    if (!yt.empty()) paste(m, yt, 0, std::max(0, (grid.rows - yt.rows) / 2));
    if (axes.index_ticks) {
        const int ey = label_every(cell, text_height(kSmall) + 6), ex = label_every(cell, text_width(std::to_string(cols - 1), kSmall) + 8);
        for (int r = 0; r < rows; r += ey) label(m, std::to_string(r), grid_x - 6, r * cell + cell / 2, Align::Right, kSmall);
        for (int c = 0; c < cols; c += ex)
            label(m, std::to_string(c), grid_x + c * cell + cell / 2, grid.rows + 6 + text_height(kSmall) / 2, Align::Centre, kSmall);
    }
    if (!axes.x_label.empty())
        label(m, axes.x_label, grid_x + grid.cols / 2, m.rows - text_height() / 2 - 4, Align::Centre);
    return m;
}

} // namespace

std::string heatmap_png(const Tensor& map, const std::string& title, int cell_px, Range range, const std::string& bar_label,
                        const HeatmapAxes& axes) {
    if (map.dim() != 2) throw Error(ErrorKind::Argument, "", "heatmap", "expected [h, w], got " + shape_str(map.shape));
    const Range r = finite_range(map.ptr(), map.data.size(), range);
    const int h = static_cast<int>(map.size(0)), w = static_cast<int>(map.size(1));
    const cv::Mat grid = colourise(map.ptr(), h, w, cell_px, r);
    int grid_x = 0;
    const cv::Mat body = with_index_axes(grid, h, w, cell_px, axes, grid_x);
    return encode(compose(body, title, colour_bar(grid.rows, r, bar_label)));
}

std::string heatmap_row_png(const Tensor& maps, const std::string& title, const std::string& prefix, int cell_px) {
    if (maps.dim() != 3) throw Error(ErrorKind::Argument, "", "heatmaps", "expected [n, h, w], got " + shape_str(maps.shape));
    const int n = static_cast<int>(maps.size(0)), h = static_cast<int>(maps.size(1)), w = static_cast<int>(maps.size(2));
    const Range r = finite_range(maps.ptr(), maps.data.size(), {});
    const int gap = 10, lab = text_height() + 12, tile_w = w * cell_px, tile_h = h * cell_px;
    const int cols = std::min(n, std::max(1, 1400 / std::max(1, tile_w + gap))), rows = (n + cols - 1) / std::max(1, cols);
    cv::Mat body(rows * (lab + tile_h + gap) - gap, std::max(1, cols) * (tile_w + gap) - gap, CV_8UC3, kWhite);
    for (int i = 0; i < n; ++i) {
        const int x = (i % cols) * (tile_w + gap), y = (i / cols) * (lab + tile_h + gap);
        colourise(maps.ptr() + static_cast<size_t>(i) * h * w, h, w, cell_px, r).copyTo(body(cv::Rect(x, y + lab, tile_w, tile_h)));
        label(body, prefix + " " + std::to_string(i), x, y + lab / 2 - 1);
    }
    return encode(compose(body, title, colour_bar(body.rows, r, "")));
}

std::string masks_png(const Tensor& masks, const std::string& title, int cell_px) {
    if (masks.dim() != 3) throw Error(ErrorKind::Argument, "", "masks", "expected [n, h, w], got " + shape_str(masks.shape));
    const int n = static_cast<int>(masks.size(0)), h = static_cast<int>(masks.size(1)), w = static_cast<int>(masks.size(2));
    const int gap = 14, head_label = text_height() + 12, tile_w = w * cell_px, tile_h = h * cell_px;
    const int cols = n <= 4 ? n : (n + 1) / 2, rows = (n + cols - 1) / std::max(1, cols);
    const int legend_h = text_height() + 22;
    cv::Mat body(rows * (head_label + tile_h + gap) + legend_h, std::max(1, cols) * (tile_w + gap) - gap, CV_8UC3, kWhite);
    for (int i = 0; i < n; ++i) {
        const int x = (i % cols) * (tile_w + gap), y = (i / cols) * (head_label + tile_h + gap);
        const cv::Scalar colour = bgr(head_colour(i));
        const float* m = masks.ptr() + static_cast<size_t>(i) * h * w;
        int kept = 0;
        for (int yy = 0; yy < h; ++yy)
            for (int xx = 0; xx < w; ++xx) {
                const bool on = m[yy * w + xx] != 0.0f;
                kept += on;
                body(cv::Rect(x + xx * cell_px, y + head_label + yy * cell_px, cell_px, cell_px)).setTo(on ? colour : kDropped);
            }
        cv::rectangle(body, {x, y + head_label}, {x + tile_w - 1, y + head_label + tile_h - 1}, kMuted);
        label(body, "head " + std::to_string(i) + "  (" + std::to_string(kept) + " of " + std::to_string(h * w) + ")", x,
              y + head_label / 2 - 1);
    }
    // Legend: what the two colours mean.
    const int ly = body.rows - legend_h / 2;
    cv::rectangle(body, {0, ly - 7}, {14, ly + 7}, bgr(head_colour(0)), cv::FILLED);
    label(body, "kept (in head colour)", 22, ly);
    const int x2 = 22 + text_width("kept (in head colour)") + 24;
    cv::rectangle(body, {x2, ly - 7}, {x2 + 14, ly + 7}, kDropped, cv::FILLED);
    cv::rectangle(body, {x2, ly - 7}, {x2 + 14, ly + 7}, kMuted);
    label(body, "dropped", x2 + 22, ly);
    return encode(compose(body, title, cv::Mat()));
}

std::string overlay_png(const ImageRGB8& image, const Tensor& map, const std::string& title, double opacity,
                        const std::string& bar_label) {
    if (map.dim() != 2 || map.size(0) != image.height || map.size(1) != image.width)
        throw Error(ErrorKind::Argument, "", "overlay", "map " + shape_str(map.shape) + " does not match the image " + std::to_string(image.width) + "×" + std::to_string(image.height));
    const Range r = finite_range(map.ptr(), map.data.size(), {});
    cv::Mat body(image.height, image.width, CV_8UC3);
    for (int y = 0; y < image.height; ++y)
        for (int x = 0; x < image.width; ++x) {
            const uint8_t* px = image.data.data() + (static_cast<size_t>(y) * image.width + x) * 3;
            cv::Vec3b out(px[2], px[1], px[0]);
            const float v = map.data[static_cast<size_t>(y) * image.width + x];
            if (std::isfinite(v)) { // the GUI's default: alpha from value, so low attention leaves the photo as it is
                const double a = opacity * colormap_index(v, r.lo, r.hi) / 255.0;
                const cv::Vec3b c = viridis(v, r);
                for (int k = 0; k < 3; ++k) out[k] = static_cast<uint8_t>(std::lround((1 - a) * out[k] + a * c[k]));
            } else {
                out = out * 0.55; // what the model never saw, dimmed as the GUI does
            }
            body.at<cv::Vec3b>(y, x) = out;
        }
    const int longer = std::max(body.cols, body.rows);
    if (longer < 480 || longer > 960) { // a readable size: 480…960 px on the longer side
        const double s = longer < 480 ? 480.0 / longer : 960.0 / longer;
        cv::resize(body, body, {}, s, s, s > 1 ? cv::INTER_CUBIC : cv::INTER_AREA);
    }
    return encode(compose(body, title, colour_bar(body.rows, r, bar_label)));
}

std::string pos_similarity_png(const Tensor& sim, int grid_h, int grid_w) {
    const Tensor tiles = similarity_tiles(sim, grid_h, grid_w, 1);
    const int cell = std::max(1, 640 / static_cast<int>(std::max(tiles.size(0), tiles.size(1))));
    const Range r{-1, 1};
    const cv::Mat grid = colourise(tiles.ptr(), static_cast<int>(tiles.size(0)), static_cast<int>(tiles.size(1)), cell, r, kWhite);
    const cv::Mat ytitle = vertical_text("Input patch row");
    const int tick_w = text_width(std::to_string(grid_h - 1), kSmall) + 10;
    const int left = ytitle.cols + 6 + tick_w, bottom = text_height(kSmall) + text_height() + 30;
    cv::Mat body(grid.rows + bottom, grid.cols + left, CV_8UC3, kWhite);
    paste(body, grid, left, 0);
    paste(body, ytitle, 0, std::max(0, (grid.rows - ytitle.rows) / 2));
    const int step_y = (grid_h + 1) * cell, step_x = (grid_w + 1) * cell; // tile pitch
    const int every_y = label_every(step_y, text_height(kSmall) + 4), every_x = label_every(step_x, text_width("00", kSmall) + 6);
    for (int i = 0; i < grid_h; i += every_y) label(body, std::to_string(i), left - 6, i * step_y + grid_h * cell / 2, Align::Right, kSmall);
    for (int j = 0; j < grid_w; j += every_x)
        label(body, std::to_string(j), left + j * step_x + grid_w * cell / 2, grid.rows + 8 + text_height(kSmall) / 2, Align::Centre, kSmall);
    label(body, "Input patch column", left + grid.cols / 2, body.rows - text_height() / 2 - 4, Align::Centre);
    return encode(compose(body, "Position embedding similarity", colour_bar(grid.rows, r, "Cosine similarity")));
}

std::string filters_png(const Tensor& axes, int cols, const std::vector<double>& share) {
    if (axes.dim() != 4 || axes.size(1) != 3) throw Error(ErrorKind::Argument, "", "filters", "expected [k, 3, P, P], got " + shape_str(axes.shape));
    const int k = static_cast<int>(axes.size(0)), P = static_cast<int>(axes.size(2)), F = 3 * P * P;
    const int cell = std::max(1, 72 / P), tile = P * cell, gap = 10, cap = text_height(kSmall) + 10;
    const int rows = (k + cols - 1) / cols;
    cv::Mat body(rows * (tile + cap + gap) - gap, std::max(std::min(k, cols) * (tile + gap) - gap, 1), CV_8UC3, kWhite);
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
        const int x = (i % cols) * (tile + gap), y = (i / cols) * (tile + cap + gap);
        paste(body, t, x, y);
        char s[48];
        if (i < static_cast<int>(share.size())) std::snprintf(s, sizeof s, "%d  %.1f%%", i, 100 * share[static_cast<size_t>(i)]);
        else std::snprintf(s, sizeof s, "%d", i);
        label(body, s, x + tile / 2, y + tile + cap / 2 + 1, Align::Centre, kSmall);
    }
    return encode(compose(body, "RGB embedding filters (first " + std::to_string(k) + " principal components" +
                                    (share.empty() ? ")" : ", share of variance)"), cv::Mat()));
}

std::string distance_scatter_png(const std::vector<std::vector<double>>& v, const std::string& title, double y_max) {
    const int L = static_cast<int>(v.size());
    int n_heads = 0;
    for (const auto& l : v) n_heads = std::max<int>(n_heads, static_cast<int>(l.size()));
    for (const auto& l : v)
        for (double d : l) y_max = std::max(y_max, d);
    const Ticks yt = nice_ticks(0, y_max > 0 ? y_max * 1.05 : 1.0, 6);
    const double y_top = yt.values.empty() ? 1.0 : std::max(y_max * 1.05, yt.values.back());
    // Legend: one column per 8 heads, to the right of the plot.
    const int legend_cols = (n_heads + 7) / 8, legend_col_w = text_width("head 00", kSmall) + 28;
    const int pw = 640, ph = 400, top = text_height(kTitle) + 2 * kMargin + 4;
    const cv::Mat ylab = vertical_text("Mean attention distance (pixels)");
    const int left = kMargin + ylab.cols + 8 + text_width(tick_label(y_top, yt.step), kSmall) + 10;
    const int right = kMargin + 16 + legend_cols * legend_col_w;
    cv::Mat m(top + ph + text_height(kSmall) + text_height() + 34 + kMargin, left + pw + right, CV_8UC3, kWhite);
    auto px = [&](double layer) { return left + static_cast<int>(std::lround((layer + 0.5) * pw / std::max(1, L))); };
    auto py = [&](double d) { return top + ph - static_cast<int>(std::lround(d / y_top * ph)); };
    for (double t : yt.values) { // dotted grid lines and round ticks
        for (int x = left; x < left + pw; x += 6) cv::line(m, {x, py(t)}, {std::min(x + 2, left + pw), py(t)}, kGridLine);
        cv::line(m, {left - 5, py(t)}, {left, py(t)}, kInk);
        label(m, tick_label(t, yt.step), left - 9, py(t), Align::Right, kSmall);
    }
    const int every = label_every(pw / std::max(1, L), text_width("00", kSmall) + 8);
    for (int l = 0; l < L; ++l) {
        cv::line(m, {px(l), top + ph}, {px(l), top + ph + 5}, kInk);
        if (l % every == 0) label(m, std::to_string(l), px(l), top + ph + 12 + text_height(kSmall) / 2, Align::Centre, kSmall);
    }
    cv::rectangle(m, {left, top}, {left + pw, top + ph}, kInk);
    const double spread = std::min(0.6, 0.08 * n_heads) / std::max(1, n_heads - 1); // heads side by side within a layer
    for (int h = 0; h < n_heads; ++h) {
        const cv::Scalar col = bgr(head_colour(h));
        const double dx = n_heads > 1 ? (h - (n_heads - 1) / 2.0) * spread : 0.0;
        for (int l = 0; l < L; ++l)
            if (h < static_cast<int>(v[l].size()) && std::isfinite(v[l][h]))
                cv::circle(m, {px(l + dx), py(v[l][h])}, 5, col, cv::FILLED, cv::LINE_AA);
        const int lx = left + pw + 16 + (h / 8) * legend_col_w, ly = top + 10 + 22 * (h % 8);
        cv::circle(m, {lx + 5, ly}, 5, col, cv::FILLED, cv::LINE_AA);
        label(m, "head " + std::to_string(h), lx + 16, ly, Align::Left, kSmall);
    }
    label(m, "Network depth (layer)", left + pw / 2, m.rows - kMargin - text_height() / 2, Align::Centre);
    paste(m, ylab, kMargin, top + (ph - ylab.rows) / 2);
    label(m, title, kMargin, kMargin + text_height(kTitle) / 2 + 2, Align::Left, kTitle);
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
