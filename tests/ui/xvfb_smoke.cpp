// Smoke test of the real GUI on a real X server (issue 14): ctest runs this binary under xvfb-run on
// Qt's xcb platform — not offscreen — and drives the main window with QTest input as a user would:
// open a model and an image through the dialogs (typed path + Enter), arrows, a click on a patch,
// Export View through its dialog. Where Xvfb is missing, ctest runs it offscreen and it skips, saying so.
#include "tests/support/gui_test.h"
#include "ui/views/overlay_view.h"

#include <QFileDialog>
#include <QGuiApplication>
#include <QLineEdit>
#include <QTimer>
#include <QtTest>

using namespace attnscope;
using namespace attnscope::ui;

class XvfbSmoke : public testing::GuiTest {
    Q_OBJECT
    // Enters `path` + Return into the file dialog that `shortcut` opens.
    void typeIntoDialog(const QKeySequence& shortcut, const QString& path) {
        bool typed = false;
        QTimer::singleShot(300, this, [&] {
            auto* dlg = qobject_cast<QFileDialog*>(QApplication::activeModalWidget());
            if (!dlg) return;
            auto* edit = dlg->findChild<QLineEdit*>("fileNameEdit");
            if (!edit) return dlg->reject();
            edit->setText(path); // not typed: the completer's popup would take the Return
            QTest::keyClick(edit, Qt::Key_Return);
            typed = true;
            QTimer::singleShot(3000, this, [] { // a dialog that did not accept must not hang the test
                if (auto* open = qobject_cast<QDialog*>(QApplication::activeModalWidget())) open->reject();
            });
        });
        w_->activateWindow(); // no window manager gives the focus back after a dialog: take it
        QVERIFY(QTest::qWaitForWindowActive(w_.get()));
        QTest::keySequence(w_.get(), shortcut);
        QVERIFY2(typed, qPrintable("no file dialog for " + shortcut.toString()));
    }

private slots:
    void initTestCase() {
        if (QGuiApplication::platformName() != "xcb")
            QSKIP(qPrintable("needs a real X server: ctest runs this under xvfb-run (packages xvfb and xauth, "
                             "tools/deps.sh); platform here: " + QGuiApplication::platformName()));
        QVERIFY(setUpTestCase("AttnScopeTest", "AttnScopeXvfb"));
    }
    void cleanup() { w_.reset(); }

    void openArrowsClickExport() {
        newWindow(QSize(1200, 800));
        QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
        QCOMPARE(w_->windowHandle()->handle() != nullptr, true); // a native X window
        typeIntoDialog(QKeySequence(Qt::CTRL | Qt::Key_M), QString::fromStdString(testing::fixture("vit/hf_vit")));
        QTRY_VERIFY_WITH_TIMEOUT(doc()->model() != nullptr, 10000);
        typeIntoDialog(QKeySequence::Open, png_);
        QTRY_VERIFY_WITH_TIMEOUT(doc()->result() != nullptr && !w_->runner()->busy(), 30000);
        QVERIFY2(w_->lastError().isEmpty(), qPrintable(w_->lastError()));

        // Arrows, with the focus on the window rather than on a view.
        w_->activateWindow();
        w_->setFocus();
        const Selection s0 = doc()->selection();
        QTest::keyClick(w_.get(), Qt::Key_Right);
        QCOMPARE(doc()->selection().heads, analysis::HeadSelect{0}); // from "mean of heads" → head 0
        QTest::keyClick(w_.get(), Qt::Key_Up);
        QCOMPARE(doc()->selection().layer, s0.layer - 1);

        // A click on patch (row 1, col 2) of the 4×4 grid makes token 1 + 4 + 2 = 7 the query.
        auto* canvas = find<OverlayCanvas>("overlayCanvas");
        const QRectF g = canvas->gridRect();
        QVERIFY(!g.isEmpty());
        QTest::mouseClick(canvas, Qt::LeftButton, {}, QPoint(int(g.x() + g.width() * 2.5 / 4), int(g.y() + g.height() * 1.5 / 4)));
        QCOMPARE(doc()->selection().query, 7);

        // Export View (Ctrl+E) of the focused overlay, through its dialog.
        canvas->setFocus();
        const QString out = tmp_.filePath("exported.png");
        typeIntoDialog(QKeySequence(Qt::CTRL | Qt::Key_E), out);
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(out), 5000);
        const QImage img(out);
        QVERIFY(!img.isNull());
        QVERIFY(img.width() >= canvas->width());
    }
};

QTEST_MAIN(XvfbSmoke)
#include "xvfb_smoke.moc"
