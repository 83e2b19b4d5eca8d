// ResNet backbone (torchvision / timm names) with frozen batch norm folded into each conv at load time.
// Bottleneck (R-50/101) or BasicBlock (R-18/34) is detected from the weights (conv3 present → bottleneck);
// block counts per stage are counted from the keys. DC5: layer4 stride 1, dilation 2 from block 1 on.
#pragma once

#include "core/io/weights.h"
#include "core/tensor/conv.h"
#include "core/tensor/tensor.h"

#include <string>
#include <vector>

namespace attnscope {

// A conv followed by FrozenBatchNorm2d, folded: w' = w·scale, b' = shift (scale = γ·rsqrt(var+1e-5),
// shift = β − mean·scale).
struct ConvBN {
    ops::ConvShape shape;
    std::vector<float> w; // (c_out, c_in·k_h·k_w)  ← <conv>.weight · scale
    std::vector<float> b; // (c_out)                ← <bn>.bias − <bn>.running_mean · scale
};

struct ResNetBlock {
    ConvBN conv1;          // layer{L}.{b}.conv1 / bn1   (bottleneck: 1×1; basic: 3×3, stride s)
    ConvBN conv2;          // layer{L}.{b}.conv2 / bn2   (bottleneck: 3×3, stride s, dilation; basic: 3×3)
    ConvBN conv3;          // layer{L}.{b}.conv3 / bn3   (bottleneck only: 1×1)
    ConvBN downsample;     // layer{L}.{b}.downsample.0 / downsample.1 (1×1, stride s; block 0 only)
    bool has_downsample = false;
};

struct ResNet {
    bool bottleneck = false;
    int n_blocks[4] = {0, 0, 0, 0};
    int c_out = 0;                         // channels of the layer4 output
    int stride = 32;                       // total output stride (16 for DC5)
    ConvBN stem;                           // conv1 / bn1 (7×7 s2 p3), then ReLU, maxpool 3×3 s2 p1
    std::vector<ResNetBlock> layers[4];    // layer1..layer4

    // prefix: "model.backbone.conv_encoder.model." (HF timm) or "backbone.0.body." (original).
    static ResNet load(const WeightSource& src, const std::string& prefix, bool dc5);

    // x: (3, H, W) → (c_out, ceil(H/stride), ceil(W/stride)). Convolutions: oneDNN's direct kernels when
    // ops::direct_conv_enabled(), else im2col + gemm.
    Tensor forward(const Tensor& x) const;
};

} // namespace attnscope
