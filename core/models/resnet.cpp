#include "core/models/resnet.h"

#include "core/error.h"

#include <cmath>
#include <filesystem>

namespace attnscope {

namespace {

std::string file_of(const WeightSource& src) { return std::filesystem::path(src.path()).filename().string(); }

[[noreturn]] void fail(ErrorKind kind, const WeightSource& src, const std::string& tensor, const std::string& what) {
    throw Error(kind, file_of(src), "tensor '" + tensor + "'", what);
}

// conv: "<p>conv1.weight"; bn: "<p>bn1." (+ weight/bias/running_mean/running_var). Folds the frozen BN.
ConvBN load_conv_bn(const WeightSource& src, const std::string& conv, const std::string& bn, int c_in, int stride,
                    int dilation, int64_t& n_params) {
    if (!src.has(conv)) fail(ErrorKind::Missing, src, conv, "backbone convolution is missing");
    const TensorInfo ti = src.info(conv);
    if (ti.shape.size() != 4 || ti.shape[2] != ti.shape[3] || ti.shape[2] % 2 == 0)
        fail(ErrorKind::Mismatch, src, conv, "expected a square odd-sized conv weight [c_out, c_in, k, k], found " +
                                                 shape_str(ti.shape));
    if (ti.shape[1] != c_in)
        fail(ErrorKind::Mismatch, src, conv, "expected " + std::to_string(c_in) + " input channels, found " +
                                                 shape_str(ti.shape));
    ConvBN cb;
    const int c_out = static_cast<int>(ti.shape[0]), k = static_cast<int>(ti.shape[2]);
    cb.shape = {c_in, c_out, k, k, stride, dilation * (k / 2), dilation};
    Tensor w = src.load(conv);                                                   // (c_out, c_in, k, k)
    const Tensor gamma = load_checked(src, bn + "weight", {c_out});              // (c_out)
    const Tensor beta = load_checked(src, bn + "bias", {c_out});                 // (c_out)
    const Tensor mean = load_checked(src, bn + "running_mean", {c_out});         // (c_out)
    const Tensor var = load_checked(src, bn + "running_var", {c_out});           // (c_out)
    n_params += w.numel() + 4 * c_out;
    const int64_t per_out = w.numel() / c_out;
    cb.w = std::move(w.data);
    cb.b.resize(static_cast<size_t>(c_out));
    for (int o = 0; o < c_out; ++o) {
        const float scale = gamma.data[o] * (1.0f / std::sqrt(var.data[o] + 1e-5f));
        cb.b[o] = beta.data[o] - mean.data[o] * scale;
        for (int64_t i = 0; i < per_out; ++i) cb.w[o * per_out + i] *= scale;
    }
    return cb;
}

// Runs one folded conv: y = conv(x) + b (+ residual) (ReLU). x: (c_in, h, w) → (c_out, h', w').
Tensor run(const ConvBN& cb, const Tensor& x, const Tensor* residual, bool relu, std::vector<float>& scratch) {
    const int h = static_cast<int>(x.size(1)), w = static_cast<int>(x.size(2));
    const ops::ConvShape& s = cb.shape;
    Tensor y({s.c_out, ops::conv_out_size(h, s.k_h, s.stride, s.pad, s.dilation),
              ops::conv_out_size(w, s.k_w, s.stride, s.pad, s.dilation)});
    ops::conv2d(s, x.ptr(), h, w, cb.w.data(), cb.b.data(), residual ? residual->ptr() : nullptr, relu, y.ptr(),
                scratch);
    return y;
}

} // namespace

ResNet ResNet::load(const WeightSource& src, const std::string& prefix, bool dc5) {
    ResNet net;
    net.dc5 = dc5;
    net.stride = dc5 ? 16 : 32;
    net.bottleneck = src.has(prefix + "layer1.0.conv3.weight");
    for (int il = 0; il < 4; ++il) {
        const std::string layer = prefix + "layer" + std::to_string(il + 1) + ".";
        while (src.has(layer + std::to_string(net.n_blocks[il]) + ".conv1.weight")) ++net.n_blocks[il];
        if (net.n_blocks[il] == 0)
            fail(ErrorKind::Missing, src, layer + "0.conv1.weight",
                 "backbone stage layer" + std::to_string(il + 1) + " is missing (no " + layer + "* tensors)");
    }

    // stem: conv1 / bn1
    if (!src.has(prefix + "conv1.weight")) fail(ErrorKind::Missing, src, prefix + "conv1.weight", "backbone stem is missing");
    net.stem = load_conv_bn(src, prefix + "conv1.weight", prefix + "bn1.", 3, 2, 1, net.n_params);
    int c = net.stem.shape.c_out;

    int dilation = 1;
    for (int il = 0; il < 4; ++il) {
        const std::string layer = prefix + "layer" + std::to_string(il + 1) + ".";
        int stride = il == 0 ? 1 : 2;
        const int prev_dilation = dilation;
        if (il == 3 && dc5) { // replace_stride_with_dilation for layer4
            dilation *= stride;
            stride = 1;
        }
        for (int ib = 0; ib < net.n_blocks[il]; ++ib) {
            const std::string p = layer + std::to_string(ib) + ".";
            const int s = ib == 0 ? stride : 1;
            const int d = ib == 0 ? prev_dilation : dilation; // block 0's 3×3 keeps the previous dilation
            ResNetBlock blk;
            if (net.bottleneck) {
                blk.conv1 = load_conv_bn(src, p + "conv1.weight", p + "bn1.", c, 1, 1, net.n_params);
                blk.conv2 = load_conv_bn(src, p + "conv2.weight", p + "bn2.", blk.conv1.shape.c_out, s, d, net.n_params);
                blk.conv3 = load_conv_bn(src, p + "conv3.weight", p + "bn3.", blk.conv2.shape.c_out, 1, 1, net.n_params);
            } else {
                blk.conv1 = load_conv_bn(src, p + "conv1.weight", p + "bn1.", c, s, d, net.n_params);
                blk.conv2 = load_conv_bn(src, p + "conv2.weight", p + "bn2.", blk.conv1.shape.c_out, 1, d, net.n_params);
            }
            const int c_block = (net.bottleneck ? blk.conv3 : blk.conv2).shape.c_out;
            blk.has_downsample = src.has(p + "downsample.0.weight");
            if (blk.has_downsample) {
                blk.downsample = load_conv_bn(src, p + "downsample.0.weight", p + "downsample.1.", c, s, 1, net.n_params);
                if (blk.downsample.shape.c_out != c_block)
                    fail(ErrorKind::Mismatch, src, p + "downsample.0.weight",
                         "shortcut has " + std::to_string(blk.downsample.shape.c_out) + " channels, block output has " +
                             std::to_string(c_block));
            } else if (c != c_block || s != 1) {
                fail(ErrorKind::Missing, src, p + "downsample.0.weight",
                     "block changes shape (" + std::to_string(c) + " → " + std::to_string(c_block) +
                         " channels, stride " + std::to_string(s) + ") but has no downsample");
            }
            c = c_block;
            net.layers[il].push_back(std::move(blk));
        }
    }
    net.c_out = c;
    return net;
}

Tensor ResNet::forward(const Tensor& x) const {
    std::vector<float> scratch; // im2col chunk
    // stem: conv 7×7 s2 + BN + ReLU, maxpool 3×3 s2 p1
    Tensor t = run(stem, x, nullptr, true, scratch); // (c0, H/2, W/2)
    const int c0 = static_cast<int>(t.size(0)), h0 = static_cast<int>(t.size(1)), w0 = static_cast<int>(t.size(2));
    Tensor p({c0, ops::conv_out_size(h0, 3, 2, 1, 1), ops::conv_out_size(w0, 3, 2, 1, 1)}); // (c0, H/4, W/4)
    ops::maxpool2d(t.ptr(), c0, h0, w0, 3, 2, 1, p.ptr());
    t = std::move(p);

    for (int il = 0; il < 4; ++il) {
        for (const ResNetBlock& blk : layers[il]) {
            const Tensor shortcut = blk.has_downsample ? run(blk.downsample, t, nullptr, false, scratch) : Tensor();
            const Tensor& res = blk.has_downsample ? shortcut : t;
            Tensor a = run(blk.conv1, t, nullptr, true, scratch);
            if (bottleneck) {
                Tensor b = run(blk.conv2, a, nullptr, true, scratch);
                t = run(blk.conv3, b, &res, true, scratch); // ReLU(bn3(conv3) + shortcut)
            } else {
                t = run(blk.conv2, a, &res, true, scratch); // ReLU(bn2(conv2) + shortcut)
            }
        }
    }
    return t;
}

} // namespace attnscope
