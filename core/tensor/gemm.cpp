// The one GEMM dispatch: every product of every model (linear layers, attention, im2col convolutions)
// goes through ops::gemm to the backend chosen here. Why oneDNN by default: docs/performance.md.
#include "core/error.h"
#include "core/tensor/ops.h"

#include <cblas.h>
#ifdef ATTNSCOPE_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>
#endif

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <map>
#include <unordered_map>
#include <mutex>
#include <tuple>
#include <vector>

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

namespace {

// Without oneDNN: the bias copied into y, one gemm accumulating onto it, then the epilogue as passes over
// y (the same floating-point operations, in the same order, as the separate calls this replaced).
void linear_passes(const float* x, int64_t n, int64_t in, const float* w, const float* b, int64_t out, float* y,
                   int64_t ldy, const Epilogue& epi) {
    thread_local std::vector<float> tmp;
    float* dst = y;
    int64_t ld = ldy;
    if (epi.accumulate) {
        tmp.resize(static_cast<size_t>(n * out));
        dst = tmp.data();
        ld = out;
    }
    if (b) {
        for (int64_t r = 0; r < n; ++r) std::copy(b, b + out, dst + r * ld);
    }
    gemm(n, out, in, 1.0f, x, in, w, in, /*b_transposed=*/true, b ? 1.0f : 0.0f, dst, ld);
    for (int64_t r = 0; r < n; ++r) {
        float* row = dst + r * ld;
        activate(epi.act, row, out);
        float* yr = y + r * ldy;
        if (epi.accumulate && epi.col_scale) {
            for (int64_t i = 0; i < out; ++i) yr[i] += epi.col_scale[i] * row[i];
        } else if (epi.accumulate) {
            for (int64_t i = 0; i < out; ++i) yr[i] += row[i];
        } else if (epi.col_scale) {
            for (int64_t i = 0; i < out; ++i) row[i] *= epi.col_scale[i];
        }
    }
}

#ifdef ATTNSCOPE_HAVE_DNNL
// oneDNN's matmul primitive: weights read in place as the transposed view of the [out, in] matrix, or
// from a PackedWeight; bias and epilogue as post-ops. Primitives are compiled once per (shape, strides,
// epilogue, thread count, packed or not) and kept: creating one JIT-compiles its kernels (≈ ms).
using MatmulKey = std::tuple<int64_t, int64_t, int64_t, int64_t, bool, int, bool, bool, int, bool>;
using md = dnnl::memory::desc;
using dt = dnnl::memory::data_type;

struct Matmul {
    dnnl::matmul prim;
    md weights;       // the layout the primitive reads its weights in
    md scratchpad;    // its work memory, handed in by the caller (see matmul_for)
};

const dnnl::engine& dnnl_engine() {
    static const dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    return eng;
}

dnnl::stream& dnnl_stream() {
    thread_local dnnl::stream stream(dnnl_engine());
    return stream;
}

md plain_weights(int64_t in, int64_t out) { return md({in, out}, dt::f32, dnnl::memory::dims{1, in}); } // wᵀ [in, out]

dnnl::algorithm eltwise_of(Act act, float& alpha) {
    alpha = 0.0f;
    switch (act) {
    case Act::Relu: return dnnl::algorithm::eltwise_relu;
    case Act::GeluErf: return dnnl::algorithm::eltwise_gelu_erf;
    case Act::GeluTanh: return dnnl::algorithm::eltwise_gelu_tanh;
    case Act::QuickGelu: alpha = 1.702f; return dnnl::algorithm::eltwise_swish; // x·σ(α·x)
    case Act::None: break;
    }
    return dnnl::algorithm::undef;
}

// Kept per key; shared, so that emptying the cache (after 256 shapes: DETR at many image sizes) never
// frees a primitive another thread is running.
std::shared_ptr<const Matmul> matmul_for(const MatmulKey& key) {
    static std::mutex mutex;
    static std::map<MatmulKey, std::shared_ptr<const Matmul>> cache;
    std::lock_guard<std::mutex> lock(mutex);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
    if (cache.size() >= 256) cache.clear();
    const auto [m, k, n, ldy, bias, act, scale, accumulate, threads, packed] = key;
    (void)threads;
    const md src({m, k}, dt::f32, dnnl::memory::dims{k, 1});
    const md weights = packed ? md({k, n}, dt::f32, dnnl::memory::format_tag::any) : plain_weights(k, n);
    const md bias_md = bias ? md({1, n}, dt::f32, dnnl::memory::dims{n, 1}) : md();
    const md dst({m, n}, dt::f32, dnnl::memory::dims{ldy, 1});
    dnnl::post_ops po;
    if (static_cast<Act>(act) != Act::None) {
        float alpha = 0.0f;
        const dnnl::algorithm alg = eltwise_of(static_cast<Act>(act), alpha);
        po.append_eltwise(1.0f, alg, alpha, 0.0f);
    }
    if (scale) po.append_binary(dnnl::algorithm::binary_mul, md({1, n}, dt::f32, dnnl::memory::dims{n, 1}));
    if (accumulate) po.append_sum(1.0f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(po);
    // The caller's scratchpad, not the library's: Debian's oneDNN shares one library scratchpad between
    // primitives (built without ONEDNN_ENABLE_CONCURRENT_EXEC), so products running at once on several
    // threads (`eval`'s workers) would overwrite each other's work memory.
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights, bias_md, dst), attr, dnnl_engine());
    auto made = std::make_shared<const Matmul>(Matmul{dnnl::matmul(pd), pd.weights_desc(), pd.scratchpad_desc()});
    cache.emplace(key, made);
    return made;
}

MatmulKey matmul_key(int64_t n, int64_t in, int64_t out, int64_t ldy, bool bias, const Epilogue& epi, bool packed) {
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    return {n, in, out, ldy, bias, static_cast<int>(epi.act), epi.col_scale != nullptr, epi.accumulate, threads, packed};
}

[[noreturn]] void rethrow(const dnnl::error& e, const char* what) {
    throw Error(ErrorKind::Unsupported, "", "onednn", std::string(what) + " failed: " + e.what());
}
#endif

} // namespace

class PackedWeight {
public:
#ifdef ATTNSCOPE_HAVE_DNNL
    md desc;
#endif
    std::unique_ptr<float, void (*)(void*)> data{nullptr, std::free};
};

std::shared_ptr<const PackedWeight> pack_linear_weight(const float* w, int64_t out, int64_t in) {
#ifdef ATTNSCOPE_HAVE_DNNL
    if (gemm_backend() != Backend::OneDNN || out <= 0 || in <= 0) return nullptr;
    sync_omp_threads();
    try {
        // The layout the kernels pick is the same for every number of rows here (measured: 1 to 3000
        // rows, 1 or 2 threads); linear() checks it again for each shape and reads w when it differs.
        const auto mm = matmul_for(matmul_key(64, in, out, out, false, {}, true));
        if (mm->weights == plain_weights(in, out)) return nullptr;
        auto p = std::make_shared<PackedWeight>();
        p->desc = mm->weights;
        const size_t bytes = (p->desc.get_size() + 63) / 64 * 64;
        p->data.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
        if (!p->data) throw Error(ErrorKind::Unsupported, "", "memory", "out of memory packing a weight");
        dnnl::memory from(plain_weights(in, out), dnnl_engine(), const_cast<float*>(w));
        dnnl::memory to(p->desc, dnnl_engine(), p->data.get());
        dnnl::reorder(from, to).execute(dnnl_stream(), from, to);
        dnnl_stream().wait();
        return p;
    } catch (const dnnl::error& e) {
        rethrow(e, "packing a weight");
    }
#else
    (void)w, (void)out, (void)in;
    return nullptr;
#endif
}

void unpack_linear_weight(const PackedWeight& packed, float* w) {
#ifdef ATTNSCOPE_HAVE_DNNL
    try {
        const dnnl::memory::dims& dims = packed.desc.dims(); // {in, out}
        dnnl::memory from(packed.desc, dnnl_engine(), packed.data.get());
        dnnl::memory to(plain_weights(dims[0], dims[1]), dnnl_engine(), w);
        dnnl::reorder(from, to).execute(dnnl_stream(), from, to);
        dnnl_stream().wait();
    } catch (const dnnl::error& e) {
        rethrow(e, "unpacking a weight");
    }
#else
    (void)packed, (void)w; // never made without oneDNN
#endif
}

namespace {
#ifdef ATTNSCOPE_HAVE_DNNL
void linear_onednn(const float* x, int64_t n, int64_t in, const float* w, const float* b, int64_t out, float* y,
                   int64_t ldy, const Epilogue& epi, const PackedWeight* packed) {
    sync_omp_threads();
    try {
        std::shared_ptr<const Matmul> mm;
        const float* weights = w;
        if (packed) {
            mm = matmul_for(matmul_key(n, in, out, ldy, b != nullptr, epi, true));
            if (mm->weights == packed->desc) weights = packed->data.get();
            else mm = nullptr; // this shape's kernels want another layout: read w in place
        }
        if (!mm) mm = matmul_for(matmul_key(n, in, out, ldy, b != nullptr, epi, false));
        const dnnl::engine& eng = dnnl_engine();
        auto wrap = [&](const md& d, const float* p) { return dnnl::memory(d, eng, const_cast<float*>(p)); };
        std::unordered_map<int, dnnl::memory> args{
            {DNNL_ARG_SRC, wrap(md({n, in}, dt::f32, dnnl::memory::dims{in, 1}), x)},
            {DNNL_ARG_WEIGHTS, wrap(mm->weights, weights)},
            {DNNL_ARG_DST, wrap(md({n, out}, dt::f32, dnnl::memory::dims{ldy, 1}), y)}};
        if (b) args.emplace(DNNL_ARG_BIAS, wrap(md({1, out}, dt::f32, dnnl::memory::dims{out, 1}), b));
        thread_local std::vector<float> scratch;
        if (const size_t need = mm->scratchpad.get_size(); need > 0) {
            scratch.resize((need + sizeof(float) - 1) / sizeof(float) + 16);
            // 64-byte aligned start inside the buffer
            float* base = scratch.data();
            base += (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64 / sizeof(float);
            args.emplace(DNNL_ARG_SCRATCHPAD, wrap(mm->scratchpad, base));
        }
        if (epi.col_scale) {
            const int index = epi.act != Act::None ? 1 : 0; // the binary post-op's position in the chain
            args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(index) | DNNL_ARG_SRC_1,
                         wrap(md({1, out}, dt::f32, dnnl::memory::dims{out, 1}), epi.col_scale));
        }
        mm->prim.execute(dnnl_stream(), args);
        dnnl_stream().wait();
    } catch (const dnnl::error& e) {
        rethrow(e, "matmul");
    }
}
#endif
} // namespace

void linear(const float* x, int64_t n, int64_t in, const float* w, const float* b, int64_t out, float* y, int64_t ldy,
            const Epilogue& epi, const PackedWeight* packed) {
    if (ldy == 0) ldy = out;
    if (n <= 0 || out <= 0) return;
#ifdef ATTNSCOPE_HAVE_DNNL
    if (gemm_backend() == Backend::OneDNN && in > 0) {
        linear_onednn(x, n, in, w, b, out, y, ldy, epi, packed);
        return;
    }
#endif
    (void)packed;
    linear_passes(x, n, in, w, b, out, y, ldy, epi);
}

} // namespace attnscope::ops
