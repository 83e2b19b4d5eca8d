// The convolution tests' cases and references (test_detr: im2col + gemm; test_kernels_conv: oneDNN's
// direct convolutions): the data columns of one case, seeded normal data, and plain double-precision loops.
#pragma once

#include "core/tensor/conv.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace attnscope::testing {

// One convolution case of a data-driven test: add_conv_columns() in the _data slot, fetch_conv_case() in the test.
struct ConvCase {
    int c_in, c_out, k, stride, pad, dilation, h, w;
};
inline void add_conv_columns() {
    for (const char* c : {"c_in", "c_out", "k", "stride", "pad", "dilation", "h", "w"}) QTest::addColumn<int>(c);
}
inline ConvCase fetch_conv_case() {
    QFETCH(int, c_in);
    QFETCH(int, c_out);
    QFETCH(int, k);
    QFETCH(int, stride);
    QFETCH(int, pad);
    QFETCH(int, dilation);
    QFETCH(int, h);
    QFETCH(int, w);
    return {c_in, c_out, k, stride, pad, dilation, h, w};
}

// n standard-normal floats from std::mt19937(seed).
inline std::vector<float> normal(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd;
    std::vector<float> v(n);
    for (float& x : v) x = nd(rng);
    return v;
}

// ReLU?(w ⊛ x + b (+ acc)) in double, zero padding (b empty: no bias).
inline std::vector<float> reference_conv(const ops::ConvShape& s, const std::vector<float>& x, int h, int w,
                                         const std::vector<float>& wt, const std::vector<float>& b,
                                         const std::vector<float>* acc, bool relu) {
    const int ho = ops::conv_out_size(h, s.k_h, s.stride, s.pad, s.dilation);
    const int wo = ops::conv_out_size(w, s.k_w, s.stride, s.pad, s.dilation);
    std::vector<float> y(static_cast<size_t>(s.c_out) * ho * wo);
    for (int co = 0; co < s.c_out; ++co)
        for (int oy = 0; oy < ho; ++oy)
            for (int ox = 0; ox < wo; ++ox) {
                double v = b.empty() ? 0.0 : b[co];
                for (int ci = 0; ci < s.c_in; ++ci)
                    for (int ky = 0; ky < s.k_h; ++ky)
                        for (int kx = 0; kx < s.k_w; ++kx) {
                            const int iy = oy * s.stride - s.pad + ky * s.dilation;
                            const int ix = ox * s.stride - s.pad + kx * s.dilation;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            v += double(wt[((static_cast<size_t>(co) * s.c_in + ci) * s.k_h + ky) * s.k_w + kx]) *
                                 x[(static_cast<size_t>(ci) * h + iy) * w + ix];
                        }
                const size_t o = (static_cast<size_t>(co) * ho + oy) * wo + ox;
                if (acc) v += (*acc)[o];
                if (relu) v = std::max(0.0, v);
                y[o] = static_cast<float>(v);
            }
    return y;
}

// 3×3 stride-2 pad-1 max pooling (ResNet's stem) over c channels of h × w; padding never wins.
inline std::vector<float> reference_maxpool_3s2p1(const std::vector<float>& x, int c, int h, int w) {
    const int ho = ops::conv_out_size(h, 3, 2, 1, 1), wo = ops::conv_out_size(w, 3, 2, 1, 1);
    std::vector<float> y(static_cast<size_t>(c) * ho * wo);
    for (int ch = 0; ch < c; ++ch)
        for (int oy = 0; oy < ho; ++oy)
            for (int ox = 0; ox < wo; ++ox) {
                float m = -INFINITY;
                for (int ky = 0; ky < 3; ++ky)
                    for (int kx = 0; kx < 3; ++kx) {
                        const int iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
                        if (iy >= 0 && iy < h && ix >= 0 && ix < w) m = std::max(m, x[(static_cast<size_t>(ch) * h + iy) * w + ix]);
                    }
                y[(static_cast<size_t>(ch) * ho + oy) * wo + ox] = m;
            }
    return y;
}

} // namespace attnscope::testing
