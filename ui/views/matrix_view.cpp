#include "ui/views/matrix_view.h"

#include "ui/settings.h"

#include <QCheckBox>
#include <QDockWidget>
#include <QHBoxLayout>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

namespace attnscope::ui {
namespace {
// Ticks only over the tokens (square cells leave the axis with room to spare either side: no "-50").
class TokenTicker : public QCPAxisTicker {
public:
    int n = 0;

protected:
    QVector<double> createTickVector(double tickStep, const QCPRange& range) override {
        QVector<double> out;
        for (double t : QCPAxisTicker::createTickVector(tickStep, range))
            if (t >= -1e-9 && t <= n - 1 + 1e-9) out << t;
        return out;
    }
};
} // namespace

MatrixView::MatrixView(Document* doc, QWidget* parent) : View(doc, parent) {
    setObjectName("matrixView");
    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(0, 0, 0, 0);
    lay->setSpacing(2);
    auto* controls = new QHBoxLayout;
    controls->setContentsMargins(6, 2, 6, 0);
    log_ = new QCheckBox(tr("Log colour scale"), this);
    log_->setObjectName("matrixLogCheck");
    log_->setToolTip(tr("Colours from log10 of the attention: a few key columns (CLS, registers) take most of it and "
                        "would leave the rest one colour"));
    log_->setChecked(Settings().matrixLog());
    controls->addWidget(log_);
    controls->addStretch(1);
    lay->addLayout(controls);
    plot_ = new QCustomPlot(this);
    plot_->setObjectName("matrixPlot");
    plot_->setMinimumSize(260, 220);
    plot_->setToolTip(tr("Wheel: zoom · drag: pan · double-click: reset · click: make that row the query"));
    plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot_->xAxis->setLabel(tr("key token"));
    plot_->yAxis->setLabel(tr("query token"));
    plot_->yAxis->setRangeReversed(true);
    for (QCPAxis* a : {plot_->xAxis, plot_->yAxis}) a->setTicker(QSharedPointer<QCPAxisTicker>(new TokenTicker));
    plot_->plotLayout()->insertRow(0);
    title_ = new QCPTextElement(plot_, "", QFont(font().family(), font().pointSize(), QFont::Bold));
    plot_->plotLayout()->addElement(0, 0, title_);
    map_ = new QCPColorMap(plot_->xAxis, plot_->yAxis);
    map_->setInterpolate(false);
    scale_ = new QCPColorScale(plot_);
    plot_->plotLayout()->addElement(1, 1, scale_);
    scale_->setLabel(tr("attention"));
    map_->setColorScale(scale_);
    auto* group = new QCPMarginGroup(plot_);
    plot_->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    scale_->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    queryMark_ = new QCPItemRect(plot_);
    queryMark_->setPen(QPen(Qt::white, 1.5));
    queryMark_->setVisible(false);
    lay->addWidget(plot_);

    connect(doc_, &Document::resultChanged, this, &MatrixView::rebuild);
    connect(doc_, &Document::selectionChanged, this, [this] {
        const Selection& s = doc_->selection();
        if (s.site != basis_.site || s.layer != basis_.layer || s.heads != basis_.heads) rebuild();
        else markQuery();
    });
    connect(doc_, &Document::displayChanged, this, [this] { applyGradient(); replot(); });
    connect(plot_, &QCustomPlot::mousePress, this, [this](QMouseEvent* e) { pressPos_ = e->position(); });
    connect(plot_, &QCustomPlot::mouseRelease, this, [this](QMouseEvent* e) {
        if ((e->position() - pressPos_).manhattanLength() > 4 || nq_ == 0) return; // a drag, not a click
        const int q = int(std::lround(plot_->yAxis->pixelToCoord(e->position().y())));
        const int k = int(std::lround(plot_->xAxis->pixelToCoord(e->position().x())));
        if (q < 0 || q >= nq_ || k < 0 || k >= nk_) return;
        Selection s = doc_->selection();
        s.query = q;
        doc_->setSelection(s);
    });
    connect(plot_, &QCustomPlot::mouseDoubleClick, this, [this] {
        fitPending_ = true;
        replot();
    });
    // Square cells: after each layout pass (the axis rect's size is known then, the drawing not yet done)
    // the ranges are refitted when the data or the plot's size changed.
    connect(plot_, &QCustomPlot::afterLayout, this, [this] {
        const QSize size = plot_->axisRect()->rect().size();
        if (fitPending_ || size != fittedSize_) fitSquare();
    });
    connect(log_, &QCheckBox::toggled, this, [this](bool on) {
        Settings().setMatrixLog(on);
        if (nq_ > 0) fillPlot();
        replot();
    });
    applyGradient();
}

bool MatrixView::logScale() const { return log_->isChecked(); }

QWidget* MatrixView::canvas() {
    // Exports and Copy Image render the plot now: bring it up to date (hidden, or a replot queued).
    if (stale_) fillPlot();
    stale_ = false;
    plot_->replot();
    return plot_;
}

// A hidden plot (its tab behind another: QMainWindow moves such docks off the window rather than hiding
// them) is redrawn when it is shown or exported, not on every change; a visible one once per event-loop
// pass, however many changes came in (QCustomPlot's queued replot).
void MatrixView::replot() {
    if (!onScreen(plot_)) {
        stale_ = true;
        return;
    }
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void MatrixView::showEvent(QShowEvent* e) {
    View::showEvent(e);
    catchUp();
}

void MatrixView::catchUp() {
    if (!stale_ || !isVisible()) return;
    stale_ = false;
    fillPlot();
    plot_->replot();
}



void MatrixView::applyGradient() {
    QCPColorGradient g;
    g.clearColorStops();
    const auto& lut = colormapLut(doc_->display().colormap);
    for (int i = 0; i <= 32; ++i) g.setColorStopAt(i / 32.0, QColor(lut[size_t(std::min(255, i * 8))]));
    g.setLevelCount(256);
    map_->setGradient(g);
}

void MatrixView::rebuild() {
    basis_ = doc_->selection();
    const AttentionMap* m = doc_->currentMap();
    values_ = doc_->matrix(basis_);
    nq_ = m ? m->n_q : 0;
    nk_ = m ? m->n_k : 0;
    if (!onScreen(plot_)) { // hidden behind another tab: the plot is filled when shown (850² cells for a DETR encoder)
        stale_ = true;
        return;
    }
    fillPlot();
}

void MatrixView::fillPlot() {
    const AttentionMap* m = doc_->map(basis_.site, basis_.layer);
    map_->data()->setSize(nk_, nq_);
    map_->data()->setRange(QCPRange(0, std::max(0, nk_ - 1)), QCPRange(0, std::max(0, nq_ - 1)));
    for (int q = 0; q < nq_; ++q)
        for (int k = 0; k < nk_; ++k) map_->data()->setCell(k, q, values_[size_t(q) * nk_ + k]);
    auto [lo, hi] = valueRange(values_.data(), values_.size());
    const bool log = log_->isChecked() && hi > 0;
    if (log) lo = std::max(lo, hi * 1e-6f); // softmax underflow (exact zeros) would stretch the scale to nothing
    map_->setDataScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    scale_->axis()->setScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (log) scale_->axis()->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    else scale_->axis()->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    scale_->setLabel(log ? tr("attention (log scale)") : tr("attention"));
    map_->setDataRange(QCPRange(lo, hi > lo ? hi : lo + 1e-6));
    const QString head = basis_.heads.fused() ? tr("%1 over heads").arg(analysis::fusion_name(basis_.heads.fusion))
                                              : tr("head %1").arg(basis_.heads.head);
    title_->setText(m ? tr("%1 · layer %2 · %3 · %4 × %5").arg(siteTitle(basis_.site)).arg(basis_.layer).arg(head).arg(nq_).arg(nk_)
                      : tr("No result yet"));
    qSharedPointerCast<TokenTicker>(plot_->xAxis->ticker())->n = nk_;
    qSharedPointerCast<TokenTicker>(plot_->yAxis->ticker())->n = nq_;
    fitPending_ = true;
    fitSquare();
    markQuery();
}

// The whole matrix with square cells, centred: the axis with room to spare shows some margin.
void MatrixView::fitSquare() {
    const QRect r = plot_->axisRect()->rect();
    fittedSize_ = r.size();
    if (nq_ <= 0 || nk_ <= 0 || r.width() <= 0 || r.height() <= 0) return;
    fitPending_ = false;
    const double s = std::min(r.width() / double(nk_), r.height() / double(nq_)); // pixels per cell
    const double wx = r.width() / s, wy = r.height() / s, cx = (nk_ - 1) / 2.0, cy = (nq_ - 1) / 2.0;
    plot_->xAxis->setRange(cx - wx / 2, cx + wx / 2);
    plot_->yAxis->setRange(cy - wy / 2, cy + wy / 2);
}

void MatrixView::markQuery() {
    const int q = doc_->selection().query;
    queryMark_->setVisible(nq_ > 0);
    queryMark_->topLeft->setCoords(-0.5, q - 0.5);
    queryMark_->bottomRight->setCoords(nk_ - 0.5, q + 0.5);
    replot();
}

} // namespace attnscope::ui
