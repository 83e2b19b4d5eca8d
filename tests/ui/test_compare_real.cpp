// GUI test (QT_QPA_PLATFORM=offscreen) of compare mode on the real DeiT-Tiny and two shared photos (the
// COCO two cats vs vit-explain's bulldog and cat): A − B against the raw probabilities of both runs, both predictions in the figure, the three
// figures exported. Skipped when ../shared lacks the model or the photos. ATTNSCOPE_COMPARE_OUT=DIR keeps
// the exported figures there (to look at them).
#include "tests/support/view_test.h"

#include "ui/compare_mode.h"
#include "ui/views/compare_view.h"

#include <QDir>
#include <QtTest>

#include <cmath>

using namespace attnscope;
using namespace attnscope::ui;

class TestCompareReal : public testing::ViewTest {
    Q_OBJECT
    QSize windowSize() const override { return {1400, 760}; }
private slots:
    void deitTinyTwoPhotos() {
        const std::string model = testing::shared_path("models/deit-tiny-imagenet");
        const std::string cat = testing::shared_path("images/coco_000000039769_two_cats.png");
        const std::string dog = testing::shared_path("images/vit-explain/both.png"); // a bulldog and a cat
        if (model.empty() || cat.empty() || dog.empty()) QSKIP("../shared/models/deit-tiny-imagenet or the shared photos absent");
        w_->openPath(QString::fromStdString(model));
        w_->openPath(QString::fromStdString(cat));
        QVERIFY(QTest::qWaitFor([this] { return doc()->result() && !w_->runner()->busy(); }, 120000));
        CompareMode* mode = w_->compare();
        mode->start(CompareSession::Kind::Images, QString::fromStdString(dog));
        Document* b = mode->session()->b();
        QVERIFY(QTest::qWaitFor([&] { return b->result() && !mode->session()->runnerB()->busy(); }, 120000));
        const RunResult& ra = *doc()->result();
        const RunResult& rb = *b->result();
        QVERIFY(ra.predictions[0].label != rb.predictions[0].label); // two cats, a dog and a cat
        doc()->setSelection({Site::Encoder, 11, {-1, analysis::HeadFusion::Mean}, 0});
        QCOMPARE(b->selection().layer, 11);
        auto* canvas = mode->view()->figure();
        const std::vector<float>& d = canvas->difference();
        QCOMPARE(d.size(), size_t(196));
        double worst = 0;
        for (int c = 0; c < 196; ++c) {
            double a = 0, bb = 0;
            for (int h = 0; h < 3; ++h) {
                a += ra.attention[11].probs[size_t(h) * 197 * 197 + 1 + c] / 3.0; // row 0 (CLS), key 1 + c
                bb += rb.attention[11].probs[size_t(h) * 197 * 197 + 1 + c] / 3.0;
            }
            worst = std::max(worst, std::abs(double(d[size_t(c)]) - (a - bb)));
        }
        QVERIFY2(worst < 1e-6, qPrintable(QString::number(worst)));
        QString out = qEnvironmentVariable("ATTNSCOPE_COMPARE_OUT");
        if (out.isEmpty()) out = tmp_.path();
        QDir().mkpath(out);
        QVERIFY(QTest::qWaitForWindowExposed(canvas));
        const char* names[] = {"compare_map", "compare_heads", "compare_distance"};
        for (int m = 0; m < 3; ++m) {
            mode->view()->setMode(CompareCanvas::Mode(m));
            QCOMPARE(mode->exportFigure(out + "/" + names[m] + ".png"), QString());
            QVERIFY(!QImage(out + "/" + names[m] + ".png").isNull());
        }
        QCOMPARE(canvas->shownShape(), (std::vector<int64_t>{2, 12}));
        // a patch query: the same patch on both photos (both 14 × 14)
        doc()->setSelection({Site::Encoder, 5, {1}, 1 + 7 * 14 + 7});
        QCOMPARE(b->selection().query, 1 + 7 * 14 + 7);
        mode->view()->setMode(CompareCanvas::Mode::Map);
        QCOMPARE(mode->exportFigure(out + "/compare_map_patch.svg"), QString());
    }
};

QTEST_MAIN(TestCompareReal)
#include "test_compare_real.moc"
