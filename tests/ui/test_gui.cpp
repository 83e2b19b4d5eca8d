// GUI tests: drive the main window by object names under QT_QPA_PLATFORM=offscreen and check that
// what the views hold is exactly core's RunResult for the selection.
#include "tests/support/gui_test.h"
#include "tests/support/slow_model.h"
#include "ui/convert.h"
#include "ui/export.h"
#include "ui/main_window.h"
#include "ui/views/head_grid_view.h"
#include "ui/views/map_paint.h"
#include "ui/views/matrix_view.h"
#include "ui/views/overlay_view.h"

#include <QComboBox>
#include <QFile>
#include <QLabel>
#include <QMessageBox>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QSvgRenderer>
#include <QTemporaryDir>
#include <QtTest>

using namespace attnscope;
using namespace attnscope::ui;

class TestGui : public testing::GuiTest {
    Q_OBJECT
    // Core's row for (layer, head, query): the patch keys after the prefix tokens.
    std::vector<float> coreGrid(int layer, int head, int query) const {
        const RunResult* r = doc()->result();
        const AttentionMap& m = r->attention[size_t(layer)];
        std::vector<float> out;
        for (int k = r->layout.n_prefix(); k < m.n_k; ++k) out.push_back(m.at(head, query, k));
        return out;
    }
    void openFixture() { QVERIFY(openAndRun("vit/hf_vit", png_)); }

private slots:
    void initTestCase() { QVERIFY(setUpTestCase("AttnScopeTest", "AttnScopeTest")); }
    void init() { newWindow(); }
    void cleanup() { w_.reset(); }

    void emptyStateThenRun() {
        QVERIFY(doc()->result() == nullptr);
        QVERIFY(!find<QAction>("actionExportView")->isEnabled());
        openFixture();
        QVERIFY(find<QAction>("actionExportView")->isEnabled());
        QVERIFY(find<QLabel>("statusModel")->text().contains("3 layers"));
        QVERIFY(find<QLabel>("statusTokens")->text().contains("grid 4×4"));
        QVERIFY(find<QLabel>("statusTime")->text().contains("ms"));
        for (const char* t : {"toggle_overlay", "toggle_model", "toggle_matrix"}) QVERIFY(find<QAction>(t)->isCheckable());
    }

    void selectionShowsCoreMap_data() {
        QTest::addColumn<int>("layer");
        QTest::addColumn<int>("head");
        QTest::addColumn<int>("query");
        QTest::newRow("layer 0, head 0, CLS") << 0 << 0 << 0;
        QTest::newRow("layer 1, head 2, patch 5") << 1 << 2 << 6;
        QTest::newRow("layer 2, head 1, last patch") << 2 << 1 << 16;
    }
    void selectionShowsCoreMap() {
        QFETCH(int, layer);
        QFETCH(int, head);
        QFETCH(int, query);
        openFixture();
        find<QSpinBox>("layerSpin")->setValue(layer);
        find<QComboBox>("headCombo")->setCurrentIndex(head);
        find<QSpinBox>("querySpin")->setValue(query);
        const Selection& s = doc()->selection();
        QCOMPARE(s.layer, layer);
        QCOMPARE(s.heads.head, head);
        QCOMPARE(s.query, query);
        auto* overlay = static_cast<OverlayView*>(w_->view("overlay"));
        const auto shown = overlay->shownValues();
        const auto expect = coreGrid(layer, head, query);
        QCOMPARE(shown.size(), expect.size());
        QCOMPARE(testing::max_abs_diff(shown.data(), expect.data(), int64_t(shown.size()), "overlay"), 0.0);
        // The matrix holds the whole [q, k] matrix of that head.
        const AttentionMap& m = doc()->result()->attention[size_t(layer)];
        const auto mat = w_->view("matrix")->shownValues();
        QCOMPARE(int64_t(mat.size()), int64_t(m.n_q) * m.n_k);
        QCOMPARE(testing::max_abs_diff(mat.data(), m.head(head), int64_t(mat.size()), "matrix"), 0.0);
        // The model view's cell for (layer, head) is the same row.
        auto* grid = static_cast<HeadGridView*>(w_->view("model"))->grid();
        QVERIFY(grid->cell(layer, head).grid == expect);
    }

    void fusionIsMeanOverHeads() {
        openFixture();
        // A fresh model opens on its last layer with heads averaged.
        QCOMPARE(doc()->selection().layer, 2);
        QCOMPARE(doc()->selection().heads, (analysis::HeadSelect{-1, analysis::HeadFusion::Mean}));
        find<QSpinBox>("layerSpin")->setValue(0);
        find<QComboBox>("headCombo")->setCurrentIndex(doc()->headCount()); // "mean of heads"
        QCOMPARE(doc()->selection().heads, (analysis::HeadSelect{-1, analysis::HeadFusion::Mean}));
        const auto shown = w_->view("overlay")->shownValues();
        const int n = doc()->headCount();
        std::vector<float> mean(shown.size(), 0.0f);
        for (int h = 0; h < n; ++h) {
            const auto g = coreGrid(0, h, 0);
            for (size_t i = 0; i < g.size(); ++i) mean[i] += g[i] / float(n);
        }
        QVERIFY(testing::max_abs_diff(shown.data(), mean.data(), int64_t(mean.size()), "mean") < 1e-6);
    }

    void clickPatchAndKeys() {
        openFixture();
        find<QComboBox>("headCombo")->setCurrentIndex(0);
        auto* canvas = find<OverlayCanvas>("overlayCanvas");
        const QRectF g = canvas->gridRect();
        QVERIFY(!g.isEmpty());
        // Patch (row 2, col 3) of the 4×4 grid → token 1 + 2·4 + 3 = 12.
        const QPoint p((g.x() + g.width() * 3.5 / 4), (g.y() + g.height() * 2.5 / 4));
        QTest::mouseClick(canvas, Qt::LeftButton, {}, p);
        QCOMPARE(doc()->selection().query, 12);
        QCOMPARE(find<QSpinBox>("querySpin")->value(), 12);
        const auto expect = coreGrid(doc()->selection().layer, doc()->selection().heads.head, 12);
        QVERIFY(w_->view("overlay")->shownValues() == expect);
        const Selection before = doc()->selection();
        QTest::keyClick(canvas, Qt::Key_Right);
        QCOMPARE(doc()->selection().heads.head, (before.heads.head + 1) % doc()->headCount());
        QTest::keyClick(canvas, Qt::Key_Up);
        QCOMPARE(doc()->selection().layer, std::max(0, before.layer - 1));
        // A click in the model view selects that cell.
        auto* grid = find<HeadGridCanvas>("headGridCanvas");
        QTest::mouseClick(grid, Qt::LeftButton, {}, grid->cellRect(1, 2).center().toPoint());
        QCOMPARE(doc()->selection().layer, 1);
        QCOMPARE(doc()->selection().heads.head, 2);
    }

    void selectionDoesNotRerun() {
        openFixture();
        QSignalSpy runs(w_->runner(), &RunController::busyChanged);
        const RunResult* r = doc()->result();
        find<QSpinBox>("layerSpin")->setValue(2);
        find<QComboBox>("headCombo")->setCurrentIndex(1);
        QCOMPARE(runs.count(), 0);
        QCOMPARE(doc()->result(), r);
    }

    void exports() {
        openFixture();
        for (const QString& id : QStringList{"overlay", "model", "matrix"}) {
            View* v = w_->view(id);
            const QString caption = doc()->selectionCaption();
            QVERIFY(caption.contains("hf_vit") && caption.contains("gradient.png"));
            const QString png = tmp_.filePath(id + ".png"), svg = tmp_.filePath(id + ".svg"), pdf = tmp_.filePath(id + ".pdf");
            QCOMPARE(exportView(v->canvas(), caption, png), QString());
            QCOMPARE(exportView(v->canvas(), caption, svg), QString());
            QCOMPARE(exportView(v->canvas(), caption, pdf), QString());
            QImage img(png);
            QVERIFY(!img.isNull());
            const auto* fig = dynamic_cast<const FigureCanvas*>(v->canvas()); // the figure, not the dock's room
            QCOMPARE(img.width(), fig ? fig->figureRect().width() : v->canvas()->width());
            QSvgRenderer renderer(svg);
            QVERIFY(renderer.isValid());
            QFile f(pdf);
            QVERIFY(f.open(QIODevice::ReadOnly));
            QVERIFY(f.read(5) == "%PDF-");
            QVERIFY(!exportView(v->canvas(), caption, tmp_.filePath(id + ".xyz")).isEmpty());
        }
        // The map as .npy: header + 16 float32 values equal to the overlay's.
        const QString npy = tmp_.filePath("map.npy");
        auto* ov = w_->view("overlay");
        QCOMPARE(exportNpy(ov->shownValues(), ov->shownShape(), npy), QString());
        QFile f(npy);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray bytes = f.readAll();
        QVERIFY(bytes.startsWith("\x93NUMPY"));
        QVERIFY(bytes.contains("(4, 4)"));
        QVERIFY(std::memcmp(bytes.constData() + bytes.size() - 64, ov->shownValues().data(), 64) == 0);
    }

    void cancelRun() {
        openFixture();
        QSignalSpy cancelled(w_->runner(), &RunController::cancelled);
        const std::shared_ptr<const Model> real = doc()->modelPtr();
        const QString path = doc()->modelPath();
        doc()->setModel(std::make_shared<testing::SlowModel>(real, 5000), path); // a run that takes 5 s
        w_->runner()->rerun();
        QVERIFY(w_->runner()->busy());
        QVERIFY(find<QWidget>("cancelButton")->isVisibleTo(w_.get()));
        QTest::mouseClick(find<QWidget>("cancelButton"), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(cancelled.count(), 1, 3000);
        QVERIFY(!w_->runner()->busy());
        QVERIFY(!find<QWidget>("cancelButton")->isVisibleTo(w_.get()));
        // Still usable: a normal run goes through.
        doc()->setModel(real, path);
        w_->runner()->rerun();
        QTRY_VERIFY_WITH_TIMEOUT(!w_->runner()->busy() && doc()->result(), 30000);
    }

    // A huge image is shown downscaled; the map still lands on the right pixels of the original.
    void hugeImageIsDownscaledForDisplay() {
        QImage big(5000, 60, QImage::Format_RGB888);
        for (int y = 0; y < big.height(); ++y)
            for (int x = 0; x < big.width(); ++x) big.setPixelColor(x, y, QColor(x % 256, y * 4, (x / 20) % 256));
        const QString path = tmp_.filePath("wide.png");
        QVERIFY(big.save(path));
        w_->openPath(QString::fromStdString(testing::fixture("vit/hf_vit")));
        w_->openPath(path);
        QTRY_VERIFY_WITH_TIMEOUT(doc()->result() != nullptr && !w_->runner()->busy(), 30000);
        QCOMPARE(doc()->image().width, 5000); // inference saw every pixel
        QCOMPARE(doc()->qimage().width(), kMaxDisplaySide);
        QVERIFY(std::abs(doc()->qimage().height() - 60.0 * kMaxDisplaySide / 5000) < 1.0); // aspect kept
        QCOMPARE(doc()->result()->geometry.orig_w, 5000);
        // The patch grid in widget coordinates = its place in the original, scaled like the image.
        auto* canvas = find<OverlayCanvas>("overlayCanvas");
        const QRectF img = canvas->imageRect(), grid = canvas->gridRect();
        const QRectF inOrig = toQRectF(analysis::grid_in_original(doc()->result()->geometry, doc()->result()->layout));
        const double s = img.width() / 5000.0;
        QVERIFY(std::abs(grid.width() - inOrig.width() * s) < 1e-6);
        QVERIFY(std::abs(grid.x() - (img.x() + inOrig.x() * s)) < 1e-6);
        QVERIFY2(grid.right() <= img.right() + 1e-6, "the grid must stay inside the drawn image");
        // Every view's "original" frame is the full-resolution image, not the shown one.
        QCOMPARE(doc()->imageSize(), QSizeF(5000, 60));
        QVERIFY(std::abs(doc()->displayScale() - double(kMaxDisplaySide) / 5000) < 1e-12);
        QVERIFY(doc()->seenInOriginal().right() <= 5000 + 1e-9);
        QVERIFY(doc()->seenInOriginal().right() > kMaxDisplaySide); // the grid spans the whole width
    }

    void brokenModelShowsError() {
        openFixture();
        QDir(tmp_.path()).mkpath("broken");
        QFile bad(tmp_.filePath("broken/model.safetensors"));
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write("this is a text file, not a checkpoint\n");
        bad.close();
        const Model* good = doc()->model();
        QSignalSpy failed(w_->runner(), &RunController::failed);
        w_->openPath(tmp_.filePath("broken"));
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 10000);
        QVERIFY(!w_->lastError().isEmpty());
        auto* box = find<QMessageBox>("errorMessage");
        QVERIFY(box->isVisible());
        QVERIFY(!box->isModal());
        QCOMPARE(doc()->model(), good); // the previous model stays
        QVERIFY(doc()->result() != nullptr);
        find<QSpinBox>("layerSpin")->setValue(1); // and the window still works
        QCOMPARE(doc()->selection().layer, 1);
        w_->openPath(QString::fromStdString(testing::fixture("vit/hf_vit")));
        QTRY_VERIFY_WITH_TIMEOUT(!w_->runner()->busy() && doc()->result() && doc()->model() != good, 30000);
    }
};

QTEST_MAIN(TestGui)
#include "test_gui.moc"
