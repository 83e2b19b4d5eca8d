// Dense kernels shared by every model. Row-major everywhere; matrices are [rows, cols].
// Products go through one GEMM dispatch (core/tensor/gemm.cpp) to the backend chosen by measurement
// (docs/performance.md): oneDNN when the build has it, else OpenBLAS; ATTNSCOPE_BACKEND=openblas|onednn
// forces one. Element-wise work (softmax, LayerNorm, GELU) has AVX-512 and AVX2 clones picked at run
// time from the CPU's features, with a portable fallback.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace attnscope::ops {

// Threads used by the products (0 = leave the library default). Per process; worker threads that
// run their own forward passes call set_num_threads(1) themselves (core/data/evaluate.cpp).
void set_num_threads(int n_threads);
int num_threads();
// oneDNN runs on OpenMP, whose thread count is per calling thread: every oneDNN call site calls this
// first so the calling thread follows set_num_threads (no-op without oneDNN).
void sync_omp_threads();

enum class Backend { OpenBLAS, OneDNN };
const char* backend_name(Backend b); // "openblas", "onednn"
bool backend_available(Backend b);   // OneDNN: only when the build found libdnnl-dev
// The backend every product uses. On first use it is read from ATTNSCOPE_BACKEND (openblas, onednn,
// auto or unset = oneDNN when available); a value that names no backend of this build throws
// Error(Argument) naming the variable, so a CI stage that forces a backend can never test another.
Backend gemm_backend();
void set_gemm_backend(Backend b); // throws Error(Argument) when !backend_available(b)

// The kernel family OpenBLAS picked at load time ("Prescott", "SkylakeX", …), and the one this
// CPU should use when OpenBLAS did not recognise it ("" when the pick is fine). OpenBLAS reads
// OPENBLAS_CORETYPE only at load time, so the app re-executes itself with it set (app/blas_env).
std::string blas_core_name();
std::string preferred_blas_coretype();

// Activations applied element-wise (in place): the models' MLP activations and ReLU.
// GeluErf 0.5·x·(1+erf(x/√2)); QuickGelu x·σ(1.702·x) (OpenAI CLIP); GeluTanh 0.5·x·(1+tanh(√(2/π)(x+0.044715x³))).
enum class Act { None, Relu, GeluErf, QuickGelu, GeluTanh };
void activate(Act act, float* x, int64_t n);

// What a linear layer does after its product, in this order: the activation, a per-output-column scale
// (layer scale), then — accumulate — the sum with what y already holds (a residual connection).
// With oneDNN all of it runs inside the product's kernel (post-ops: no extra pass over y).
struct Epilogue {
    Act act = Act::None;
    const float* col_scale = nullptr; // [out], or null
    bool accumulate = false;          // y += …, instead of y = …
};

// An nn.Linear weight [out, in] rearranged once into the blocked layout oneDNN's matmul kernels read
// fastest (≈ 10% faster products at ViT-B's shapes than reading [out, in] in place: docs/performance.md).
// The same floats, only moved: products with it give the same results as with w.
class PackedWeight;
// nullptr where there is nothing to gain: the backend is not oneDNN, or its kernels read w as it is.
std::shared_ptr<const PackedWeight> pack_linear_weight(const float* w, int64_t out, int64_t in);
// The packed floats back as the [out, in] matrix they came from (w: out·in floats), bit for bit.
void unpack_linear_weight(const PackedWeight& packed, float* w);

// y[n, out] = epilogue(x[n, in] · wᵀ (+ b)), w is an nn.Linear weight [out, in]. b may be null.
// ldy: row stride of y (defaults to out) so results can be written into a wider buffer. y must not
// overlap x. With oneDNN: its matmul primitive (brgemm kernels; ≈ 1.3× dnnl_sgemm's speed on two
// threads at ViT shapes, docs/performance.md), cached per shape and thread count. packed: optional,
// pack_linear_weight(w, out, in) — read instead of w when the backend's kernels take it.
void linear(const float* x, int64_t n, int64_t in, const float* w, const float* b, int64_t out, float* y,
            int64_t ldy = 0, const Epilogue& epi = {}, const PackedWeight* packed = nullptr);

// C[m, n] = alpha · A[m, k] · op(B) + beta · C, with explicit leading dimensions.
// b_transposed: B is stored [n, k] (use Bᵀ). Called inside an OpenMP parallel region (the batched
// attention heads) it runs on the calling thread only.
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
