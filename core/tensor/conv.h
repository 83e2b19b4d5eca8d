// 2-D convolution and max-pooling on CHW float32 images (batch 1).
// Convolution = im2col (in row chunks that stay in cache) + one OpenBLAS GEMM per chunk;
// a 1×1 stride-1 convolution is a plain GEMM on the input, no im2col.
#pragma once

#include <cstdint>
#include <vector>

namespace attnscope::ops {

struct ConvShape {
    int c_in = 0, c_out = 0;
    int k_h = 1, k_w = 1;
    int stride = 1, pad = 0, dilation = 1;
};

// Output size of one spatial axis: floor((n + 2·pad − dilation·(k−1) − 1) / stride) + 1.
int conv_out_size(int n, int k, int stride, int pad, int dilation);

// y[c_out, h_out, w_out] = epilogue(w[c_out, c_in·k_h·k_w] ⊛ x[c_in, h, w] + bias[c_out]).
// Epilogue, applied per chunk while it is in cache: (+ residual[c_out, h_out, w_out]) then (ReLU).
// bias and residual may be null. scratch holds the im2col chunk (grown as needed).
void conv2d(const ConvShape& s, const float* x, int h, int w, const float* weight, const float* bias,
            const float* residual, bool relu, float* y, std::vector<float>& scratch);

// Max-pooling k×k, stride, zero-free padding (padded cells never win): y[c, h_out, w_out].
void maxpool2d(const float* x, int c, int h, int w, int k, int stride, int pad, float* y);

} // namespace attnscope::ops
