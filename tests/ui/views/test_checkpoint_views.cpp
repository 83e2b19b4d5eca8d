// GUI tests (QT_QPA_PLATFORM=offscreen): The position-embedding similarity and filter-PCA views (the weights the Model hands out).
#include "tests/support/view_test.h"

#include "core/analysis/embeddings.h"
#include "ui/views/filters_view.h"
#include "ui/views/position_view.h"
#include <QCheckBox>
#include <QDockWidget>
#include <QSpinBox>
#include <QtTest>

using namespace attnscope;
using namespace attnscope::ui;
namespace an = attnscope::analysis;

class TestCheckpointViews : public testing::ViewTest {
    Q_OBJECT

private slots:
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
};

QTEST_MAIN(TestCheckpointViews)
#include "test_checkpoint_views.moc"
