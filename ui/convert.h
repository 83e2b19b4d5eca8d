// The ONLY bridge between core data (ImageRGB8, float maps) and Qt images: colormaps, map → QImage.
#pragma once

#include "core/analysis/colormap.h"
#include "core/analysis/heads.h"
#include "core/image/image.h"

#include <QImage>
#include <QRectF>
#include <QString>
#include <QStringList>

#include <array>
#include <vector>

namespace attnscope::ui {

// core's colormaps (core/analysis/colormap.h): one table for the CLI's PNGs and the GUI.
using analysis::Colormap;

QStringList colormapNames();                       // "viridis", "inferno", ... in enum order
Colormap colormapFromName(const QString& name);    // unknown → Viridis
QString colormapName(Colormap cm);
const std::array<QRgb, 256>& colormapLut(Colormap cm); // core's table, opaque QRgb, index 0 = low

// Min and max of n values (0, 1 when empty).
std::pair<float, float> valueRange(const float* v, size_t n);

// w × h row-major values → ARGB32 image, value lo → LUT[0], hi → LUT[255] (analysis::colormap_index;
// NaN → LUT[0]) with `alpha`; fade: alpha × the value's place in lo…hi, so low values are transparent
// (the DINO / DETR figures' look: the image shows where attention is low).
QImage mapToImage(const float* values, int w, int h, float lo, float hi, Colormap cm, int alpha = 255, bool fade = false);
inline QImage mapToImage(const std::vector<float>& v, int w, int h, float lo, float hi, Colormap cm,
                         int alpha = 255, bool fade = false) {
    return mapToImage(v.data(), w, h, lo, hi, cm, alpha, fade);
}
// A colour-bar strip: vertical has the high end on top.
QImage colorBarImage(Colormap cm, int w, int h, bool vertical = true);

// A planar [3, h, w] RGB array (e.g. a patch-embedding filter) as an opaque image, all three
// channels scaled together from their joint min…max to 0…255 (a constant array is mid grey).
QImage planarRgbToImage(const float* chw, int w, int h);

// core's rectangle (original-image pixels) as Qt's.
inline QRectF toQRectF(const analysis::RectD& r) { return {r.x, r.y, r.w, r.h}; }

// Pixels both ways (deep copies).
QImage toQImage(const ImageRGB8& img);
// What the views draw: the image itself, or for a huge one a smooth downscale whose longer side is
// maxSide (the full-resolution pixels stay in the Document for inference and geometry).
inline constexpr int kMaxDisplaySide = 4096;
QImage toDisplayQImage(const ImageRGB8& img, int maxSide = kMaxDisplaySide);
ImageRGB8 fromQImage(const QImage& img);

} // namespace attnscope::ui
