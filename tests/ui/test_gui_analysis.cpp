// GUI tests of the analysis views (rollout, DINO masks, position-embedding similarity, filter PCA,
// mean attention distance), driven by object names under QT_QPA_PLATFORM=offscreen.
//  - Reference cases: PyTorch's attention maps of the fixture models (tests/fixtures/vit/<case>) are
//    handed to the Document as a result; every view must then show the NumPy references of
//    tests/fixtures/analysis/<case> (made by tools/reference/make_analysis_fixtures.py, no C++ involved).
//  - Live runs: what each view shows for a run of the GUI equals core's function for that selection.
//  - "Add images…" equals core's DistanceAccumulator over the same files; Cancel stops it; the model
//    is never loaded again. Exports (PNG/SVG/PDF, .csv, .npy) are valid files with the right numbers.
#include "core/analysis/distance.h"
#include "core/analysis/embeddings.h"
#include "core/analysis/masks.h"
#include "core/analysis/rollout.h"
#include "core/image/decode.h"
#include "core/io/npy.h"
#include "core/io/weights.h"
#include "core/session.h"
#include "tests/support/gui_test.h"
#include "tests/support/slow_model.h"
#include "ui/export.h"
#include "ui/main_window.h"
#include "ui/settings.h"
#include "ui/views/distance_view.h"
#include "ui/views/filters_view.h"
#include "ui/views/masks_view.h"
#include "ui/views/position_view.h"
#include "ui/views/rollout_view.h"

#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QDirIterator>
#include <QDockWidget>
#include <QFile>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QStandardPaths>
#include <QSvgRenderer>
#include <QTemporaryDir>
#include <QtTest>
#include <qcustomplot.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace attnscope;
using namespace attnscope::ui;
namespace an = attnscope::analysis;
namespace fs = std::filesystem;

namespace {

Tensor slice(const Tensor& t, int64_t i) { // t[i]
    const int64_t n = t.numel() / t.size(0);
    return Tensor(Shape(t.shape.begin() + 1, t.shape.end()), std::vector<float>(t.data.begin() + i * n, t.data.begin() + (i + 1) * n));
}

double diff(const std::vector<float>& got, const Tensor& want, const std::string& label) {
    if (int64_t(got.size()) != want.numel()) {
        std::printf("  %s: %zu values shown, %lld expected\n", label.c_str(), got.size(), static_cast<long long>(want.numel()));
        return INFINITY;
    }
    return testing::max_abs_diff(got.data(), want.ptr(), want.numel(), label);
}

} // namespace

class TestGuiAnalysis : public testing::GuiTest {
    Q_OBJECT
    template <class V> V* view(const char* id) const { return qobject_cast<V*>(w_->view(id)); }
    // Bring a view's dock to the front (as clicking its tab does) and wait for its work.
    bool show(const char* id) {
        find<QDockWidget>(QString("dock_") + id)->raise();
        QCoreApplication::processEvents();
        View* v = w_->view(id);
        QElapsedTimer t;
        t.start();
        while ((v->busy() || !v->isVisible()) && t.elapsed() < 30000) QTest::qWait(5);
        return v->isVisible() && !v->busy();
    }
    bool idle(const char* id) {
        View* v = w_->view(id);
        QElapsedTimer t;
        t.start();
        while (v->busy() && t.elapsed() < 30000) QTest::qWait(5);
        return !v->busy();
    }
    void openFixture(const std::string& model = "vit/hf_vit") { QVERIFY(openAndRun(model, png_)); }
    // The fixture model, and as the result PyTorch's recorded maps of that model (no forward of ours).
    nlohmann::json openReference(const QString& name) {
        const fs::path ref = testing::fixture("analysis/" + name.toStdString());
        const fs::path src = testing::fixture("vit/" + name.toStdString());
        const nlohmann::json meta = nlohmann::json::parse(std::ifstream(ref / "meta.json"));
        w_->openPath(QString::fromStdString(src.string()));
        QElapsedTimer t;
        t.start();
        while ((doc()->model() == nullptr || w_->runner()->busy()) && t.elapsed() < 30000) QTest::qWait(5);
        auto r = std::make_shared<RunResult>();
        r->layout.n_cls = meta["n_cls"];
        r->layout.n_dist = meta["n_dist"];
        r->layout.n_reg = meta["n_reg"];
        r->layout.grid_h = meta["grid_h"];
        r->layout.grid_w = meta["grid_w"];
        r->layout.patch_size = meta["patch"];
        const nlohmann::json& g = meta["geometry"];
        r->geometry = {g["orig_w"], g["orig_h"], g["resized_w"], g["resized_h"], g["crop_x"], g["crop_y"], g["input_w"], g["input_h"]};
        for (int il = 0; il < meta["layers"].get<int>(); ++il) {
            char file[32];
            std::snprintf(file, sizeof file, "attn_layer%02d.npy", il);
            const Tensor a = read_npy((src / file).string());
            AttentionMap m;
            m.layer = il;
            m.n_heads = int(a.size(0));
            m.n_q = int(a.size(1));
            m.n_k = int(a.size(2));
            m.probs = a.data;
            r->attention.push_back(std::move(m));
        }
        ImageRGB8 img{r->geometry.orig_w, r->geometry.orig_h, std::vector<uint8_t>(size_t(r->geometry.orig_w) * r->geometry.orig_h * 3, 128)};
        doc()->setImage(std::move(img), "reference");
        doc()->setResult(r, Tensor());
        return meta;
    }
    // Copies of small fixture images into a fresh folder (+ a text file, + a broken "image").
    QString imageFolder(const QString& name, int copies, bool broken) {
        const QString dir = tmp_.filePath(name);
        QDir().mkpath(dir + "/sub");
        const QStringList src{"src_64x48.png", "src_37x23.png", "palette_9x6.png"};
        for (int i = 0; i < copies; ++i) {
            const QString from = QString::fromStdString(testing::fixture("image/" + src[i % src.size()].toStdString()));
            QFile::copy(from, QString("%1/%2img%3.png").arg(i % 2 ? dir + "/sub" : dir).arg(i, 2, 10, QChar('0')).arg(i));
        }
        QFile notes(dir + "/notes.txt");
        notes.open(QIODevice::WriteOnly);
        notes.write("not an image\n");
        if (broken) {
            QFile bad(dir + "/zz_broken.png");
            bad.open(QIODevice::WriteOnly);
            bad.write("this is text with a .png name\n");
        }
        return dir;
    }
    // A pointer move without buttons, as the window system delivers it to a tracking widget.
    static void hover(QWidget* w, QPointF pos) {
        QMouseEvent e(QEvent::MouseMove, pos, w->mapToGlobal(pos), Qt::NoButton, Qt::NoButton, Qt::NoModifier);
        QCoreApplication::sendEvent(w, &e);
    }
    static QStringList sortedImages(const QString& dir) {
        QStringList files;
        QDirIterator it(dir, {"*.png"}, QDir::Files, QDirIterator::Subdirectories);
        while (it.hasNext()) files << it.next();
        files.sort();
        return files;
    }

private slots:
    void initTestCase() { QVERIFY(setUpTestCase("AttnScopeTest", "AttnScopeTestAnalysis")); }
    void init() { newWindow(); }
    void cleanup() { w_.reset(); }

    void viewsRegisteredWithEmptyStates() {
        for (const char* id : {"rollout", "masks", "posembed", "filters", "distance"}) {
            QVERIFY2(w_->view(id) != nullptr, id); // also the --view names of --screenshot
            QAction* toggle = find<QAction>(QString("toggle_") + id);
            QVERIFY(toggle->isCheckable());
            QVERIFY(toggle->isChecked());
            toggle->trigger(); // View menu hides the dock, and shows it again
            QVERIFY(!find<QDockWidget>(QString("dock_") + id)->isVisible());
            toggle->trigger();
            QVERIFY(show(id));
            QVERIFY(!w_->view(id)->toolTip().isEmpty() || !w_->view(id)->canvas()->toolTip().isEmpty());
        }
        // Nothing open: each view says what to do.
        QVERIFY(find<RolloutCanvas>("rolloutCanvas")->message().contains("Open a model"));
        QVERIFY(find<PosSimCanvas>("posSimCanvas")->message().contains("Open a model"));
        QVERIFY(find<FiltersCanvas>("filtersCanvas")->message().contains("Open a model"));
        QVERIFY(w_->view("distance")->shownValues().empty());
        QVERIFY(view<DistanceView>("distance")->csv().count('\n') == 1); // the header only
    }

    void controlsRememberedInSettings() {
        find<QComboBox>("rolloutFusion")->setCurrentText("max");
        find<QSlider>("rolloutDiscard")->setValue(35);
        find<QCheckBox>("rolloutUpToLayer")->setChecked(true);
        find<QSlider>("maskMass")->setValue(45);
        find<QCheckBox>("maskShowAttention")->setChecked(true);
        find<QCheckBox>("posSimTileRange")->setChecked(true);
        find<QSpinBox>("filterCount")->setValue(12);
        find<QComboBox>("distanceSpread")->setCurrentIndex(1);
        w_->close();
        w_ = std::make_unique<MainWindow>(); // a new session reads them back
        QCOMPARE(find<QComboBox>("rolloutFusion")->currentText(), QString("max"));
        QCOMPARE(find<QSlider>("rolloutDiscard")->value(), 35);
        QVERIFY(find<QCheckBox>("rolloutUpToLayer")->isChecked());
        QCOMPARE(find<QSlider>("maskMass")->value(), 45);
        QVERIFY(find<QCheckBox>("maskShowAttention")->isChecked());
        QVERIFY(find<QCheckBox>("posSimTileRange")->isChecked());
        QCOMPARE(find<QSpinBox>("filterCount")->value(), 12);
        QCOMPARE(find<QComboBox>("distanceSpread")->currentIndex(), 1);
        QSettings().clear();
    }

    // Every analysis view shows the NumPy reference for PyTorch's maps and checkpoint.
    void referenceValues_data() {
        QTest::addColumn<QString>("name");
        QTest::newRow("hf_vit (CLS)") << "hf_vit";
        QTest::newRow("deit_distilled (CLS + DIST)") << "deit_distilled";
        QTest::newRow("dinov2_reg (CLS + 2 registers)") << "dinov2_reg";
    }
    void referenceValues() {
        QFETCH(QString, name);
        const fs::path ref = testing::fixture("analysis/" + name.toStdString());
        find<QCheckBox>("rolloutUpToLayer")->setChecked(false);
        find<QSpinBox>("filterCount")->setValue(28);
        const nlohmann::json meta = openReference(name);
        QVERIFY(doc()->model() != nullptr && doc()->result() != nullptr);
        std::printf("%s\n", qPrintable(name));

        QVERIFY(show("rollout"));
        const Tensor rollout = read_npy((ref / "rollout.npy").string()); // [fusion, discard, gh, gw]
        const auto fusions = meta["fusions"].get<std::vector<std::string>>();
        const auto discards = meta["discards"].get<std::vector<double>>();
        auto* rv = view<RolloutView>("rollout");
        for (size_t f = 0; f < fusions.size(); ++f)
            for (size_t d = 0; d < discards.size(); ++d) {
                find<QComboBox>("rolloutFusion")->setCurrentText(QString::fromStdString(fusions[f]));
                find<QSlider>("rolloutDiscard")->setValue(int(std::lround(discards[d] * 100)));
                QVERIFY(idle("rollout"));
                QCOMPARE(rv->shownOptions().discard_ratio, discards[d]);
                QCOMPARE(std::string(an::fusion_name(rv->shownOptions().fusion)), fusions[f]);
                QCOMPARE(rv->shownShape(), (std::vector<int64_t>{meta["grid_h"].get<int64_t>(), meta["grid_w"].get<int64_t>()}));
                const std::string label = "rollout view " + fusions[f] + " discard " + std::to_string(discards[d]).substr(0, 3);
                QVERIFY2(diff(rv->shownValues(), slice(slice(rollout, int64_t(f)), int64_t(d)), label) <= 1e-5, label.c_str());
            }

        QVERIFY(show("masks"));
        const Tensor masks = read_npy((ref / "masks.npy").string()); // [mass, heads, gh, gw]
        const auto masses = meta["masses"].get<std::vector<double>>();
        for (size_t i = 0; i < masses.size(); ++i) {
            find<QSlider>("maskMass")->setValue(int(std::lround(masses[i] * 100)));
            QCOMPARE(view<MasksView>("masks")->mass(), masses[i]);
            QCOMPARE(diff(w_->view("masks")->shownValues(), slice(masks, int64_t(i)), "masks view, mass " + std::to_string(masses[i]).substr(0, 3)), 0.0);
        }
        QCOMPARE(view<MasksView>("masks")->masksCanvas()->layer(), meta["layers"].get<int>() - 1);

        QVERIFY(show("distance"));
        QVERIFY(diff(w_->view("distance")->shownValues(), read_npy((ref / "distance.npy").string()), "distance view (px)") <= 1e-4);

        QVERIFY(show("posembed"));
        auto* sim = find<PosSimCanvas>("posSimCanvas");
        const Tensor simRef = read_npy((ref / "pos_similarity.npy").string()); // [G, G]
        QCOMPARE(sim->gridH(), meta["pos_grid"].get<int>());
        QVERIFY(diff(w_->view("posembed")->shownValues(), simRef, "position similarity view") <= 1e-5);
        const int G = sim->gridH() * sim->gridW(), r = sim->gridH() - 1, c = 1; // one tile: row r·gw + c of the matrix
        QVERIFY(diff(sim->tileValues(r, c), slice(simRef, r * sim->gridW() + c), "tile (last row, col 1)") <= 1e-5);
        QCOMPARE(int(sim->tileValues(r, c).size()), G);

        QVERIFY(show("filters"));
        QCOMPARE(find<FiltersCanvas>("filtersCanvas")->count(), 28);
        QVERIFY(diff(w_->view("filters")->shownValues(), read_npy((ref / "filters_pca.npy").string()), "filter PCA view") <= 1e-5);
        const auto var = meta["pca_variance"].get<std::vector<double>>();
        const an::FilterPca& pca = find<FiltersCanvas>("filtersCanvas")->pca();
        for (size_t i = 0; i < var.size(); ++i) QVERIFY(std::abs(pca.variance[i] - var[i]) <= 1e-5 * std::max(1.0, var[i]));
    }

    void rolloutAndMasksOnARun() {
        find<QComboBox>("rolloutFusion")->setCurrentText("max");
        find<QSlider>("rolloutDiscard")->setValue(50);
        find<QCheckBox>("rolloutUpToLayer")->setChecked(false);
        openFixture();
        QSignalSpy runs(w_->runner(), &RunController::busyChanged);
        QVERIFY(show("rollout"));
        const RunResult* r = doc()->result();
        const Tensor all = an::attention_rollout(r->attention, r->layout, {an::HeadFusion::Max, 0.5});
        QVERIFY(w_->view("rollout")->shownValues() == all.data);
        // Up to the selected layer: layers 0…1 only, following the toolbar.
        find<QCheckBox>("rolloutUpToLayer")->setChecked(true);
        find<QSpinBox>("layerSpin")->setValue(1);
        QVERIFY(idle("rollout"));
        QCOMPARE(view<RolloutView>("rollout")->shownLastLayer(), 1);
        const std::vector<AttentionMap> first(r->attention.begin(), r->attention.begin() + 2);
        QVERIFY(w_->view("rollout")->shownValues() == an::attention_rollout(first, r->layout, {an::HeadFusion::Max, 0.5}).data);
        QVERIFY(w_->view("rollout")->caption().contains("layers 0–1"));
        // Hover read-out names the patch and its value.
        auto* rc = find<RolloutCanvas>("rolloutCanvas");
        const QRectF g = rc->gridRect();
        QVERIFY(!g.isEmpty());
        hover(rc, QPoint(int(g.x() + g.width() * 2.5 / 4), int(g.y() + g.height() * 0.5 / 4)));
        QTRY_VERIFY(rc->readout().contains("row 0, col 2"));
        QVERIFY(rc->readout().contains(QString::number(double(rc->values()[2]), 'g', 4)));

        QVERIFY(show("masks"));
        find<QSlider>("maskMass")->setValue(70);
        const AttentionMap& last = r->attention.back();
        QVERIFY(w_->view("masks")->shownValues() == an::dino_masks(last, r->layout, 0.7).data);
        // Click head 2's panel: that head of the last layer is selected everywhere.
        auto* mc = find<MasksCanvas>("masksCanvas");
        QTest::mouseClick(mc, Qt::LeftButton, {}, mc->panelRect(2).center().toPoint());
        QCOMPARE(doc()->selection().heads.head, 2);
        QCOMPARE(doc()->selection().layer, last.layer);
        QVERIFY(!doc()->selection().heads.fused());
        QCOMPARE(runs.count(), 0); // none of this ran the model again
        QCOMPARE(doc()->result(), r);
    }

    void coveredViewsWaitUntilRaised() {
        openFixture();
        // The rollout and masks docks are tabs behind others: a run computes nothing for them …
        for (const char* id : {"rollout", "masks"}) {
            QVERIFY2(!onScreen(w_->view(id)), id);
            QVERIFY2(w_->view(id)->shownValues().empty(), id);
        }
        // … until a tab is raised, which brings that one (only) up to date.
        QVERIFY(show("masks"));
        const RunResult* r = doc()->result();
        QVERIFY(w_->view("masks")->shownValues() ==
                an::dino_masks(r->attention.back(), r->layout, find<QSlider>("maskMass")->value() / 100.0).data);
        QVERIFY(w_->view("rollout")->shownValues().empty());
        // A screenshot or export of a covered view catches up first.
        View* rollout = w_->view("rollout");
        QVERIFY(!onScreen(rollout));
        rollout->ensureFresh();
        QVERIFY(idle("rollout"));
        QVERIFY(!rollout->shownValues().empty());
        QVERIFY(rollout->shownValues() ==
                an::attention_rollout(r->attention, r->layout, view<RolloutView>("rollout")->shownOptions()).data);
    }

    void positionTilesEnlarge() {
        openFixture();
        QVERIFY(show("posembed"));
        auto* sim = find<PosSimCanvas>("posSimCanvas");
        QCOMPARE(sim->gridH(), 4);
        const PatchEmbedding pe = doc()->model()->patch_embedding();
        const Tensor tiles = an::similarity_tiles(an::position_similarity(pe.pos), 4, 4, 1); // core's Fig. 7 layout
        for (int r = 0; r < 4; ++r)
            for (int c = 0; c < 4; ++c) {
                const auto v = sim->tileValues(r, c);
                for (int i = 0; i < 16; ++i) QCOMPARE(v[size_t(i)], tiles.data[size_t((r * 5 + i / 4) * 19 + c * 5 + i % 4)]);
            }
        // Wide: the enlarged tile has its own panel; hover shows a tile there, click pins it.
        w_->resize(1500, 900);
        find<QDockWidget>("dock_posembed")->setFloating(true);
        find<QDockWidget>("dock_posembed")->resize(1100, 560);
        QTRY_VERIFY(sim->sideBySide());
        hover(sim, sim->tileRect(1, 2).center().toPoint());
        QTRY_COMPARE(sim->detailTile(), QPoint(2, 1));
        QTest::mouseClick(sim, Qt::LeftButton, {}, sim->tileRect(1, 2).center().toPoint());
        QCOMPARE(sim->pinnedTile(), QPoint(2, 1));
        hover(sim, sim->tileRect(3, 0).center().toPoint());
        QTRY_VERIFY(sim->readout().contains("row 3, col 0"));
        QCOMPARE(sim->detailTile(), QPoint(2, 1)); // pinned stays
        QTest::mouseClick(sim, Qt::LeftButton, {}, sim->tileRect(1, 2).center().toPoint());
        QCOMPARE(sim->pinnedTile(), QPoint(-1, -1));
        // Narrow: a magnifier follows the pointer over the grid, nothing when it leaves.
        find<QDockWidget>("dock_posembed")->resize(420, 560);
        QTRY_VERIFY(!sim->sideBySide());
        hover(sim, sim->tileRect(0, 3).center().toPoint());
        QTRY_COMPARE(sim->detailTile(), QPoint(3, 0));
        QEvent leave(QEvent::Leave);
        QCoreApplication::sendEvent(sim, &leave);
        QCOMPARE(sim->detailTile(), QPoint(-1, -1));
        // "Each tile to its own range" changes the colours, not the values.
        const auto before = w_->view("posembed")->shownValues();
        find<QCheckBox>("posSimTileRange")->setChecked(true);
        QVERIFY(w_->view("posembed")->shownValues() == before);
        QVERIFY(w_->view("posembed")->caption().contains("own range"));
        find<QCheckBox>("posSimTileRange")->setChecked(false);
    }

    void filterComponents() {
        openFixture();
        QVERIFY(show("filters"));
        find<QSpinBox>("filterCount")->setValue(10);
        auto* v = w_->view("filters");
        QCOMPARE(v->shownShape(), (std::vector<int64_t>{10, 3, 8, 8}));
        const PatchEmbedding pe = doc()->model()->patch_embedding();
        const an::FilterPca pca = an::filter_pca(pe.filters, 10);
        QVERIFY(v->shownValues() == pca.axes.data);
        QVERIFY(std::abs(find<FiltersCanvas>("filtersCanvas")->pca().total_variance - pca.total_variance) < 1e-12);
        auto* fc = find<FiltersCanvas>("filtersCanvas");
        hover(fc, fc->tileRect(3).center().toPoint());
        QTRY_VERIFY(fc->readout().contains("principal component 4"));
        QTest::mouseClick(fc, Qt::LeftButton, {}, fc->tileRect(3).center().toPoint());
        QCOMPARE(fc->detailComponent(), 3);
        find<QSpinBox>("filterCount")->setValue(28);
    }

    void distanceForTheImage() {
        openFixture();
        QVERIFY(show("distance"));
        auto* dv = view<DistanceView>("distance");
        const auto want = an::mean_attention_distances(doc()->result()->attention, doc()->result()->layout);
        QVERIFY(dv->imageDistances() == want);
        // The scatter holds those numbers: one graph per head, a dot per layer.
        int graphs = 0;
        for (int i = 0; i < dv->plot()->graphCount(); ++i) {
            QCPGraph* g = dv->plot()->graph(i);
            if (!g->property("data").toBool()) continue;
            const int h = g->property("head").toInt();
            ++graphs;
            QCOMPARE(g->data()->size(), int(want.size()));
            int l = 0;
            for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it, ++l) {
                QCOMPARE(it->value, want[size_t(l)][size_t(h)]);
                QVERIFY(std::abs(it->key - l) < 0.3); // dots of a layer sit around its tick
            }
        }
        QCOMPARE(graphs, 3);
        dv->plot()->replot();
        // Clicking a dot selects that layer and head.
        QCPGraph* g = nullptr;
        for (int i = 0; i < dv->plot()->graphCount(); ++i)
            if (dv->plot()->graph(i)->property("data").toBool() && dv->plot()->graph(i)->property("head").toInt() == 1) g = dv->plot()->graph(i);
        QVERIFY(g);
        auto it = g->data()->constBegin() + 2; // layer 2, head 1
        const QPoint dot(int(dv->plot()->xAxis->coordToPixel(it->key)), int(dv->plot()->yAxis->coordToPixel(it->value)));
        QTest::mouseClick(dv->plot(), Qt::LeftButton, {}, dot);
        QCOMPARE(doc()->selection().layer, 2);
        QCOMPARE(doc()->selection().heads.head, 1);
    }

    void addImagesAveragesFolder() {
        openFixture();
        QVERIFY(show("distance"));
        auto* dv = view<DistanceView>("distance");
        const Model* model = doc()->model();
        QSignalSpy runs(w_->runner(), &RunController::busyChanged);
        const QString dir = imageFolder("folder", 5, true);
        QSignalSpy progress(find<QProgressBar>("distanceProgress"), &QProgressBar::valueChanged);
        dv->addFolder(dir);
        QVERIFY(dv->busy());
        QVERIFY(find<QProgressBar>("distanceProgress")->isVisible());
        QVERIFY(find<QPushButton>("distanceCancel")->isVisible());
        QVERIFY(!find<QPushButton>("distanceAddImages")->isEnabled());
        QTRY_VERIFY_WITH_TIMEOUT(!dv->busy(), 60000);
        QVERIFY(!find<QProgressBar>("distanceProgress")->isVisible());
        QVERIFY(progress.count() >= 1);
        QCOMPARE(runs.count(), 0);           // the window's runner never loaded or ran anything
        QCOMPARE(doc()->model(), model);     // the same model object did the work

        // Core's accumulator over the same files, in the same order (the broken one skipped).
        an::DistanceAccumulator want;
        int skipped = 0;
        for (const QString& f : sortedImages(dir)) {
            try {
                const RunResult r = Session(*model).run(decode_image_file(f.toStdString()));
                want.add(an::mean_attention_distances(r.attention, r.layout));
            } catch (const std::exception&) {
                ++skipped;
            }
        }
        QCOMPARE(want.n_images(), 5);
        QCOMPARE(skipped, 1);
        const an::DistanceAccumulator& got = dv->folderStats();
        QCOMPARE(got.n_images(), 5);
        QCOMPARE(dv->skipped(), 1);
        QVERIFY(dv->status().contains("5 images") && dv->status().contains("1 skipped") && dv->status().contains("zz_broken.png"));
        for (int l = 0; l < want.n_layers(); ++l)
            for (int h = 0; h < want.n_heads(l); ++h) {
                QCOMPARE(got.mean(l, h), want.mean(l, h));
                QCOMPARE(got.std_dev(l, h), want.std_dev(l, h));
                QCOMPARE(got.min(l, h), want.min(l, h));
                QCOMPARE(got.max(l, h), want.max(l, h));
            }
        // The spread is drawn: one error-bar set per head, ± std, then min…max.
        auto errorBars = [dv] {
            QList<QCPErrorBars*> out;
            for (int i = 0; i < dv->plot()->plottableCount(); ++i)
                if (auto* e = qobject_cast<QCPErrorBars*>(dv->plot()->plottable(i))) out << e;
            return out;
        };
        QCOMPARE(errorBars().size(), 3);
        find<QComboBox>("distanceSpread")->setCurrentIndex(0);
        for (QCPErrorBars* e : errorBars()) {
            const int h = qobject_cast<QCPGraph*>(e->dataPlottable())->property("head").toInt();
            QCOMPARE(e->data()->at(1).errorPlus, want.std_dev(1, h));
        }
        find<QComboBox>("distanceSpread")->setCurrentIndex(1);
        for (QCPErrorBars* e : errorBars()) {
            const int h = qobject_cast<QCPGraph*>(e->dataPlottable())->property("head").toInt();
            QCOMPARE(e->data()->at(2).errorMinus, want.mean(2, h) - want.min(2, h));
            QCOMPARE(e->data()->at(2).errorPlus, want.max(2, h) - want.mean(2, h));
        }
        QVERIFY(dv->caption().contains("5 images"));

        // The .csv: header, one row per layer and head, numbers as the accumulator's (6 decimals).
        const QString csv = tmp_.filePath("distance.csv");
        QCOMPARE(dv->exportCsv(csv), QString());
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QStringList lines = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
        // CLI `dataset` writes the same layout (core's distance_csv).
        QCOMPARE(lines.first(), QString("layer,head,mean_px,std_px,n_images,min_px,max_px"));
        QCOMPARE(lines.size(), 1 + 3 * 3);
        for (int i = 1; i < lines.size(); ++i) {
            const QStringList c = lines[i].split(',');
            QCOMPARE(c.size(), 7);
            const int l = c[0].toInt(), h = c[1].toInt();
            QCOMPARE(l * 3 + h, i - 1);
            QVERIFY(std::abs(c[2].toDouble() - want.mean(l, h)) <= 5e-7);
            QVERIFY(std::abs(c[3].toDouble() - want.std_dev(l, h)) <= 5e-7);
            QCOMPARE(c[4].toInt(), 5);
            QVERIFY(std::abs(c[5].toDouble() - want.min(l, h)) <= 5e-7);
            QVERIFY(std::abs(c[6].toDouble() - want.max(l, h)) <= 5e-7);
        }
        QVERIFY(!dv->exportCsv(tmp_.filePath("no/such/folder/x.csv")).isEmpty()); // an error, no crash
        // "Add images…" again adds to the average; Clear forgets it.
        dv->addFolder(imageFolder("more", 2, false));
        QTRY_VERIFY_WITH_TIMEOUT(!dv->busy(), 60000);
        QCOMPARE(dv->folderStats().n_images(), 7);
        QTest::mouseClick(find<QPushButton>("distanceClear"), Qt::LeftButton);
        QCOMPARE(dv->folderStats().n_images(), 0);
        QVERIFY(dv->shownValues().size() == 9);
        // Without a folder the .csv is this image's: one image, std 0, min = max = its distance.
        const auto image = an::mean_attention_distances(doc()->result()->attention, doc()->result()->layout);
        const QStringList one = QString::fromUtf8(dv->csv()).split('\n', Qt::SkipEmptyParts);
        QCOMPARE(one.size(), 1 + 3 * 3);
        for (int i = 1; i < one.size(); ++i) {
            const QStringList c = one[i].split(',');
            const double v = image[size_t(c[0].toInt())][size_t(c[1].toInt())];
            QVERIFY(std::abs(c[2].toDouble() - v) <= 5e-7);
            QCOMPARE(c[3], QString("0.000000"));
            QCOMPARE(c[4], QString("1"));
            QVERIFY(std::abs(c[5].toDouble() - v) <= 5e-7 && std::abs(c[6].toDouble() - v) <= 5e-7);
        }
        // A folder without images says so.
        QDir().mkpath(tmp_.filePath("empty"));
        dv->addFolder(tmp_.filePath("empty"));
        QVERIFY(!dv->busy());
        QVERIFY(dv->status().contains("no images"));
        dv->addFolder(tmp_.filePath("missing"));
        QVERIFY(!dv->busy());
        QVERIFY(dv->status().contains("missing: not a folder"));
    }

    void cancelStopsAveraging() {
        openFixture();
        QVERIFY(show("distance"));
        auto* dv = view<DistanceView>("distance");
        doc()->setModel(std::make_shared<testing::SlowModel>(doc()->modelPtr(), 400), doc()->modelPath()); // 0.4 s an image
        dv->addFolder(imageFolder("slow", 6, false));
        auto* bar = find<QProgressBar>("distanceProgress");
        QTRY_VERIFY_WITH_TIMEOUT(bar->value() >= 1, 20000);
        QTest::mouseClick(find<QPushButton>("distanceCancel"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(!dv->busy(), 5000);
        QVERIFY(dv->lastRunCancelled());
        QVERIFY(dv->folderStats().n_images() >= 1);
        QVERIFY(dv->folderStats().n_images() < 6);
        QVERIFY(dv->status().contains("cancelled"));
        QVERIFY(!find<QPushButton>("distanceCancel")->isVisible());
        QVERIFY(find<QPushButton>("distanceAddImages")->isEnabled());
        // Another model: the folder's numbers are dropped (they were the old model's).
        dv->addFolder(imageFolder("slow2", 4, false)); // still the slow model
        w_->openPath(QString::fromStdString(testing::fixture("vit/deit_distilled")));
        QTRY_VERIFY_WITH_TIMEOUT(!dv->busy() && !w_->runner()->busy(), 30000);
        QCOMPARE(dv->folderStats().n_images(), 0);
    }

    void exportsOfAnalysisViews() {
        openFixture();
        for (const char* id : {"rollout", "masks", "posembed", "filters", "distance"}) {
            QVERIFY(show(id));
            View* v = w_->view(id);
            const QString caption = v->caption();
            QVERIFY2(caption.contains("hf_vit"), qPrintable(caption));
            const QString base = tmp_.filePath(QString("export_") + id);
            QCOMPARE(exportView(v->canvas(), caption, base + ".png"), QString());
            QCOMPARE(exportView(v->canvas(), caption, base + ".svg"), QString());
            QCOMPARE(exportView(v->canvas(), caption, base + ".pdf"), QString());
            const QImage img(base + ".png");
            QVERIFY(!img.isNull());
            const auto* fig = dynamic_cast<const FigureCanvas*>(v->canvas()); // the figure, not the dock's room
            const QRect shown = fig ? fig->figureRect() : v->canvas()->rect();
            QCOMPARE(img.width(), shown.width());
            QVERIFY(img.height() > shown.height()); // + the caption band
            QSvgRenderer svg(base + ".svg");
            QVERIFY(svg.isValid());
            QFile pdf(base + ".pdf");
            QVERIFY(pdf.open(QIODevice::ReadOnly));
            QVERIFY(pdf.read(5) == "%PDF-");
            // The values as .npy: the shape holds exactly the values.
            const auto shape = v->shownShape();
            int64_t n = 1;
            for (int64_t s : shape) n *= s;
            QCOMPARE(n, int64_t(v->shownValues().size()));
            QVERIFY(n > 0);
            QCOMPARE(exportNpy(v->shownValues(), shape, base + ".npy"), QString());
            QCOMPARE(read_npy((base + ".npy").toStdString()).data, v->shownValues());
            // File ▸ Copy Image takes the focused view.
            w_->activateWindow();
            QVERIFY(QTest::qWaitForWindowActive(w_.get()));
            v->canvas()->setFocus();
            QApplication::clipboard()->clear();
            find<QAction>("actionCopyImage")->trigger();
            const QImage copied = QApplication::clipboard()->image();
            QVERIFY(!copied.isNull());
            QCOMPARE(copied.width(), v->canvas()->width());
        }
    }

    void modelsWithoutSuchData() {
        // DETR: no CLS token, no learned position table, no patch-embedding filters.
        w_->openPath(QString::fromStdString(testing::fixture("detr/r50tiny/hf")));
        w_->openPath(png_);
        QTRY_VERIFY_WITH_TIMEOUT(doc()->result() != nullptr && !w_->runner()->busy(), 60000);
        QVERIFY(show("rollout"));
        QVERIFY(find<RolloutCanvas>("rolloutCanvas")->message().contains("CLS"));
        QVERIFY(w_->view("rollout")->shownValues().empty());
        QVERIFY(show("masks"));
        QVERIFY(w_->view("masks")->shownValues().empty());
        QVERIFY(show("posembed"));
        QVERIFY(find<PosSimCanvas>("posSimCanvas")->message().contains("no learned position embeddings"));
        QVERIFY(show("filters"));
        QVERIFY(find<FiltersCanvas>("filtersCanvas")->message().contains("DETR"));
        QVERIFY(show("distance")); // the encoder's feature cells have a distance all the same
        const RunResult* r = doc()->result();
        QVERIFY(view<DistanceView>("distance")->imageDistances() == an::mean_attention_distances(r->attention, r->layout));
        // Back to a ViT: everything fills in again.
        w_->openPath(QString::fromStdString(testing::fixture("vit/hf_vit")));
        QTRY_VERIFY_WITH_TIMEOUT(doc()->result() != nullptr && !w_->runner()->busy() && doc()->model()->info().task != Task::Detect, 30000);
        QVERIFY(show("posembed"));
        QCOMPARE(find<PosSimCanvas>("posSimCanvas")->gridH(), 4);
        QVERIFY(show("rollout"));
        QCOMPARE(int(w_->view("rollout")->shownValues().size()), 16);
    }
};

QTEST_MAIN(TestGuiAnalysis)
#include "test_gui_analysis.moc"
