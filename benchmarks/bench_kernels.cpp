// attnscope-bench-kernels: GFLOP/s of each GEMM backend on the shapes the models use (2 threads by
// default), to choose the kernel per operation (docs/performance.md). Run it twice, once per
// OPENBLAS_CORETYPE (Haswell / SkylakeX): OpenBLAS reads that variable only when it is loaded.
//   attnscope-bench-kernels [--threads 2] [--seconds 0.5] [--cpu]
// --cpu times by process CPU time: on a loaded machine with --threads 1 that is the kernel's own speed
// (with more threads it charges any spin-waiting too, which is what it costs the other threads).
#include <cblas.h>
#include <Eigen/Core>
#ifdef ATTNSCOPE_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#endif

#include "core/tensor/conv.h"
#include "core/tensor/ops.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

struct Shape {
    const char* what;
    int m, n, k;
    bool b_trans; // B stored [n, k]
};

bool g_cpu_time = false; // --cpu: process CPU time (all threads, spinning included) instead of wall time

double now_s() {
    if (g_cpu_time) {
        timespec ts{};
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Median GFLOP/s of repeated calls, each timed batch lasting ~seconds/9.
double measure(const std::function<void()>& f, double flop, double seconds) {
    f(); // warm-up
    f();
    const double t0 = now_s();
    f();
    const double one = std::max(1e-7, now_s() - t0);
    const int reps = std::max(1, static_cast<int>(seconds / 9 / one));
    std::vector<double> g;
    for (int r = 0; r < 9; ++r) {
        const double a = now_s();
        for (int i = 0; i < reps; ++i) f();
        g.push_back(flop * reps / (now_s() - a) / 1e9);
    }
    std::sort(g.begin(), g.end());
    return g[g.size() / 2];
}

// A pure-FMA loop (12 independent accumulators, so latency never limits it) on one thread: the peak one
// core reaches with this compiler's vector width (-march=native: 512-bit where the CPU has it).
__attribute__((noinline)) float fma_loop(long iters, float x) {
    using V = float __attribute__((vector_size(64)));
    V acc[12];
    for (int i = 0; i < 12; ++i) acc[i] = V{} + x * (i + 1);
    const V m = V{} + 0.999999f, a = V{} + 1e-7f;
    for (long it = 0; it < iters; ++it)
        for (int i = 0; i < 12; ++i) acc[i] = acc[i] * m + a;
    float s = 0;
    for (int i = 0; i < 12; ++i)
        for (int j = 0; j < 16; ++j) s += acc[i][j];
    return s;
}

} // namespace

int main(int argc, char** argv) {
    int threads = 2;
    double seconds = 0.5;
    for (int i = 1; i < argc; ++i)
        if (!std::strcmp(argv[i], "--cpu")) g_cpu_time = true;
    for (int i = 1; i + 1 < argc; ++i) {
        if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
        if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    }
    openblas_set_num_threads(threads);
    Eigen::setNbThreads(threads);
#ifdef ATTNSCOPE_HAVE_DNNL
    omp_set_num_threads(threads);
#endif
    const Shape shapes[] = {
        {"ViT-B qkv  [197x768]x[768x2304]", 197, 2304, 768, true},
        {"ViT-B fc1  [197x768]x[768x3072]", 197, 3072, 768, true},
        {"ViT-B fc2  [197x3072]x[3072x768]", 197, 768, 3072, true},
        {"ViT-B proj [197x768]x[768x768]", 197, 768, 768, true},
        {"ViT-S qkv  [197x384]x[384x1152]", 197, 1152, 384, true},
        {"head QK^T  197x197x64", 197, 197, 64, true},
        {"head PV    197x64x197", 197, 64, 197, false},
        {"DETR QK^T  850x850x32", 850, 850, 32, true},
        {"DETR ffn1  [850x256]x[256x2048]", 850, 2048, 256, true},
        {"R50 3x3 conv L2 128x(1152)x(100x133)", 128, 13300, 1152, false},
        {"R50 1x1 conv L3 1024x256x(50x67)", 1024, 3350, 256, false},
        {"R50 3x3 conv L4 512x4608x(25x34)", 512, 850, 4608, false},
    };
    std::printf("OpenBLAS core %s, %d threads\n", openblas_get_corename(), threads);
    volatile float sink = 0;
    const double peak = measure([&] { sink = sink + fma_loop(200000, 0.5f); }, 200000.0 * 12 * 16 * 2, seconds);
    std::printf("%-40s %10.1f GFLOP/s per core (x%d threads = %.0f)\n", "FMA peak, 1 thread", peak, threads,
                peak * threads);
    std::printf("%-40s %10s %10s %10s\n", "shape", "openblas", "onednn", "eigen");
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-1, 1);
    for (const Shape& s : shapes) {
        std::vector<float> a(size_t(s.m) * s.k), b(size_t(s.k) * s.n), c(size_t(s.m) * s.n);
        for (float& v : a) v = u(rng);
        for (float& v : b) v = u(rng);
        const int ldb = s.b_trans ? s.k : s.n;
        const double flop = 2.0 * s.m * s.n * s.k;
        const double g_ob = measure([&] {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, s.b_trans ? CblasTrans : CblasNoTrans, s.m, s.n, s.k, 1.0f,
                        a.data(), s.k, b.data(), ldb, 0.0f, c.data(), s.n);
        }, flop, seconds);
        double g_dn = 0;
#ifdef ATTNSCOPE_HAVE_DNNL
        g_dn = measure([&] {
            dnnl_sgemm('N', s.b_trans ? 'T' : 'N', s.m, s.n, s.k, 1.0f, a.data(), s.k, b.data(), ldb, 0.0f, c.data(),
                       s.n);
        }, flop, seconds);
#endif
        using RM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
        Eigen::Map<const RM> ea(a.data(), s.m, s.k);
        Eigen::Map<RM> ec(c.data(), s.m, s.n);
        const double g_ei = measure([&] {
            if (s.b_trans) ec.noalias() = ea * Eigen::Map<const RM>(b.data(), s.n, s.k).transpose();
            else ec.noalias() = ea * Eigen::Map<const RM>(b.data(), s.k, s.n);
        }, flop, seconds);
        std::printf("%-40s %10.1f %10.1f %10.1f\n", s.what, g_ob, g_dn, g_ei);
    }

#ifdef ATTNSCOPE_HAVE_DNNL
    // Linear layers as the models run them (ops::linear, bias included): dnnl_sgemm (how every product ran
    // until session 8), oneDNN's matmul primitive reading the [out, in] weight in place, and reading the
    // weight packed once into the primitive's blocked layout (ops::pack_linear_weight).
    {
        namespace ops = attnscope::ops;
        ops::set_num_threads(threads);
        ops::set_gemm_backend(ops::Backend::OneDNN);
        std::printf("\n%-40s %10s %10s %10s\n", "linear layer, bias (GFLOP/s)", "sgemm", "matmul", "packed");
        for (const Shape& s : shapes) {
            if (!s.b_trans || std::strstr(s.what, "^T")) continue; // the layers with a weight matrix only
            std::vector<float> x(size_t(s.m) * s.k), w(size_t(s.n) * s.k), bias(size_t(s.n)), y(size_t(s.m) * s.n);
            for (float& v : x) v = u(rng);
            for (float& v : w) v = u(rng);
            for (float& v : bias) v = u(rng);
            const double flop = 2.0 * s.m * s.n * s.k;
            const double g_sgemm = measure([&] {
                for (int r = 0; r < s.m; ++r) std::copy(bias.begin(), bias.end(), y.begin() + size_t(r) * s.n);
                dnnl_sgemm('N', 'T', s.m, s.n, s.k, 1.0f, x.data(), s.k, w.data(), s.k, 1.0f, y.data(), s.n);
            }, flop, seconds);
            const double g_plain = measure([&] { ops::linear(x.data(), s.m, s.k, w.data(), bias.data(), s.n, y.data()); },
                                           flop, seconds);
            const auto packed = ops::pack_linear_weight(w.data(), s.n, s.k);
            const double g_packed = packed ? measure([&] {
                ops::linear(x.data(), s.m, s.k, w.data(), bias.data(), s.n, y.data(), 0, {}, packed.get());
            }, flop, seconds) : 0.0;
            std::printf("%-40s %10.1f %10.1f %10.1f\n", s.what, g_sgemm, g_plain, g_packed);
        }
    }
#endif

    // Whole convolutions as DETR-R50 at 800×1066 runs them (bias + ReLU fused; per call, as in a pass):
    // im2col + the GEMM backend (ops::conv2d) against oneDNN's direct kernels on their blocked layout
    // (ops::DirectConvNet: primitive descriptor, weight reorder and the convolution).
    struct Conv {
        const char* what;
        attnscope::ops::ConvShape s;
        int h, w;
    };
    const Conv convs[] = {
        {"R50 stem 7x7 s2 3->64 @800x1066", {3, 64, 7, 7, 2, 3, 1}, 800, 1066},
        {"R50 L1 1x1 64->256 @200x267", {64, 256, 1, 1, 1, 0, 1}, 200, 267},
        {"R50 L1 3x3 64->64 @200x267", {64, 64, 3, 3, 1, 1, 1}, 200, 267},
        {"R50 L2 3x3 128->128 @100x134", {128, 128, 3, 3, 1, 1, 1}, 100, 134},
        {"R50 L3 1x1 1024->256 @50x67", {1024, 256, 1, 1, 1, 0, 1}, 50, 67},
        {"R50 L3 1x1 s2 512->1024 @100x134", {512, 1024, 1, 1, 2, 0, 1}, 100, 134},
        {"R50 L4 3x3 512->512 @25x34", {512, 512, 3, 3, 1, 1, 1}, 25, 34},
    };
    attnscope::ops::set_num_threads(threads);
    std::printf("\n%-40s %10s %10s %10s\n", "convolution (GFLOP/s)", "im2col+ob", "im2col+dn", "direct");
    for (const Conv& cv : convs) {
        namespace ops = attnscope::ops;
        const ops::ConvShape& s = cv.s;
        const int ho = ops::conv_out_size(cv.h, s.k_h, s.stride, s.pad, s.dilation);
        const int wo = ops::conv_out_size(cv.w, s.k_w, s.stride, s.pad, s.dilation);
        std::vector<float> x(size_t(s.c_in) * cv.h * cv.w), wt(size_t(s.c_out) * s.c_in * s.k_h * s.k_w),
            bias(size_t(s.c_out)), y(size_t(s.c_out) * ho * wo), scratch;
        for (float& v : x) v = u(rng);
        for (float& v : wt) v = u(rng);
        for (float& v : bias) v = u(rng);
        const double flop = 2.0 * s.c_out * ho * wo * s.c_in * s.k_h * s.k_w;
        auto im2col = [&](ops::Backend b) {
            if (!ops::backend_available(b)) return 0.0;
            ops::set_gemm_backend(b);
            return measure([&] {
                ops::conv2d(s, x.data(), cv.h, cv.w, wt.data(), bias.data(), nullptr, true, y.data(), scratch);
            }, flop, seconds);
        };
        const double g_ob = im2col(ops::Backend::OpenBLAS), g_dn = im2col(ops::Backend::OneDNN);
        double g_direct = 0;
        if (ops::backend_available(ops::Backend::OneDNN)) {
            ops::DirectConvNet net(3);
            net.input(0, x.data(), s.c_in, cv.h, cv.w);
            int src = 0;
            if (s.c_in > 3) { // as in a pass: the input already in the layout the kernels chose (a 1×1 conv's output)
                std::vector<float> id(size_t(s.c_in) * s.c_in, 0.0f);
                for (int i = 0; i < s.c_in; ++i) id[size_t(i) * s.c_in + i] = 1.0f;
                net.conv({s.c_in, s.c_in, 1, 1, 1, 0, 1}, id.data(), nullptr, 0, 1, false, false);
                src = 1;
            }
            g_direct = measure([&] { net.conv(s, wt.data(), bias.data(), src, 2, false, true); }, flop, seconds);
        }
        std::printf("%-40s %10.1f %10.1f %10.1f\n", cv.what, g_ob, g_dn, g_direct);
    }
    return 0;
}
