#include "core/tensor/attention.h"

#include "core/tensor/ops.h"

#include <algorithm>
#include <exception>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace attnscope {

namespace {
// Every row of the (n, cols) block at `x` (row stride ld) replaced by the mean row (summed in double).
void mean_over_rows(float* x, int n, int cols, int64_t ld) {
    std::vector<double> sum(static_cast<size_t>(cols), 0.0);
    for (int i = 0; i < n; ++i)
        for (int c = 0; c < cols; ++c) sum[c] += x[i * ld + c];
    for (int i = 0; i < n; ++i)
        for (int c = 0; c < cols; ++c) x[i * ld + c] = static_cast<float>(sum[c] / n);
}
} // namespace

void multi_head_attention(const AttentionShape& s, const float* q, int64_t ldq, const float* k, int64_t ldk,
                          const float* v, int64_t ldv, float scale, const float* key_bias, float* out,
                          int64_t ldo, AttentionRecorder& recorder, Site site, int layer,
                          std::vector<float>& scratch) {
    const int64_t per_head = static_cast<int64_t>(s.n_q) * s.n_k;
    float* probs = recorder.acquire(site, layer, s.n_heads, s.n_q, s.n_k); // (heads, n_q, n_k)
    if (!probs) {
        scratch.resize(static_cast<size_t>(per_head) * s.n_heads);
        probs = scratch.data();
    }
    // One head: scores, the explicit softmax (in place, in the recorder's buffer), the weighted sum.
    auto head = [&](int h) {
        const int64_t col = static_cast<int64_t>(h) * s.head_dim;
        float* p = probs + h * per_head; // (n_q, n_k)
        // scores = (q_h · k_hᵀ) · scale
        ops::gemm(s.n_q, s.n_k, s.head_dim, scale, q + col, ldq, k + col, ldk, /*b_transposed=*/true, 0.0f, p,
                  s.n_k);
        if (key_bias) {
            for (int i = 0; i < s.n_q; ++i) ops::add_inplace(p + static_cast<int64_t>(i) * s.n_k, key_bias, s.n_k);
        }
        ops::softmax_rows(p, s.n_q, s.n_k);
        const HeadOutput what = recorder.head_output(site, layer, h);
        if (what == HeadOutput::Zero) { // ablated: 0 for every query (the probabilities above stay recorded)
            for (int i = 0; i < s.n_q; ++i) std::fill_n(out + i * ldo + col, s.head_dim, 0.0f);
            return;
        }
        // out_h = p · v_h
        ops::gemm(s.n_q, s.head_dim, s.n_k, 1.0f, p, s.n_k, v + col, ldv, /*b_transposed=*/false, 0.0f, out + col,
                  ldo);
        if (what == HeadOutput::Mean) mean_over_rows(out + col, s.n_q, s.head_dim, ldo);
    };
#ifdef _OPENMP
    // Heads batched across the threads: each thread runs whole heads (its products single-threaded,
    // the softmax included), instead of every small per-head product being split across the threads.
    // Only with oneDNN, whose products share OpenMP's threads; OpenBLAS keeps its own pool.
    const int n_threads = std::min(ops::num_threads(), s.n_heads);
    if (n_threads > 1 && ops::gemm_backend() == ops::Backend::OneDNN && !omp_in_parallel()) {
        std::exception_ptr error;
#pragma omp parallel for num_threads(n_threads) schedule(static)
        for (int h = 0; h < s.n_heads; ++h) {
            try {
                head(h);
            } catch (...) {
#pragma omp critical(attnscope_attention_error)
                if (!error) error = std::current_exception();
            }
        }
        if (error) std::rethrow_exception(error);
        return;
    }
#endif
    for (int h = 0; h < s.n_heads; ++h) head(h);
}

} // namespace attnscope
