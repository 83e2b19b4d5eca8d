// Position-embedding similarity, the ViT paper's Fig. 7 centre: one small tile per input patch
// position (r, c), showing the cosine similarity of that position's learned embedding to every
// position; axes "Input patch row / column", colour bar −1…1. From the loaded model (core's
// Model::patch_embedding + position_similarity), off the GUI thread, once per model.
// Readable at window size: hover a tile to see it enlarged (beside the grid, or as a magnifier when
// the view is narrow), click to pin it; "each tile to its own range" brings out the differences
// that the paper's shared −1…1 scale flattens.
#pragma once

#include "core/tensor/tensor.h"
#include "ui/export.h"
#include "ui/views/checkpoint_view.h"

#include <QImage>
#include <QPoint>

class QCheckBox;

namespace attnscope::ui {

class PosSimCanvas : public QWidget, public FigureCanvas {
    Q_OBJECT
public:
    PosSimCanvas(Document* doc, QWidget* parent);
    void setSimilarity(Tensor sim, int grid_h, int grid_w, const QString& title);
    void setMessage(const QString& text);
    void setTileRange(bool perTile);
    const Tensor& similarity() const { return sim_; } // [G, G], G = grid_h·grid_w
    int gridH() const { return gh_; }
    int gridW() const { return gw_; }
    QString message() const { return message_; }
    std::vector<float> tileValues(int row, int col) const; // tile (row, col): [grid_h·grid_w]
    QRectF tileRect(int row, int col) const;
    QPoint detailTile() const;   // (col, row) shown enlarged; (-1, -1) when none
    QPoint pinnedTile() const { return pinned_; }
    bool sideBySide() const;     // the enlarged tile has its own panel (wide view), else a magnifier
    QString readout() const { return readout_; }
    QRect figureRect() const override { return rect().adjusted(0, 0, 0, -kReadoutLine); } // without the hint line
    void setExporting(bool) override {}
    static constexpr int kReadoutLine = 22; // the bottom line: read-out or hint

protected:
    void paintEvent(QPaintEvent*) override;
    void mouseMoveEvent(QMouseEvent* e) override;
    void mousePressEvent(QMouseEvent* e) override;
    void leaveEvent(QEvent*) override;

private:
    struct Geometry {
        QRectF grid;        // the tile grid
        double tile = 0, gap = 0;
        QRectF detail;      // the enlarged tile (side panel), empty in magnifier mode
        QRectF bar;         // colour bar
    };
    Geometry geometry() const;
    QPoint tileAt(QPointF pos) const;
    QRectF magnifierRect(QPoint tile) const;
    void recolour();
    std::pair<float, float> tileRange(int row, int col) const;
    void paintDetail(QPainter& p, const QRectF& r, QPoint tile, bool axes);

    Document* doc_;
    Tensor sim_;
    int gh_ = 0, gw_ = 0;
    bool perTile_ = false;
    std::vector<QImage> tiles_;
    QPoint hover_{-1, -1}, pinned_{-1, -1}, detailCell_{-1, -1};
    QString title_, message_, readout_;
};

class PositionView : public CheckpointView {
    Q_OBJECT
public:
    explicit PositionView(Document* doc, QWidget* parent = nullptr);
    ~PositionView() override { stopWork(); }
    QString viewId() const override { return "posembed"; }
    QString title() const override { return tr("Pos. embedding"); }
    QWidget* canvas() override;
    std::vector<float> shownValues() const override;
    std::vector<int64_t> shownShape() const override;
    QString caption() const override;
    QSize screenshotSize() const override { return {1120, 580}; }
    PosSimCanvas* simCanvas() const { return canvas_; }

protected:
    void showMessage(const QString& text) override;
    BackgroundTask::Deliver compute(const PatchEmbedding& pe, const QString& family) const override;

private:
    QCheckBox* tileRange_;
    PosSimCanvas* canvas_;
};

} // namespace attnscope::ui
