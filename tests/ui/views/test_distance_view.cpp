// GUI tests (QT_QPA_PLATFORM=offscreen): The mean-distance view: this image, "Add images…" over a folder (equal to core's DistanceAccumulator
// over the same files, the model never loaded again), and Cancel.
#include "tests/support/view_test.h"

#include "core/analysis/distance.h"
#include "core/image/decode.h"
#include "core/session.h"
#include "tests/support/slow_model.h"
#include "ui/export.h"
#include "ui/views/distance_view.h"
#include <QComboBox>
#include <QFile>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QtTest>
#include <qcustomplot.h>

using namespace attnscope;
using namespace attnscope::ui;
namespace an = attnscope::analysis;

class TestDistanceView : public testing::ViewTest {
    Q_OBJECT

private slots:
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
};

QTEST_MAIN(TestDistanceView)
#include "test_distance_view.moc"
