// One figure of every head of the selected layer (or of the whole layer × head grid) for the selection's
// site and query: each head's map over the part of the image the model saw (a strip when the keys are not
// image patches, e.g. DETR decoder self-attention), head and layer labels, a colour bar. It is rendered
// off-screen and written by exportView (PNG / SVG / PDF with the caption): File ▸ Export Heads Figure.
#pragma once

#include "ui/document.h"

#include <QImage>
#include <QWidget>

class QPainter;

namespace attnscope::ui {

class HeadsFigure : public QWidget {
    Q_OBJECT
public:
    // allLayers: rows are the site's layers (each cell scaled to its own range, as the model view);
    // else the selected layer's heads wrapped in rows of at most 6 (one colour scale for all).
    HeadsFigure(const Document* doc, bool allLayers, QWidget* parent = nullptr);
    int layers() const { return int(layers_.size()); }
    int heads() const { return heads_; }
    const QueryMap& cell(int layerIndex, int head) const { return maps_[size_t(layerIndex * heads_ + head)]; }
    QRectF cellRect(int layerIndex, int head) const;
    QString caption() const;

protected:
    void paintEvent(QPaintEvent*) override;

private:
    void paintQueryMark(QPainter& p, const QRectF& cell, const QRectF& seen, const QRectF& grid, const QueryMap& q) const;

    const Document* doc_;
    bool allLayers_;
    Selection basis_;
    QString title_;
    std::vector<int> layers_;
    int heads_ = 0, cols_ = 0;
    double cellW_ = 0, cellH_ = 0, left_ = 0;
    std::vector<QueryMap> maps_;  // layer-major
    std::vector<QImage> images_;
    float lo_ = 0, hi_ = 1;       // the shared scale (one layer)
    QImage thumb_;
    double thumbScale_ = 1;
};

// Renders the figure for `doc`'s selection and writes it (format from the suffix). Error message or "".
QString exportHeadsFigure(const Document& doc, bool allLayers, const QString& path);

} // namespace attnscope::ui
