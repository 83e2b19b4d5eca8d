#include "core/image/preprocess.h"

#include "core/error.h"
#include "core/image/resample.h"

#include <cmath>

namespace attnscope {

namespace {


// Python's round() on a double: half to even.
int64_t py_round(double v) { return static_cast<int64_t>(std::nearbyint(v)); }

// The shorter side's target of HF DETR / YOLOS get_size_with_aspect_ratio: `size`, or when the longer side
// would pass max_size, raw = max_size·short/long (returned in raw, has_raw set) rounded.
int capped_size(int w, int h, int size, int max_size, double& raw, bool& has_raw) {
    raw = 0.0;
    has_raw = false;
    if (max_size > 0) {
        const double mn = std::min(h, w), mx = std::max(h, w);
        if (mx / mn * size > max_size) {
            raw = max_size * mn / mx;
            has_raw = true;
            size = static_cast<int>(py_round(raw));
        }
    }
    return size;
}

// HF DETR get_size_with_aspect_ratio((h, w), size, max_size) → (w, h).
std::pair<int, int> detr_size(int w, int h, int size, int max_size) {
    double raw;
    bool has_raw;
    size = capped_size(w, h, size, max_size, raw, has_raw);
    if ((h <= w && h == size) || (w <= h && w == size)) return {w, h};
    if (w < h) return {size, static_cast<int>(has_raw ? raw * h / w : static_cast<double>(size) * h / w)};
    return {static_cast<int>(has_raw ? raw * w / h : static_cast<double>(size) * w / h), size};
}

// HF YOLOS get_size_with_aspect_ratio((h, w), size, max_size, mod_size) → (w, h): DETR's rule with the
// portrait branch tested before the "already that size" one, then both sides floored to a multiple of mod.
std::pair<int, int> yolos_size(int w, int h, int size, int max_size, int mod) {
    double raw;
    bool has_raw;
    size = capped_size(w, h, size, max_size, raw, has_raw);
    int ow = 0, oh = 0;
    if (w < h) ow = size, oh = static_cast<int>(has_raw ? raw * h / w : static_cast<double>(size) * h / w);
    else if ((h <= w && h == size) || (w <= h && w == size)) ow = w, oh = h;
    else oh = size, ow = static_cast<int>(has_raw ? raw * w / h : static_cast<double>(size) * w / h);
    return {ow - ow % mod, oh - oh % mod};
}

} // namespace

std::pair<int, int> resized_size(int w, int h, const PreprocessSpec& spec) {
    using R = PreprocessSpec::Resize;
    switch (spec.resize) {
    case R::None: return {w, h};
    case R::Exact: return {spec.resize_w, spec.resize_h};
    case R::ShortestEdge: {
        const int s = spec.shortest_edge, shrt = std::min(w, h), lng = std::max(w, h);
        const int nl = static_cast<int>(static_cast<double>(int64_t(s) * lng) / shrt); // int(s * long / short)
        return w <= h ? std::pair{s, nl} : std::pair{nl, s};
    }
    case R::ShortestEdgeMaxLongest:
        if (spec.size_divisor > 0) return yolos_size(w, h, spec.shortest_edge, spec.longest_edge, spec.size_divisor);
        return detr_size(w, h, spec.shortest_edge, spec.longest_edge);
    }
    return {w, h};
}

int center_crop_offset(int size, int crop, PreprocessSpec::CropRounding rounding) {
    const bool floor = rounding == PreprocessSpec::CropRounding::Floor;
    if (size >= crop) return floor ? (size - crop) / 2 : static_cast<int>(py_round((size - crop) / 2.0));
    const int d = crop - size;
    return floor ? -((d + 1) / 2) : -(d / 2);
}

Tensor preprocess(const ImageRGB8& img, const PreprocessSpec& spec, PreprocessGeometry* geometry) {
    if (img.width <= 0 || img.height <= 0) throw Error(ErrorKind::Argument, "", "image", "empty image");
    const auto [rw, rh] = resized_size(img.width, img.height, spec);
    if (rw <= 0 || rh <= 0)
        throw Error(ErrorKind::Argument, "", "size", "resize target is " + std::to_string(rw) + "x" + std::to_string(rh));
    ImageRGB8 im = (rw == img.width && rh == img.height) ? img : pil_resize(img, rw, rh, spec.resample);
    int cx = 0, cy = 0;
    if (spec.center_crop) {
        if (spec.crop_w <= 0 || spec.crop_h <= 0) throw Error(ErrorKind::Argument, "", "crop_size", "must be positive");
        cx = center_crop_offset(rw, spec.crop_w, spec.crop_rounding);
        cy = center_crop_offset(rh, spec.crop_h, spec.crop_rounding);
        im = crop(im, cx, cy, spec.crop_w, spec.crop_h);
    }
    if (geometry) *geometry = {img.width, img.height, rw, rh, cx, cy, im.width, im.height};

    // One lookup table per channel: exactly HF's float32(float64(u8) · rescale), then (x − mean) / std in float32.
    std::array<std::array<float, 256>, 3> lut{};
    for (int c = 0; c < 3; ++c)
        for (int v = 0; v < 256; ++v) {
            const float x = static_cast<float>(static_cast<double>(v) * spec.rescale);
            lut[c][v] = (x - spec.mean[c]) / spec.std[c];
        }
    const int64_t plane = int64_t(im.width) * im.height;
    Tensor t(Shape{3, im.height, im.width});
    for (int64_t i = 0; i < plane; ++i)
        for (int c = 0; c < 3; ++c) t.data[c * plane + i] = lut[c][im.data[i * 3 + c]];
    return t;
}

} // namespace attnscope
