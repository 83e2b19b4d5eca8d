// Pillow-exact resampling. Mirrors Pillow 9.x src/libImaging/Resample.c (8-bit path) and, for NEAREST,
// _imaging.c _resize → ImagingTransform(AFFINE) → ImagingScaleAffine in Geometry.c.
// Contraction of a*b+c into FMA would change the coefficients: keep it off whatever the dialect.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#else
#pragma GCC optimize("fp-contract=off")
#endif

#include "core/image/resample.h"

#include "core/error.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace attnscope {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2; // PRECISION_BITS

// Pillow's filters, same constants and float/double mix (0.54f, 0.46f) as Resample.c.
double box_filter(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }
double bilinear_filter(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}
double hamming_filter(double x) {
    if (x < 0.0) x = -x;
    if (x == 0.0) return 1.0;
    if (x >= 1.0) return 0.0;
    x = x * M_PI;
    return std::sin(x) / x * (0.54f + 0.46f * std::cos(x));
}
double bicubic_filter(double x) {
    constexpr double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}
double sinc_filter(double x) {
    if (x == 0.0) return 1.0;
    x = x * M_PI;
    return std::sin(x) / x;
}
double lanczos_filter(double x) {
    return (-3.0 <= x && x < 3.0) ? sinc_filter(x) * sinc_filter(x / 3) : 0.0;
}

struct Filter {
    double (*fn)(double);
    double support;
};

Filter filter_for(Resample r) {
    switch (r) {
    case Resample::Box: return {box_filter, 0.5};
    case Resample::Bilinear: return {bilinear_filter, 1.0};
    case Resample::Hamming: return {hamming_filter, 1.0};
    case Resample::Bicubic: return {bicubic_filter, 2.0};
    case Resample::Lanczos: return {lanczos_filter, 3.0};
    case Resample::Nearest: break;
    }
    throw Error(ErrorKind::Argument, "", "resample", "nearest has no convolution filter");
}

// Per output index: first source index, tap count, and ksize fixed-point weights.
struct Coeffs {
    int ksize = 0;
    std::vector<int> bounds; // [xmin, count] per output index
    std::vector<int32_t> k;  // out_size × ksize
};

// precompute_coeffs + normalize_coeffs_8bpc (box = [0, in_size)).
Coeffs precompute_coeffs(int in_size, int out_size, const Filter& f) {
    const float in0 = 0.0f, in1 = static_cast<float>(in_size);
    double scale = static_cast<double>(in1 - in0) / out_size;
    const double filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = f.support * filterscale;
    Coeffs c;
    c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
    c.bounds.resize(static_cast<size_t>(out_size) * 2);
    c.k.assign(static_cast<size_t>(out_size) * c.ksize, 0);
    std::vector<double> w(static_cast<size_t>(c.ksize));
    for (int xx = 0; xx < out_size; ++xx) {
        const double center = in0 + (xx + 0.5) * scale;
        const double ss = 1.0 / filterscale;
        const int xmin = std::max(0, static_cast<int>(center - support + 0.5));
        const int xmax = std::min(in_size, static_cast<int>(center + support + 0.5)) - xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; ++x) {
            w[x] = f.fn((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t* k = &c.k[static_cast<size_t>(xx) * c.ksize];
        for (int x = 0; x < xmax; ++x) {
            const double v = ww != 0.0 ? w[x] / ww : w[x];
            // normalize_coeffs_8bpc: round half away from zero to 22 fraction bits
            k[x] = v < 0 ? static_cast<int32_t>(-0.5 + v * (1 << kPrecisionBits))
                         : static_cast<int32_t>(0.5 + v * (1 << kPrecisionBits));
        }
        c.bounds[xx * 2] = xmin;
        c.bounds[xx * 2 + 1] = xmax;
    }
    return c;
}

inline uint8_t clip8(int32_t in) {
    if (in >= (1 << kPrecisionBits << 8)) return 255;
    if (in <= 0) return 0;
    return static_cast<uint8_t>(in >> kPrecisionBits);
}

// ImagingResampleHorizontal_8bpc over source rows [row0, row0 + out.height).
void resample_horizontal(const ImageRGB8& in, ImageRGB8& out, int row0, const Coeffs& c) {
    for (int yy = 0; yy < out.height; ++yy) {
        const uint8_t* src = &in.data[static_cast<size_t>(yy + row0) * in.width * 3];
        uint8_t* dst = &out.data[static_cast<size_t>(yy) * out.width * 3];
        for (int xx = 0; xx < out.width; ++xx) {
            const int xmin = c.bounds[xx * 2], xmax = c.bounds[xx * 2 + 1];
            const int32_t* k = &c.k[static_cast<size_t>(xx) * c.ksize];
            int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
            for (int x = 0; x < xmax; ++x) {
                const uint8_t* p = src + (x + xmin) * 3;
                s0 += p[0] * k[x];
                s1 += p[1] * k[x];
                s2 += p[2] * k[x];
            }
            dst[xx * 3] = clip8(s0);
            dst[xx * 3 + 1] = clip8(s1);
            dst[xx * 3 + 2] = clip8(s2);
        }
    }
}

// ImagingResampleVertical_8bpc; `c.bounds` already shifted to `in`'s first row.
void resample_vertical(const ImageRGB8& in, ImageRGB8& out, const Coeffs& c) {
    const size_t stride = static_cast<size_t>(in.width) * 3;
    for (int yy = 0; yy < out.height; ++yy) {
        const int ymin = c.bounds[yy * 2], ymax = c.bounds[yy * 2 + 1];
        const int32_t* k = &c.k[static_cast<size_t>(yy) * c.ksize];
        uint8_t* dst = &out.data[yy * stride];
        for (size_t i = 0; i < stride; ++i) {
            int32_t s = 1 << (kPrecisionBits - 1);
            for (int y = 0; y < ymax; ++y) s += in.data[(y + ymin) * stride + i] * k[y];
            dst[i] = clip8(s);
        }
    }
}

ImageRGB8 blank(int w, int h) {
    ImageRGB8 im;
    im.width = w;
    im.height = h;
    im.data.assign(static_cast<size_t>(w) * h * 3, 0);
    return im;
}

// ImagingScaleAffine with a = [sx, 0, 0, 0, sy, 0]: centre sampling, coordinates accumulated in double.
ImageRGB8 resize_nearest(const ImageRGB8& in, int out_w, int out_h) {
    const double a0 = static_cast<double>(static_cast<float>(in.width)) / out_w;
    const double a4 = static_cast<double>(static_cast<float>(in.height)) / out_h;
    auto coord = [](double v) { return v < 0.0 ? -1 : static_cast<int>(v); };
    std::vector<int> xin(static_cast<size_t>(out_w), -1);
    double xo = 0.0 + a0 * 0.5;
    for (int x = 0; x < out_w; ++x, xo += a0) {
        const int xi = coord(xo);
        if (xi >= 0 && xi < in.width) xin[x] = xi;
    }
    ImageRGB8 out = blank(out_w, out_h);
    double yo = 0.0 + a4 * 0.5;
    for (int y = 0; y < out_h; ++y, yo += a4) {
        const int yi = coord(yo);
        if (yi < 0 || yi >= in.height) continue; // stays 0 (fill)
        for (int x = 0; x < out_w; ++x)
            if (xin[x] >= 0)
                std::memcpy(&out.data[(static_cast<size_t>(y) * out_w + x) * 3],
                            &in.data[(static_cast<size_t>(yi) * in.width + xin[x]) * 3], 3);
    }
    return out;
}

} // namespace

ImageRGB8 pil_resize(const ImageRGB8& in, int out_w, int out_h, Resample filter) {
    if (out_w <= 0 || out_h <= 0 || in.width <= 0 || in.height <= 0)
        throw Error(ErrorKind::Argument, "", "size",
                    "cannot resize " + std::to_string(in.width) + "x" + std::to_string(in.height) + " to " +
                        std::to_string(out_w) + "x" + std::to_string(out_h));
    if (out_w == in.width && out_h == in.height) return in; // Image.resize returns a copy
    if (filter == Resample::Nearest) return resize_nearest(in, out_w, out_h);

    const Filter f = filter_for(filter);
    const bool need_h = out_w != in.width, need_v = out_h != in.height;
    const Coeffs ch = precompute_coeffs(in.width, out_w, f);
    Coeffs cv = precompute_coeffs(in.height, out_h, f);
    const int first = cv.bounds[0];
    const int last = cv.bounds[out_h * 2 - 2] + cv.bounds[out_h * 2 - 1];

    ImageRGB8 tmp;
    const ImageRGB8* src = &in;
    if (need_h) { // only the rows the vertical pass reads
        for (int i = 0; i < out_h; ++i) cv.bounds[i * 2] -= first;
        tmp = blank(out_w, last - first);
        resample_horizontal(in, tmp, first, ch);
        if (!need_v) return tmp;
        src = &tmp;
    }
    ImageRGB8 out = blank(src->width, out_h);
    resample_vertical(*src, out, cv);
    return out;
}

ImageRGB8 crop(const ImageRGB8& in, int x, int y, int w, int h, uint8_t fill) {
    if (w <= 0 || h <= 0) throw Error(ErrorKind::Argument, "", "crop", "crop size must be positive");
    ImageRGB8 out = blank(w, h);
    if (fill) std::fill(out.data.begin(), out.data.end(), fill);
    const int x0 = std::max(x, 0), x1 = std::min(x + w, in.width);
    if (x1 <= x0) return out;
    for (int yy = std::max(y, 0); yy < std::min(y + h, in.height); ++yy)
        std::memcpy(&out.data[(static_cast<size_t>(yy - y) * w + (x0 - x)) * 3],
                    &in.data[(static_cast<size_t>(yy) * in.width + x0) * 3], static_cast<size_t>(x1 - x0) * 3);
    return out;
}

} // namespace attnscope
