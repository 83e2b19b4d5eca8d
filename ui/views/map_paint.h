// Painting shared by the views and figures that lay a patch / feature-grid map back over the original
// image (Detections view, heads figure, overlay boxes): geometry, one map cell, DETR boxes.
#pragma once

#include "ui/document.h"

#include <QColor>
#include <QImage>
#include <QRectF>
#include <QTransform>

class QPainter;

namespace attnscope::ui {

// The grid and the part of the original the model saw: Document::gridInOriginal / seenInOriginal (core's
// analysis::grid_in_original / seen_in_original).
// Maps original-image pixels onto `target`, which shows the original's `seen` region.
QTransform originalToTarget(const QRectF& seen, const QRectF& target);

// One cell: `image` (the original, or a copy scaled by `imageScale` image px per original px) cropped to
// `seen` and scaled into `target`, then `map` (covering `grid`, original px) over it, clipped to `target`.
void paintMapCell(QPainter& p, const QRectF& target, const QImage& image, double imageScale, const QRectF& seen,
                  const QRectF& grid, const QImage& map, bool smooth);
// The colour bar: paintColourBar (analysis_paint.h).

// The photo scaled once for the size it is shown at (Qt's smooth scaling of a full photo on every frame
// is most of a repaint); paint() draws it at `target`'s rounded corner. SVG / PDF get the full photo.
class ScaledImageCache {
public:
    void paint(QPainter& p, const QRectF& target, const QImage& image);

private:
    qint64 key_ = 0;
    QImage scaled_;
};

// Distinct box colours (the DETR colab's palette), by detection index.
QColor detectionColor(int i);
// Every detection's box and a "label score" tag, in original pixels mapped by `toTarget`, clipped to `clip`.
// The box of `selectedQuery` is drawn heavier; the others lighter when one is selected.
void paintDetections(QPainter& p, const std::vector<Detection>& dets, const QTransform& toTarget, int selectedQuery,
                     const QRectF& clip, bool tags = true);
// One box (target coordinates) drawn as paintDetections draws the selected detection — a dark halo, `colour`
// 3 px, `tag` on that colour above it — clipped to `clip`; `dashed`: a query below the threshold (dashed
// line, dark tag), as the Detections view draws it. The Explain view outlines the explained detection so.
void paintDetectionBox(QPainter& p, const QRectF& box, const QString& tag, const QColor& colour, const QRectF& clip,
                       bool dashed = false);
// Index of the smallest detection box containing `original` (original pixels), -1 when none does.
int detectionAt(const std::vector<Detection>& dets, const QPointF& original);

} // namespace attnscope::ui
