// DETR in the GUI, driven by object names under QT_QPA_PLATFORM=offscreen: the Detections view (boxes,
// threshold slider, list, per-head decoder cross-attention of the selected detection, encoder
// self-attention at a clicked reference point), the DETR-aware attention overlay, detections .json,
// the view and heads-figure exports, and that none of it re-runs the model. Expected values come from
// core (detr_postprocess, the recorded maps) and from the preprocessing geometry worked out here.
#include "core/models/detr.h"
#include "core/postprocess.h"
#include "tests/support/gui_test.h"
#include "ui/export.h"
#include "ui/main_window.h"
#include "ui/settings.h"
#include "ui/views/detections_view.h"
#include "ui/views/distance_view.h"
#include "ui/views/head_grid_view.h"
#include "ui/views/heads_figure.h"
#include "ui/views/matrix_view.h"
#include "ui/detr_state.h"
#include "ui/views/overlay_view.h"

#include <nlohmann/json.hpp>

#include <QComboBox>
#include <QDockWidget>
#include <QFile>
#include <QLabel>
#include <QListWidget>
#include <QSettings>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QStandardPaths>
#include <QSvgRenderer>
#include <QTemporaryDir>
#include <QtTest>
#include <qcustomplot.h>

#include <cmath>

using namespace attnscope;
using namespace attnscope::ui;

class TestDetrViews : public testing::GuiTest {
    Q_OBJECT
    QString image_;

    DetectionsView* view() const { return static_cast<DetectionsView*>(w_->view("detections")); }
    DetectionsCanvas* canvas() const { return find<DetectionsCanvas>("detectionsCanvas"); }
    void showDetections() const { // the dock shares a tab with the model view and the matrix
        find<QDockWidget>("dock_detections")->raise();
        QApplication::processEvents();
    }
    void open(const std::string& model) { QVERIFY(openAndRun(model, image_)); }
    void openDetr() { open("detr/r50tiny/hf"); }
    const AttentionMap& coreMap(Site site, int layer) const {
        for (const AttentionMap& m : doc()->result()->attention)
            if (m.site == site && m.layer == layer) return m;
        qFatal("no map %s layer %d", site_name(site), layer);
    }
    std::vector<float> coreRow(Site site, int layer, int head, int query) const {
        const AttentionMap& m = coreMap(site, layer);
        std::vector<float> out;
        for (int k = 0; k < m.n_k; ++k) out.push_back(m.at(head, query, k));
        return out;
    }
    std::vector<Detection> core(float threshold) const {
        return detr_postprocess(*doc()->result(), doc()->model()->info(), threshold);
    }
    static void sameDetections(const std::vector<Detection>& a, const std::vector<Detection>& b) {
        QCOMPARE(a.size(), b.size());
        for (size_t i = 0; i < a.size(); ++i) {
            QCOMPARE(a[i].query, b[i].query);
            QCOMPARE(a[i].label_id, b[i].label_id);
            QCOMPARE(a[i].label, b[i].label);
            QCOMPARE(a[i].score, b[i].score);
            for (int j = 0; j < 4; ++j) QCOMPARE(a[i].box_xyxy[size_t(j)], b[i].box_xyxy[size_t(j)]);
        }
    }
    // Where box i must be drawn: original pixels scaled into the canvas's image rectangle.
    QRectF expectedBoxRect(const Detection& d) const {
        const QRectF img = canvas()->imageRect();
        const double s = img.width() / doc()->result()->geometry.orig_w;
        return {img.x() + d.box_xyxy[0] * s, img.y() + d.box_xyxy[1] * s, (d.box_xyxy[2] - d.box_xyxy[0]) * s,
                (d.box_xyxy[3] - d.box_xyxy[1]) * s};
    }

private slots:
    void initTestCase() {
        QVERIFY(setUpTestCase("AttnScopeDetrTest", "AttnScopeDetrTest"));
        // 64 × 48: DETR resizes it to 1066 × 800, a feature grid of 25 × 34 that overhangs the right edge.
        image_ = QString::fromStdString(testing::fixture("image/src_64x48.png"));
        QVERIFY(QFileInfo::exists(image_));
    }
    void init() {
        QSettings().clear();
        newWindow({1300, 860});
    }
    void cleanup() { w_.reset(); }

    void emptyStates() {
        QVERIFY(canvas()->emptyMessage().contains("Open a DETR model"));
        QVERIFY(view()->shownValues().empty());
        open("vit/hf_vit"); // not DETR: a helpful message, controls off, no detections export
        QVERIFY(canvas()->emptyMessage().contains("DETR"));
        QVERIFY(canvas()->emptyMessage().contains("vit"));
        QVERIFY(!find<QSlider>("thresholdSlider")->isEnabled());
        QVERIFY(!find<QAction>("actionExportDetections")->isEnabled());
        QVERIFY(doc()->detr()->detections().empty());
        QVERIFY(view()->shownValues().empty());
        const QString png = tmp_.filePath("empty.png");
        QCOMPARE(exportView(view()->canvas(), view()->caption(), png), QString());
        QVERIFY(!QImage(png).isNull());
        // Then a DETR model: the view fills, the export is offered.
        w_->openPath(QString::fromStdString(testing::fixture("detr/r50tiny/hf")));
        QTRY_VERIFY_WITH_TIMEOUT(doc()->detr()->active() && !w_->runner()->busy(), 60000);
        QCOMPARE(canvas()->emptyMessage(), QString());
        QVERIFY(find<QSlider>("thresholdSlider")->isEnabled());
        QVERIFY(find<QAction>("actionExportDetections")->isEnabled());
    }

    void opensLikeTheColab() {
        openDetr();
        const RunResult* r = doc()->result();
        QCOMPARE(r->geometry.input_w, 1066);
        QCOMPARE(r->geometry.input_h, 800);
        QCOMPARE(r->layout.patch_size, 32);
        QCOMPARE(r->layout.grid_w, 34); // ceil(1066 / 32)
        QCOMPARE(r->layout.grid_h, 25);
        QCOMPARE(find<QSlider>("thresholdSlider")->value(), 70); // the colab's 0.7
        QCOMPARE(doc()->detr()->threshold(), 0.7f);
        // Last decoder layer, cross-attention, heads averaged, the best-scoring query.
        const Selection& s = doc()->selection();
        QCOMPARE(s.site, Site::DecoderCross);
        QCOMPARE(s.layer, 1);
        QCOMPARE(s.heads, (analysis::HeadSelect{-1, analysis::HeadFusion::Mean}));
        const auto all = core(-1.0f);
        const auto best = std::max_element(all.begin(), all.end(), [](auto& a, auto& b) { return a.score < b.score; });
        QCOMPARE(s.query, best->query);
        QCOMPARE(canvas()->selectedQuery(), best->query);
        QCOMPARE(find<QSpinBox>("decoderLayerSpin")->value(), 1);
        QCOMPARE(find<QSpinBox>("encoderLayerSpin")->value(), 1);
    }

    void boxesFollowTheThreshold() {
        openDetr();
        showDetections();
        auto* slider = find<QSlider>("thresholdSlider");
        auto* list = find<QListWidget>("detectionList");
        slider->setValue(0);
        const auto all = core(0.0f);
        QVERIFY2(all.size() >= 3, "the fixture should give a few boxes with score > 0");
        sameDetections(doc()->detr()->detections(), all);
        QCOMPARE(list->count(), int(all.size()));
        for (size_t i = 0; i < all.size(); ++i) {
            const QRectF got = canvas()->boxRect(int(i)), want = expectedBoxRect(all[i]);
            constexpr double tol = 1e-4; // widget pixels
            QVERIFY2(std::abs(got.left() - want.left()) < tol && std::abs(got.top() - want.top()) < tol &&
                         std::abs(got.right() - want.right()) < tol && std::abs(got.bottom() - want.bottom()) < tol,
                     qPrintable(QString("box %1: drawn (%2, %3, %4, %5), expected (%6, %7, %8, %9)").arg(i)
                                    .arg(got.left()).arg(got.top()).arg(got.right()).arg(got.bottom())
                                    .arg(want.left()).arg(want.top()).arg(want.right()).arg(want.bottom())));
            QCOMPARE(list->item(int(i))->data(Qt::UserRole).toInt(), all[i].query);
        }
        // A threshold between two scores keeps a strict, non-empty subset.
        std::vector<float> scores;
        for (const auto& d : all) scores.push_back(d.score);
        std::sort(scores.begin(), scores.end());
        int value = -1;
        for (size_t i = scores.size() / 2; i + 1 < scores.size() && value < 0; ++i)
            for (int v = int(std::ceil(scores[i] * 100)); v < scores[i + 1] * 100 && value < 0; ++v)
                if (v / 100.0f >= scores[i] && v / 100.0f < scores[i + 1]) value = v;
        QVERIFY2(value > 0, "no 0.01 step between the scores");
        slider->setValue(value);
        QCOMPARE(find<QLabel>("thresholdLabel")->text(), QString::number(value / 100.0, 'f', 2));
        const auto some = core(value / 100.0f);
        QVERIFY(!some.empty() && some.size() < all.size());
        sameDetections(doc()->detr()->detections(), some);
        QCOMPARE(list->count(), int(some.size()));
        for (size_t i = 0; i < some.size(); ++i) {
            const QRectF got = canvas()->boxRect(int(i)), want = expectedBoxRect(some[i]);
            QVERIFY(std::abs(got.left() - want.left()) < 1e-4 && std::abs(got.bottom() - want.bottom()) < 1e-4);
        }
        QVERIFY(find<QLabel>("detectionCount")->text().startsWith(QString::number(some.size())));
        // Remembered: a new window starts at this threshold.
        QCOMPARE(Settings().detectionThreshold(), value / 100.0);
        w_ = std::make_unique<MainWindow>();
        QCOMPARE(find<QSlider>("thresholdSlider")->value(), value);
        QCOMPARE(w_->document()->detr()->threshold(), value / 100.0f);
    }

    void crossAttentionOfTheSelectedDetection_data() {
        QTest::addColumn<int>("detection");
        QTest::addColumn<int>("layer");
        QTest::addColumn<int>("head");
        QTest::newRow("first detection, decoder layer 0, head 0") << 0 << 0 << 0;
        QTest::newRow("second detection, decoder layer 1, head 3") << 1 << 1 << 3;
        QTest::newRow("last detection, decoder layer 0, head 2") << -1 << 0 << 2;
    }
    void crossAttentionOfTheSelectedDetection() {
        QFETCH(int, detection);
        QFETCH(int, layer);
        QFETCH(int, head);
        openDetr();
        showDetections();
        find<QSlider>("thresholdSlider")->setValue(0);
        const auto dets = doc()->detr()->detections();
        if (detection < 0) detection = int(dets.size()) - 1;
        const int q = dets[size_t(detection)].query;
        find<QListWidget>("detectionList")->setCurrentRow(detection);
        find<QSpinBox>("decoderLayerSpin")->setValue(layer);
        QCOMPARE(canvas()->selectedQuery(), q);
        QCOMPARE(doc()->detr()->queryFor(Site::DecoderCross), q);
        const auto& maps = canvas()->rowMaps(0);
        QCOMPARE(int(maps.size()), coreMap(Site::DecoderCross, layer).n_heads + 1); // heads + mean
        const auto expect = coreRow(Site::DecoderCross, layer, head, q);
        QCOMPARE(maps[size_t(head)].size(), expect.size());
        QCOMPARE(testing::max_abs_diff(maps[size_t(head)].data(), expect.data(), int64_t(expect.size()), "cross head"), 0.0);
        std::vector<float> mean(expect.size(), 0.0f);
        const int nh = coreMap(Site::DecoderCross, layer).n_heads;
        for (int h = 0; h < nh; ++h) {
            const auto row = coreRow(Site::DecoderCross, layer, h, q);
            for (size_t k = 0; k < row.size(); ++k) mean[k] += row[k] / float(nh);
        }
        QVERIFY(testing::max_abs_diff(maps.back().data(), mean.data(), int64_t(mean.size()), "cross mean") < 1e-6);
        // The exported data of the view: [heads, grid_h, grid_w], head `head` at its offset.
        const auto shape = view()->shownShape();
        QCOMPARE(shape, (std::vector<int64_t>{nh, 25, 34}));
        QVERIFY(std::equal(expect.begin(), expect.end(), view()->shownValues().begin() + ptrdiff_t(head) * 25 * 34));
        // Clicking that head's map opens it in the overlay, placed over the feature grid.
        QTest::mouseClick(canvas(), Qt::LeftButton, {}, canvas()->headCellRect(0, head).center().toPoint());
        const Selection& s = doc()->selection();
        QCOMPARE(s.site, Site::DecoderCross);
        QCOMPARE(s.layer, layer);
        QCOMPARE(s.heads, analysis::HeadSelect{head});
        QCOMPARE(s.query, q);
        auto* overlay = static_cast<OverlayView*>(w_->view("overlay"));
        QVERIFY(overlay->shownValues() == expect);
        QCOMPARE(overlay->shownShape(), (std::vector<int64_t>{25, 34}));
        QVERIFY(find<QSpinBox>("querySpin")->suffix().contains(QString::fromStdString(dets[size_t(detection)].label)));
    }

    void clickingABoxSelectsIt() {
        openDetr();
        showDetections();
        find<QSlider>("thresholdSlider")->setValue(0);
        const auto& dets = doc()->detr()->detections();
        // Every detection's box centre: the smallest box holding that point is the one selected.
        for (size_t i = 0; i < dets.size(); ++i) {
            const QPoint p = expectedBoxRect(dets[i]).center().toPoint();
            const double scale = canvas()->imageRect().width() / doc()->result()->geometry.orig_w;
            const QPointF o = (QPointF(p) - canvas()->imageRect().topLeft()) / scale;
            int want = -1;
            double area = 0;
            for (size_t j = 0; j < dets.size(); ++j) {
                const auto& b = dets[j].box_xyxy;
                const double a = double(b[2] - b[0]) * (b[3] - b[1]);
                if (o.x() >= b[0] && o.x() <= b[2] && o.y() >= b[1] && o.y() <= b[3] && (want < 0 || a < area)) {
                    want = int(j);
                    area = a;
                }
            }
            QTest::mouseClick(canvas(), Qt::LeftButton, {}, p);
            QCOMPARE(canvas()->selectedQuery(), dets[size_t(want)].query);
            QCOMPARE(find<QListWidget>("detectionList")->currentRow(), want);
        }
        // And in the overlay on the decoder site: a click on a box picks it too.
        auto* ov = find<OverlayCanvas>("overlayCanvas");
        QCOMPARE(doc()->selection().site, Site::DecoderCross);
        const QRectF img = ov->imageRect();
        const double s = img.width() / doc()->result()->geometry.orig_w;
        const auto& b = dets.back().box_xyxy;
        const QPoint p(int(img.x() + (b[0] + b[2]) / 2 * s), int(img.y() + (b[1] + b[3]) / 2 * s));
        QTest::mouseClick(ov, Qt::LeftButton, {}, p);
        const int picked = doc()->selection().query;
        QVERIFY(doc()->detr()->detectionOfQuery(picked) >= 0);
        const auto& pb = dets[size_t(doc()->detr()->detectionOfQuery(picked))].box_xyxy;
        const QPointF o = (QPointF(p) - img.topLeft()) / s;
        QVERIFY(o.x() >= pb[0] && o.x() <= pb[2] && o.y() >= pb[1] && o.y() <= pb[3]);
    }

    void encoderAttentionAtAClickedPoint_data() {
        QTest::addColumn<double>("fx");
        QTest::addColumn<double>("fy");
        QTest::addColumn<int>("layer");
        QTest::newRow("upper left, last layer") << 0.1 << 0.15 << 1;
        QTest::newRow("centre right, layer 0") << 0.73 << 0.52 << 0;
        QTest::newRow("bottom-right corner (cell overhangs the image)") << 0.995 << 0.99 << 1;
    }
    void encoderAttentionAtAClickedPoint() {
        QFETCH(double, fx);
        QFETCH(double, fy);
        QFETCH(int, layer);
        openDetr();
        showDetections();
        find<QSpinBox>("encoderLayerSpin")->setValue(layer);
        const QRectF img = canvas()->imageRect();
        const QPoint p(int(img.x() + fx * img.width()), int(img.y() + fy * img.height()));
        QTest::mouseClick(canvas(), Qt::LeftButton, Qt::ShiftModifier, p);
        // The feature cell under the point: original → model input (DETR resizes, never crops) → cell of one stride.
        const RunResult* r = doc()->result();
        const double xIn = (p.x() - img.x()) / img.width() * r->geometry.input_w;
        const double yIn = (p.y() - img.y()) / img.height() * r->geometry.input_h;
        const int c = std::min(int(xIn / r->layout.patch_size), r->layout.grid_w - 1);
        const int row = std::min(int(yIn / r->layout.patch_size), r->layout.grid_h - 1);
        const int token = row * r->layout.grid_w + c;
        QCOMPARE(canvas()->referenceToken(), token);
        QCOMPARE(doc()->detr()->queryFor(Site::Encoder), token);
        const auto& maps = canvas()->rowMaps(1);
        for (int h = 0; h < coreMap(Site::Encoder, layer).n_heads; ++h) {
            const auto expect = coreRow(Site::Encoder, layer, h, token);
            QCOMPARE(testing::max_abs_diff(maps[size_t(h)].data(), expect.data(), int64_t(expect.size()), "encoder row"), 0.0);
        }
        // The overlay's encoder site shows the same reference point as its query (and the decoder keeps its own).
        const int decoderQuery = doc()->selection().query;
        auto* site = find<QComboBox>("siteCombo");
        site->setCurrentIndex(site->findData(int(Site::Encoder)));
        QCOMPARE(doc()->selection().site, Site::Encoder);
        QCOMPARE(doc()->selection().query, token);
        find<QSpinBox>("layerSpin")->setValue(layer);
        find<QComboBox>("headCombo")->setCurrentIndex(1);
        QVERIFY(w_->view("overlay")->shownValues() == coreRow(Site::Encoder, layer, 1, token));
        site->setCurrentIndex(site->findData(int(Site::DecoderCross)));
        QCOMPARE(doc()->selection().query, decoderQuery);
    }

    void modelGridKeepsTheFeatureGridAspect() {
        openDetr();
        find<QDockWidget>("dock_model")->raise();
        auto* site = find<QComboBox>("siteCombo");
        site->setCurrentIndex(site->findData(int(Site::DecoderCross)));
        QApplication::processEvents();
        const RunResult* r = doc()->result();
        QVERIFY(r->layout.grid_w != r->layout.grid_h); // 34 × 25: a square cell would squeeze it
        auto* grid = find<HeadGridCanvas>("headGridCanvas");
        const QRectF a = grid->cellRect(0, 0), right = grid->cellRect(0, 1), below = grid->cellRect(1, 0);
        // A cell is the map's aspect once the 3-pixel gap is added back; neighbours do not overlap.
        const double aspect = double(r->layout.grid_w) / r->layout.grid_h;
        QVERIFY2(std::abs((a.width() + 3) / (a.height() + 3) - aspect) < 1e-9,
                 qPrintable(QString("cell %1 × %2, map %3 × %4").arg(a.width()).arg(a.height())
                                .arg(r->layout.grid_w).arg(r->layout.grid_h)));
        QVERIFY(right.left() >= a.right() && below.top() >= a.bottom());
        QVERIFY(grid->cellRect(doc()->layerCount(Site::DecoderCross) - 1, 0).bottom() <= grid->height());
    }

    void overlayPlacesTheFeatureGrid() {
        openDetr();
        auto* ov = find<OverlayCanvas>("overlayCanvas");
        const RunResult* r = doc()->result();
        const QRectF img = ov->imageRect(), g = ov->gridRect();
        // 34 cells of 32 input px = 1088 px of a 1066 px input: the grid starts at the image's corner and overhangs.
        // (64 × 48 → 1066 × 800 does not keep the aspect exactly: x and y scale apart.)
        const double sx = img.width() / r->geometry.input_w, sy = img.height() / r->geometry.input_h;
        QVERIFY(std::abs(g.x() - img.x()) < 1e-9 && std::abs(g.y() - img.y()) < 1e-9);
        QVERIFY(std::abs(g.width() - 34 * 32 * sx) < 1e-6);
        QVERIFY(std::abs(g.height() - 25 * 32 * sy) < 1e-6);
        QVERIFY(g.width() > img.width());
        // A click on the encoder site: the cell under the point becomes the query.
        auto* site = find<QComboBox>("siteCombo");
        site->setCurrentIndex(site->findData(int(Site::Encoder)));
        const QPoint p(int(img.x() + 0.4 * img.width()), int(img.y() + 0.3 * img.height()));
        QTest::mouseClick(ov, Qt::LeftButton, {}, p);
        const int c = int((p.x() - img.x()) / sx / 32), row = int((p.y() - img.y()) / sy / 32);
        QCOMPARE(doc()->selection().query, row * 34 + c);
        QCOMPARE(canvas()->referenceToken(), row * 34 + c); // the Detections view's reference point follows
        // Decoder self-attention: keys are object queries, not spatial; the row is still core's.
        site->setCurrentIndex(site->findData(int(Site::DecoderSelf)));
        QCOMPARE(doc()->selection().site, Site::DecoderSelf);
        QVERIFY(ov->shown().grid.empty());
        const Selection& sel = doc()->selection();
        QVERIFY(ov->shown().row == doc()->queryMap(sel).row);
        find<QComboBox>("headCombo")->setCurrentIndex(2);
        QVERIFY(ov->shown().row == coreRow(Site::DecoderSelf, sel.layer, 2, sel.query));
        QVERIFY(!ov->grab().isNull());
    }

    void exportsDetections() {
        openDetr();
        find<QSlider>("thresholdSlider")->setValue(5);
        const QString path = tmp_.filePath("detections.json");
        QCOMPARE(exportBytes(detectionsJson(*doc()), path), QString());
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const nlohmann::json j = nlohmann::json::parse(f.readAll().toStdString());
        const auto want = core(0.05f);
        QVERIFY(!want.empty());
        QCOMPARE(j.at("threshold").get<float>(), 0.05f);
        QCOMPARE(j.at("image").get<std::string>(), std::string("src_64x48.png"));
        QCOMPARE(j.at("image_size"), nlohmann::json({64, 48}));
        QCOMPARE(j.at("feature_grid"), nlohmann::json({25, 34}));
        QCOMPARE(j.at("stride").get<int>(), 32);
        const auto& dets = j.at("detections");
        QCOMPARE(dets.size(), want.size());
        for (size_t i = 0; i < want.size(); ++i) {
            QCOMPARE(dets[i].at("query").get<int>(), want[i].query);
            QCOMPARE(dets[i].at("label").get<std::string>(), want[i].label);
            QCOMPARE(dets[i].at("score").get<float>(), want[i].score);
            for (size_t k = 0; k < 4; ++k) QCOMPARE(dets[i].at("box_xyxy")[k].get<float>(), want[i].box_xyxy[k]);
        }
        // Atomic: an unwritable path fails with a message naming it and leaves nothing behind.
        const QString bad = tmp_.filePath("no/such/dir/detections.json");
        const QString err = exportBytes(detectionsJson(*doc()), bad);
        QVERIFY(err.contains(bad));
        QVERIFY(!QFileInfo::exists(bad));
    }

    void exportsTheViewAndFigures() {
        openDetr();
        showDetections();
        View* v = view();
        const QString caption = v->caption();
        QVERIFY(caption.contains("hf") && caption.contains("src_64x48.png") && caption.contains("> 0.70"));
        QVERIFY(caption.contains(QString("query %1").arg(canvas()->selectedQuery())));
        for (const char* suffix : {"png", "svg", "pdf"}) {
            const QString path = tmp_.filePath(QString("detections.") + suffix);
            QCOMPARE(exportView(v->canvas(), caption, path), QString());
        }
        const QImage png(tmp_.filePath("detections.png"));
        QVERIFY(!png.isNull());
        QCOMPARE(png.width(), v->canvas()->width());
        QVERIFY(QSvgRenderer(tmp_.filePath("detections.svg")).isValid());
        QFile pdf(tmp_.filePath("detections.pdf"));
        QVERIFY(pdf.open(QIODevice::ReadOnly));
        QVERIFY(pdf.read(5) == "%PDF-");
        QCOMPARE(renderWithCaption(v->canvas(), caption).width(), v->canvas()->width()); // Copy Image
        // All heads of a layer, and the whole layer × head grid, as one figure (decoder cross-attention here).
        for (bool all : {false, true}) {
            HeadsFigure fig(doc(), all);
            QCOMPARE(fig.heads(), 4);
            QCOMPARE(fig.layers(), all ? 2 : 1);
            const Selection& s = doc()->selection();
            for (int li = 0; li < fig.layers(); ++li)
                for (int h = 0; h < 4; ++h)
                    QVERIFY(fig.cell(li, h).grid == coreRow(s.site, all ? li : s.layer, h, s.query));
            QVERIFY(fig.caption().contains("all 4 heads"));
            for (const char* suffix : {"png", "svg", "pdf"}) {
                const QString path = tmp_.filePath(QString("figure_%1.%2").arg(all).arg(suffix));
                QCOMPARE(exportHeadsFigure(*doc(), all, path), QString());
            }
            const QImage img(tmp_.filePath(QString("figure_%1.png").arg(all)));
            QVERIFY(!img.isNull());
            QCOMPARE(img.width(), fig.width());
            QVERIFY(QSvgRenderer(tmp_.filePath(QString("figure_%1.svg").arg(all))).isValid());
            QFile f(tmp_.filePath(QString("figure_%1.pdf").arg(all)));
            QVERIFY(f.open(QIODevice::ReadOnly));
            QVERIFY(f.read(5) == "%PDF-");
        }
    }

    // The matrix tab skips its plot while another tab covers it and catches up when raised or exported.
    void hiddenMatrixCatchesUp() {
        openDetr();
        find<QDockWidget>("dock_model")->raise();
        QApplication::processEvents();
        auto* site = find<QComboBox>("siteCombo");
        site->setCurrentIndex(site->findData(int(Site::Encoder)));
        find<QSpinBox>("layerSpin")->setValue(0);
        find<QComboBox>("headCombo")->setCurrentIndex(2);
        auto* matrix = static_cast<MatrixView*>(w_->view("matrix"));
        auto* map = qobject_cast<QCPColorMap*>(matrix->plot()->plottable(0));
        QVERIFY(map);
        auto plotted = [&](int q, int k) { return float(map->data()->cell(k, q)); };
        const AttentionMap& m = coreMap(Site::Encoder, 0);
        const std::vector<std::pair<int, int>> probes = {{0, 0}, {17, 300}, {849, 849}, {500, 3}};
        find<QDockWidget>("dock_matrix")->raise();
        QTRY_VERIFY(map->data()->keySize() == m.n_k && map->data()->valueSize() == m.n_q);
        for (auto [q, k] : probes) QCOMPARE(plotted(q, k), m.at(2, q, k));
        // Hidden again: a change is picked up by an export (canvas()) without raising the tab.
        find<QDockWidget>("dock_model")->raise();
        QApplication::processEvents();
        find<QComboBox>("headCombo")->setCurrentIndex(3);
        QCOMPARE(matrix->shownValues()[size_t(17) * m.n_k + 300], m.at(3, 17, 300));
        matrix->canvas();
        for (auto [q, k] : probes) QCOMPARE(plotted(q, k), m.at(3, q, k));
    }

    // Same for the mean-distance plot's ring around the selected head (a ViT: the encoder's heads).
    void hiddenDistancePlotCatchesUp() {
        open("vit/hf_vit");
        auto* dv = static_cast<DistanceView*>(w_->view("distance"));
        find<QDockWidget>("dock_distance")->raise();
        QTRY_VERIFY(!dv->imageDistances().empty());
        find<QDockWidget>("dock_model")->raise();
        QApplication::processEvents();
        find<QComboBox>("headCombo")->setCurrentIndex(2);
        find<QSpinBox>("layerSpin")->setValue(1);
        auto ring = [dv]() -> double { // the ring's value, -1 when there is none
            for (int i = 0; i < dv->plot()->graphCount(); ++i)
                if (!dv->plot()->graph(i)->property("data").toBool() && dv->plot()->graph(i)->dataCount() == 1)
                    return dv->plot()->graph(i)->data()->at(0)->value;
            return -1;
        };
        find<QDockWidget>("dock_distance")->raise();
        QTRY_COMPARE(ring(), dv->imageDistances()[1][2]);
        find<QDockWidget>("dock_model")->raise();
        QApplication::processEvents();
        find<QComboBox>("headCombo")->setCurrentIndex(0);
        dv->canvas(); // an export brings it up to date without raising the tab
        QCOMPARE(ring(), dv->imageDistances()[1][0]);
    }

    void changingTheViewNeverRerunsTheModel() {
        openDetr();
        showDetections();
        QSignalSpy busy(w_->runner(), &RunController::busyChanged);
        QSignalSpy finished(w_->runner(), &RunController::finished);
        const RunResult* r = doc()->result();
        find<QSlider>("thresholdSlider")->setValue(10);
        find<QSpinBox>("decoderLayerSpin")->setValue(0);
        find<QSpinBox>("encoderLayerSpin")->setValue(0);
        find<QListWidget>("detectionList")->setCurrentRow(1);
        const QRectF img = canvas()->imageRect();
        QTest::mouseClick(canvas(), Qt::RightButton, {}, img.center().toPoint());
        QTest::mouseClick(canvas(), Qt::LeftButton, {}, canvas()->headCellRect(1, 2).center().toPoint());
        QTest::keyClick(canvas(), Qt::Key_Right);
        find<QSpinBox>("layerSpin")->setValue(0);
        find<QComboBox>("headCombo")->setCurrentIndex(3);
        w_->repaint();
        QVERIFY(!canvas()->grab().isNull());
        QApplication::processEvents();
        QCOMPARE(busy.count(), 0);
        QCOMPARE(finished.count(), 0);
        QCOMPARE(doc()->result(), r);
    }
};

QTEST_MAIN(TestDetrViews)
#include "test_detr_views.moc"
