// GUI tests (QT_QPA_PLATFORM=offscreen): Rollout and DINO-mask views against the NumPy references of tests/fixtures/analysis (PyTorch's maps,
// no C++ involved) and against core on live runs; empty states, remembered controls, covered docks,
// exports, and models without such data (DETR).
#include "tests/support/view_test.h"

#include "core/analysis/distance.h"
#include "core/analysis/masks.h"
#include "core/analysis/rollout.h"
#include "core/io/npy.h"
#include "ui/export.h"
#include "ui/settings.h"
#include "ui/views/distance_view.h"
#include "ui/views/filters_view.h"
#include "ui/views/masks_view.h"
#include "ui/views/position_view.h"
#include "ui/views/rollout_view.h"
#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QDockWidget>
#include <QFile>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QSvgRenderer>
#include <QtTest>
#include <nlohmann/json.hpp>
#include <filesystem>

using namespace attnscope;
using namespace attnscope::ui;
using attnscope::testing::diff;
using attnscope::testing::slice;
namespace an = attnscope::analysis;
namespace fs = std::filesystem;

class TestAnalysisViews : public testing::ViewTest {
    Q_OBJECT

private slots:
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

QTEST_MAIN(TestAnalysisViews)
#include "test_analysis_views.moc"
