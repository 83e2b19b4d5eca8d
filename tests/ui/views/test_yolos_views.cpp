// YOLOS in the GUI (offscreen): the Detections view opens on the best detection's token in the last
// encoder layer; its first row is that detection token's row of the encoder self-attention over the patch
// keys (every head and the mean), for any layer and any detection; clicking a head map opens it in the
// overlay; clicking a box selects that detection (the selection follows while it is on a detection token);
// the reference point stays a patch. Expected values are core's recorded maps, sliced here by hand.
#include "core/postprocess.h"
#include "tests/support/gui_test.h"
#include "ui/detr_state.h"
#include "ui/main_window.h"
#include "ui/views/detections_view.h"
#include "ui/views/overlay_view.h"

#include <nlohmann/json.hpp>

#include <QDockWidget>
#include <QLabel>
#include <QListWidget>
#include <QSettings>
#include <QSlider>
#include <QSpinBox>
#include <QtTest>

#include <filesystem>
#include <fstream>

using namespace attnscope;
using namespace attnscope::ui;

class TestYolosViews : public testing::GuiTest {
    Q_OBJECT
    QString image_, model_;

    DetectionsView* view() const { return static_cast<DetectionsView*>(w_->view("detections")); }
    DetectionsCanvas* canvas() const { return find<DetectionsCanvas>("detectionsCanvas"); }
    void openYolos() {
        w_->openPath(model_);
        w_->openPath(image_);
        QVERIFY(QTest::qWaitFor([this] { return doc()->result() != nullptr && !w_->runner()->busy(); }, 60000));
        find<QDockWidget>("dock_detections")->raise();
        QApplication::processEvents();
        find<QSlider>("thresholdSlider")->setValue(0); // random weights: every detection token shows
    }
    const AttentionMap& coreMap(int layer) const {
        for (const AttentionMap& m : doc()->result()->attention)
            if (m.site == Site::Encoder && m.layer == layer) return m;
        qFatal("no encoder map %d", layer);
    }
    // Row `token` of head `head`, over the patch keys only (keys 1 … grid cells): what a head cell shows.
    std::vector<float> patchRow(int layer, int head, int token) const {
        const AttentionMap& m = coreMap(layer);
        const TokenLayout& L = doc()->result()->layout;
        std::vector<float> out;
        for (int k = L.n_prefix(); k < L.det_start(); ++k) out.push_back(m.at(head, token, k));
        return out;
    }

private slots:
    void initTestCase() {
        QVERIFY(setUpTestCase("AttnScopeYolosTest", "AttnScopeYolosTest"));
        image_ = QString::fromStdString(testing::fixture("image/src_64x48.png"));
        QVERIFY(QFileInfo::exists(image_));
        // The mid-position fixture with a small YolosImageProcessor config: 64 × 48 → 74 × 56 → floored to
        // 64 × 48, a 6 × 8 grid of 8-pixel patches (the table is 4 × 6: the position tables are resized).
        namespace fs = std::filesystem;
        const fs::path dir = tmp_.filePath("yolos-mid").toStdString();
        fs::create_directories(dir);
        for (const char* f : {"model.safetensors", "config.json"})
            fs::copy_file(testing::fixture(std::string("yolos/mid/hf/") + f), dir / f);
        std::ofstream(dir / "preprocessor_config.json")
            << nlohmann::json{{"image_processor_type", "YolosImageProcessor"}, {"size", {{"shortest_edge", 56}, {"longest_edge", 96}}}}.dump();
        model_ = QString::fromStdString(dir.string());
    }
    void init() {
        QSettings().clear();
        newWindow({1300, 860});
    }
    void cleanup() { w_.reset(); }

    void opensOnTheBestDetectionToken() {
        openYolos();
        const RunResult* r = doc()->result();
        QCOMPARE(r->geometry.input_w, 64);
        QCOMPARE(r->geometry.input_h, 48);
        QCOMPARE(r->layout.grid_h, 6);
        QCOMPARE(r->layout.grid_w, 8);
        QCOMPARE(r->layout.n_det, 5);
        QVERIFY(doc()->detr()->active());
        QCOMPARE(doc()->detr()->detectionSite(), Site::Encoder);
        QCOMPARE(canvas()->emptyMessage(), QString());
        const auto all = detr_postprocess(*r, doc()->model()->info(), -1.0f);
        const auto best = std::max_element(all.begin(), all.end(), [](auto& a, auto& b) { return a.score < b.score; });
        const Selection& s = doc()->selection();
        QCOMPARE(s.site, Site::Encoder);
        QCOMPARE(s.layer, 2);
        QCOMPARE(s.heads, (analysis::HeadSelect{-1, analysis::HeadFusion::Mean}));
        QCOMPARE(s.query, r->layout.det_start() + best->query); // the detection token's row
        QCOMPARE(canvas()->selectedQuery(), best->query);
        QVERIFY2(doc()->tokenName(s.query).startsWith(QString("DET %1 (%2 ").arg(best->query).arg(QString::fromStdString(best->label))),
                 qPrintable(doc()->tokenName(s.query)));
        QCOMPARE(find<QSpinBox>("decoderLayerSpin")->maximum(), 2); // the encoder's layers
        QVERIFY(find<QSpinBox>("decoderLayerSpin")->toolTip().contains("detection-token"));
        QCOMPARE(find<QListWidget>("detectionList")->count(), 5);
        // The reference point is a patch, never CLS or a detection token.
        const int ref = canvas()->referenceToken();
        QVERIFY2(r->layout.is_patch(ref), qPrintable(QString::number(ref)));
    }

    void detectionTokenRowOverThePatches_data() {
        QTest::addColumn<int>("detection");
        QTest::addColumn<int>("layer");
        QTest::addColumn<int>("head");
        QTest::newRow("first, layer 0, head 0") << 0 << 0 << 0;
        QTest::newRow("third, layer 1, head 3") << 2 << 1 << 3;
        QTest::newRow("last, layer 2, head 1") << 4 << 2 << 1;
    }
    void detectionTokenRowOverThePatches() {
        QFETCH(int, detection);
        QFETCH(int, layer);
        QFETCH(int, head);
        openYolos();
        const auto dets = doc()->detr()->detections();
        QCOMPARE(int(dets.size()), 5);
        const int q = dets[size_t(detection)].query;
        const int token = doc()->result()->layout.det_start() + q;
        find<QListWidget>("detectionList")->setCurrentRow(detection);
        find<QSpinBox>("decoderLayerSpin")->setValue(layer);
        QCOMPARE(canvas()->selectedQuery(), q);
        const auto& maps = canvas()->rowMaps(0);
        QCOMPARE(int(maps.size()), 4 + 1); // heads + mean
        const auto expect = patchRow(layer, head, token);
        QCOMPARE(int(expect.size()), 48);
        QCOMPARE(testing::max_abs_diff(maps[size_t(head)].data(), expect.data(), 48, "detection token head"), 0.0);
        std::vector<float> mean(48, 0.0f);
        for (int h = 0; h < 4; ++h) {
            const auto row = patchRow(layer, h, token);
            for (size_t k = 0; k < row.size(); ++k) mean[k] += row[k] / 4.0f;
        }
        QVERIFY(testing::max_abs_diff(maps.back().data(), mean.data(), 48, "detection token mean") < 1e-6);
        QCOMPARE(view()->shownShape(), (std::vector<int64_t>{4, 6, 8}));
        QVERIFY(std::equal(expect.begin(), expect.end(), view()->shownValues().begin() + ptrdiff_t(head) * 48));
        QVERIFY(view()->caption().contains(QString("detection token %1").arg(q)));
        // That head's map opens in the overlay: the encoder site, the detection token's row.
        QTest::mouseClick(canvas(), Qt::LeftButton, {}, canvas()->headCellRect(0, head).center().toPoint());
        const Selection& s = doc()->selection();
        QCOMPARE(s.site, Site::Encoder);
        QCOMPARE(s.layer, layer);
        QCOMPARE(s.heads, analysis::HeadSelect{head});
        QCOMPARE(s.query, token);
        QVERIFY(w_->view("overlay")->shownValues() == expect);
        QCOMPARE(w_->view("overlay")->shownShape(), (std::vector<int64_t>{6, 8}));
        QVERIFY(find<QSpinBox>("querySpin")->suffix().contains(QString::fromStdString(dets[size_t(detection)].label)));
    }

    void boxesAndReferencePoint() {
        openYolos();
        const TokenLayout L = doc()->result()->layout;
        const auto& dets = doc()->detr()->detections();
        // Select each detection through its box centre when no smaller box holds it; the selection (on a
        // detection token since the opening) follows to that token.
        const QRectF img = canvas()->imageRect();
        const double s = img.width() / doc()->result()->geometry.orig_w;
        int tried = 0;
        for (size_t i = 0; i < dets.size(); ++i) {
            const auto& b = dets[i].box_xyxy;
            const QPointF o((b[0] + b[2]) / 2, (b[1] + b[3]) / 2);
            bool smaller = false;
            for (size_t j = 0; j < dets.size(); ++j) {
                const auto& c = dets[j].box_xyxy;
                smaller |= j != i && o.x() >= c[0] && o.x() <= c[2] && o.y() >= c[1] && o.y() <= c[3] &&
                           (c[2] - c[0]) * (c[3] - c[1]) < (b[2] - b[0]) * (b[3] - b[1]);
            }
            if (smaller || !img.contains(img.topLeft() + o * s)) continue;
            QTest::mouseClick(canvas(), Qt::LeftButton, {}, (img.topLeft() + o * s).toPoint());
            QCOMPARE(canvas()->selectedQuery(), dets[i].query);
            QCOMPARE(doc()->selection().query, L.det_start() + dets[i].query);
            ++tried;
        }
        QVERIFY(tried > 0);
        // Shift+click: the reference point is the patch under the point; the selection stays on the detection token.
        const int before = doc()->selection().query;
        const QPoint p(int(img.x() + 0.3 * img.width()), int(img.y() + 0.6 * img.height()));
        QTest::mouseClick(canvas(), Qt::LeftButton, Qt::ShiftModifier, p);
        const RunResult* r = doc()->result();
        const int c = int((p.x() - img.x()) / img.width() * r->geometry.input_w / 8);
        const int row = int((p.y() - img.y()) / img.height() * r->geometry.input_h / 8);
        const int token = L.n_prefix() + row * L.grid_w + c;
        QCOMPARE(canvas()->referenceToken(), token);
        QCOMPARE(doc()->selection().query, before);
        const auto& maps = canvas()->rowMaps(1);
        for (int h = 0; h < 4; ++h) {
            const auto expect = patchRow(find<QSpinBox>("encoderLayerSpin")->value(), h, token);
            QCOMPARE(testing::max_abs_diff(maps[size_t(h)].data(), expect.data(), int64_t(expect.size()), "reference row"), 0.0);
        }
        // A patch query in the overlay moves the reference point, not the detection.
        const int detection = canvas()->selectedQuery();
        Selection sel = doc()->selection();
        sel.query = L.n_prefix() + 7;
        doc()->setSelection(sel);
        QCOMPARE(canvas()->referenceToken(), L.n_prefix() + 7);
        QCOMPARE(canvas()->selectedQuery(), detection);
        QCOMPARE(doc()->tokenName(L.n_prefix() + 7), QString("token 8 (row 0, col 7)"));
        sel.query = 0; // CLS: neither
        doc()->setSelection(sel);
        QCOMPARE(canvas()->referenceToken(), L.n_prefix() + 7);
        QCOMPARE(canvas()->selectedQuery(), detection);
    }
};

QTEST_MAIN(TestYolosViews)
#include "test_yolos_views.moc"
