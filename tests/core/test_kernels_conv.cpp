// The convolution paths against plain double-precision loops written here, and the whole DETR backbone
// on each path against the PyTorch fixtures (tools/reference/make_detr_fixtures.py; logits/boxes ≤ 1e-4):
// oneDNN's direct convolutions on the blocked layout (ops::DirectConvNet, the default when the build has
// oneDNN) and im2col + gemm (the OpenBLAS backend, and builds without oneDNN). Both run in this one
// process, whatever ATTNSCOPE_BACKEND says, by switching the GEMM backend.
#include "core/error.h"
#include "core/io/npy.h"
#include "core/io/weights.h"
#include "core/models/detr.h"
#include "core/session.h"
#include "core/tensor/conv.h"
#include "core/tensor/ops.h"
#include "tests/support/conv_reference.h"
#include "tests/support/fixture_models.h"
#include "tests/support/tensor_compare.h"

#include <nlohmann/json.hpp>

#include <QtTest>

#include <cmath>
#include <fstream>
#include <random>
#include <vector>

using namespace attnscope;
using attnscope::testing::fixture;
using attnscope::testing::load_detr_fixture;
using attnscope::testing::max_abs_diff;
using attnscope::testing::normal;
using attnscope::testing::reference_conv;

class TestKernelsConv : public QObject {
    Q_OBJECT

    ops::Backend initial_ = ops::Backend::OpenBLAS;

private slots:
    void initTestCase() {
        ops::set_num_threads(2);
        initial_ = ops::gemm_backend();
    }
    void cleanupTestCase() { ops::set_gemm_backend(initial_); }

    void directConvMatchesDouble_data() {
        testing::add_conv_columns();
        QTest::newRow("1x1 s1, 16-multiple channels") << 32 << 48 << 1 << 1 << 0 << 1 << 9 << 13;
        QTest::newRow("1x1 s1, odd channels") << 8 << 5 << 1 << 1 << 0 << 1 << 9 << 13;
        QTest::newRow("1x1 s2 odd size (downsample)") << 32 << 64 << 1 << 2 << 0 << 1 << 9 << 13;
        QTest::newRow("1x1 s2 even size (last row skipped)") << 32 << 64 << 1 << 2 << 0 << 1 << 10 << 14;
        QTest::newRow("3x3 s1 p1") << 16 << 32 << 3 << 1 << 1 << 1 << 11 << 6;
        QTest::newRow("3x3 s2 p1 even size") << 32 << 32 << 3 << 2 << 1 << 1 << 12 << 16;
        QTest::newRow("3x3 s2 p1 odd size") << 5 << 3 << 3 << 2 << 1 << 1 << 13 << 7;
        QTest::newRow("3x3 dilation 2 pad 2 (DC5)") << 32 << 16 << 3 << 1 << 2 << 2 << 10 << 9;
        QTest::newRow("7x7 s2 p3 stem, RGB input") << 3 << 64 << 7 << 2 << 3 << 1 << 34 << 45;
    }
    void directConvMatchesDouble() {
        if (!ops::backend_available(ops::Backend::OneDNN))
            QSKIP("this build has no oneDNN: the direct convolutions do not exist (im2col is tested in test_detr)");
        const auto [c_in, c_out, k, stride, pad, dilation, h, w] = testing::fetch_conv_case();
        const ops::ConvShape s{c_in, c_out, k, k, stride, pad, dilation};
        const int ho = ops::conv_out_size(h, k, stride, pad, dilation), wo = ops::conv_out_size(w, k, stride, pad, dilation);
        const std::vector<float> x = normal(static_cast<size_t>(c_in) * h * w, 1);
        const std::vector<float> wt = normal(static_cast<size_t>(c_out) * c_in * k * k, 2);
        const std::vector<float> b = normal(static_cast<size_t>(c_out), 3);
        const std::vector<float> acc = normal(static_cast<size_t>(c_out) * ho * wo, 4);
        const std::vector<float> zero_b(static_cast<size_t>(c_out), 0.0f);

        ops::DirectConvNet net(3);
        net.input(0, x.data(), c_in, h, w);
        // bias only, no ReLU
        net.conv(s, wt.data(), b.data(), 0, 1, false, false);
        QCOMPARE(net.channels(1), c_out);
        QCOMPARE(net.height(1), ho);
        QCOMPARE(net.width(1), wo);
        std::vector<float> y(acc.size());
        net.output(1, y.data());
        const std::vector<float> want = reference_conv(s, x, h, w, wt, b, nullptr, false);
        QVERIFY(max_abs_diff(y.data(), want.data(), static_cast<int64_t>(y.size()), "direct conv + bias") < 1e-4);
        // no bias, ReLU
        net.conv(s, wt.data(), nullptr, 0, 1, false, true);
        net.output(1, y.data());
        const std::vector<float> want_relu = reference_conv(s, x, h, w, wt, zero_b, nullptr, true);
        QVERIFY(max_abs_diff(y.data(), want_relu.data(), static_cast<int64_t>(y.size()), "direct conv, ReLU") < 1e-4);
        // accumulate into a destination that holds a residual, then ReLU (the bottleneck's last conv)
        net.input(2, acc.data(), c_out, ho, wo);
        net.conv({c_out, c_out, 1, 1, 1, 0, 1}, normal(static_cast<size_t>(c_out) * c_out, 5).data(), nullptr, 2, 1,
                 false, false); // slot 1 now holds a residual in oneDNN's own layout
        std::vector<float> residual(acc.size());
        net.output(1, residual.data());
        net.conv(s, wt.data(), b.data(), 0, 1, true, true);
        net.output(1, y.data());
        const std::vector<float> want_acc = reference_conv(s, x, h, w, wt, b, &residual, true);
        QVERIFY(max_abs_diff(y.data(), want_acc.data(), static_cast<int64_t>(y.size()), "direct conv + residual, ReLU") <
                1e-4);
    }

    void directMaxpoolPaddingNeverWins() {
        if (!ops::backend_available(ops::Backend::OneDNN))
            QSKIP("this build has no oneDNN: the direct convolutions do not exist");
        const int c = 32, h = 9, w = 12;
        std::vector<float> x = normal(static_cast<size_t>(c) * h * w, 7);
        for (float& v : x) v -= 5.0f; // all negative: a zero from the padding must never win
        ops::DirectConvNet net(2);
        net.input(0, x.data(), c, h, w);
        net.maxpool(0, 1, 3, 2, 1);
        const int ho = ops::conv_out_size(h, 3, 2, 1, 1), wo = ops::conv_out_size(w, 3, 2, 1, 1);
        QCOMPARE(net.height(1), ho);
        QCOMPARE(net.width(1), wo);
        std::vector<float> y(static_cast<size_t>(c) * ho * wo);
        net.output(1, y.data());
        QVERIFY(y == testing::reference_maxpool_3s2p1(x, c, h, w));
    }

    void directConvRejectsWrongInput() {
        if (!ops::backend_available(ops::Backend::OneDNN))
            QSKIP("this build has no oneDNN: the direct convolutions do not exist");
        ops::DirectConvNet net(2);
        const std::vector<float> x(4 * 5 * 5, 1.0f), wt(8 * 3 * 9, 1.0f);
        net.input(0, x.data(), 4, 5, 5);
        QVERIFY_THROWS_EXCEPTION(Error, net.conv({3, 8, 3, 3, 1, 1, 1}, wt.data(), nullptr, 0, 1, false, false));
        QVERIFY_THROWS_EXCEPTION(Error, net.conv({4, 8, 3, 3, 1, 1, 1}, wt.data(), nullptr, 0, 0, false, false));
        QVERIFY_THROWS_EXCEPTION(Error, net.conv({4, 8, 3, 3, 1, 1, 1}, wt.data(), nullptr, 0, 5, false, false));
    }

    // The DETR fixtures (ResNet-50-shaped bottlenecks, DC5, BasicBlock) on every convolution path.
    void detrBackboneOnEveryConvPathMatchesPyTorch_data() {
        QTest::addColumn<QString>("checkpoint");
        QTest::addColumn<QString>("config");
        QTest::addColumn<QString>("input");
        QTest::addColumn<QString>("expected");
        QTest::newRow("bottleneck") << "r50tiny/hf/model.safetensors" << "r50tiny/hf/config.json" << "r50tiny/input.npy"
                                    << "r50tiny/expected";
        QTest::newRow("bottleneck DC5") << "r50tiny/hf/model.safetensors" << "r50tiny/hf/config_dc5.json"
                                        << "r50tiny/input.npy" << "r50tiny/expected_dc5";
        QTest::newRow("BasicBlock DC5") << "basic_dc5/model.safetensors" << "basic_dc5/config.json"
                                        << "basic_dc5/input.npy" << "basic_dc5/expected";
    }
    void detrBackboneOnEveryConvPathMatchesPyTorch() {
        QFETCH(QString, checkpoint);
        QFETCH(QString, config);
        QFETCH(QString, input);
        QFETCH(QString, expected);
        const auto model = load_detr_fixture(checkpoint.toStdString(), config.toStdString());
        const Tensor x = read_npy(fixture("detr/" + input.toStdString()));
        const std::string dir = fixture("detr/" + expected.toStdString() + "/");
        int paths = 0;
        for (const ops::Backend b : {ops::Backend::OpenBLAS, ops::Backend::OneDNN}) {
            if (!ops::backend_available(b)) continue;
            ops::set_gemm_backend(b);
            const bool direct = ops::direct_conv_enabled();
            if (b == ops::Backend::OpenBLAS) QVERIFY(!direct);
            const std::string path = std::string(ops::backend_name(b)) + (direct ? ", direct conv" : ", im2col");
            for (int pass = 0; pass < 2; ++pass) { // the second pass runs on oneDNN's cached primitives
                const RunResult r = Session(*model).run(x);
                const std::string tag = path + " pass " + std::to_string(pass + 1) + ": ";
                QVERIFY(max_abs_diff(r.logits, read_npy(dir + "logits.npy"), tag + "logits") <= 1e-4);
                QVERIFY(max_abs_diff(r.boxes, read_npy(dir + "boxes.npy"), tag + "boxes") <= 1e-4);
            }
            ++paths;
        }
        QVERIFY(paths >= 1);
    }
};

QTEST_GUILESS_MAIN(TestKernelsConv)
#include "test_kernels_conv.moc"
