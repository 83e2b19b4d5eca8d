#include "core/tensor/ops.h"

#include <cblas.h>

#include <algorithm>
#include <bit>
#include <cmath>

namespace attnscope::ops {

void set_num_threads(int n_threads) {
    if (n_threads > 0) openblas_set_num_threads(n_threads);
}

int num_threads() { return openblas_get_num_threads(); }

std::string blas_core_name() { return openblas_get_corename(); }

std::string preferred_blas_coretype() {
    std::string core = blas_core_name();
    std::transform(core.begin(), core.end(), core.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    for (const char* good : {"skylakex", "cooperlake", "sapphirerapids", "haswell", "zen"})
        if (core == good) return "";
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return "";
}

void gemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
          bool b_transposed, float beta, float* c, int64_t ldc) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, b_transposed ? CblasTrans : CblasNoTrans, static_cast<blasint>(m),
                static_cast<blasint>(n), static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
                static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

void linear(const float* x, int64_t n, int64_t in, const float* w, const float* b, int64_t out, float* y,
            int64_t ldy) {
    if (ldy == 0) ldy = out;
    if (b) {
        for (int64_t r = 0; r < n; ++r) std::copy(b, b + out, y + r * ldy);
    }
    gemm(n, out, in, 1.0f, x, in, w, in, /*b_transposed=*/true, b ? 1.0f : 0.0f, y, ldy);
}

void layer_norm(const float* x, int64_t n, int64_t d, const float* w, const float* b, float eps, float* y) {
    for (int64_t r = 0; r < n; ++r) {
        const float* xr = x + r * d;
        float* yr = y + r * d;
        double sum = 0.0;
        for (int64_t i = 0; i < d; ++i) sum += xr[i];
        const double mean = sum / static_cast<double>(d);
        double sq = 0.0;
        for (int64_t i = 0; i < d; ++i) {
            const double t = xr[i] - mean;
            sq += t * t;
        }
        const float rstd = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(d) + eps));
        const float fmean = static_cast<float>(mean);
        for (int64_t i = 0; i < d; ++i) yr[i] = (xr[i] - fmean) * rstd * w[i] + b[i];
    }
}

namespace {

// expf to ~1 ulp (Cephes polynomial on a ln2 range reduction), written so loops vectorise.
inline float fast_exp(float x) {
    x = std::min(std::max(x, -87.3f), 88.7f);
    constexpr float kRound = 12582912.0f; // 1.5·2²³: adding and subtracting rounds to nearest, vectorisable
    const float n = (x * 1.44269504088896341f + kRound) - kRound;
    float r = x - n * 0.693359375f; // ln2 split in two for an exact product
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
    return p * std::bit_cast<float>(bits);
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

} // namespace

void gelu_erf(float* x, int64_t n) {
    constexpr float inv_sqrt2 = 0.70710678118654752440f;
    for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + fast_erf(x[i] * inv_sqrt2));
}

void relu(float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void silu(float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + fast_exp(-x[i]));
}

void softmax_rows(float* x, int64_t n_rows, int64_t n_cols) {
    for (int64_t r = 0; r < n_rows; ++r) {
        float* row = x + r * n_cols;
        float mx = row[0];
        for (int64_t j = 1; j < n_cols; ++j) mx = std::max(mx, row[j]);
        float sum = 0.0f;
        for (int64_t j = 0; j < n_cols; ++j) {
            row[j] = fast_exp(row[j] - mx);
            sum += row[j];
        }
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j < n_cols; ++j) row[j] *= inv;
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
