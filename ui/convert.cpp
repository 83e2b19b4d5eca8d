#include "ui/convert.h"

#include "core/image/decode.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace attnscope::ui {
namespace {

} // namespace

QStringList colormapNames() {
    QStringList out;
    for (const std::string& n : analysis::colormap_names()) out << QString::fromStdString(n);
    return out;
}

Colormap colormapFromName(const QString& name) {
    Colormap cm = Colormap::Viridis;
    return analysis::colormap_from_name(name.toStdString(), cm) ? cm : Colormap::Viridis;
}

QString colormapName(Colormap cm) { return QString::fromLatin1(analysis::colormap_name(cm)); }

const std::array<QRgb, 256>& colormapLut(Colormap cm) {
    // core's table with an opaque alpha, so QImage can take the entries as they are
    static const auto luts = [] {
        std::array<std::array<QRgb, 256>, analysis::kColormapCount> all{};
        for (size_t c = 0; c < all.size(); ++c)
            for (size_t i = 0; i < 256; ++i) all[c][i] = 0xff000000u | analysis::colormap_lut(Colormap(c))[i];
        return all;
    }();
    return luts[size_t(cm)];
}

std::pair<float, float> valueRange(const float* v, size_t n) {
    if (n == 0) return {0.0f, 1.0f};
    const auto [lo, hi] = std::minmax_element(v, v + n);
    return {*lo, *hi};
}

QImage mapToImage(const float* values, int w, int h, float lo, float hi, Colormap cm, int alpha, bool fade) {
    QImage out(w, h, QImage::Format_ARGB32);
    const auto& lut = colormapLut(cm);
    for (int y = 0; y < h; ++y) {
        auto* row = reinterpret_cast<QRgb*>(out.scanLine(y));
        for (int x = 0; x < w; ++x) {
            const int i = analysis::colormap_index(values[size_t(y) * w + x], lo, hi);
            const QRgb c = lut[size_t(i)];
            row[x] = qRgba(qRed(c), qGreen(c), qBlue(c), fade ? (alpha * i + 127) / 255 : alpha);
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
