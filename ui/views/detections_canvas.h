// The Detections view's canvas (DETR, YOLOS): the boxes above the threshold over the original image and two
// rows of per-head maps under it (decoder cross-attention of the selected detection — YOLOS: its detection
// token's encoder self-attention over the patches — and encoder self-attention at the reference point);
// see detections_view.h for the interaction.
#pragma once

#include "core/models/detr.h"
#include "ui/export.h"
#include "ui/views/map_paint.h"
#include "ui/views/view.h"

#include <QImage>

namespace attnscope::ui {

class DetrState;

// "cat 0.93" and "3 detections": the canvas titles and the view's list and caption share them.
QString detectionText(const Detection& d);
QString detectionCountText(size_t n);

class DetectionsCanvas : public QWidget, public FigureCanvas {
    Q_OBJECT
public:
    explicit DetectionsCanvas(Document* doc, QWidget* parent = nullptr);
    void setLayers(int decoderLayer, int encoderLayer);
    int decoderLayer() const { return decLayer_; }
    int encoderLayer() const { return encLayer_; }

    // Why there is nothing to show ("" when there is): no result yet, or not a DETR model.
    QString emptyMessage() const;
    int selectedQuery() const;   // the detection (DETR object query, YOLOS detection token) of row 0 (-1: none)
    int referenceToken() const;  // the encoder token of the reference point (-1: none)
    int encoderGridStart() const; // the first encoder token on the feature grid (core's query_grid_start)
    // Row 0: cross-attention of selectedQuery() in decoderLayer() (YOLOS: its detection token's encoder row in
    // that layer, over the patch keys); row 1: encoder self-attention of
    // referenceToken() in encoderLayer(). Per head, over the feature grid (grid_h × grid_w, row-major).
    const std::vector<std::vector<float>>& rowMaps(int row) const { return rows_[size_t(row)].maps; }
    int gridW() const { return gridW_; }
    int gridH() const { return gridH_; }

    QRectF imageRect() const;               // the original image, widget coordinates
    QRect figureRect() const override;      // all but the hint line (exports)
    void setExporting(bool) override {}
    QRectF boxRect(int detection) const;    // doc->detections()[i]'s box, widget coordinates
    QRectF headCellRect(int row, int head) const; // head == heads: the mean cell
    int cellAt(QPointF widgetPos) const;    // encoder token under the point, -1 outside the image
    QPointF cellCentre(int token) const;    // widget coordinates of a feature cell's centre

protected:
    void paintEvent(QPaintEvent*) override;
    void mousePressEvent(QMouseEvent* e) override;
    void mouseMoveEvent(QMouseEvent* e) override;
    void mouseReleaseEvent(QMouseEvent* e) override;
    void keyPressEvent(QKeyEvent* e) override;
    void resizeEvent(QResizeEvent* e) override;

private:
    struct Row {
        QString title;
        std::vector<std::vector<float>> maps; // heads, then their mean
        std::vector<QImage> images;
        float lo = 0, hi = 1;
    };
    void rebuild();   // maps (result, queries, layers changed)
    void recolour();  // images (colormap / opacity changed)
    void rescaleThumb();
    struct Layout {
        QRectF image;
        double cellW = 0, cellH = 0;
        int cols = 1, lines = 1;    // the head maps of a row: cols per line, on 1 or 2 lines
        double rowTop[2] = {0, 0};
        double left = 8;            // x of the rows: the margin, or right of the image when side by side
    };
    Layout layout() const;
    static double rowHeight(const Layout& L);
    static QRectF cellRect(const Layout& L, int row, int head);
    int rowCount() const;
    void paintRow(QPainter& p, int row, const Layout& L);
    void setReference(QPointF widgetPos);
    QPoint shownCell() const; // (head, row) of the map the other views show, (-1, -1) when none

    Document* doc_;
    DetrState* detr_;
    int decLayer_ = -1, encLayer_ = -1;
    Row rows_[2];
    int gridW_ = 0, gridH_ = 0;
    QImage thumb_;                 // the original scaled for the head cells
    double thumbScale_ = 1;
    bool dragging_ = false;
    ScaledImageCache photo_;
    QImage cellPhoto_;             // the photo at one head cell's size
    qint64 cellPhotoKey_ = 0;
    QPoint outlined_{-1, -1};      // shownCell() at the last paint
};

} // namespace attnscope::ui
