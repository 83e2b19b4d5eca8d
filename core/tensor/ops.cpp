#include "core/tensor/ops.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace attnscope::ops {

// Element-wise kernels: written on 16-float vectors (GCC vector extensions), compiled once per ISA and
// picked at load time from the CPU's features (an ifunc: AVX-512, AVX2 + FMA, or the build's baseline).
// On the -march=native default build the baseline clone is already this machine's best.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ATTNSCOPE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ATTNSCOPE_CLONES
#endif
// The 16-lane helpers below never cross a library boundary, so their ABI in the narrower clones is moot.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace {

using vf = float __attribute__((vector_size(64)));   // 16 lanes
using vi = int32_t __attribute__((vector_size(64)));
using vd = double __attribute__((vector_size(64)));  // 8 lanes
using vf8 = float __attribute__((vector_size(32)));
constexpr int kW = 16;

__attribute__((always_inline)) inline vf vload(const float* p) {
    vf v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void vstore(float* p, vf v) { std::memcpy(p, &v, sizeof v); }
inline vf vsplat(float x) { return vf{} + x; }
inline float hsum(vf v) {
    float s = 0.0f;
    for (int i = 0; i < kW; ++i) s += v[i];
    return s;
}
inline float hmax(vf v) {
    float m = v[0];
    for (int i = 1; i < kW; ++i) m = std::max(m, v[i]);
    return m;
}
inline double hsum(vd v) {
    double s = 0.0;
    for (int i = 0; i < 8; ++i) s += v[i];
    return s;
}

// expf to ~1 ulp (Cephes polynomial on a ln2 range reduction); scalar and 16-lane forms, same steps.
template <typename T>
inline T exp_poly(T x, T n) {
    T r = x - n * 0.693359375f; // ln2 split in two for an exact product
    r = r + n * 2.12194440e-4f;
    T p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    return p * r * r + r + 1.0f;
}
constexpr float kRound = 12582912.0f; // 1.5·2²³: adding and subtracting rounds to nearest

inline float fast_exp(float x) {
    x = std::min(std::max(x, -87.3f), 88.7f);
    const float n = (x * 1.44269504088896341f + kRound) - kRound;
    const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
    return exp_poly(x, n) * std::bit_cast<float>(bits);
}

inline vf vexp(vf x) {
    x = x < -87.3f ? vsplat(-87.3f) : x;
    x = x > 88.7f ? vsplat(88.7f) : x;
    const vf n = (x * 1.44269504088896341f + kRound) - kRound;
    const vi bits = (__builtin_convertvector(n, vi) + 127) << 23;
    return exp_poly(x, n) * std::bit_cast<vf>(bits);
}

// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7) — the formula PyTorch's vectorised
// CPU erf uses, so GELU agrees with torch's own kernel.
inline float fast_erf(float x) {
    const float ax = std::fabs(x);
    const float t = 1.0f / (0.3275911f * ax + 1.0f);
    float r = 1.061405429f;
    r = r * t - 1.453152027f;
    r = r * t + 1.421413741f;
    r = r * t - 0.284496736f;
    r = r * t + 0.254829592f;
    const float y = 1.0f - r * t * fast_exp(-ax * ax);
    return std::copysign(y, x);
}

inline vf vgelu(vf x) {
    const vf z = x * 0.70710678118654752440f;
    const vf az = z < 0.0f ? -z : z;
    const vf t = 1.0f / (0.3275911f * az + 1.0f);
    vf r = t * 1.061405429f - 1.453152027f;
    r = r * t + 1.421413741f;
    r = r * t - 0.284496736f;
    r = r * t + 0.254829592f;
    vf e = 1.0f - r * t * vexp(-az * az);
    e = z < 0.0f ? -e : e;
    return 0.5f * x * (1.0f + e);
}

} // namespace

namespace {
// LayerNorm of rows [r0, r1): mean and variance accumulated in double (8-lane vectors), two passes.
ATTNSCOPE_CLONES
void layer_norm_rows(const float* x, int64_t r0, int64_t r1, int64_t d, const float* w, const float* b, float eps, float* y) {
    for (int64_t r = r0; r < r1; ++r) {
        const float* xr = x + r * d;
        float* yr = y + r * d;
        vd acc{};
        int64_t i = 0;
        for (; i + 8 <= d; i += 8) {
            vf8 v;
            std::memcpy(&v, xr + i, sizeof v);
            acc += __builtin_convertvector(v, vd);
        }
        double sum = hsum(acc);
        for (; i < d; ++i) sum += xr[i];
        const double mean = sum / static_cast<double>(d);
        vd sq_acc{};
        i = 0;
        for (; i + 8 <= d; i += 8) {
            vf8 v;
            std::memcpy(&v, xr + i, sizeof v);
            const vd t = __builtin_convertvector(v, vd) - mean;
            sq_acc += t * t;
        }
        double sq = hsum(sq_acc);
        for (; i < d; ++i) {
            const double t = xr[i] - mean;
            sq += t * t;
        }
        const float rstd = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(d) + eps));
        const float fmean = static_cast<float>(mean);
        for (i = 0; i < d; ++i) yr[i] = (xr[i] - fmean) * rstd * w[i] + b[i];
    }
}
} // namespace

// Rows are independent: large inputs are split across the threads (with oneDNN, whose OpenMP pool the
// products use too), each row computed exactly as on one thread.
void layer_norm(const float* x, int64_t n, int64_t d, const float* w, const float* b, float eps, float* y) {
#ifdef _OPENMP
    const int threads = static_cast<int>(std::min<int64_t>(num_threads(), n));
    if (threads > 1 && n * d >= (1 << 15) && gemm_backend() == Backend::OneDNN && !omp_in_parallel()) {
        sync_omp_threads();
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int t = 0; t < threads; ++t) layer_norm_rows(x, n * t / threads, n * (t + 1) / threads, d, w, b, eps, y);
        return;
    }
#endif
    layer_norm_rows(x, 0, n, d, w, b, eps, y);
}

ATTNSCOPE_CLONES
void gelu_erf(float* x, int64_t n) {
    int64_t i = 0;
    for (; i + kW <= n; i += kW) vstore(x + i, vgelu(vload(x + i)));
    if (i < n) { // the tail through the same vector code (identical results wherever an element sits)
        float tmp[kW] = {};
        std::copy(x + i, x + n, tmp);
        vstore(tmp, vgelu(vload(tmp)));
        std::copy(tmp, tmp + (n - i), x + i);
    }
}

void activate(Act act, float* x, int64_t n) {
    switch (act) {
    case Act::None: return;
    case Act::Relu: relu(x, n); return;
    case Act::GeluErf: gelu_erf(x, n); return;
    case Act::QuickGelu: // x·sigmoid(1.702·x)
        for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-1.702f * x[i]));
        return;
    case Act::GeluTanh: { // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
        const float k = std::sqrt(2.0f / 3.14159265358979f);
        for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::tanh(k * (x[i] + 0.044715f * x[i] * x[i] * x[i])));
        return;
    }
    }
}

void relu(float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

ATTNSCOPE_CLONES
void silu(float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + fast_exp(-x[i]));
}

// Softmax per row: max, then exp(x − max) written back while 16 partial sums accumulate, then scale.
ATTNSCOPE_CLONES
void softmax_rows(float* x, int64_t n_rows, int64_t n_cols) {
    for (int64_t r = 0; r < n_rows; ++r) {
        float* row = x + r * n_cols;
        int64_t j = 0;
        float mx = row[0];
        if (n_cols >= kW) {
            vf vm = vload(row);
            for (j = kW; j + kW <= n_cols; j += kW) {
                const vf v = vload(row + j);
                vm = v > vm ? v : vm;
            }
            mx = hmax(vm);
        }
        for (; j < n_cols; ++j) mx = std::max(mx, row[j]);
        vf vs{};
        j = 0;
        for (; j + kW <= n_cols; j += kW) {
            const vf e = vexp(vload(row + j) - mx);
            vstore(row + j, e);
            vs += e;
        }
        float sum = hsum(vs);
        for (; j < n_cols; ++j) {
            row[j] = fast_exp(row[j] - mx);
            sum += row[j];
        }
        const float inv = 1.0f / sum;
        for (j = 0; j < n_cols; ++j) row[j] *= inv;
    }
}

void add_inplace(float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void add_scaled_rows_inplace(float* y, const float* x, const float* scale, int64_t rows, int64_t d) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < d; ++i) y[r * d + i] += scale[i] * x[r * d + i];
}

} // namespace attnscope::ops
