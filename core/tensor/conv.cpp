#include "core/tensor/conv.h"

#include "core/tensor/ops.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <thread>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace attnscope::ops {

int conv_out_size(int n, int k, int stride, int pad, int dilation) {
    return (n + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
}

namespace {

// Target im2col chunk size in floats (K × columns): a few MB so the GEMM's B panel streams from cache.
constexpr int64_t kChunkFloats = int64_t(1) << 20;

// col[(c·k_h + ky)·k_w + kx, (oy − oy0)·w_out + ox] = x[c, oy·s − p + ky·d, ox·s − p + kx·d] (0 outside).
// Rows [r0, r1) of col only, so threads can split the work.
void im2col_rows(const ConvShape& s, const float* x, int h, int w, int w_out, int oy0, int oy1, int64_t r0,
                 int64_t r1, float* col) {
    const int64_t n_cols = static_cast<int64_t>(oy1 - oy0) * w_out;
    for (int64_t r = r0; r < r1; ++r) {
        const int c = static_cast<int>(r / (s.k_h * s.k_w));
        const int ky = static_cast<int>(r / s.k_w % s.k_h), kx = static_cast<int>(r % s.k_w);
        const float* xc = x + static_cast<int64_t>(c) * h * w; // (h, w)
        float* row = col + r * n_cols;                         // (n_cols)
        const int off_x = kx * s.dilation - s.pad;
        // valid ox: 0 ≤ ox·s + off_x < w
        int ox_lo = off_x >= 0 ? 0 : (-off_x + s.stride - 1) / s.stride;
        int ox_hi = w - off_x <= 0 ? 0 : (w - off_x + s.stride - 1) / s.stride;
        ox_lo = std::min(ox_lo, w_out);
        ox_hi = std::clamp(ox_hi, ox_lo, w_out);
        for (int oy = oy0; oy < oy1; ++oy) {
            float* dst = row + static_cast<int64_t>(oy - oy0) * w_out; // (w_out)
            const int iy = oy * s.stride - s.pad + ky * s.dilation;
            if (iy < 0 || iy >= h) {
                std::memset(dst, 0, sizeof(float) * w_out);
                continue;
            }
            const float* src = xc + static_cast<int64_t>(iy) * w + off_x;
            std::fill(dst, dst + ox_lo, 0.0f);
            if (s.stride == 1) {
                std::memcpy(dst + ox_lo, src + ox_lo, sizeof(float) * (ox_hi - ox_lo));
            } else {
                for (int ox = ox_lo; ox < ox_hi; ++ox) dst[ox] = src[static_cast<int64_t>(ox) * s.stride];
            }
            std::fill(dst + ox_hi, dst + w_out, 0.0f);
        }
    }
}

// Runs f(lo, hi) over [0, n) split across n_threads (the calling thread takes the first part).
// The BLAS threads are idle between GEMMs, so the copy/epilogue passes may use the same cores.
// With oneDNN the products run on OpenMP's threads, so these passes use the same pool (no thread
// started per pass, none competing with OpenMP workers still spinning after a product).
template <typename F>
void parallel_ranges(int64_t n, int n_threads, const F& f) {
    if (n_threads <= 1 || n < 2) {
        f(int64_t(0), n);
        return;
    }
    const int64_t per = (n + n_threads - 1) / n_threads;
#ifdef _OPENMP
    if (gemm_backend() == Backend::OneDNN && !omp_in_parallel()) {
#pragma omp parallel num_threads(n_threads)
        {
            const int64_t lo = omp_get_thread_num() * per, hi = std::min(n, lo + per);
            if (lo < hi) f(lo, hi);
        }
        return;
    }
#endif
    std::vector<std::thread> pool;
    for (int t = 1; t < n_threads; ++t) {
        const int64_t lo = t * per, hi = std::min(n, lo + per);
        if (lo < hi) pool.emplace_back(f, lo, hi);
    }
    f(int64_t(0), std::min(n, per));
    for (std::thread& t : pool) t.join();
}

} // namespace

void conv2d(const ConvShape& s, const float* x, int h, int w, const float* weight, const float* bias,
            const float* residual, bool relu, float* y, std::vector<float>& scratch) {
    const int h_out = conv_out_size(h, s.k_h, s.stride, s.pad, s.dilation);
    const int w_out = conv_out_size(w, s.k_w, s.stride, s.pad, s.dilation);
    const int64_t n_out = static_cast<int64_t>(h_out) * w_out;
    const int64_t k_dim = static_cast<int64_t>(s.c_in) * s.k_h * s.k_w;
    const bool direct = s.k_h == 1 && s.k_w == 1 && s.stride == 1 && s.pad == 0; // plain GEMM on x
    const int rows_per_chunk =
        std::max<int>(1, static_cast<int>(std::min<int64_t>(h_out, kChunkFloats / std::max<int64_t>(1, k_dim * w_out))));
    if (!direct) scratch.resize(static_cast<size_t>(k_dim * rows_per_chunk * w_out));

    for (int oy0 = 0; oy0 < h_out; oy0 += rows_per_chunk) {
        const int oy1 = std::min(h_out, oy0 + rows_per_chunk);
        const int64_t col0 = static_cast<int64_t>(oy0) * w_out;
        const int64_t n_cols = static_cast<int64_t>(oy1 - oy0) * w_out;
        const float* b_mat; // (k_dim, n_cols) with row stride ldb
        int64_t ldb;
        // threads for the copy passes: only when the chunk is big enough to pay for the spawn
        const int n_threads = n_cols * std::max<int64_t>(k_dim, s.c_out) >= (int64_t(1) << 17)
                                  ? std::clamp(num_threads(), 1, 8) : 1;
        if (direct) {
            b_mat = x + col0;
            ldb = n_out;
        } else {
            parallel_ranges(k_dim, n_threads, [&](int64_t r0, int64_t r1) {
                im2col_rows(s, x, h, w, w_out, oy0, oy1, r0, r1, scratch.data());
            });
            b_mat = scratch.data();
            ldb = n_cols;
        }
        // y[:, chunk] = bias (+ residual), then += W · col (beta = 1 skips BLAS's own zeroing pass)
        parallel_ranges(s.c_out, n_threads, [&](int64_t co0, int64_t co1) {
            for (int64_t co = co0; co < co1; ++co) {
                float* yr = y + co * n_out + col0; // (n_cols)
                const float bv = bias ? bias[co] : 0.0f;
                if (residual) {
                    const float* rr = residual + co * n_out + col0;
                    for (int64_t i = 0; i < n_cols; ++i) yr[i] = bv + rr[i];
                } else {
                    std::fill(yr, yr + n_cols, bv);
                }
            }
        });
        gemm(s.c_out, n_cols, k_dim, 1.0f, weight, k_dim, b_mat, ldb, /*b_transposed=*/false, 1.0f, y + col0, n_out);
        if (relu) {
            parallel_ranges(s.c_out, n_threads, [&](int64_t co0, int64_t co1) {
                for (int64_t co = co0; co < co1; ++co) {
                    float* yr = y + co * n_out + col0; // (n_cols)
                    for (int64_t i = 0; i < n_cols; ++i) yr[i] = yr[i] > 0.0f ? yr[i] : 0.0f;
                }
            });
        }
    }
}

void maxpool2d(const float* x, int c, int h, int w, int k, int stride, int pad, float* y) {
    const int h_out = conv_out_size(h, k, stride, pad, 1);
    const int w_out = conv_out_size(w, k, stride, pad, 1);
    for (int ch = 0; ch < c; ++ch) {
        const float* xc = x + static_cast<int64_t>(ch) * h * w;           // (h, w)
        float* yc = y + static_cast<int64_t>(ch) * h_out * w_out;         // (h_out, w_out)
        for (int oy = 0; oy < h_out; ++oy) {
            const int iy0 = std::max(0, oy * stride - pad), iy1 = std::min(h, oy * stride - pad + k);
            for (int ox = 0; ox < w_out; ++ox) {
                const int ix0 = std::max(0, ox * stride - pad), ix1 = std::min(w, ox * stride - pad + k);
                float m = -std::numeric_limits<float>::infinity();
                for (int iy = iy0; iy < iy1; ++iy)
                    for (int ix = ix0; ix < ix1; ++ix) m = std::max(m, xc[static_cast<int64_t>(iy) * w + ix]);
                yc[static_cast<int64_t>(oy) * w_out + ox] = m;
            }
        }
    }
}

} // namespace attnscope::ops
