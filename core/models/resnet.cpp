#include "core/models/resnet.h"

#include "core/error.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <vector>

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
    const Tensor w = src.load(conv);                                             // (c_out, c_in, k, k)
    const Tensor gamma = load_checked(src, bn + "weight", {c_out});              // (c_out)
    const Tensor beta = load_checked(src, bn + "bias", {c_out});                 // (c_out)
    const Tensor mean = load_checked(src, bn + "running_mean", {c_out});         // (c_out)
    const Tensor var = load_checked(src, bn + "running_var", {c_out});           // (c_out)
    const int64_t per_out = w.numel() / c_out;
    cb.w = w.data.vector(); // the one copy: scaled in place below
    src.release(conv);
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

// im2col + gemm on CHW buffers (ops::conv2d): the path without oneDNN. Same slot interface as
// ops::DirectConvNet, so the network below is written once.
class Im2colNet {
public:
    explicit Im2colNet(int n_slots) : acts_(static_cast<size_t>(n_slots)) {}
    void input(int slot, const float* x, int c, int h, int w) {
        acts_[slot].reshape(c, h, w);
        std::copy(x, x + static_cast<size_t>(c) * h * w, acts_[slot].data.get());
    }
    // y = conv(x) + b (+ y when accumulate) (ReLU); conv2d reads each residual element before it writes it.
    void conv(const ops::ConvShape& s, const float* weight, const float* bias, int xi, int yi, bool accumulate,
              bool relu) {
        const Act& x = acts_[xi];
        Act& y = acts_[yi];
        const int h_out = ops::conv_out_size(x.h, s.k_h, s.stride, s.pad, s.dilation);
        const int w_out = ops::conv_out_size(x.w, s.k_w, s.stride, s.pad, s.dilation);
        if (!accumulate) y.reshape(s.c_out, h_out, w_out);
        ops::conv2d(s, x.data.get(), x.h, x.w, weight, bias, accumulate ? y.data.get() : nullptr, relu, y.data.get(),
                    scratch_);
    }
    void maxpool(int xi, int yi, int k, int stride, int pad) {
        const Act& x = acts_[xi];
        Act& y = acts_[yi];
        y.reshape(x.c, ops::conv_out_size(x.h, k, stride, pad, 1), ops::conv_out_size(x.w, k, stride, pad, 1));
        ops::maxpool2d(x.data.get(), x.c, x.h, x.w, k, stride, pad, y.data.get());
    }
    int channels(int slot) const { return acts_[slot].c; }
    int height(int slot) const { return acts_[slot].h; }
    int width(int slot) const { return acts_[slot].w; }
    void output(int slot, float* y) const {
        const Act& a = acts_[slot];
        std::copy(a.data.get(), a.data.get() + static_cast<size_t>(a.c) * a.h * a.w, y);
    }

private:
    std::vector<Act> acts_;
    std::vector<float> scratch_; // im2col chunk
};

void run(const ConvBN& cb, int x, int y, bool accumulate, bool relu, auto& net) {
    net.conv(cb.shape, cb.w.data(), cb.b.data(), x, y, accumulate, relu);
}

// The whole backbone on slots 0–3 (block input t, a, b, shortcut), on either implementation.
template <typename Net>
Tensor forward_on(const ResNet& r, const Tensor& x, Net& net) {
    int t = 0, a = 1, b = 2, sc = 3;
    net.input(b, x.ptr(), static_cast<int>(x.size(0)), static_cast<int>(x.size(1)), static_cast<int>(x.size(2)));
    // stem: conv 7×7 s2 + BN + ReLU, maxpool 3×3 s2 p1
    run(r.stem, b, a, false, true, net); // (c0, H/2, W/2)
    net.maxpool(a, t, 3, 2, 1);          // (c0, H/4, W/4)
    for (int il = 0; il < 4; ++il) {
        for (const ResNetBlock& blk : r.layers[il]) {
            if (blk.has_downsample) run(blk.downsample, t, sc, false, false, net);
            const int res = blk.has_downsample ? sc : t; // the shortcut; the block's output is written onto it
            run(blk.conv1, t, a, false, true, net);
            if (r.bottleneck) {
                run(blk.conv2, a, b, false, true, net);
                run(blk.conv3, b, res, true, true, net); // ReLU(bn3(conv3) + shortcut)
            } else {
                run(blk.conv2, a, res, true, true, net); // ReLU(bn2(conv2) + shortcut)
            }
            if (res == sc) std::swap(t, sc); // the block output becomes the next input
        }
    }
    Tensor out({net.channels(t), net.height(t), net.width(t)});
    net.output(t, out.ptr());
    return out;
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
    // Buffers per pass: kept across passes (≈ 4 × 55 MB at 800×1066) they measured no faster and raised
    // DETR-R50's peak RSS by ≈ 95 MB (the transformer's buffers no longer reuse the backbone's).
    if (ops::direct_conv_enabled()) { // oneDNN's direct convolutions, blocked layout throughout
        ops::DirectConvNet net(4);
        return forward_on(*this, x, net);
    }
    Im2colNet net(4);
    return forward_on(*this, x, net);
}

} // namespace attnscope
