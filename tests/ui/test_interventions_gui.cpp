// GUI tests (QT_QPA_PLATFORM=offscreen) of the interventions UI (issue 18): a head switched off from the
// Model view's context menu reruns the model with it ablated (the result equals core's Session run with
// the same Interventions, made here), the bar says what is off, Ctrl+Z undoes it (the clean logits
// again), and the Predictions view shows before → after from the clean and the ablated runs.
#include "tests/support/analysis_gui_test.h"

#include "core/image/decode.h"
#include "core/session.h"
#include "ui/interventions_bar.h"
#include "ui/views/head_grid_view.h"
#include "ui/views/predictions_view.h"

#include <QAction>
#include <QMenu>
#include <QTimer>
#include <QtTest>

#include <cmath>

using namespace attnscope;
using namespace attnscope::ui;

class TestInterventionsGui : public testing::AnalysisGuiTest {
    Q_OBJECT

    bool waitRun() {
        return QTest::qWaitFor([this] { return doc()->result() && !w_->runner()->busy(); }, 60000);
    }
    // Right-click cell (layer, head) of the Model view and pick the menu entry named `action`.
    void contextMenu(int layer, int head, const char* action) {
        auto* grid = view<HeadGridView>("model")->grid();
        QTimer::singleShot(50, [action] {
            auto* menu = qobject_cast<QMenu*>(QApplication::activePopupWidget());
            QVERIFY2(menu, "the head's context menu is open");
            QAction* a = menu->findChild<QAction*>(action);
            QVERIFY2(a && a->isEnabled(), action);
            a->trigger();
            menu->close();
        });
        const QPoint at = grid->cellRect(layer, head).center().toPoint();
        QContextMenuEvent e(QContextMenuEvent::Mouse, at, grid->mapToGlobal(at));
        QCoreApplication::sendEvent(grid, &e);
    }
    // Core's own run of the fixture model on the same image with `iv` (no GUI involved).
    RunResult reference(const Interventions& iv) {
        Session s(*doc()->model());
        s.set_interventions(iv);
        return s.run(decode_image_file(png_.toStdString()));
    }

private slots:
    void initTestCase() { QVERIFY(setUpTestCase("AttnScopeTest", "AttnScopeTestInterventions")); }
    void init() { newWindow(QSize(1280, 800)); }
    void cleanup() { w_.reset(); }

    void ablateFromModelViewThenUndo() {
        openFixture(); // hf_vit: 3 layers × 3 heads, a classifier
        QVERIFY(show("model"));
        auto* bar = w_->interventions();
        QVERIFY(!bar->isVisible());
        const Tensor clean = doc()->result()->logits;
        contextMenu(1, 2, "actionToggleHead");
        QCOMPARE(doc()->interventions().ablated.size(), size_t(1));
        QCOMPARE(doc()->interventions().ablated[0], (HeadRef{Site::Encoder, 1, 2}));
        QVERIFY(waitRun());
        QVERIFY(bar->isVisible());
        QVERIFY2(bar->text().contains("L1 H2"), qPrintable(bar->text()));
        // the window's result is the ablated pass, equal to core's run with that head off
        const RunResult& r = *doc()->result();
        QCOMPARE(r.interventions.ablated.size(), size_t(1));
        const RunResult want = reference(doc()->interventions());
        QVERIFY(testing::max_abs_diff(r.logits.ptr(), want.logits.ptr(), want.logits.numel(), "ablated logits") < 1e-6);
        QVERIFY(testing::max_abs_diff(r.logits.ptr(), clean.ptr(), clean.numel(), "vs clean") > 1e-5); // it did change
        // a second head, then undo twice with Ctrl+Z
        contextMenu(0, 0, "actionToggleHead");
        QVERIFY(waitRun());
        QCOMPARE(doc()->result()->interventions.ablated.size(), size_t(2));
        w_->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(w_.get()));
        QTest::keyClick(w_.get(), Qt::Key_Z, Qt::ControlModifier);
        QVERIFY(waitRun());
        QCOMPARE(doc()->interventions().ablated.size(), size_t(1));
        QCOMPARE(doc()->result()->interventions.ablated.size(), size_t(1));
        QVERIFY(w_->interventions()->undoAction()->isEnabled());
        w_->interventions()->undoAction()->trigger();
        QVERIFY(waitRun());
        QVERIFY(doc()->interventions().empty());
        QVERIFY(doc()->result()->interventions.empty());
        QCOMPARE(testing::max_abs_diff(doc()->result()->logits.ptr(), clean.ptr(), clean.numel(), "after undo"), 0.0);
        // the context menu restores a head too
        contextMenu(2, 1, "actionToggleHead");
        QVERIFY(waitRun());
        contextMenu(2, 1, "actionToggleHead");
        QVERIFY(QTest::qWaitFor([this] { return doc()->interventions().empty(); }, 5000));
        QVERIFY(waitRun());
        QVERIFY(doc()->result()->interventions.empty());
    }

    void predictionsShowBeforeAfter() {
        openFixture();
        QVERIFY(show("predictions"));
        const RunResult clean = *doc()->result();
        Interventions iv;
        iv.set_ablated({Site::Encoder, 2, 0}, true);
        iv.set_ablated({Site::Encoder, 2, 1}, true);
        iv.mode = AblationMode::Mean;
        doc()->setInterventions(iv);
        QVERIFY(waitRun());
        QVERIFY(doc()->baseline() != nullptr);
        const RunResult after = reference(iv);
        auto* pv = view<PredictionsView>("predictions")->predictions();
        QVERIFY(!pv->rows().empty());
        QVERIFY2(pv->heading().contains("mean"), qPrintable(pv->heading()));
        for (const auto& row : pv->rows()) {
            double was = NAN, now = NAN;
            for (const Prediction& p : clean.predictions)
                if (p.index == row.label) was = p.prob;
            for (const Prediction& p : after.predictions)
                if (p.index == row.label) now = p.prob;
            QVERIFY(std::abs(row.before - was) < 1e-6);
            QVERIFY(std::abs(row.value - now) < 1e-6);
            QVERIFY2(row.valueText.contains("was"), qPrintable(row.valueText));
        }
        // Clear: the plain view again
        w_->interventions()->clearAction()->trigger();
        QVERIFY(waitRun());
        QVERIFY(std::isnan(pv->rows().front().before));
        QVERIFY(!pv->rows().front().valueText.contains("was"));
    }

    void aNewModelClearsInterventions() {
        openFixture();
        doc()->setInterventions([] { Interventions iv; iv.set_ablated({Site::Encoder, 0, 1}, true); return iv; }());
        QVERIFY(waitRun());
        w_->openPath(QString::fromStdString(testing::fixture("vit/deit_distilled")));
        QVERIFY(QTest::qWaitFor([this] { return doc()->result() && !w_->runner()->busy() && doc()->modelPath().contains("deit"); }, 60000));
        QVERIFY(doc()->interventions().empty());
        QVERIFY(doc()->result()->interventions.empty());
        QVERIFY(w_->lastError().isEmpty());
    }
};

QTEST_MAIN(TestInterventionsGui)
#include "test_interventions_gui.moc"
