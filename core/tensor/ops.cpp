#include "core/tensor/ops.h"

#include <cblas.h>

#include <algorithm>
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

void gelu_erf(float* x, int64_t n) {
    constexpr float inv_sqrt2 = 0.70710678118654752440f;
    for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * inv_sqrt2));
}

void relu(float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void silu(float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-x[i]));
}

void softmax_rows(float* x, int64_t n_rows, int64_t n_cols) {
    for (int64_t r = 0; r < n_rows; ++r) {
        float* row = x + r * n_cols;
        float mx = row[0];
        for (int64_t j = 1; j < n_cols; ++j) mx = std::max(mx, row[j]);
        float sum = 0.0f;
        for (int64_t j = 0; j < n_cols; ++j) {
            row[j] = std::exp(row[j] - mx);
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
