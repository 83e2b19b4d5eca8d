#include "core/models/resnet.h"

#include "core/error.h"

#include <cmath>
#include <filesystem>
#include <memory>

namespace attnscope {

namespace {


[[noreturn]] void fail(ErrorKind kind, const WeightSource& src, const std::string& tensor, const std::string& what) {
    throw Error(kind, file_of(src), "tensor '" + tensor + "'", what);
}

// conv: "<p>conv1.weight"; bn: "<p>bn1." (+ weight/bias/running_mean/running_var). Folds the frozen BN.
ConvBN load_conv_bn(const WeightSource& src, const std::string& conv, const std::string& bn, int c_in, int stride,
                    int dilation) {
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

// An activation buffer (c, h, w) that only grows; storage is left uninitialised (every conv writes it all).
struct Act {
    std::unique_ptr<float[]> data;
    size_t capacity = 0;
    int c = 0, h = 0, w = 0;
    void reshape(int c_, int h_, int w_) {
        const size_t n = static_cast<size_t>(c_) * h_ * w_;
        if (n > capacity) {
            data.reset(new float[n]);
            capacity = n;
        }
        c = c_, h = h_, w = w_;
    }
};

// y = conv(x) + b (+ residual) (ReLU). x: (c_in, h, w) → y: (c_out, h', w').
void run(const ConvBN& cb, const Act& x, const Act* residual, bool relu, Act& y, std::vector<float>& scratch) {
    const ops::ConvShape& s = cb.shape;
    y.reshape(s.c_out, ops::conv_out_size(x.h, s.k_h, s.stride, s.pad, s.dilation),
              ops::conv_out_size(x.w, s.k_w, s.stride, s.pad, s.dilation));
    ops::conv2d(s, x.data.get(), x.h, x.w, cb.w.data(), cb.b.data(), residual ? residual->data.get() : nullptr, relu,
                y.data.get(), scratch);
}

} // namespace

ResNet ResNet::load(const WeightSource& src, const std::string& prefix, bool dc5) {
    ResNet net;
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
    net.stem = load_conv_bn(src, prefix + "conv1.weight", prefix + "bn1.", 3, 2, 1);
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
                blk.conv1 = load_conv_bn(src, p + "conv1.weight", p + "bn1.", c, 1, 1);
                blk.conv2 = load_conv_bn(src, p + "conv2.weight", p + "bn2.", blk.conv1.shape.c_out, s, d);
                blk.conv3 = load_conv_bn(src, p + "conv3.weight", p + "bn3.", blk.conv2.shape.c_out, 1, 1);
            } else {
                blk.conv1 = load_conv_bn(src, p + "conv1.weight", p + "bn1.", c, s, d);
                blk.conv2 = load_conv_bn(src, p + "conv2.weight", p + "bn2.", blk.conv1.shape.c_out, 1, d);
            }
            const int c_block = (net.bottleneck ? blk.conv3 : blk.conv2).shape.c_out;
            blk.has_downsample = src.has(p + "downsample.0.weight");
            if (blk.has_downsample) {
                blk.downsample = load_conv_bn(src, p + "downsample.0.weight", p + "downsample.1.", c, s, 1);
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
    Act buf[4];                 // rotating activations: t (block input), a, b, shortcut
    Act in;
    in.reshape(static_cast<int>(x.size(0)), static_cast<int>(x.size(1)), static_cast<int>(x.size(2)));
    std::copy(x.data.begin(), x.data.end(), in.data.get());
    // stem: conv 7×7 s2 + BN + ReLU, maxpool 3×3 s2 p1
    run(stem, in, nullptr, true, buf[1], scratch); // (c0, H/2, W/2)
    Act* t = &buf[0];
    t->reshape(buf[1].c, ops::conv_out_size(buf[1].h, 3, 2, 1, 1), ops::conv_out_size(buf[1].w, 3, 2, 1, 1)); // (c0, H/4, W/4)
    ops::maxpool2d(buf[1].data.get(), buf[1].c, buf[1].h, buf[1].w, 3, 2, 1, t->data.get());
    Act *a = &buf[1], *b = &buf[2], *sc = &buf[3];

    for (int il = 0; il < 4; ++il) {
        for (const ResNetBlock& blk : layers[il]) {
            if (blk.has_downsample) run(blk.downsample, *t, nullptr, false, *sc, scratch);
            const Act* res = blk.has_downsample ? sc : t;
            run(blk.conv1, *t, nullptr, true, *a, scratch);
            if (bottleneck) {
                run(blk.conv2, *a, nullptr, true, *b, scratch);
                run(blk.conv3, *b, res, true, *a, scratch); // ReLU(bn3(conv3) + shortcut) → a
            } else {
                run(blk.conv2, *a, res, true, *b, scratch); // ReLU(bn2(conv2) + shortcut) → b
                std::swap(a, b);
            }
            std::swap(t, a); // the block output becomes the next input
        }
    }
    Tensor out({t->c, t->h, t->w});
    std::copy(t->data.get(), t->data.get() + out.numel(), out.ptr());
    return out;
}

} // namespace attnscope
