// GUI tests (QT_QPA_PLATFORM=offscreen) of compare mode (File ▸ Compare): side B run through its own
// RunController, the selection locked across both sides (either side drives the other, by meaning where
// the token layouts differ), the A − B map against the two runs' attention computed here from the
// RunResults' raw probabilities, one exported figure, mismatched models said instead of clamped, and
// leaving restores the window.
#include "tests/support/view_test.h"

#include "core/analysis/colormap.h"
#include "ui/compare_mode.h"
#include "ui/views/compare_view.h"

#include <QComboBox>
#include <QDockWidget>
#include <QLabel>
#include <QSignalSpy>
#include <QFile>
#include <QPushButton>
#include <QSvgRenderer>
#include <QtTest>

#include <cmath>

using namespace attnscope;
using namespace attnscope::ui;

namespace {
// Row `q` of head `h` (h < 0: the mean over heads) of the encoder map of `layer`, over the patch keys
// only (after the prefix tokens): straight from the recorded probabilities, [grid_h · grid_w].
std::vector<double> patchRow(const RunResult& r, int layer, int h, int q) {
    const AttentionMap* m = nullptr;
    for (const auto& a : r.attention)
        if (a.site == Site::Encoder && a.layer == layer) m = &a;
    if (!m) return {};
    const int prefix = r.layout.n_prefix(), cells = r.layout.grid_h * r.layout.grid_w;
    std::vector<double> out(size_t(cells), 0.0);
    for (int head = 0; head < m->n_heads; ++head) {
        if (h >= 0 && head != h) continue;
        for (int c = 0; c < cells; ++c)
            out[size_t(c)] += m->probs[(size_t(head) * m->n_q + q) * m->n_k + prefix + c] / (h >= 0 ? 1.0 : m->n_heads);
    }
    return out;
}
} // namespace

class TestCompare : public testing::ViewTest {
    Q_OBJECT
    QSize windowSize() const override { return {1280, 800}; }

    CompareMode* mode() const { return w_->compare(); }
    Document* docB() const { return mode()->session()->b(); }
    // Opens the fixture model on the gradient image (side A), then compares with `path` as B's image or model.
    bool compareWith(CompareSession::Kind kind, const QString& path, const std::string& modelA = "vit/hf_vit") {
        if (!openAndRun(modelA, png_)) return false;
        mode()->start(kind, path);
        if (!mode()->active()) return false;
        return QTest::qWaitFor([this] { return docB()->result() && !mode()->session()->runnerB()->busy(); }, 60000);
    }
    QString secondImage() const { return QString::fromStdString(testing::fixture("image/src_64x48.png")); }

private slots:
    void compareModeShowsOnlyTheComparisonAndLeavingRestores() {
        QVERIFY(openAndRun("vit/hf_vit", png_));
        QVERIFY(find<QDockWidget>("dock_overlay")->isVisible());
        QVERIFY(!find<QAction>("actionCompareLeave")->isEnabled());
        mode()->start(CompareSession::Kind::Images, secondImage());
        QVERIFY(mode()->active());
        QVERIFY(QTest::qWaitFor([this] { return docB()->result() != nullptr; }, 60000));
        QVERIFY(find<QDockWidget>("dock_compare")->isVisible());
        QVERIFY(!find<QDockWidget>("dock_overlay")->isVisible());
        QVERIFY(!find<QDockWidget>("dock_model")->isVisible());
        QVERIFY(find<QAction>("actionCompareLeave")->isEnabled());
        // which side is which, said in the view
        const QString sides = find<QLabel>("compareSides")->text();
        QVERIFY2(sides.contains("gradient.png") && sides.contains("src_64x48.png"), qPrintable(sides));
        QCOMPARE(docB()->modelPtr().get(), doc()->modelPtr().get()); // one model, shared
        find<QPushButton>("compareLeave")->click();
        QVERIFY(QTest::qWaitFor([this] { return !mode()->active(); }, 5000));
        QVERIFY(w_->findChild<QDockWidget*>("dock_compare") == nullptr);
        QVERIFY(find<QDockWidget>("dock_overlay")->isVisible());
        QVERIFY(find<QDockWidget>("dock_model")->isVisible() || find<QDockWidget>("dock_matrix")->isVisible());
        QVERIFY(doc()->result() != nullptr); // A untouched
    }

    void selectionIsLockedBothWays() {
        QVERIFY(compareWith(CompareSession::Kind::Images, secondImage()));
        Selection s = doc()->selection();
        QCOMPARE(docB()->selection(), s);
        s.layer = 0;
        s.heads = {2};
        s.query = 5;
        doc()->setSelection(s); // A → B
        QCOMPARE(docB()->selection().layer, 0);
        QCOMPARE(docB()->selection().heads.head, 2);
        QCOMPARE(docB()->selection().query, 5);
        Selection sb = docB()->selection();
        sb.layer = 1; // B → A (a change on side B, e.g. a click in B's panel)
        sb.heads = {1};
        docB()->setSelection(sb);
        QCOMPARE(doc()->selection().layer, 1);
        QCOMPARE(doc()->selection().heads.head, 1);
        // the arrow keys of the window drive A, and so B
        QVERIFY(navigateSelection(doc(), Qt::Key_Down));
        QCOMPARE(doc()->selection().layer, 2);
        QCOMPARE(docB()->selection().layer, 2);
        // a click on a patch of B's map makes it the query of both
        auto* canvas = mode()->view()->figure();
        QVERIFY(QTest::qWaitForWindowExposed(canvas));
        const QRectF rb = canvas->panelImageRect(1);
        QVERIFY(!rb.isEmpty());
        QTest::mouseClick(canvas, Qt::LeftButton, {}, rb.topLeft().toPoint() + QPoint(2, 2));
        QCOMPARE(docB()->selection().query, 1); // the first patch (after CLS)
        QCOMPARE(doc()->selection().query, 1);
    }

    void differenceIsAMinusB_data() {
        QTest::addColumn<int>("layer");
        QTest::addColumn<int>("head"); // -1: heads mean
        QTest::addColumn<int>("query");
        QTest::newRow("layer 2 head 1 CLS") << 2 << 1 << 0;
        QTest::newRow("layer 0 heads mean, patch 6") << 0 << -1 << 6;
    }
    void differenceIsAMinusB() {
        QFETCH(int, layer);
        QFETCH(int, head);
        QFETCH(int, query);
        QVERIFY(compareWith(CompareSession::Kind::Images, secondImage()));
        doc()->setSelection({Site::Encoder, layer, {head, analysis::HeadFusion::Mean}, query});
        auto* canvas = mode()->view()->figure();
        const std::vector<double> a = patchRow(*doc()->result(), layer, head, query);
        const std::vector<double> b = patchRow(*docB()->result(), layer, head, query);
        QCOMPARE(a.size(), size_t(16)); // 32 px, patch 8: a 4 × 4 grid
        const std::vector<float>& d = canvas->difference();
        QCOMPARE(d.size(), a.size());
        double worst = 0, largest = 0;
        for (size_t i = 0; i < d.size(); ++i) {
            worst = std::max(worst, std::abs(double(d[i]) - (a[i] - b[i])));
            largest = std::max(largest, std::abs(a[i] - b[i]));
        }
        QVERIFY2(worst < 1e-6, qPrintable(QString("max |shown − (A − B)| = %1").arg(worst)));
        QVERIFY2(largest > 1e-4, "two different images give different maps (else the test proves nothing)");
        QCOMPARE(canvas->shownShape(), (std::vector<int64_t>{4, 4}));
        QCOMPARE(mode()->view()->shownValues(), d);
        // the sides themselves: A's own map and B's own map
        QCOMPARE(canvas->mapA().grid.size(), a.size());
        for (size_t i = 0; i < a.size(); ++i) QVERIFY(std::abs(canvas->mapA().grid[i] - a[i]) < 1e-6);
        for (size_t i = 0; i < b.size(); ++i) QVERIFY(std::abs(canvas->mapB().grid[i] - b[i]) < 1e-6);
    }

    void exportWritesOneFigure() {
        QVERIFY(compareWith(CompareSession::Kind::Images, secondImage()));
        doc()->setSelection({Site::Encoder, 1, {0}, 0});
        auto* canvas = mode()->view()->figure();
        QVERIFY(QTest::qWaitForWindowExposed(canvas));
        const QString png = tmp_.filePath("compare.png");
        QCOMPARE(mode()->exportFigure(png), QString());
        QImage img(png);
        QVERIFY(!img.isNull());
        QCOMPARE(img.width(), canvas->figureRect().width()); // the figure, not the room around it
        QVERIFY(img.height() > canvas->figureRect().height()); // and the caption band above it
        QVERIFY(canvas->figureRect().height() < canvas->height()); // 1280 × 800 has room to spare
        // the difference is drawn on the symmetric diverging scale: its largest |A − B| is an end colour
        const QRgb lo = 0xff000000u | analysis::colormap_lut(Colormap::RdBuR)[0];
        const QRgb hi = 0xff000000u | analysis::colormap_lut(Colormap::RdBuR)[255];
        int ends = 0, sideA = 0, sideB = 0;
        for (int y = 0; y < img.height(); ++y)
            for (int x = 0; x < img.width(); ++x) {
                const QRgb c = img.pixel(x, y) | 0xff000000u;
                ends += c == lo || c == hi;
                sideA += c == (CompareSession::sideColour(0).rgb() | 0xff000000u);
                sideB += c == (CompareSession::sideColour(1).rgb() | 0xff000000u);
            }
        QVERIFY2(ends > 20, "the A − B map's extreme cell");
        QVERIFY2(sideA > 20 && sideB > 20, "the A and B badges");
        // every figure of the view, every format: one file each
        for (int m = 0; m < 3; ++m) {
            mode()->view()->setMode(CompareCanvas::Mode(m));
            for (const char* ext : {"png", "svg", "pdf"}) {
                const QString path = tmp_.filePath(QString("compare_%1.%2").arg(m).arg(ext));
                QCOMPARE(mode()->exportFigure(path), QString());
                QFile f(path);
                QVERIFY(f.open(QIODevice::ReadOnly));
                QVERIFY(f.size() > 1000);
                if (QString(ext) == "svg") QVERIFY(QSvgRenderer(path).isValid());
                if (QString(ext) == "pdf") QVERIFY(f.read(5) == "%PDF-");
            }
        }
        QCOMPARE(find<QComboBox>("compareMode")->currentIndex(), 2);
        QCOMPARE(mode()->view()->shownShape(), (std::vector<int64_t>{2, 3})); // mean distance per layer, A and B
    }

    // hf_vit (3 layers × 3 heads, CLS) against deit_distilled (2 layers × 2 heads, CLS + DIST), same 4 × 4 grid.
    void mismatchedModelsSayWhatIsNotComparable() {
        QVERIFY(compareWith(CompareSession::Kind::Models, QString::fromStdString(testing::fixture("vit/deit_distilled"))));
        QCOMPARE(docB()->image().width, doc()->image().width); // one image, shared
        auto* canvas = mode()->view()->figure();
        doc()->setSelection({Site::Encoder, 2, {0}, 0});
        QCOMPARE(doc()->selection().layer, 2); // A keeps its layer: B's clamp is not pushed back
        QVERIFY2(canvas->why().contains("no layer 2"), qPrintable(canvas->why()));
        QVERIFY(canvas->difference().empty());
        QVERIFY(find<QLabel>("compareNote")->text().contains("no layer 2"));
        doc()->setSelection({Site::Encoder, 1, {2}, 0});
        QVERIFY2(canvas->why().contains("no head 2"), qPrintable(canvas->why()));
        QVERIFY(canvas->difference().empty());
        doc()->setSelection({Site::Encoder, 1, {1}, 0});
        QCOMPARE(canvas->why(), QString());
        QCOMPARE(canvas->difference().size(), size_t(16));
        // a patch query is the same patch on B, whose patches start after CLS and DIST
        doc()->setSelection({Site::Encoder, 1, {1}, 1 + 5});
        QCOMPARE(docB()->selection().query, 2 + 5);
        const std::vector<double> a = patchRow(*doc()->result(), 1, 1, 6), b = patchRow(*docB()->result(), 1, 1, 7);
        for (size_t i = 0; i < a.size(); ++i) QVERIFY(std::abs(canvas->difference()[i] - (a[i] - b[i])) < 1e-6);
        // DIST has no counterpart on A; CLS of B is A's CLS
        Selection sb = docB()->selection();
        sb.query = 0;
        docB()->setSelection(sb);
        QCOMPARE(doc()->selection().query, 0);
        // every figure copes with the mismatch
        mode()->view()->setMode(CompareCanvas::Mode::Heads);
        QVERIFY2(canvas->why().contains("3 heads, B 2"), qPrintable(canvas->why()));
        QCOMPARE(canvas->headDifferences().size(), size_t(2)); // the heads both have
        mode()->view()->setMode(CompareCanvas::Mode::Distance);
        QCOMPARE(canvas->shownShape(), (std::vector<int64_t>{2, 3}));
        QVERIFY(std::isnan(canvas->shownValues()[3 + 2])); // B has no layer 2
        QVERIFY(!canvas->grab().isNull());
    }

    void badInputIsReportedNotCrashed() {
        QVERIFY(openAndRun("vit/hf_vit", png_));
        QSignalSpy errors(w_.get(), &MainWindow::errorShown);
        mode()->start(CompareSession::Kind::Images, tmp_.filePath("missing.png"));
        QVERIFY(!mode()->active());
        QCOMPARE(errors.size(), 1);
        QVERIFY(errors[0][0].toString().contains("missing.png"));
        // a model that fails to load: B says so, A is untouched
        QFile bad(tmp_.filePath("broken.safetensors"));
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write("not a checkpoint");
        bad.close();
        mode()->start(CompareSession::Kind::Models, bad.fileName());
        QVERIFY(QTest::qWaitFor([&] { return errors.size() == 2; }, 30000));
        QVERIFY2(errors[1][0].toString().startsWith("B: ") && errors[1][0].toString().contains("broken.safetensors"),
                 qPrintable(errors[1][0].toString()));
        QVERIFY(doc()->result() != nullptr);
        QVERIFY(!mode()->view()->figure()->grab().isNull()); // "B: Failed: …" drawn, no crash
    }
};

QTEST_MAIN(TestCompare)
#include "test_compare.moc"
