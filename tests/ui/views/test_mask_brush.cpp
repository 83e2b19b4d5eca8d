// GUI tests (offscreen) of the overlay's interventions (issue 18): right-click → switch the shown head
// off (the same helper as the Model view) and the head list of the layer; the mask brush — a drag over
// the overlay masks exactly the patches it crossed (the result equals core's run with zero_patches on
// those cells of the preprocessed input, made here), the bar counts them, Ctrl+Z undoes, a drag that
// starts on a masked patch erases, Esc leaves the mode.
#include "tests/support/analysis_gui_test.h"

#include "core/image/decode.h"
#include "core/session.h"
#include "ui/interventions_bar.h"
#include "ui/views/overlay_view.h"

#include <QAction>
#include <QMenu>
#include <QTimer>
#include <QtTest>

#include <cmath>

using namespace attnscope;
using namespace attnscope::ui;

class TestMaskBrush : public testing::AnalysisGuiTest {
    Q_OBJECT

    OverlayView* overlayView() const { return view<OverlayView>("overlay"); }
    OverlayCanvas* overlay() const { return overlayView()->overlay(); }
    bool waitRun() {
        return QTest::qWaitFor([this] { return doc()->result() && !w_->runner()->busy(); }, 60000);
    }
    // Right-click the overlay and trigger the action named `action` (in the menu or its head list).
    void contextMenu(const char* action) {
        QTimer::singleShot(50, [action] {
            auto* menu = qobject_cast<QMenu*>(QApplication::activePopupWidget());
            QVERIFY2(menu, "the overlay's context menu is open");
            QAction* a = menu->findChild<QAction*>(action);
            QVERIFY2(a && a->isEnabled(), action);
            a->trigger();
            menu->close();
        });
        const QPoint at = overlay()->gridRect().center().toPoint();
        QContextMenuEvent e(QContextMenuEvent::Mouse, at, overlay()->mapToGlobal(at));
        QCoreApplication::sendEvent(overlay(), &e);
    }
    QPoint cellCentre(int gx, int gy) const { // hf_vit: 4 × 4 patches of 8 px over its 32 × 32 input
        const QRectF g = overlay()->gridRect();
        return QPointF(g.x() + (gx + 0.5) * g.width() / 4, g.y() + (gy + 0.5) * g.height() / 4).toPoint();
    }
    void drag(QPoint from, QPoint to) {
        QTest::mousePress(overlay(), Qt::LeftButton, Qt::NoModifier, from);
        for (int i = 1; i <= 8; ++i) {
            const QPointF p = QPointF(from) + (QPointF(to) - QPointF(from)) * (i / 8.0);
            QMouseEvent e(QEvent::MouseMove, p, overlay()->mapToGlobal(p), Qt::NoButton, Qt::LeftButton, Qt::NoModifier);
            QCoreApplication::sendEvent(overlay(), &e);
        }
        QTest::mouseRelease(overlay(), Qt::LeftButton, Qt::NoModifier, to);
    }
    // Core's run on the preprocessed test image with `cells` zeroed by zero_patches (no GUI, no Session masks).
    RunResult maskedReference(const std::vector<int>& cells) {
        Session s(*doc()->model());
        Tensor input;
        const RunResult clean = s.run(decode_image_file(png_.toStdString()), RecordPolicy::None, nullptr, &input);
        zero_patches(input, doc()->model()->info().patch_size, cells);
        return s.run(input, clean.geometry, RecordPolicy::None);
    }

private slots:
    void initTestCase() { QVERIFY(setUpTestCase("AttnScopeTest", "AttnScopeTestMaskBrush")); }
    void init() { newWindow(QSize(1280, 800)); }
    void cleanup() { w_.reset(); }

    void overlayRightClickAblates() {
        openFixture();
        QVERIFY(show("overlay"));
        Selection s = doc()->selection();
        s.layer = 1;
        s.heads = {2};
        doc()->setSelection(s);
        contextMenu("actionToggleHead");
        QCOMPARE(doc()->interventions().ablated, (std::vector<HeadRef>{{Site::Encoder, 1, 2}}));
        QVERIFY(waitRun());
        QVERIFY(w_->interventions()->text().contains("L1 H2"));
        // the layer's head list: head 0 on top of it
        contextMenu("actionOverlayHead0");
        QCOMPARE(doc()->interventions().ablated.size(), size_t(2));
        QVERIFY(doc()->interventions().is_ablated({Site::Encoder, 1, 0}));
        QVERIFY(waitRun());
        Session ref(*doc()->model());
        ref.set_interventions(doc()->interventions());
        const RunResult want = ref.run(decode_image_file(png_.toStdString()));
        QVERIFY(testing::max_abs_diff(doc()->result()->logits.ptr(), want.logits.ptr(), want.logits.numel(), "ablated") < 1e-6);
        // restore from the overlay
        contextMenu("actionToggleHead");
        QVERIFY(waitRun());
        QCOMPARE(doc()->interventions().ablated, (std::vector<HeadRef>{{Site::Encoder, 1, 0}}));
    }

    void brushMasksTheDraggedPatches() {
        openFixture();
        QVERIFY(show("overlay"));
        const Tensor clean = doc()->result()->logits;
        QAction* brush = overlayView()->brushAction();
        QVERIFY(brush->isEnabled());
        QVERIFY(brush->toolTip().contains("set to 0 in the normalised input"));
        brush->trigger();
        QVERIFY(overlay()->brush().active());
        QCOMPARE(overlay()->brush().grid(), QSize(4, 4));
        drag(cellCentre(0, 1), cellCentre(2, 1)); // row 1, columns 0…2
        const std::vector<int> want{4, 5, 6};
        QCOMPARE(doc()->interventions().masked_patches, want);
        QVERIFY(waitRun());
        QCOMPARE(doc()->result()->interventions.masked_patches, want);
        QVERIFY2(w_->interventions()->text().contains("3 patches masked"), qPrintable(w_->interventions()->text()));
        const RunResult ref = maskedReference(want);
        QVERIFY(testing::max_abs_diff(doc()->result()->logits.ptr(), ref.logits.ptr(), ref.logits.numel(), "masked") < 1e-6);
        QVERIFY(testing::max_abs_diff(doc()->result()->logits.ptr(), clean.ptr(), clean.numel(), "vs clean") > 1e-6);
        // a stroke starting on a masked patch erases
        drag(cellCentre(1, 1), cellCentre(1, 1));
        QCOMPARE(doc()->interventions().masked_patches, (std::vector<int>{4, 6}));
        QVERIFY(waitRun());
        // Undo: the three again; again: none
        w_->interventions()->undoAction()->trigger();
        QVERIFY(waitRun());
        QCOMPARE(doc()->interventions().masked_patches, want);
        w_->interventions()->undoAction()->trigger();
        QVERIFY(waitRun());
        QVERIFY(doc()->interventions().masked_patches.empty());
        QCOMPARE(testing::max_abs_diff(doc()->result()->logits.ptr(), clean.ptr(), clean.numel(), "after undo"), 0.0);
        // Esc leaves the mode; then a click picks a query again instead of masking
        overlay()->setFocus();
        QTest::keyClick(overlay(), Qt::Key_Escape);
        QVERIFY(!overlay()->brush().active());
        QVERIFY(!brush->isChecked());
        QTest::mouseClick(overlay(), Qt::LeftButton, Qt::NoModifier, cellCentre(3, 3));
        QVERIFY(doc()->interventions().masked_patches.empty());
        QCOMPARE(doc()->selection().query, 1 + 15);
    }

    void maskedPatchesAreDrawnDimmed() {
        openFixture();
        QVERIFY(show("overlay"));
        DisplayOptions d = doc()->display();
        d.opacity = 0; // no map over the photo: what changes is the masking alone
        doc()->setDisplay(d);
        const QImage before = overlay()->grab().toImage();
        Interventions iv;
        iv.masked_patches = {0};
        doc()->setInterventions(iv);
        QVERIFY(waitRun());
        const QImage after = overlay()->grab().toImage();
        const QRectF g = overlay()->gridRect();
        // a pixel of cell 0 that the hatching does not cross is darker (the 120-alpha dim)
        auto lum = [](const QImage& im, QPoint p) { return qGray(im.pixel(p)); };
        int darker = 0, total = 0;
        for (int y = 2; y < int(g.height() / 4) - 2; y += 2)
            for (int x = 2; x < int(g.width() / 4) - 2; x += 2) {
                const QPoint p = (g.topLeft() + QPointF(x, y)).toPoint();
                ++total;
                darker += lum(after, p) < lum(before, p);
            }
        QVERIFY2(darker > total / 2, qPrintable(QString("%1 of %2").arg(darker).arg(total)));
    }
};

QTEST_MAIN(TestMaskBrush)
#include "test_mask_brush.moc"
