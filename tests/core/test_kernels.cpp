// The dense kernels against plain double-precision formulas written here (never against themselves):
// every GEMM backend this build can select, the vectorised softmax / LayerNorm / GELU (lengths with and
// without a 16-lane tail), the head-batched attention, and RecordAll's buffer reuse across passes.
#include "core/error.h"
#include "core/tensor/attention.h"
#include "core/tensor/ops.h"
#include "core/tensor/recorder.h"
#include "tests/support/tensor_compare.h"

#include <QProcess>
#include <QtTest>

#include <cmath>
#include <random>
#include <vector>

using namespace attnscope;

namespace {

std::vector<float> random_vec(size_t n, uint32_t seed, float lo = -3.0f, float hi = 3.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = u(rng);
    return v;
}

// C = A[m,k] · op(B), B [k,n] or (transposed) [n,k], in double.
std::vector<double> ref_gemm(int m, int n, int k, const float* a, int lda, const float* b, int ldb, bool bt) {
    std::vector<double> c(static_cast<size_t>(m) * n);
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            double s = 0;
            for (int p = 0; p < k; ++p) s += double(a[i * lda + p]) * (bt ? b[j * ldb + p] : b[p * ldb + j]);
            c[static_cast<size_t>(i) * n + j] = s;
        }
    return c;
}

void ref_softmax(std::vector<double>& row) {
    double mx = row[0];
    for (double v : row) mx = std::max(mx, v);
    double s = 0;
    for (double& v : row) s += (v = std::exp(v - mx));
    for (double& v : row) v /= s;
}

std::vector<ops::Backend> backends() {
    std::vector<ops::Backend> out;
    for (ops::Backend b : {ops::Backend::OpenBLAS, ops::Backend::OneDNN})
        if (ops::backend_available(b)) out.push_back(b);
    return out;
}

// Restores the process's backend when a test switched it.
struct BackendGuard {
    ops::Backend saved = ops::gemm_backend();
    ~BackendGuard() { ops::set_gemm_backend(saved); }
};

} // namespace

class TestKernels : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { ops::set_num_threads(2); }

    void gemmEveryBackendMatchesDouble() {
        BackendGuard guard;
        struct Case { int m, n, k; bool bt; };
        for (const Case c : {Case{197, 129, 64, true}, Case{197, 64, 197, false}, Case{5, 3, 7, false},
                             Case{33, 300, 768, true}, Case{1, 1000, 192, true}}) {
            const int lda = c.k + 3, ldb = (c.bt ? c.k : c.n) + 5, ldc = c.n + 2; // strided, as attention uses
            const auto a = random_vec(size_t(c.m) * lda, 1), b = random_vec(size_t(c.bt ? c.n : c.k) * ldb, 2);
            const auto ref = ref_gemm(c.m, c.n, c.k, a.data(), lda, b.data(), ldb, c.bt);
            for (ops::Backend be : backends()) {
                ops::set_gemm_backend(be);
                std::vector<float> out(size_t(c.m) * ldc, 7.0f); // beta = 0.5 keeps half of the 7s
                ops::gemm(c.m, c.n, c.k, 0.25f, a.data(), lda, b.data(), ldb, c.bt, 0.5f, out.data(), ldc);
                double worst = 0;
                for (int i = 0; i < c.m; ++i)
                    for (int j = 0; j < c.n; ++j)
                        worst = std::max(worst, std::fabs(out[size_t(i) * ldc + j] -
                                                          (0.25 * ref[size_t(i) * c.n + j] + 3.5)));
                QVERIFY2(worst < 1e-4 * std::sqrt(double(c.k)),
                         qPrintable(QString("%1 %2x%3x%4: %5").arg(ops::backend_name(be)).arg(c.m).arg(c.n).arg(c.k).arg(worst)));
                QCOMPARE(out[size_t(c.m - 1) * ldc + c.n], 7.0f); // the padding past n is never written
            }
        }
    }

    // ops::linear: bias, every activation, layer scale and the residual sum, with and without a packed
    // weight, on every backend; a strided destination whose padding must never be written.
    void linearEpiloguesMatchDouble() {
        BackendGuard guard;
        auto act_ref = [](ops::Act act, double v) {
            switch (act) {
            case ops::Act::None: return v;
            case ops::Act::Relu: return v > 0 ? v : 0.0;
            case ops::Act::GeluErf: return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
            case ops::Act::QuickGelu: return v / (1.0 + std::exp(-1.702 * v));
            case ops::Act::GeluTanh:
                return 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
            }
            return v;
        };
        struct Case { int n, in, out; };
        for (const Case c : {Case{197, 64, 192}, Case{7, 96, 130}, Case{1, 192, 1000}}) {
            const auto x = random_vec(size_t(c.n) * c.in, 21, -1.0f, 1.0f), w = random_vec(size_t(c.out) * c.in, 22, -0.2f, 0.2f);
            const auto bias = random_vec(size_t(c.out), 23), scale = random_vec(size_t(c.out), 24, 0.1f, 2.0f);
            const auto prior = random_vec(size_t(c.n) * (c.out + 3), 25);
            const auto ref = ref_gemm(c.n, c.out, c.in, x.data(), c.in, w.data(), c.in, true);
            for (ops::Backend be : backends()) {
                ops::set_gemm_backend(be);
                const auto packed = ops::pack_linear_weight(w.data(), c.out, c.in);
                if (be == ops::Backend::OpenBLAS) QVERIFY(!packed); // nothing to pack for OpenBLAS
                if (packed) { // unpacked: the same matrix, bit for bit (the explanations' backward pass reads it)
                    std::vector<float> back(w.size(), -1.0f);
                    ops::unpack_linear_weight(*packed, back.data());
                    QVERIFY(back == w);
                }
                for (ops::Act act : {ops::Act::None, ops::Act::Relu, ops::Act::GeluErf, ops::Act::QuickGelu, ops::Act::GeluTanh})
                    for (int variant = 0; variant < 4; ++variant) {
                        const bool use_bias = variant != 1, use_scale = variant >= 2, accumulate = variant == 3 || variant == 1;
                        for (const ops::PackedWeight* pw : {static_cast<const ops::PackedWeight*>(nullptr), packed.get()}) {
                            const int ldy = c.out + 3;
                            std::vector<float> y = prior;
                            ops::linear(x.data(), c.n, c.in, w.data(), use_bias ? bias.data() : nullptr, c.out, y.data(), ldy,
                                        {act, use_scale ? scale.data() : nullptr, accumulate}, pw);
                            double worst = 0;
                            for (int i = 0; i < c.n; ++i) {
                                for (int j = 0; j < c.out; ++j) {
                                    double v = act_ref(act, ref[size_t(i) * c.out + j] + (use_bias ? bias[j] : 0.0));
                                    if (use_scale) v *= scale[j];
                                    if (accumulate) v += prior[size_t(i) * ldy + j];
                                    worst = std::max(worst, std::fabs(y[size_t(i) * ldy + j] - v));
                                }
                                for (int j = c.out; j < ldy; ++j) QCOMPARE(y[size_t(i) * ldy + j], prior[size_t(i) * ldy + j]);
                            }
                            QVERIFY2(worst < 2e-5, qPrintable(QString("%1 act %2 variant %3 packed %4 %5x%6x%7: %8")
                                                                  .arg(ops::backend_name(be)).arg(int(act)).arg(variant)
                                                                  .arg(pw != nullptr).arg(c.n).arg(c.in).arg(c.out).arg(worst)));
                        }
                    }
            }
        }
        // On this machine's oneDNN build the ViT shapes do get a packed layout (else the test above
        // would never have run the packed path).
        if (ops::backend_available(ops::Backend::OneDNN)) {
            ops::set_gemm_backend(ops::Backend::OneDNN);
            const auto w = random_vec(size_t(192) * 64, 26);
            QVERIFY(ops::pack_linear_weight(w.data(), 192, 64) != nullptr);
        }
    }

    void softmaxMatchesDouble() {
        for (int n : {1, 7, 16, 17, 64, 197, 850}) {
            auto x = random_vec(size_t(3) * n, 10 + n, -20.0f, 20.0f);
            x[0] = -1e30f; // a masked key in the first row (DETR's padding)
            std::vector<float> got = x;
            ops::softmax_rows(got.data(), 3, n);
            for (int r = 0; r < 3; ++r) {
                std::vector<double> row(x.begin() + r * n, x.begin() + (r + 1) * n);
                ref_softmax(row);
                for (int j = 0; j < n; ++j)
                    QVERIFY2(std::fabs(got[size_t(r) * n + j] - row[j]) < 2e-7,
                             qPrintable(QString("n=%1 r=%2 j=%3: %4 vs %5").arg(n).arg(r).arg(j).arg(got[size_t(r) * n + j]).arg(row[j])));
            }
        }
    }

    void geluMatchesErf() {
        for (int n : {1, 15, 16, 33, 3072}) {
            auto x = random_vec(n, 100 + n, -8.0f, 8.0f);
            std::vector<float> got = x;
            ops::gelu_erf(got.data(), n);
            for (int i = 0; i < n; ++i) {
                const double ref = 0.5 * x[i] * (1.0 + std::erf(x[i] / std::sqrt(2.0)));
                QVERIFY2(std::fabs(got[i] - ref) < 5e-7 * std::max(1.0, std::fabs(ref)),
                         qPrintable(QString("x=%1: %2 vs %3").arg(x[i]).arg(got[i]).arg(ref)));
            }
        }
    }

    void layerNormMatchesDouble() {
        // n = 197 at d = 768: large enough to be split across the threads (ops::layer_norm), odd row count
        for (auto [n, d] : {std::pair{4, 5}, {4, 16}, {4, 100}, {4, 768}, {197, 768}}) {
            auto x = random_vec(size_t(n) * d, 200 + d, 50.0f, 52.0f); // large mean: tests the centring
            const auto w = random_vec(d, 300 + d), b = random_vec(d, 400 + d);
            std::vector<float> y(x.size());
            ops::layer_norm(x.data(), n, d, w.data(), b.data(), 1e-6f, y.data());
            for (int r = 0; r < n; ++r) {
                double mean = 0, var = 0;
                for (int i = 0; i < d; ++i) mean += x[size_t(r) * d + i];
                mean /= d;
                for (int i = 0; i < d; ++i) var += std::pow(x[size_t(r) * d + i] - mean, 2);
                var /= d;
                for (int i = 0; i < d; ++i) {
                    const double ref = (x[size_t(r) * d + i] - mean) / std::sqrt(var + 1e-6) * w[i] + b[i];
                    QVERIFY2(std::fabs(y[size_t(r) * d + i] - ref) < 2e-5,
                             qPrintable(QString("d=%1: %2 vs %3").arg(d).arg(y[size_t(r) * d + i]).arg(ref)));
                }
            }
        }
    }

    // The batched heads (threads over heads with oneDNN, sequential with OpenBLAS) against a plain
    // per-head formula; the recorder gets exactly the probabilities.
    void attentionEveryBackendMatchesReference() {
        BackendGuard guard;
        const AttentionShape s{6, 16, 37, 41};
        const int d = s.n_heads * s.head_dim, ld = 3 * d;
        const auto q = random_vec(size_t(s.n_q) * ld, 7), kv = random_vec(size_t(s.n_k) * ld, 8);
        std::vector<float> bias(s.n_k, 0.0f);
        bias[3] = -std::numeric_limits<float>::infinity();
        const float scale = 0.25f;
        for (ops::Backend be : backends()) {
            ops::set_gemm_backend(be);
            RecordAll rec;
            std::vector<float> out(size_t(s.n_q) * d), scratch;
            multi_head_attention(s, q.data(), ld, kv.data() + d, ld, kv.data() + 2 * d, ld, scale, bias.data(),
                                 out.data(), d, rec, Site::DecoderCross, 2, scratch);
            QCOMPARE(rec.maps().size(), size_t(1));
            const AttentionMap& m = rec.maps()[0];
            QCOMPARE(m.site, Site::DecoderCross);
            QCOMPARE(m.layer, 2);
            for (int h = 0; h < s.n_heads; ++h)
                for (int i = 0; i < s.n_q; ++i) {
                    std::vector<double> row(s.n_k);
                    for (int j = 0; j < s.n_k; ++j) {
                        double dot = 0;
                        for (int c = 0; c < s.head_dim; ++c)
                            dot += double(q[size_t(i) * ld + h * s.head_dim + c]) * kv[size_t(j) * ld + d + h * s.head_dim + c];
                        row[j] = dot * scale + bias[j];
                    }
                    ref_softmax(row);
                    for (int j = 0; j < s.n_k; ++j) QVERIFY(std::fabs(m.at(h, i, j) - row[j]) < 1e-6);
                    for (int c = 0; c < s.head_dim; ++c) {
                        double o = 0;
                        for (int j = 0; j < s.n_k; ++j) o += row[j] * kv[size_t(j) * ld + 2 * d + h * s.head_dim + c];
                        QVERIFY2(std::fabs(out[size_t(i) * d + h * s.head_dim + c] - o) < 1e-5,
                                 qPrintable(QString("%1 h=%2 i=%3 c=%4").arg(ops::backend_name(be)).arg(h).arg(i).arg(c)));
                    }
                }
        }
    }

    // reset() keeps the buffers: the second pass writes into the very same memory, and gets the
    // same maps as a fresh recorder would.
    void recordAllReusesItsBuffersAcrossPasses() {
        const AttentionShape s{4, 8, 20, 20};
        const int d = 32;
        const auto x = random_vec(size_t(s.n_q) * 3 * d, 9);
        auto pass = [&](RecordAll& rec, int layers) {
            std::vector<float> out(size_t(s.n_q) * d), scratch;
            for (int l = 0; l < layers; ++l)
                multi_head_attention(s, x.data(), 3 * d, x.data() + d, 3 * d, x.data() + 2 * d, 3 * d, 0.3f, nullptr,
                                     out.data(), d, rec, Site::Encoder, l, scratch);
        };
        RecordAll rec;
        pass(rec, 3);
        std::vector<const float*> first;
        for (const AttentionMap& m : rec.maps()) first.push_back(m.probs.data());
        rec.reset();
        QCOMPARE(rec.maps().size(), size_t(0));
        QCOMPARE(rec.spare_count(), size_t(3));
        pass(rec, 3);
        QCOMPARE(rec.maps().size(), size_t(3));
        QCOMPARE(rec.spare_count(), size_t(0));
        RecordAll fresh;
        pass(fresh, 3);
        for (size_t i = 0; i < 3; ++i) {
            QCOMPARE(rec.maps()[i].probs.data(), first[i]); // same buffer, same order
            QCOMPARE(rec.maps()[i].layer, int(i));
            QVERIFY(rec.maps()[i].probs == fresh.maps()[i].probs);
        }
        // taken maps come back through recycle(); a larger site then gets a new buffer
        std::vector<AttentionMap> taken = rec.take();
        rec.recycle(std::move(taken));
        QCOMPARE(rec.spare_count(), size_t(3));
        float* big = rec.acquire(Site::Encoder, 0, 8, 50, 50);
        QVERIFY(big != nullptr);
        QCOMPARE(rec.maps().back().probs.size(), size_t(8 * 50 * 50));
        QCOMPARE(rec.spare_count(), size_t(3));
    }

    void unknownBackendIsAClearError() {
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("ATTNSCOPE_BACKEND", "cublas");
        p.setProcessEnvironment(env);
        p.start(ATTNSCOPE_CLI, {"bench", "--model", QString::fromStdString(testing::fixture("vit/hf_vit")),
                                "--runs", "1"});
        QVERIFY2(p.waitForStarted(30000), qPrintable("cannot start " + QString(ATTNSCOPE_CLI) + " (built?)"));
        QVERIFY(p.waitForFinished(60000));
        QVERIFY(p.exitCode() != 0);
        const QString err = QString::fromUtf8(p.readAllStandardError());
        QVERIFY2(err.contains("ATTNSCOPE_BACKEND") && err.contains("cublas"), qPrintable(err));
    }
};

QTEST_GUILESS_MAIN(TestKernels)
#include "test_kernels.moc"
