// GUI figures (issue 14): the hover read-out follows the selection under a still pointer, the overlay's
// fade mode (alpha from value), the Predictions view and the target class, the attention matrix's log
// scale and square cells, exports that take the figure and not the dock's blank room, human site names,
// the Detections dock only for detection models, round colour-bar ticks.
#include "core/postprocess.h"
#include "tests/support/gui_test.h"
#include "ui/export.h"
#include "ui/views/analysis_paint.h"
#include "ui/views/heads_figure.h"
#include "ui/views/matrix_view.h"
#include "ui/views/overlay_view.h"
#include "ui/views/predictions_view.h"

#include <QBuffer>
#include <QCheckBox>
#include <QComboBox>
#include <QDockWidget>
#include <QSignalSpy>
#include <QSpinBox>
#include <QSvgGenerator>
#include <qcustomplot.h>

using namespace attnscope;
using namespace attnscope::ui;

class TestGuiFigures : public testing::GuiTest {
    Q_OBJECT

    static void hover(QWidget* w, QPointF pos) {
        QMouseEvent e(QEvent::MouseMove, pos, w->mapToGlobal(pos), Qt::NoButton, Qt::NoButton, Qt::NoModifier);
        QCoreApplication::sendEvent(w, &e);
    }
    void openFixture() { QVERIFY(openAndRun("vit/hf_vit", png_)); }
    bool show(const char* id) {
        find<QDockWidget>(QString("dock_") + id)->raise();
        QCoreApplication::processEvents();
        View* v = w_->view(id);
        return QTest::qWaitFor([v] { return v->isVisible() && !v->busy(); }, 30000);
    }

private slots:
    void initTestCase() { QVERIFY(setUpTestCase("AttnScopeTestFigures", "AttnScopeTestFigures")); }
    void init() { newWindow(QSize(1200, 800)); }
    void cleanup() { w_.reset(); }

    // Defect 4: layer / head / query change under a still pointer; the read-out must name the new value.
    void hoverReadoutFollowsSelection() {
        openFixture();
        auto* ov = find<OverlayCanvas>("overlayCanvas");
        const QRectF g = ov->gridRect();
        QVERIFY(!g.isEmpty());
        const int gw = ov->shown().grid_w, gh = ov->shown().grid_h;
        const QPointF cell11(g.x() + g.width() * 1.5 / gw, g.y() + g.height() * 1.5 / gh);
        hover(ov, cell11);
        const int patch = gw + 1;
        auto value = [&] { return QString::number(double(ov->shown().grid[size_t(patch)]), 'g', 4); };
        QTRY_VERIFY(ov->readout().contains("row 1, col 1"));
        QVERIFY(ov->readout().endsWith(value()));
        const QString before = ov->readout();
        for (auto change : {+[](Selection& s) { s.heads = {1}; }, +[](Selection& s) { s.layer = 1; },
                            +[](Selection& s) { s.query = 3; }}) {
            Selection s = doc()->selection();
            change(s);
            doc()->setSelection(s);
            QCoreApplication::processEvents();
            QVERIFY(ov->readout().contains("row 1, col 1"));
            QVERIFY2(ov->readout().endsWith(value()), qPrintable(ov->readout() + " vs " + value()));
        }
        QVERIFY2(ov->readout() != before, "the fixture's maps should differ between the selections");
    }

    // Default: low attention transparent (alpha follows the value); off: the flat opacity, remembered.
    void overlayFade() {
        QVERIFY(doc()->display().fade);
        const std::vector<float> v{0.0f, 0.5f, 1.0f};
        const QImage faded = mapToImage(v.data(), 3, 1, 0.0f, 1.0f, Colormap::Viridis, 200, true);
        QCOMPARE(qAlpha(faded.pixel(0, 0)), 0);
        QCOMPARE(qAlpha(faded.pixel(1, 0)), 100); // 200 × 128/255, rounded
        QCOMPARE(qAlpha(faded.pixel(2, 0)), 200);
        const QImage flat = mapToImage(v.data(), 3, 1, 0.0f, 1.0f, Colormap::Viridis, 200, false);
        QCOMPARE(qAlpha(flat.pixel(0, 0)), 200);
        openFixture();
        auto* fade = find<QCheckBox>("fadeCheck");
        QVERIFY(fade->isChecked());
        fade->setChecked(false);
        QVERIFY(!doc()->display().fade);
        w_->close(); // writes the settings
        newWindow();
        QVERIFY(!doc()->display().fade);
        QVERIFY(!find<QCheckBox>("fadeCheck")->isChecked());
        find<QCheckBox>("fadeCheck")->setChecked(true);
        w_->close();
    }

    // Defect 3: top-k classes with bars; a click makes a class the document's target class.
    void predictionsTopKAndTargetClass() {
        openFixture();
        QVERIFY(show("predictions"));
        auto* pc = find<PredictionsCanvas>("predictionsCanvas");
        const auto expected = top_k(*doc()->result(), PredictionsView::kTopK);
        QCOMPARE(int(pc->rows().size()), int(expected.size()));
        for (size_t i = 0; i < expected.size(); ++i) {
            QCOMPARE(pc->rows()[i].label, expected[i].index);
            QCOMPARE(float(pc->rows()[i].value), expected[i].prob);
        }
        QCOMPARE(doc()->targetClass(), -1);
        QSignalSpy spy(doc(), &Document::targetClassChanged);
        QTest::mouseClick(pc, Qt::LeftButton, {}, pc->rowRect(1).center().toPoint());
        QCOMPARE(doc()->targetClass(), expected[1].index);
        QCOMPARE(spy.count(), 1);
        QCOMPARE(spy.at(0).at(0).toInt(), expected[1].index);
        QTest::mouseClick(pc, Qt::LeftButton, {}, pc->rowRect(1).center().toPoint()); // again: none
        QCOMPARE(doc()->targetClass(), -1);
        QTest::mouseClick(pc, Qt::LeftButton, {}, pc->rowRect(0).center().toPoint());
        QCOMPARE(doc()->targetClass(), expected[0].index);
        // exported like any view; the .npy values are the bars
        const QString png = tmp_.filePath("predictions.png");
        QCOMPARE(exportView(w_->view("predictions")->canvas(), w_->view("predictions")->caption(), png), QString());
        QVERIFY(!QImage(png).isNull());
        QCOMPARE(w_->view("predictions")->shownValues()[0], expected[0].prob);
        // a new model clears the target (its indices are other classes)
        QVERIFY(openAndRun("vit/hf_vit", png_));
        QCOMPARE(doc()->targetClass(), -1);
    }

    void predictionsHeadlessFeatureSummary() {
        QVERIFY(openAndRun("vit/dinov2_reg", png_)); // headless: DINOv2 with registers
        QVERIFY(doc()->modelPath().contains("dinov2_reg"));
        QVERIFY(show("predictions"));
        auto* pc = find<PredictionsCanvas>("predictionsCanvas");
        const Tensor& f = doc()->result()->features;
        QVERIFY(f.numel() > 0);
        QVERIFY(pc->summary().contains(QString("%1 dimensions").arg(f.numel())));
        QVERIFY(!pc->rows().empty());
        float largest = 0;
        for (float x : f.data) largest = std::max(largest, std::abs(x));
        QCOMPARE(std::abs(float(pc->rows()[0].value)), largest);
        QCOMPARE(pc->rows()[0].label, -1); // no class to click
    }

    // Log colour scale (remembered) and square cells.
    void matrixLogScaleSquareCells() {
        openFixture();
        QVERIFY(show("matrix"));
        auto* mv = qobject_cast<MatrixView*>(w_->view("matrix"));
        QCustomPlot* plot = mv->plot();
        plot->replot();
        const QRect ar = plot->axisRect()->rect();
        const double px = ar.width() / plot->xAxis->range().size(), py = ar.height() / plot->yAxis->range().size();
        QVERIFY2(std::abs(px - py) < 0.02 * px, qPrintable(QString("%1 vs %2 px per cell").arg(px).arg(py)));
        QVERIFY(plot->xAxis->range().lower <= -0.5 && plot->xAxis->range().upper >= 16.5); // all 17 keys shown
        auto* log = find<QCheckBox>("matrixLogCheck");
        QVERIFY(!log->isChecked());
        log->setChecked(true);
        QVERIFY(mv->logScale());
        auto* cmap = qobject_cast<QCPColorMap*>(plot->plottable(0));
        QVERIFY(cmap);
        QCOMPARE(cmap->dataScaleType(), QCPAxis::stLogarithmic);
        w_->close();
        newWindow();
        QVERIFY(find<QCheckBox>("matrixLogCheck")->isChecked());
        find<QCheckBox>("matrixLogCheck")->setChecked(false);
        w_->close();
    }

    // Export View takes the figure, not the dock's blank room, and paints no hint; width as the figure.
    void exportTakesTheFigure() {
        openFixture();
        auto* ov = find<OverlayCanvas>("overlayCanvas");
        ov->parentWidget()->resize(900, 900); // much taller than the image's 48:40
        QCoreApplication::processEvents();
        const QRect fig = ov->figureRect();
        QVERIFY(fig.height() < ov->height() - 100);
        const QImage img = renderWithCaption(ov, "caption");
        QCOMPARE(img.size(), QSize(fig.width(), fig.height() + 28));
    }

    // The Layer × Head figure's title is whole (it was elided: "each map on its own sc…"), read from the SVG.
    void layerHeadFigureTitleIsWhole() {
        openFixture();
        const QString svg = tmp_.filePath("grid.svg");
        QCOMPARE(exportHeadsFigure(*doc(), true, svg), QString());
        QFile f(svg);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray text = f.readAll();
        QVERIFY(text.contains("each map on its own scale"));
        QVERIFY(text.contains("Encoder self-attention"));
        QVERIFY(!text.contains("\xe2\x80\xa6") && !text.contains("&#8230;")); // no ellipsis anywhere
    }

    void humanSiteNamesAndDetectionsDock() {
        QCOMPARE(siteTitle(Site::DecoderCross), QString("Decoder cross-attention"));
        openFixture();
        auto* dock = find<QDockWidget>("dock_detections");
        QVERIFY(dock->isHidden()); // a classifier: no Detections tab
        QVERIFY(!dock->toggleViewAction()->isEnabled());
        QVERIFY(find<QComboBox>("siteCombo")->itemText(0) == "Encoder self-attention");
        QVERIFY(openAndRun("detr/r50tiny/hf", png_));
        QVERIFY(doc()->modelPath().contains("r50tiny"));
        QVERIFY(!dock->isHidden());
        QVERIFY(dock->toggleViewAction()->isEnabled());
        QStringList sites;
        for (int i = 0; i < find<QComboBox>("siteCombo")->count(); ++i) sites << find<QComboBox>("siteCombo")->itemText(i);
        QCOMPARE(sites, QStringList({"Encoder self-attention", "Decoder self-attention", "Decoder cross-attention"}));
        QVERIFY(!doc()->selectionCaption().contains("decoder_"));
    }

    // The colour bar prints round numbers (0.01 … 0.06), never 0.000358 or 0.0697 (its text, read from SVG).
    void colourBarTicksAreRound() {
        QBuffer svg;
        svg.open(QIODevice::WriteOnly);
        QSvgGenerator gen;
        gen.setOutputDevice(&svg);
        gen.setSize(QSize(200, 400));
        QPainter p(&gen);
        paintColourBar(p, QRectF(40, 40, 16, 300), Colormap::Viridis, 0.000358, 0.0697, "attention", Qt::black, 5);
        p.end();
        const QByteArray text = svg.data();
        for (const char* tick : {">0.01<", ">0.02<", ">0.03<", ">0.04<", ">0.05<", ">0.06<"}) QVERIFY2(text.contains(tick), tick);
        QVERIFY(!text.contains("0.0697"));
        QVERIFY(!text.contains("0.000358"));
        QVERIFY(!text.contains("e-0"));
    }
};

QTEST_MAIN(TestGuiFigures)
#include "test_figures.moc"
