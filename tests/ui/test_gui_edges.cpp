// Issue 14, "First contact": the GUI's rough edges, each pinned by a test that failed before its fix —
// load errors that vanished, Recent files, Cancel, GIF, window-wide arrows, the Open Model dialog,
// export folders, token naming, full paths in errors. Offscreen; the app-level ones (--screenshot,
// --help without a display, positional files) are in test_app_launch.cpp, the real X server in
// xvfb_smoke.cpp.
#include "core/error.h"
#include "tests/support/gui_test.h"
#include "ui/settings.h"
#include "ui/views/head_grid_view.h"
#include "ui/views/overlay_view.h"

#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStatusBar>
#include <QTimer>
#include <QtTest>

#include <atomic>
#include <chrono>
#include <thread>

using namespace attnscope;
using namespace attnscope::ui;

namespace {
// A model whose forward pass first waits `delay` ms (polling the cancel flag), changeable while it is
// the document's model: a slow run can follow a fast one without a new model clearing the result.
class SwitchableSlowModel final : public Model {
public:
    SwitchableSlowModel(std::shared_ptr<const Model> inner, std::shared_ptr<std::atomic<int>> delay)
        : inner_(std::move(inner)), delay_(std::move(delay)) {}
    const ModelInfo& info() const override { return inner_->info(); }
    const PreprocessSpec& preprocess() const override { return inner_->preprocess(); }
    void forward(const Tensor& input, AttentionRecorder& recorder, RunResult& result, const CancelFlag* cancel) const override {
        for (int waited = 0; waited < delay_->load(); waited += 5) {
            if (cancel && cancel->load()) throw Error(ErrorKind::Cancelled, "", "", "forward pass cancelled");
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        inner_->forward(input, recorder, result, cancel);
    }

private:
    std::shared_ptr<const Model> inner_;
    std::shared_ptr<std::atomic<int>> delay_;
};
} // namespace

class TestGuiEdges : public testing::GuiTest {
    Q_OBJECT
    QString brokenModel() { // a folder whose checkpoint is a text file
        QDir(tmp_.path()).mkpath("broken");
        QFile bad(tmp_.filePath("broken/model.safetensors"));
        if (bad.open(QIODevice::WriteOnly)) bad.write("this is a text file, not a checkpoint\n");
        return tmp_.filePath("broken");
    }
    QString model() const { return QString::fromStdString(testing::fixture("vit/hf_vit")); }
    QString overlayLine() const { return find<OverlayCanvas>("overlayCanvas")->statusLine(); }
    QMessageBox* errorBox() const { return w_->findChild<QMessageBox*>("errorMessage"); }
    // Runs `act` (which opens a modal dialog) and hands the dialog to `inside` once it is up; the dialog
    // is rejected afterwards if `inside` left it open, so that a failing check cannot hang the test.
    template <class Act, class Inside> void withDialog(Act act, Inside inside) {
        bool seen = false;
        QTimer::singleShot(100, this, [&] {
            auto* dlg = qobject_cast<QFileDialog*>(QApplication::activeModalWidget());
            if (dlg) {
                seen = true;
                inside(dlg);
            }
            QTimer::singleShot(3000, this, [] {
                if (auto* open = qobject_cast<QDialog*>(QApplication::activeModalWidget())) open->reject();
            });
        });
        act();
        QVERIFY2(seen, "no file dialog came up");
    }

private slots:
    void initTestCase() { QVERIFY(setUpTestCase("AttnScopeTest", "AttnScopeEdges")); }
    void init() {
        QSettings().clear();
        newWindow();
    }
    void cleanup() {
        w_.reset();
        QDir::setCurrent(QCoreApplication::applicationDirPath());
    }

    // Defect 1: a model that fails to load while an image waits behind it (the normal launch, a drop
    // of both) reached nobody: no message, the overlay on "Running…" for ever.
    void loadErrorWithImageReachesTheWindow_data() {
        QTest::addColumn<bool>("missing");
        QTest::newRow("broken checkpoint") << false;
        QTest::newRow("folder that does not exist") << true;
    }
    void loadErrorWithImageReachesTheWindow() {
        QFETCH(bool, missing);
        const QString path = missing ? tmp_.filePath("no-such-model") : brokenModel();
        QSignalSpy failed(w_->runner(), &RunController::failed);
        w_->openModel(path);
        w_->openImage(png_);
        QTRY_VERIFY_WITH_TIMEOUT(!w_->lastError().isEmpty(), 3000); // the loader answers at once
        QVERIFY2(w_->lastError().contains(QDir(path).absolutePath()), qPrintable(w_->lastError())); // full path
        QVERIFY2(!w_->lastError().contains("cannot open image file"), qPrintable(w_->lastError())); // defect 2
        QVERIFY(errorBox() && errorBox()->isVisible());
        QTRY_VERIFY_WITH_TIMEOUT(!w_->runner()->busy(), 3000);
        QVERIFY(doc()->hasImage()); // the image did open
        QVERIFY2(!overlayLine().contains("Running"), qPrintable(overlayLine()));
        QVERIFY2(overlayLine().contains("Failed"), qPrintable(overlayLine()));
        QVERIFY(find<QLabel>("statusModel")->text().contains("no model"));
    }

    // Defect 2: a path that does not exist is neither a model nor an image; drops and Recent say so.
    void missingPathIsNotCalledAnImage() {
        w_->openPath(tmp_.filePath("gone/deit-small"));
        QVERIFY2(w_->lastError().contains(QDir(tmp_.path()).absoluteFilePath("gone/deit-small") + ": no such file or folder"),
                 qPrintable(w_->lastError()));
        QVERIFY(!w_->runner()->busy());
    }

    // Defect 2: Recent holds absolute paths, and only of what opened.
    void recentFilesAreAbsoluteAndOnlyOpenedOnes() {
        QVERIFY(QFile::copy(png_, tmp_.filePath("recent.png")));
        QFile bad(tmp_.filePath("bad.png"));
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write("not an image");
        bad.close();
        QVERIFY(QDir::setCurrent(tmp_.path()));
        w_->openPath(QDir::current().relativeFilePath(model()));
        w_->openPath("recent.png");
        QTRY_VERIFY_WITH_TIMEOUT(doc()->result() && !w_->runner()->busy(), 30000);
        w_->openPath("bad.png");
        QTRY_VERIFY_WITH_TIMEOUT(!w_->lastError().isEmpty() && !w_->runner()->busy(), 5000);
        QVERIFY2(w_->lastError().contains(tmp_.filePath("bad.png")), qPrintable(w_->lastError())); // the full path
        const QStringList recent = Settings().recentFiles();
        QCOMPARE(recent, (QStringList{tmp_.filePath("recent.png"), QDir::cleanPath(model())}));
    }

    // Defect 5: Cancel keeps the last result on screen and says so; with nothing to keep, the views say
    // "Cancelled" rather than "Running…".
    void cancelKeepsTheLastResultAndSaysCancelled() {
        QVERIFY(openAndRun("vit/hf_vit", png_));
        const QString path = doc()->modelPath();
        auto delay = std::make_shared<std::atomic<int>>(0);
        doc()->setModel(std::make_shared<SwitchableSlowModel>(doc()->modelPtr(), delay), path);
        w_->runner()->rerun();
        QTRY_VERIFY_WITH_TIMEOUT(doc()->result() && !w_->runner()->busy(), 30000);
        const RunResult* last = doc()->result();
        QVERIFY(QFile::copy(png_, tmp_.filePath("second.png")));
        QSignalSpy cancelled(w_->runner(), &RunController::cancelled);
        *delay = 5000; // the next run takes 5 s
        w_->openPath(tmp_.filePath("second.png"));
        QVERIFY(w_->runner()->busy());
        QTest::mouseClick(find<QWidget>("cancelButton"), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(cancelled.count(), 1, 3000);
        QCOMPARE(doc()->result(), last);
        QCOMPARE(doc()->imageName(), QString("gradient.png"));
        QVERIFY2(overlayLine().startsWith("query CLS"), qPrintable(overlayLine()));
        QVERIFY(w_->statusBar()->currentMessage().contains("Cancelled"));

        newWindow(); // nothing to keep: the model and the image stay, the views say why there is no map
        w_->openPath(model());
        QTRY_VERIFY_WITH_TIMEOUT(doc()->model() && !w_->runner()->busy(), 10000);
        doc()->setModel(std::make_shared<SwitchableSlowModel>(doc()->modelPtr(), delay), doc()->modelPath());
        w_->openPath(png_);
        QTRY_VERIFY_WITH_TIMEOUT(overlayLine().contains("Running"), 3000);
        w_->runner()->cancel();
        QTRY_VERIFY_WITH_TIMEOUT(!w_->runner()->busy(), 5000);
        QVERIFY(doc()->result() == nullptr && doc()->model() && doc()->hasImage());
        QVERIFY2(overlayLine().contains("Cancelled"), qPrintable(overlayLine()));
        *delay = 0;
        find<QAction>("actionRerun")->trigger(); // F5
        QTRY_VERIFY_WITH_TIMEOUT(doc()->result() && !w_->runner()->busy(), 30000);
    }

    // Defect 6: what Open Image offers opens — GIF included; .jfif is offered.
    void offeredImageFormatsOpen() {
        const QString filter = MainWindow::imageFileFilter();
        for (const char* g : {"*.gif", "*.jfif", "*.jpg", "*.png"}) QVERIFY2(filter.contains(g), qPrintable(filter));
        w_->openPath(model());
        w_->openPath(QString::fromStdString(testing::fixture("image/gif_interlaced_37x23.gif")));
        QTRY_VERIFY_WITH_TIMEOUT(!w_->runner()->busy() && (doc()->result() || !w_->lastError().isEmpty()), 30000);
        QVERIFY2(w_->lastError().isEmpty(), qPrintable(w_->lastError()));
        QCOMPARE(doc()->image().width, 37);
    }

    // Defect 9: ←/→ head and ↑/↓ layer anywhere in the window, not only over the overlay or the model
    // view; a spin box keeps its arrows; ↑ moves up the model view's rows as drawn.
    void arrowKeysAreWindowWide() {
        QVERIFY(openAndRun("vit/hf_vit", png_));
        find<QComboBox>("headCombo")->setCurrentIndex(0);
        find<QSpinBox>("layerSpin")->setValue(1);
        w_->activateWindow();
        w_->setFocus(); // focus on no view
        QTRY_VERIFY(QApplication::focusWidget() == w_.get());
        QTest::keyClick(w_.get(), Qt::Key_Right);
        QCOMPARE(doc()->selection().heads.head, 1);
        auto* grid = find<HeadGridCanvas>("headGridCanvas");
        const double before = grid->cellRect(doc()->selection().layer, 1).center().y();
        QTest::keyClick(w_.get(), Qt::Key_Up);
        QCOMPARE(doc()->selection().heads.head, 1);
        QVERIFY2(grid->cellRect(doc()->selection().layer, 1).center().y() < before, "↑ goes up the model view");
        QTest::keyClick(w_.get(), Qt::Key_Down);
        QCOMPARE(doc()->selection().layer, 1);
        // A spin box with focus keeps its own arrows: ↑ steps the spin box once, nothing else moves.
        auto* query = find<QSpinBox>("querySpin");
        query->setFocus();
        QTRY_VERIFY(query->hasFocus());
        const int q = query->value();
        QTest::keyClick(query, Qt::Key_Up);
        QCOMPARE(query->value(), q + 1);
        QCOMPARE(doc()->selection().layer, 1);
    }

    // Defect 9: typing a model folder's path + Enter in Open Model opens it.
    void openModelDialogOpensATypedFolder() {
        withDialog([this] { find<QAction>("actionOpenModel")->trigger(); },
                   [this](QFileDialog* dlg) {
                       auto* edit = dlg->findChild<QLineEdit*>("fileNameEdit");
                       QVERIFY(edit);
                       edit->setText(model());
                       QTest::keyClick(edit, Qt::Key_Return);
                   });
        QTRY_VERIFY_WITH_TIMEOUT(doc()->model() != nullptr, 10000);
        QCOMPARE(doc()->modelPath(), QDir::cleanPath(model()));
    }

    // Defect 9: export dialogs start where the last export went, not where the image came from.
    void exportDialogsStartInTheExportFolder() {
        QVERIFY(openAndRun("vit/hf_vit", png_));
        QDir(tmp_.path()).mkpath("exports");
        QSettings().setValue("files/lastDirectory", tmp_.path());
        QSettings().setValue("files/lastExportDirectory", tmp_.filePath("exports"));
        QString started;
        withDialog([this] { find<QAction>("actionExportView")->trigger(); },
                   [&started](QFileDialog* dlg) {
                       started = dlg->directory().absolutePath();
                       dlg->reject();
                   });
        QCOMPARE(started, tmp_.filePath("exports"));
    }

    // Defect 9: one naming for queries: the token index everywhere (spin box, captions, hover).
    void queriesAreNamedByTokenIndex() {
        QVERIFY(openAndRun("vit/hf_vit", png_));
        QCOMPARE(doc()->tokenName(0), QString("CLS"));
        QCOMPARE(doc()->tokenName(6), QString("token 6 (row 1, col 1)")); // 4×4 grid after CLS
        find<QSpinBox>("querySpin")->setValue(6);
        QVERIFY2(doc()->selectionCaption().contains("query token 6"), qPrintable(doc()->selectionCaption()));
        auto* canvas = find<OverlayCanvas>("overlayCanvas");
        const QRectF g = canvas->gridRect();
        QTest::mouseMove(canvas, QPoint(int(g.x() + g.width() * 1.5 / 4), int(g.y() + g.height() * 1.5 / 4)));
        QTRY_VERIFY(canvas->readout().startsWith("token 6 ·"));
    }
};

QTEST_MAIN(TestGuiEdges)
#include "test_gui_edges.moc"
