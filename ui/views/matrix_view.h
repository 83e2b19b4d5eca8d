// Attention matrix: the full [query, key] matrix of the selected layer and head (or head fusion)
// as a QCustomPlot colour map. Wheel zooms, drag pans, double-click resets, click picks the query row.
#pragma once

#include "ui/views/view.h"

#include <QPointF>

class QCustomPlot;
class QCPColorMap;
class QCPColorScale;
class QCPItemRect;
class QCPTextElement;
class QCheckBox;

namespace attnscope::ui {

class MatrixView : public View {
    Q_OBJECT
public:
    explicit MatrixView(Document* doc, QWidget* parent = nullptr);
    QString viewId() const override { return "matrix"; }
    QString title() const override { return tr("Attention matrix"); }
    QWidget* canvas() override;
    std::vector<float> shownValues() const override { return values_; }
    std::vector<int64_t> shownShape() const override { return {nq_, nk_}; }
    QCustomPlot* plot() const { return plot_; }
    bool logScale() const;
    QSize screenshotSize() const override { return {800, 760}; } // square cells: a near-square plot

private:
    void rebuild();      // data (result / layer / head / fusion changed)
    void fillPlot();     // the plot from the data (deferred while hidden)
    void markQuery();    // highlight the query row
    void applyGradient();
    void fitSquare();    // ranges for the whole matrix with square cells
    void replot();       // now if visible (queued), else when shown or exported
    void showEvent(QShowEvent* e) override;
    void dockShown() override { catchUp(); }
    void catchUp();      // fill and replot what changed while hidden

    QCustomPlot* plot_;
    QCPColorMap* map_;
    QCPColorScale* scale_;
    QCPItemRect* queryMark_;
    QCPTextElement* title_;
    QCheckBox* log_;
    QSize fittedSize_;
    bool fitPending_ = true;
    std::vector<float> values_;
    int nq_ = 0, nk_ = 0;
    Selection basis_;
    QPointF pressPos_;
    bool stale_ = false; // changed while hidden: fill and replot when shown or exported
};

} // namespace attnscope::ui
