#include "ui/convert.h"

#include "core/image/decode.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace attnscope::ui {
namespace {

// Evenly spaced anchors of matplotlib's perceptual maps (CC0, BIDS/colormap), linear in between.
constexpr unsigned kViridis[] = {0x440154, 0x472d7b, 0x3b528b, 0x2c728e, 0x21908c,
                                 0x27ad81, 0x5dc863, 0xaadc32, 0xfde725};
constexpr unsigned kInferno[] = {0x000004, 0x1b0c42, 0x4b0c6b, 0x781c6d, 0xa52c60,
                                 0xcf4446, 0xed6925, 0xfb9a06, 0xf7d03c, 0xfcffa4};
constexpr unsigned kCividis[] = {0x00204d, 0x00336f, 0x39486b, 0x575c6d, 0x707173,
                                 0x8a8779, 0xa69d75, 0xc4b56c, 0xe4cf5b, 0xffea46};
// magma at indices 0, 16, …, 240, 255 of the 256-entry table (float RGB).
constexpr float kMagma[][3] = {
    {0.001462f, 0.000466f, 0.013866f}, {0.039608f, 0.031090f, 0.133515f}, {0.113094f, 0.065492f, 0.276784f},
    {0.211718f, 0.061992f, 0.418647f}, {0.316654f, 0.071690f, 0.485380f}, {0.414709f, 0.110431f, 0.504662f},
    {0.512831f, 0.148179f, 0.507648f}, {0.613617f, 0.181811f, 0.498536f}, {0.716387f, 0.214982f, 0.475290f},
    {0.816914f, 0.255895f, 0.436461f}, {0.904281f, 0.319610f, 0.388137f}, {0.960949f, 0.418323f, 0.359630f},
    {0.986700f, 0.535582f, 0.382210f}, {0.996096f, 0.653659f, 0.446213f}, {0.996898f, 0.769591f, 0.534892f},
    {0.992440f, 0.884330f, 0.640099f}, {0.987053f, 0.991438f, 0.749504f}};

std::array<QRgb, 256> lerpHex(const unsigned* anchors, int n) {
    std::array<QRgb, 256> lut{};
    for (int i = 0; i < 256; ++i) {
        const double t = i / 255.0 * (n - 1);
        const int a = std::min(int(t), n - 2);
        const double f = t - a;
        auto ch = [&](int shift) {
            const double x = ((anchors[a] >> shift) & 255) * (1 - f) + ((anchors[a + 1] >> shift) & 255) * f;
            return int(std::lround(x));
        };
        lut[i] = qRgb(ch(16), ch(8), ch(0));
    }
    return lut;
}

std::array<QRgb, 256> magmaLut() {
    std::array<QRgb, 256> lut{};
    constexpr int idx[17] = {0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 255};
    for (int i = 0; i < 256; ++i) {
        int a = std::min(i / 16, 15);
        const double f = double(i - idx[a]) / (idx[a + 1] - idx[a]);
        auto ch = [&](int c) { return int(std::lround(255 * (kMagma[a][c] * (1 - f) + kMagma[a + 1][c] * f))); };
        lut[i] = qRgb(ch(0), ch(1), ch(2));
    }
    return lut;
}

std::array<QRgb, 256> jetLut() { // MATLAB jet: piecewise linear ramps
    std::array<QRgb, 256> lut{};
    for (int i = 0; i < 256; ++i) {
        const double t = i / 255.0;
        auto ramp = [&](double c) { return int(std::lround(255 * std::clamp(1.5 - std::abs(4 * t - c), 0.0, 1.0))); };
        lut[i] = qRgb(ramp(3), ramp(2), ramp(1));
    }
    return lut;
}

std::array<QRgb, 256> greyLut() {
    std::array<QRgb, 256> lut{};
    for (int i = 0; i < 256; ++i) lut[i] = qRgb(i, i, i);
    return lut;
}

} // namespace

QStringList colormapNames() { return {"viridis", "inferno", "magma", "cividis", "jet", "grey"}; }

Colormap colormapFromName(const QString& name) {
    const int i = colormapNames().indexOf(name.toLower());
    return i < 0 ? Colormap::Viridis : Colormap(i);
}

QString colormapName(Colormap cm) { return colormapNames().value(int(cm)); }

const std::array<QRgb, 256>& colormapLut(Colormap cm) {
    static const std::array<QRgb, 256> luts[] = {lerpHex(kViridis, 9), lerpHex(kInferno, 10), magmaLut(),
                                                 lerpHex(kCividis, 10), jetLut(), greyLut()};
    return luts[int(cm)];
}

std::pair<float, float> valueRange(const float* v, size_t n) {
    if (n == 0) return {0.0f, 1.0f};
    const auto [lo, hi] = std::minmax_element(v, v + n);
    return {*lo, *hi};
}

QImage mapToImage(const float* values, int w, int h, float lo, float hi, Colormap cm, int alpha) {
    QImage out(w, h, QImage::Format_ARGB32);
    const auto& lut = colormapLut(cm);
    const float scale = hi > lo ? 255.0f / (hi - lo) : 0.0f;
    for (int y = 0; y < h; ++y) {
        auto* row = reinterpret_cast<QRgb*>(out.scanLine(y));
        for (int x = 0; x < w; ++x) {
            const float v = values[size_t(y) * w + x];
            const int i = std::isfinite(v) ? std::clamp(int((v - lo) * scale + 0.5f), 0, 255) : 0;
            const QRgb c = lut[size_t(i)];
            row[x] = qRgba(qRed(c), qGreen(c), qBlue(c), alpha);
        }
    }
    return out;
}

QImage planarRgbToImage(const float* chw, int w, int h) {
    const size_t n = size_t(w) * h;
    const auto [lo, hi] = valueRange(chw, 3 * n);
    const float scale = hi > lo ? 255.0f / (hi - lo) : 0.0f;
    auto level = [&](float v) { return hi > lo ? std::clamp(int((v - lo) * scale + 0.5f), 0, 255) : 128; };
    QImage out(w, h, QImage::Format_RGB32);
    for (int y = 0; y < h; ++y) {
        auto* row = reinterpret_cast<QRgb*>(out.scanLine(y));
        for (int x = 0; x < w; ++x) {
            const size_t i = size_t(y) * w + x;
            row[x] = qRgb(level(chw[i]), level(chw[n + i]), level(chw[2 * n + i]));
        }
    }
    return out;
}

QImage colorBarImage(Colormap cm, int w, int h, bool vertical) {
    QImage out(w, h, QImage::Format_RGB32);
    const auto& lut = colormapLut(cm);
    for (int y = 0; y < h; ++y) {
        auto* row = reinterpret_cast<QRgb*>(out.scanLine(y));
        for (int x = 0; x < w; ++x) {
            const double t = vertical ? 1.0 - double(y) / std::max(1, h - 1) : double(x) / std::max(1, w - 1);
            row[x] = lut[size_t(std::lround(t * 255))];
        }
    }
    return out;
}

QImage toQImage(const ImageRGB8& img) {
    QImage out(img.width, img.height, QImage::Format_RGB888);
    for (int y = 0; y < img.height; ++y)
        std::memcpy(out.scanLine(y), img.data.data() + size_t(y) * img.width * 3, size_t(img.width) * 3);
    return out;
}

QImage toDisplayQImage(const ImageRGB8& img, int maxSide) {
    if (img.width <= maxSide && img.height <= maxSide) return toQImage(img);
    // Borrow the pixels (no full-size copy) and scale straight to the display size.
    const QImage view(img.data.data(), img.width, img.height, qsizetype(img.width) * 3, QImage::Format_RGB888);
    return view.scaled(maxSide, maxSide, Qt::KeepAspectRatio, Qt::SmoothTransformation);
}

ImageRGB8 fromQImage(const QImage& img) {
    const QImage rgb = img.convertToFormat(QImage::Format_RGB888);
    return image_from_pixels(rgb.constBits(), rgb.width(), rgb.height(), size_t(rgb.bytesPerLine()),
                             PixelLayout::RGB);
}

} // namespace attnscope::ui
