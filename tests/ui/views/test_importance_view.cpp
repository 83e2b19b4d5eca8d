// GUI tests (offscreen) of the Model view's head-importance mode (issue 18): the colours' values equal
// core's head_importance computed here on the same preprocessed input (not through the view), in both
// metrics and for the interventions bar's mean mode, the cache answers a second switch-on at once, the
// hover read-out names the cell's value, the CSV export is the CLI's head_importance.csv (header and
// numbers), and the figure exports (PNG, SVG) hold the grid. DETR: the grid is about the detection
// selected in the document — picking another one in the Detections view's list gives that query's table,
// checked against a brute force written here (each head zeroed alone, the query's class probability read
// off the logits by the test).
#include "tests/support/analysis_gui_test.h"

#include "core/analysis/importance.h"
#include "core/image/decode.h"
#include "core/session.h"
#include "tests/support/slow_model.h"
#include "ui/detr_state.h"
#include "ui/export.h"
#include "ui/views/head_grid_view.h"
#include "ui/views/importance_mode.h"

#include <QAction>
#include <QComboBox>
#include <QFile>
#include <QListWidget>
#include <QProgressBar>
#include <QToolButton>
#include <QtTest>

#include <cmath>

using namespace attnscope;
using namespace attnscope::ui;

class TestImportanceView : public testing::AnalysisGuiTest {
    Q_OBJECT

    HeadGridView* model() const { return view<HeadGridView>("model"); }
    // Core's table for the test image, from its own preprocessing of the file (no GUI involved).
    analysis::HeadImportance reference(AblationMode mode, Site site = Site::Encoder, const QString& image = {}) {
        Session s(*doc()->model());
        Tensor input;
        s.run(decode_image_file((image.isEmpty() ? png_ : image).toStdString()), RecordPolicy::None, nullptr, &input);
        Interventions base;
        base.mode = mode;
        return analysis::head_importance(*doc()->model(), input, base, site);
    }
    // DETR query q's drop of its (clean top) class's probability with each head of `site` zeroed alone,
    // [layer · heads + head], by brute force: one run per head on the test's own preprocessing of `image`,
    // the softmax read off the logits here. `label` receives the class's label.
    std::vector<double> bruteForceProb(const QString& image, Site site, int q, std::string& label) {
        const Model& m = *doc()->model();
        Session s(m);
        Tensor input;
        const RunResult clean = s.run(decode_image_file(image.toStdString()), RecordPolicy::None, nullptr, &input);
        const int64_t n = clean.logits.size(1);
        int cls = 0;
        for (int c = 1; c + 1 < n; ++c)
            if (clean.logits.ptr()[q * n + c] > clean.logits.ptr()[q * n + cls]) cls = c;
        label = size_t(cls) < m.info().labels.size() && !m.info().labels[size_t(cls)].empty() ? m.info().labels[size_t(cls)]
                                                                                             : "class " + std::to_string(cls);
        auto prob = [&](const Tensor& lg) {
            const float* x = lg.ptr() + q * n;
            double mx = *std::max_element(x, x + n), sum = 0;
            for (int64_t c = 0; c < n; ++c) sum += std::exp(double(x[c]) - mx);
            return std::exp(double(x[cls]) - mx) / sum;
        };
        std::vector<double> out;
        for (int l = 0; l < site_layers(m.info(), site); ++l)
            for (int h = 0; h < m.info().n_heads; ++h) {
                Interventions iv;
                iv.ablated = {HeadRef{site, l, h}};
                s.set_interventions(iv);
                out.push_back(prob(clean.logits) - prob(s.run(input, RecordPolicy::None).logits));
            }
        return out;
    }
    bool waitImportance() {
        return QTest::qWaitFor([this] { return !model()->busy() && model()->importance()->current(); }, 60000);
    }
    bool waitRun() {
        return QTest::qWaitFor([this] { return doc()->result() && !w_->runner()->busy(); }, 60000);
    }

private slots:
    void initTestCase() { QVERIFY(setUpTestCase("AttnScopeTest", "AttnScopeTestImportanceView")); }
    void init() { newWindow(QSize(1280, 800)); }
    void cleanup() { w_.reset(); }

    void showsCoreImportance() {
        openFixture(); // hf_vit: 3 layers × 3 heads, a classifier
        QVERIFY(show("model"));
        QCOMPARE(model()->shownShape().size(), size_t(3)); // the maps: [layers, heads, n_k]
        model()->importanceAction()->trigger();
        QVERIFY(waitImportance());
        QVERIFY(model()->grid()->showsImportance());
        const analysis::HeadImportance want = reference(AblationMode::Zero);
        QCOMPARE(model()->shownShape(), (std::vector<int64_t>{3, 3}));
        const std::vector<float> prob = model()->shownValues();
        QCOMPARE(prob.size(), size_t(9));
        bool anyNonZero = false;
        for (int l = 0; l < 3; ++l)
            for (int h = 0; h < 3; ++h) {
                QVERIFY2(std::abs(prob[size_t(l * 3 + h)] - want.prob_at(l, h)) < 1e-6, qPrintable(QString("L%1 H%2").arg(l).arg(h)));
                anyNonZero |= std::abs(want.prob_at(l, h)) > 1e-6;
            }
        QVERIFY(anyNonZero); // the comparison means something
        QVERIFY2(model()->importance()->status().contains(QString::fromStdString(want.target.label)),
                 qPrintable(model()->importance()->status()));
        // Δ logit
        auto* metric = find<QComboBox>("importanceMetric");
        metric->setCurrentIndex(metric->findData(false));
        const std::vector<float> logit = model()->shownValues();
        for (int l = 0; l < 3; ++l)
            for (int h = 0; h < 3; ++h) QVERIFY(std::abs(logit[size_t(l * 3 + h)] - want.logit_at(l, h)) < 1e-5);
        // the hover read-out of cell (2, 1)
        auto* grid = model()->grid();
        hover(grid, grid->cellRect(2, 1).center());
        QVERIFY2(grid->hoverText().contains("L2 H1"), qPrintable(grid->hoverText()));
        QVERIFY2(grid->hoverText().contains(QString::number(want.logit_at(2, 1), 'f', 4)), qPrintable(grid->hoverText()));
        // off: the maps again; on again: from the cache, at once
        model()->importanceAction()->trigger();
        QVERIFY(!grid->showsImportance());
        QCOMPARE(model()->shownShape().size(), size_t(3));
        model()->importanceAction()->trigger();
        QVERIFY(!model()->busy());
        QVERIFY(grid->showsImportance());
    }

    void meanModeFollowsTheBar() {
        openFixture();
        QVERIFY(show("model"));
        model()->importanceAction()->trigger();
        QVERIFY(waitImportance());
        Interventions iv;
        iv.mode = AblationMode::Mean; // only the mode: no head off, nothing masked
        doc()->setInterventions(iv);
        QVERIFY(waitRun());
        QVERIFY(waitImportance());
        QCOMPARE(model()->importance()->current()->mode, AblationMode::Mean);
        const analysis::HeadImportance want = reference(AblationMode::Mean);
        const std::vector<float> got = model()->shownValues();
        for (int i = 0; i < 9; ++i) QVERIFY(std::abs(got[size_t(i)] - want.delta_prob[size_t(i)]) < 1e-6);
        QVERIFY(model()->importance()->status().contains("mean"));
    }

    // Progress while it runs (one step per run), Cancel stops it: no table, the status says so, the bar goes.
    void progressAndCancel() {
        openFixture();
        QVERIFY(show("model"));
        doc()->setModel(std::make_shared<testing::SlowModel>(doc()->modelPtr(), 150), doc()->modelPath()); // 0.15 s a run
        w_->runner()->rerun();
        QVERIFY(waitRun());
        model()->importanceAction()->trigger();
        QVERIFY(model()->busy());
        auto* bar = find<QProgressBar>("importanceProgress");
        QTRY_VERIFY_WITH_TIMEOUT(bar->value() >= 1 && bar->isVisible(), 20000);
        QCOMPARE(bar->maximum(), 1 + 9); // the baseline and one run per head
        QVERIFY(model()->importance()->status().contains("Computing"));
        QTest::mouseClick(find<QToolButton>("importanceCancel"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(!model()->busy(), 5000);
        QVERIFY(model()->importance()->current() == nullptr);
        QVERIFY2(model()->importance()->status().contains("cancelled"), qPrintable(model()->importance()->status()));
        QVERIFY(!bar->isVisible());
        QVERIFY(!model()->grid()->showsImportance());
    }

    // DETR: the grid of the selected site; the target is core's best detection, and the status says so.
    void detrDecoderCross() {
        const QString image = QString::fromStdString(testing::fixture("image/src_64x48.png"));
        QVERIFY(openAndRun("detr/r50tiny/hf", image));
        QVERIFY(show("model"));
        QCOMPARE(doc()->selection().site, Site::DecoderCross); // DETR opens on the best object's cross-attention
        model()->importanceAction()->trigger();
        QVERIFY(waitImportance());
        const analysis::HeadImportance want = reference(AblationMode::Zero, Site::DecoderCross, image);
        QCOMPARE(model()->importance()->current()->site, Site::DecoderCross);
        QVERIFY(want.target.query >= 0);
        const std::vector<float> got = model()->shownValues();
        QCOMPARE(got.size(), want.delta_prob.size());
        for (size_t i = 0; i < got.size(); ++i) QVERIFY(std::abs(got[i] - want.delta_prob[i]) < 1e-5);
        const QString st = model()->importance()->status(); // DETR opens on the best detection: it is the selected one
        QCOMPARE(model()->importance()->detection(), want.target.query);
        QVERIFY2(st.contains("selected detection") && st.contains(QString("query %1").arg(want.target.query)), qPrintable(st));
        // the encoder: another table
        Selection s = doc()->selection();
        s.site = Site::Encoder;
        s.query = 0;
        doc()->setSelection(s);
        QVERIFY(waitImportance());
        QCOMPARE(model()->importance()->current()->site, Site::Encoder);
        QCOMPARE(model()->shownShape(), (std::vector<int64_t>{doc()->layerCount(Site::Encoder), doc()->headCount()}));
    }

    // Selecting another detection (the Detections view's list) recomputes the grid for that query; back to
    // the first one: from the cache, at once.
    void detrFollowsTheSelectedDetection() {
        const QString image = QString::fromStdString(testing::fixture("image/src_64x48.png"));
        QVERIFY(openAndRun("detr/r50tiny/hf", image));
        QVERIFY(show("model"));
        model()->importanceAction()->trigger();
        QVERIFY(waitImportance());
        const int first = model()->importance()->current()->target.query;
        std::string label;
        const std::vector<double> firstWant = bruteForceProb(image, Site::DecoderCross, first, label);
        std::vector<float> got = model()->shownValues();
        QCOMPARE(got.size(), firstWant.size());
        for (size_t i = 0; i < got.size(); ++i) QVERIFY(std::abs(got[i] - firstWant[i]) < 1e-5);

        doc()->detr()->setThreshold(0.0f); // every query listed (the tiny model's scores are ≈ 0.35)
        auto* list = find<QListWidget>("detectionList");
        QCOMPARE(list->count(), 10);
        const int q = first == 3 ? 8 : 3;
        int row = -1;
        for (int i = 0; i < list->count(); ++i)
            if (list->item(i)->data(Qt::UserRole).toInt() == q) row = i;
        QVERIFY(row >= 0);
        list->setCurrentRow(row); // what a click on the list does
        QCOMPARE(doc()->detr()->queryFor(Site::DecoderCross), q);
        QCOMPARE(model()->importance()->detection(), q);
        QVERIFY(QTest::qWaitFor([this, q] {
            return !model()->busy() && model()->importance()->current() && model()->importance()->current()->target.query == q;
        }, 60000));
        const std::vector<double> want = bruteForceProb(image, Site::DecoderCross, q, label);
        got = model()->shownValues();
        QCOMPARE(got.size(), want.size());
        double apart = 0;
        for (size_t i = 0; i < got.size(); ++i) {
            QVERIFY2(std::abs(got[i] - want[i]) < 1e-5, qPrintable(QString("cell %1: %2 vs %3").arg(i).arg(got[i]).arg(want[i])));
            apart = std::max(apart, std::abs(want[i] - firstWant[i]));
        }
        QVERIFY(apart > 1e-4); // another query's table: the comparison tells them apart
        const QString st = model()->importance()->status();
        QVERIFY2(st.contains(QString("query %1").arg(q)) && st.contains(QString("'%1'").arg(QString::fromStdString(label))), qPrintable(st));
        auto* grid = model()->grid();
        hover(grid, grid->cellRect(1, 2).center());
        QVERIFY2(grid->hoverText().contains(QString("query %1").arg(q)), qPrintable(grid->hoverText()));
        // the CSV names the query measured
        QVERIFY2(model()->importance()->csv().contains(QString(",%1\n").arg(q)), qPrintable(model()->importance()->csv()));
        // back to the first detection: the cache answers
        for (int i = 0; i < list->count(); ++i)
            if (list->item(i)->data(Qt::UserRole).toInt() == first) list->setCurrentRow(i);
        QVERIFY(!model()->busy());
        QCOMPARE(model()->importance()->current()->target.query, first);
        got = model()->shownValues();
        for (size_t i = 0; i < got.size(); ++i) QVERIFY(std::abs(got[i] - firstWant[i]) < 1e-5);
        // a move of the encoder's reference point is not another detection: nothing recomputed
        doc()->detr()->setQueryFor(Site::Encoder, 3);
        QVERIFY(!model()->busy());
        QCOMPARE(model()->importance()->current()->target.query, first);
    }

    void exportsCsvAndFigure() {
        openFixture();
        QVERIFY(show("model"));
        const QString csvPath = tmp_.filePath("imp.csv");
        QVERIFY(!model()->exportImportanceCsv(csvPath).isEmpty()); // nothing to export before the mode is on
        QVERIFY(!QFile::exists(csvPath));
        model()->importanceAction()->trigger();
        QVERIFY(waitImportance());
        QCOMPARE(model()->exportImportanceCsv(csvPath), QString());
        QFile f(csvPath);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QStringList lines = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
        QCOMPARE(lines.value(0), QString("layer,head,delta_logit,delta_prob"));
        QCOMPARE(lines.size(), 10);
        const analysis::HeadImportance want = reference(AblationMode::Zero);
        for (int i = 1; i < lines.size(); ++i) {
            const QStringList c = lines[i].split(',');
            QCOMPARE(c.size(), 4);
            const int l = c[0].toInt(), h = c[1].toInt();
            QCOMPARE(l * 3 + h, i - 1);
            QVERIFY(std::abs(c[2].toDouble() - want.logit_at(l, h)) < 1e-5);
            QVERIFY(std::abs(c[3].toDouble() - want.prob_at(l, h)) < 1e-5);
        }
        for (const char* ext : {"png", "svg"}) {
            const QString path = tmp_.filePath(QString("imp.%1").arg(ext));
            QCOMPARE(exportView(model()->canvas(), model()->caption(), path), QString());
            QVERIFY(QFileInfo(path).size() > 0);
        }
        QVERIFY2(model()->caption().contains("head importance"), qPrintable(model()->caption()));
        // The figure shows the diverging colours: the most important cell is not the maps' thumbnail.
        const QImage img = model()->grid()->grab().toImage();
        const auto best = topHeads(*model()->importance()->current(), true, 1);
        QVERIFY(!best.empty());
        const QColor c = img.pixelColor(model()->grid()->cellRect(best[0].first, best[0].second).bottomRight().toPoint() - QPoint(6, 6));
        QVERIFY2(c.red() > c.blue(), qPrintable(c.name())); // positive: the red half of RdBu_r
    }
};

QTEST_MAIN(TestImportanceView)
#include "test_importance_view.moc"
