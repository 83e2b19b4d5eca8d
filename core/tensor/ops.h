// Dense kernels shared by every model. Row-major everywhere; matrices are [rows, cols].
// Products go to OpenBLAS sgemm; element-wise work is plain loops the compiler vectorises.
#pragma once

#include <cstdint>
#include <string>

namespace attnscope::ops {

// Threads used by the BLAS (0 = leave the library default).
void set_num_threads(int n_threads);
int num_threads();

// The kernel family OpenBLAS picked at load time ("Prescott", "SkylakeX", …), and the one this
// CPU should use when OpenBLAS did not recognise it ("" when the pick is fine). OpenBLAS reads
// OPENBLAS_CORETYPE only at load time, so the app re-executes itself with it set (app/blas_env).
std::string blas_core_name();
std::string preferred_blas_coretype();

// y[n, out] = x[n, in] · wᵀ (+ b), w is an nn.Linear weight [out, in]. b may be null.
// ldy: row stride of y (defaults to out) so results can be written into a wider buffer.
void linear(const float* x, int64_t n, int64_t in, const float* w, const float* b, int64_t out, float* y,
            int64_t ldy = 0);

// C[m, n] = alpha · A[m, k] · op(B) + beta · C, with explicit leading dimensions.
// b_transposed: B is stored [n, k] (use Bᵀ).
void gemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
          bool b_transposed, float beta, float* c, int64_t ldc);

// In-place LayerNorm over the last dimension of x[n, d]: (x-μ)/sqrt(σ²+eps)·w + b (biased variance).
void layer_norm(const float* x, int64_t n, int64_t d, const float* w, const float* b, float eps, float* y);

// In-place activations.
void gelu_erf(float* x, int64_t n);   // 0.5·x·(1+erf(x/√2))
void relu(float* x, int64_t n);
void silu(float* x, int64_t n);

// Row-wise softmax in place over rows of length n_cols (numerically stable, max subtracted).
void softmax_rows(float* x, int64_t n_rows, int64_t n_cols);

// y += x (n elements); y += s ⊙ x with a per-column scale of length d over n/d rows.
void add_inplace(float* y, const float* x, int64_t n);
void add_scaled_rows_inplace(float* y, const float* x, const float* scale, int64_t rows, int64_t d);

} // namespace attnscope::ops
