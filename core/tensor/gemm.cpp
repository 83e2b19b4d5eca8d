// The one GEMM dispatch: every product of every model (linear layers, attention, im2col convolutions)
// goes through ops::gemm to the backend chosen here. Why oneDNN by default: docs/performance.md.
#include "core/error.h"
#include "core/tensor/ops.h"

#include <cblas.h>
#ifdef ATTNSCOPE_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#endif

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <mutex>

namespace attnscope::ops {
namespace {

std::atomic<int> g_threads{0};      // set_num_threads (0: library default)
std::atomic<int> g_backend{-1};     // Backend, -1 until first use
std::once_flag g_backend_once;

Backend default_backend() {
    return backend_available(Backend::OneDNN) ? Backend::OneDNN : Backend::OpenBLAS;
}

void resolve_backend() {
    std::call_once(g_backend_once, [] {
        if (g_backend.load() >= 0) return; // set_gemm_backend came first
        const char* env = std::getenv("ATTNSCOPE_BACKEND");
        std::string v = env ? env : "";
        std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        Backend b = default_backend();
        if (v == "openblas") b = Backend::OpenBLAS;
        else if (v == "onednn" || v == "dnnl") b = Backend::OneDNN;
        else if (!v.empty() && v != "auto")
            throw Error(ErrorKind::Argument, "", "ATTNSCOPE_BACKEND",
                        "unknown backend '" + std::string(env) + "' (openblas, onednn, auto)");
        if (!backend_available(b))
            throw Error(ErrorKind::Argument, "", "ATTNSCOPE_BACKEND",
                        "this build has no " + std::string(backend_name(b)) +
                            " (configure with libdnnl-dev installed, tools/deps.sh)");
        int expected = -1;
        g_backend.compare_exchange_strong(expected, static_cast<int>(b));
    });
}

} // namespace

// OpenMP's thread count is per thread: make the calling thread follow set_num_threads.
void sync_omp_threads() {
#ifdef ATTNSCOPE_HAVE_DNNL
    const int n = g_threads.load(std::memory_order_relaxed);
    if (n > 0 && !omp_in_parallel() && omp_get_max_threads() != n) omp_set_num_threads(n);
#endif
}

void set_num_threads(int n_threads) {
    if (n_threads <= 0) return;
    g_threads = n_threads;
    openblas_set_num_threads(n_threads);
#ifdef ATTNSCOPE_HAVE_DNNL
    omp_set_num_threads(n_threads);
#endif
}

int num_threads() {
    const int n = g_threads.load();
    if (n > 0) return n;
#ifdef ATTNSCOPE_HAVE_DNNL
    if (gemm_backend() == Backend::OneDNN) return omp_get_max_threads();
#endif
    return openblas_get_num_threads();
}

const char* backend_name(Backend b) { return b == Backend::OneDNN ? "onednn" : "openblas"; }

bool backend_available(Backend b) {
#ifdef ATTNSCOPE_HAVE_DNNL
    return true;
#else
    return b == Backend::OpenBLAS;
#endif
}

Backend gemm_backend() {
    resolve_backend();
    return static_cast<Backend>(g_backend.load());
}

void set_gemm_backend(Backend b) {
    if (!backend_available(b))
        throw Error(ErrorKind::Argument, "", "backend", std::string("this build has no ") + backend_name(b));
    g_backend = static_cast<int>(b);
}

std::string blas_core_name() { return openblas_get_corename(); }

std::string preferred_blas_coretype() {
    // By the CPU's features, not by OpenBLAS's list of names: 0.3.21 runs its AVX2 "Haswell"
    // kernels on AMD Zen 4/5 (AVX-512) and falls back to SSE3 "Prescott" on CPUs it does not know.
    std::string core = blas_core_name();
    std::transform(core.begin(), core.end(), core.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    const bool avx512_kernels = core == "skylakex" || core == "cooperlake" || core == "sapphirerapids";
    __builtin_cpu_init();
    const bool has_avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    if (has_avx512) return avx512_kernels ? "" : "SkylakeX";
    const bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (has_avx2) return core == "haswell" || core == "zen" || avx512_kernels ? "" : "Haswell";
    return "";
}

void gemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
          bool b_transposed, float beta, float* c, int64_t ldc) {
    if (m <= 0 || n <= 0) return;
#ifdef ATTNSCOPE_HAVE_DNNL
    if (gemm_backend() == Backend::OneDNN) {
        sync_omp_threads();
        const dnnl_status_t st =
            dnnl_sgemm('N', b_transposed ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        if (st != dnnl_success)
            throw Error(ErrorKind::Unsupported, "", "onednn",
                        "dnnl_sgemm failed (status " + std::to_string(static_cast<int>(st)) + ")");
        return;
    }
#endif
    cblas_sgemm(CblasRowMajor, CblasNoTrans, b_transposed ? CblasTrans : CblasNoTrans, static_cast<blasint>(m),
                static_cast<blasint>(n), static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
                static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

} // namespace attnscope::ops
