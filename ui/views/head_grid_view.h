// Model view: the layer × head grid of small maps for the current query (each scaled to its own
// min…max). Click a cell to select that layer and head.
#pragma once

#include "ui/export.h"
#include "ui/views/view.h"

#include <QImage>

class QAction;
class QComboBox;
class QLabel;
class QPainter;
class QProgressBar;
class QToolButton;

namespace attnscope::ui {

class ImportanceState;

class HeadGridCanvas : public QWidget, public FigureCanvas {
    Q_OBJECT
public:
    explicit HeadGridCanvas(Document* doc, QWidget* parent = nullptr);
    // Importance mode: the cells show the state's table instead of the maps (when it has one).
    void setImportance(const ImportanceState* st) { importance_ = st; update(); }
    bool showsImportance() const; // the mode is on and a table is there
    Site site() const { return basis_.site; }
    QString hoverText() const { return hoverText_; } // the cell under the pointer: its value
    int layers() const { return layers_; }
    int heads() const { return heads_; }
    const QueryMap& cell(int layer, int head) const { return maps_[size_t(layer * heads_ + head)]; }
    QRectF cellRect(int layer, int head) const;
    QRect figureRect() const override; // the grid, its labels and colour bar (exports)
    void setExporting(bool) override {}
    QSize figureSize() const;          // a size at which each cell is about 72 px wide

protected:
    void paintEvent(QPaintEvent*) override;
    void mousePressEvent(QMouseEvent* e) override;
    void mouseMoveEvent(QMouseEvent* e) override;
    void leaveEvent(QEvent*) override;
    void keyPressEvent(QKeyEvent* e) override;
    // Right-click a head: switch it off / back on (issue 18; InterventionsBar reruns, with undo).
    void contextMenuEvent(QContextMenuEvent* e) override;

signals:
    void hovered(const QString& text);

private:
    QPoint cellAt(QPointF pos) const; // (layer, head), (-1, -1) outside the cells
    void setHover(QPointF pos);
    void paintAblated(QPainter& p); // a cross over every head the document switches off
    void rebuild();   // maps for the query (result / site / query changed)
    void recolour();  // thumbnails (colormap changed)

    Document* doc_;
    int layers_ = 0, heads_ = 0;
    double aspect_ = 1.0;  // width / height of one cell: the query map's grid
    Selection basis_;                // site and query the maps were built for
    std::vector<QueryMap> maps_;     // layer-major
    std::vector<QImage> thumbs_;
    const ImportanceState* importance_ = nullptr;
    QPointF hoverPos_{-1, -1};
    QString hoverText_;
};

class HeadGridView : public View {
    Q_OBJECT
public:
    explicit HeadGridView(Document* doc, QWidget* parent = nullptr);
    QString viewId() const override { return "model"; }
    QString title() const override { return tr("Model view"); } // a short tab title: the figure labels L / H
    QWidget* canvas() override { return canvas_; }
    std::vector<float> shownValues() const override; // maps: [layers, heads, n_k]; importance: [layers, heads]
    std::vector<int64_t> shownShape() const override;
    QString caption() const override;
    bool busy() const override;
    HeadGridCanvas* grid() const { return canvas_; }
    QSize screenshotSize() const override { return canvas_->figureSize(); }
    ImportanceState* importance() const { return importance_; }
    QAction* importanceAction() const { return importanceMode_; }
    // Writes core's importance_csv (the CLI's head_importance.csv) atomically; an error message, "" on success.
    QString exportImportanceCsv(const QString& path) const;

private:
    void syncImportance();

    HeadGridCanvas* canvas_;
    ImportanceState* importance_;
    QAction* importanceMode_;
    QComboBox* metric_;
    QProgressBar* progress_;
    QToolButton* cancel_;
    QAction* progressAct_;
    QAction* cancelAct_; // (a toolbar shows or hides its widgets through their actions)
    QAction* exportCsv_;
    QLabel* status_;
};

} // namespace attnscope::ui
