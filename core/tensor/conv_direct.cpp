// Direct convolutions on oneDNN's blocked layout (DirectConvNet, conv.h). Why and what it measured:
// docs/performance.md ("Convolutions").
#include "core/error.h"
#include "core/tensor/conv.h"
#include "core/tensor/ops.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <string>

#ifdef ATTNSCOPE_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace attnscope::ops {

namespace {

enum class ConvMode { Auto, Direct, Im2col };

ConvMode conv_mode() {
    static const ConvMode mode = [] {
        const char* env = std::getenv("ATTNSCOPE_CONV");
        std::string v = env ? env : "";
        std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (v.empty() || v == "auto") return ConvMode::Auto;
        if (v == "direct") return ConvMode::Direct;
        if (v == "im2col") return ConvMode::Im2col;
        throw Error(ErrorKind::Argument, "", "ATTNSCOPE_CONV", "unknown convolution path '" + v + "' (auto, direct, im2col)");
    }();
    return mode;
}

} // namespace

bool direct_conv_enabled() {
    const ConvMode mode = conv_mode();
#ifdef ATTNSCOPE_HAVE_DNNL
    return mode != ConvMode::Im2col && gemm_backend() == Backend::OneDNN;
#else
    if (mode == ConvMode::Direct)
        throw Error(ErrorKind::Argument, "", "ATTNSCOPE_CONV", "this build has no oneDNN: no direct convolutions");
    return false;
#endif
}

#ifdef ATTNSCOPE_HAVE_DNNL

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

const dnnl::engine& cpu_engine() {
    static const dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    return eng;
}

struct FreeDeleter {
    void operator()(float* p) const { std::free(p); }
};

// A grow-only 64-byte-aligned float buffer.
struct Buffer {
    std::unique_ptr<float, FreeDeleter> data;
    size_t bytes = 0;
    float* get(size_t need) {
        if (need > bytes) {
            const size_t rounded = (need + 63) / 64 * 64;
            data.reset(static_cast<float*>(std::aligned_alloc(64, rounded)));
            if (!data) throw Error(ErrorKind::Unsupported, "", "memory", "out of memory for a convolution buffer");
            bytes = rounded;
        }
        return data.get();
    }
};

// Right padding that makes oneDNN's output size equal to PyTorch's floor division (may be negative
// when the stride skips the last input rows).
int pad_right(int n, int n_out, int k, int stride, int pad, int dilation) {
    return (n_out - 1) * stride + (k - 1) * dilation + 1 - n - pad;
}

[[noreturn]] void rethrow(const dnnl::error& e, const char* what) {
    throw Error(ErrorKind::Unsupported, "", "onednn", std::string(what) + " failed: " + e.what());
}

} // namespace

struct DirectConvNet::Impl {
    struct Slot {
        memory::desc md;
        Buffer buf;
        int c = 0, h = 0, w = 0;
        memory mem() { return memory(md, cpu_engine(), buf.data.get()); }
        void set(const memory::desc& d, int c_, int h_, int w_) {
            md = d;
            buf.get(d.get_size());
            c = c_, h = h_, w = w_;
        }
    };
    std::vector<Slot> slots;
    Buffer reordered_src, reordered_weights;
    dnnl::stream strm{cpu_engine()};

    Slot& at(int i) {
        if (i < 0 || i >= static_cast<int>(slots.size()))
            throw Error(ErrorKind::Argument, "", "DirectConvNet", "slot " + std::to_string(i) + " out of range");
        return slots[static_cast<size_t>(i)];
    }
    void reorder(memory& from, memory& to) {
        dnnl::reorder(from, to).execute(strm, from, to);
        strm.wait();
    }
};

DirectConvNet::DirectConvNet(int n_slots) : impl_(std::make_unique<Impl>()) {
    impl_->slots.resize(static_cast<size_t>(std::max(1, n_slots)));
}

DirectConvNet::~DirectConvNet() = default;

void DirectConvNet::input(int slot, const float* x, int c, int h, int w) {
    sync_omp_threads();
    Impl::Slot& s = impl_->at(slot);
    s.set(memory::desc({1, c, h, w}, dt::f32, tag::nchw), c, h, w);
    std::copy(x, x + static_cast<size_t>(c) * h * w, s.buf.data.get());
}

void DirectConvNet::conv(const ConvShape& s, const float* weight, const float* bias, int xi, int yi, bool accumulate,
                         bool relu) {
    if (xi == yi) throw Error(ErrorKind::Argument, "", "DirectConvNet", "convolution in place");
    sync_omp_threads();
    Impl::Slot& x = impl_->at(xi);
    Impl::Slot& y = impl_->at(yi);
    if (x.c != s.c_in)
        throw Error(ErrorKind::Mismatch, "", "DirectConvNet",
                    "input has " + std::to_string(x.c) + " channels, convolution expects " + std::to_string(s.c_in));
    const int h_out = conv_out_size(x.h, s.k_h, s.stride, s.pad, s.dilation);
    const int w_out = conv_out_size(x.w, s.k_w, s.stride, s.pad, s.dilation);
    if (accumulate && (y.c != s.c_out || y.h != h_out || y.w != w_out))
        throw Error(ErrorKind::Mismatch, "", "DirectConvNet", "accumulation target has the wrong shape");
    try {
        const memory::dims dst_dims{1, s.c_out, h_out, w_out};
        const memory::desc src_any({1, s.c_in, x.h, x.w}, dt::f32, tag::any);
        const memory::desc w_plain({s.c_out, s.c_in, s.k_h, s.k_w}, dt::f32, tag::oihw);
        const memory::desc w_any({s.c_out, s.c_in, s.k_h, s.k_w}, dt::f32, tag::any);
        const memory::desc b_md({s.c_out}, dt::f32, tag::x);
        const memory::desc dst_md = accumulate ? y.md : memory::desc(dst_dims, dt::f32, tag::any);
        const dnnl::convolution_forward::desc d(
            dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_any, w_any, b_md, dst_md,
            {s.stride, s.stride}, {s.dilation - 1, s.dilation - 1}, {s.pad, s.pad},
            {pad_right(x.h, h_out, s.k_h, s.stride, s.pad, s.dilation),
             pad_right(x.w, w_out, s.k_w, s.stride, s.pad, s.dilation)});
        dnnl::post_ops po;
        if (accumulate) po.append_sum(1.0f);
        if (relu) po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
        dnnl::primitive_attr attr;
        attr.set_post_ops(po);
        const dnnl::convolution_forward::primitive_desc pd(d, attr, cpu_engine());

        memory src = x.mem();
        if (pd.src_desc() != x.md) { // normally only for the network's input
            memory to(pd.src_desc(), cpu_engine(), impl_->reordered_src.get(pd.src_desc().get_size()));
            impl_->reorder(src, to);
            src = to;
        }
        memory wts(w_plain, cpu_engine(), const_cast<float*>(weight));
        if (pd.weights_desc() != w_plain) {
            memory to(pd.weights_desc(), cpu_engine(), impl_->reordered_weights.get(pd.weights_desc().get_size()));
            impl_->reorder(wts, to);
            wts = to;
        }
        std::vector<float> zero_bias;
        if (!bias) zero_bias.assign(static_cast<size_t>(s.c_out), 0.0f);
        memory b(b_md, cpu_engine(), const_cast<float*>(bias ? bias : zero_bias.data()));
        if (!accumulate) y.set(pd.dst_desc(), s.c_out, h_out, w_out);
        memory dst = y.mem();
        dnnl::convolution_forward(pd).execute(
            impl_->strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wts}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, dst}});
        impl_->strm.wait();
    } catch (const dnnl::error& e) {
        rethrow(e, "convolution");
    }
}

void DirectConvNet::maxpool(int xi, int yi, int k, int stride, int pad) {
    if (xi == yi) throw Error(ErrorKind::Argument, "", "DirectConvNet", "pooling in place");
    sync_omp_threads();
    Impl::Slot& x = impl_->at(xi);
    Impl::Slot& y = impl_->at(yi);
    const int h_out = conv_out_size(x.h, k, stride, pad, 1), w_out = conv_out_size(x.w, k, stride, pad, 1);
    try {
        const dnnl::pooling_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max, x.md,
                                            memory::desc({1, x.c, h_out, w_out}, dt::f32, tag::any), {stride, stride},
                                            {k, k}, {pad, pad},
                                            {pad_right(x.h, h_out, k, stride, pad, 1), pad_right(x.w, w_out, k, stride, pad, 1)});
        const dnnl::pooling_forward::primitive_desc pd(d, cpu_engine());
        y.set(pd.dst_desc(), x.c, h_out, w_out);
        memory src = x.mem(), dst = y.mem();
        dnnl::pooling_forward(pd).execute(impl_->strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
        impl_->strm.wait();
    } catch (const dnnl::error& e) {
        rethrow(e, "max-pooling");
    }
}

int DirectConvNet::channels(int slot) const { return impl_->at(slot).c; }
int DirectConvNet::height(int slot) const { return impl_->at(slot).h; }
int DirectConvNet::width(int slot) const { return impl_->at(slot).w; }

void DirectConvNet::output(int slot, float* out) {
    sync_omp_threads();
    Impl::Slot& x = impl_->at(slot);
    try {
        memory src = x.mem();
        memory dst(memory::desc({1, x.c, x.h, x.w}, dt::f32, tag::nchw), cpu_engine(), out);
        impl_->reorder(src, dst);
    } catch (const dnnl::error& e) {
        rethrow(e, "reorder");
    }
}

#else // no oneDNN in this build

struct DirectConvNet::Impl {};

DirectConvNet::DirectConvNet(int) {
    throw Error(ErrorKind::Unsupported, "", "DirectConvNet", "this build has no oneDNN: no direct convolutions");
}
DirectConvNet::~DirectConvNet() = default;
void DirectConvNet::input(int, const float*, int, int, int) {}
void DirectConvNet::conv(const ConvShape&, const float*, const float*, int, int, bool, bool) {}
void DirectConvNet::maxpool(int, int, int, int, int) {}
int DirectConvNet::channels(int) const { return 0; }
int DirectConvNet::height(int) const { return 0; }
int DirectConvNet::width(int) const { return 0; }
void DirectConvNet::output(int, float*) {}

#endif

} // namespace attnscope::ops
