// DETR before → after (issue 18). detectionChanges on hand-made detections (each kind once, the
// threshold's edge, the move tolerance), then the real tiny DETR fixture with decoder heads switched
// off: the Detections view's state (which boxes vanished, appeared, moved or stayed) equals the
// classification made here from core's own clean and ablated runs, and the Predictions view lists
// every such query with its score after and before.
#include "tests/support/analysis_gui_test.h"

#include "core/image/decode.h"
#include "core/session.h"
#include "ui/detr_state.h"
#include "ui/export.h"
#include "ui/views/detections_view.h"
#include "ui/views/predictions_view.h"

#include <QtTest>

#include <cmath>

using namespace attnscope;
using namespace attnscope::ui;

namespace {
Detection det(int q, int label, float score, float x0, float y0, float x1, float y1) {
    Detection d;
    d.query = q;
    d.label_id = label;
    d.label = std::string("c").append(std::to_string(label));
    d.score = score;
    d.box_xyxy = {x0, y0, x1, y1};
    return d;
}
} // namespace

class TestDetrChanges : public testing::AnalysisGuiTest {
    Q_OBJECT

private slots:
    void initTestCase() { QVERIFY(setUpTestCase("AttnScopeTest", "AttnScopeTestDetrChanges")); }
    void cleanup() { w_.reset(); }

    void classifiesByQuery() {
        const std::vector<Detection> before{det(0, 1, 0.9f, 10, 10, 50, 50), det(1, 2, 0.8f, 0, 0, 20, 20),
                                            det(2, 3, 0.1f, 5, 5, 9, 9), det(3, 4, 0.95f, 100, 100, 200, 200),
                                            det(4, 5, 0.2f, 1, 1, 2, 2), det(5, 6, 0.7f, 30, 30, 60, 60),
                                            det(6, 1, 0.9f, 10, 10, 50, 50)};
        const std::vector<Detection> after{det(0, 1, 0.85f, 11, 10, 50, 50),  // 1 px: kept
                                           det(1, 2, 0.3f, 0, 0, 20, 20),     // below: vanished
                                           det(2, 3, 0.75f, 5, 5, 9, 9),      // above: appeared
                                           det(3, 4, 0.96f, 130, 100, 230, 200), // 30 px: moved
                                           det(4, 5, 0.2f, 1, 1, 2, 2),       // neither: absent
                                           det(5, 6, 0.7f, 30, 30, 60, 60),   // exactly the threshold both times: kept
                                           det(6, 7, 0.9f, 10, 10, 50, 50)};  // relabelled: moved
        const auto c = detectionChanges(before, after, 0.7f);
        QCOMPARE(c.size(), size_t(6));
        const int queries[] = {0, 1, 2, 3, 5, 6};
        const BoxChange::Kind kinds[] = {BoxChange::Kept, BoxChange::Vanished, BoxChange::Appeared, BoxChange::Moved,
                                         BoxChange::Kept, BoxChange::Moved};
        for (size_t i = 0; i < c.size(); ++i) {
            QCOMPARE(c[i].query, queries[i]);
            QCOMPARE(int(c[i].kind), int(kinds[i]));
        }
        QCOMPARE(c[1].before.score, 0.8f);
        QCOMPARE(c[1].after.score, 0.3f);
    }

    void realDetrBothWays() {
        newWindow(QSize(1600, 900));
        const QString image = QString::fromStdString(testing::fixture("image/src_64x48.png"));
        QVERIFY(openAndRun("detr/r50tiny/hf", image));
        QVERIFY(doc()->detr()->active());
        QVERIFY(doc()->detr()->changes().empty()); // no interventions: nothing to compare
        doc()->detr()->setThreshold(0.3f);
        Interventions iv;
        for (int l = 0; l < doc()->layerCount(Site::DecoderCross); ++l)
            for (int h = 0; h < doc()->headCount(); ++h) iv.set_ablated({Site::DecoderCross, l, h}, true);
        doc()->setInterventions(iv);
        QVERIFY(QTest::qWaitFor([this] { return doc()->result() && !w_->runner()->busy() && !doc()->result()->interventions.empty(); }, 60000));
        // core's own two runs, classified here
        Session s(*doc()->model());
        const ImageRGB8 img = decode_image_file(image.toStdString());
        const RunResult clean = s.run(img, RecordPolicy::None);
        s.set_interventions(iv);
        const RunResult ablated = s.run(img, RecordPolicy::None);
        const float t = doc()->detr()->threshold();
        std::vector<std::pair<int, BoxChange::Kind>> want;
        for (size_t q = 0; q < clean.detections.size(); ++q) {
            const Detection &b = clean.detections[q], &a = ablated.detections[q];
            const bool inB = b.score >= t, inA = a.score >= t;
            if (!inB && !inA) continue;
            BoxChange::Kind k = inB && !inA ? BoxChange::Vanished : !inB ? BoxChange::Appeared : BoxChange::Kept;
            if (inB && inA) {
                bool moved = a.label_id != b.label_id;
                for (int i = 0; i < 4; ++i) moved |= std::abs(a.box_xyxy[size_t(i)] - b.box_xyxy[size_t(i)]) > kMovePx;
                if (moved) k = BoxChange::Moved;
            }
            want.push_back({int(q), k});
        }
        const auto& got = doc()->detr()->changes();
        QCOMPARE(got.size(), want.size());
        QVERIFY2(!want.empty(), "some detection above the threshold in one of the runs");
        for (size_t i = 0; i < got.size(); ++i) {
            QCOMPARE(got[i].query, want[i].first);
            QCOMPARE(int(got[i].kind), int(want[i].second));
            QVERIFY(std::abs(got[i].after.score - ablated.detections[size_t(got[i].query)].score) < 1e-5);
        }
        const bool anyChange = std::any_of(want.begin(), want.end(), [](auto& w) { return w.second != BoxChange::Kept; });
        QVERIFY2(anyChange, "switching every cross-attention head off changes the boxes");
        // the Predictions view: one row per query, after and before
        find<QDockWidget>("dock_predictions")->raise();
        QCoreApplication::processEvents();
        auto* pv = qobject_cast<PredictionsView*>(w_->view("predictions"))->predictions();
        QCOMPARE(pv->rows().size(), want.size());
        for (const auto& row : pv->rows()) {
            QVERIFY(std::abs(row.value - ablated.detections[size_t(row.query)].score) < 1e-5);
            QVERIFY(std::abs(row.before - clean.detections[size_t(row.query)].score) < 1e-5);
            QVERIFY2(row.valueText.contains("was"), qPrintable(row.valueText));
        }
        int n[4] = {0, 0, 0, 0};
        for (const auto& w : want) ++n[w.second];
        const QString counts = QString("%1 kept · %2 moved · %3 vanished · %4 appeared").arg(n[0]).arg(n[1]).arg(n[2]).arg(n[3]);
        QVERIFY2(pv->summary().startsWith(counts), qPrintable(pv->summary() + " vs " + counts));
        // the Detections view paints (legend and both ways) without trouble, and exports
        find<QDockWidget>("dock_detections")->raise();
        QCoreApplication::processEvents();
        const QString png = tmp_.filePath("changes.png");
        auto* dv = w_->view("detections");
        QCOMPARE(exportView(dv->canvas(), dv->caption(), png), QString());
        QVERIFY(!QImage(png).isNull());
        // Clear: no comparison any more
        doc()->setInterventions({});
        QVERIFY(QTest::qWaitFor([this] { return !w_->runner()->busy() && doc()->result() && doc()->result()->interventions.empty(); }, 60000));
        QVERIFY(doc()->detr()->changes().empty());
    }
};

QTEST_MAIN(TestDetrChanges)
#include "test_detr_changes.moc"
