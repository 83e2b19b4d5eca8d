// 2-D convolution and max-pooling on CHW float32 images (batch 1).
// conv2d: im2col (in row chunks that stay in cache) + one ops::gemm per chunk;
// a 1×1 stride-1 convolution is a plain GEMM on the input, no im2col.
#pragma once

#include <cstdint>
#include <memory>
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

// ---- direct convolutions (oneDNN), for whole networks -------------------------------------------
// oneDNN's direct AVX-512 / AVX2 convolution kernels work on a blocked activation layout (nChw16c on
// AVX-512, nChw8c on AVX2); DirectConvNet keeps every activation in the layout oneDNN picks, from the
// input to the output, in numbered slots (one buffer each, grown as needed, reused across layers), and
// fuses the bias, an accumulation into the destination (the residual add) and the ReLU into the
// convolution. Used by the ResNet backbone when direct_conv_enabled(); otherwise conv2d above.

// True when the build has oneDNN, the GEMM backend is oneDNN (ops::gemm_backend()) and
// ATTNSCOPE_CONV is unset, "auto" or "direct"; ATTNSCOPE_CONV=im2col keeps im2col + gemm (for A/B
// measurements). Any other value throws Error(Argument) naming the variable.
bool direct_conv_enabled();

class DirectConvNet {
public:
    explicit DirectConvNet(int n_slots); // throws Error(Unsupported) when the build has no oneDNN
    ~DirectConvNet();
    DirectConvNet(const DirectConvNet&) = delete;
    DirectConvNet& operator=(const DirectConvNet&) = delete;

    // slot ← x[c, h, w] (CHW float32).
    void input(int slot, const float* x, int c, int h, int w);
    // slot y ← ReLU?(w ⊛ slot x + bias (+ slot y when accumulate)); weight [c_out, c_in·k_h·k_w], bias
    // [c_out] (may be null). x ≠ y. With accumulate, slot y must already hold (c_out, h_out, w_out).
    void conv(const ConvShape& s, const float* weight, const float* bias, int x, int y, bool accumulate, bool relu);
    // slot y ← k×k max-pooling of slot x (padded cells never win).
    void maxpool(int x, int y, int k, int stride, int pad);
    int channels(int slot) const;
    int height(int slot) const;
    int width(int slot) const;
    // y[c, h, w] ← slot (CHW float32, channels(slot)·height(slot)·width(slot) floats).
    void output(int slot, float* y);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace attnscope::ops
