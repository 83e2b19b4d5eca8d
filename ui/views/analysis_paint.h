// Painting shared by the analysis views (rollout, DINO masks, position-embedding similarity, filter
// PCA): aspect fitting, the region of the original image the model saw, colour bars, placeholders,
// mask outlines.
#pragma once

#include "core/models/model.h"
#include "ui/convert.h"

#include <QLineF>
#include <QRectF>
#include <QString>
#include <QVector>

class QPainter;
class QPalette;

namespace attnscope::ui {

// `size` scaled to fit `area` (aspect kept), centred.
QRectF fitRect(const QSizeF& size, const QRectF& area);
// The patch grid in original-image pixels (what the model saw, e.g. the centre crop).
QRectF seenRegion(const RunResult& r);
// A vertical colour bar (high end on top) with `ticks` labelled values lo…hi (0: just "max"/"min" at the
// ends) and `label` rotated on its left.
void paintColourBar(QPainter& p, const QRectF& bar, Colormap cm, double lo, double hi, const QString& label,
                    const QColor& text, int ticks = 5);
// Text centred in `r`, word-wrapped, in the placeholder colour.
void paintPlaceholder(QPainter& p, const QRectF& r, const QString& text, const QPalette& pal);
// The cell edges between kept (≠ 0) and dropped cells of a w × h mask laid over `rect`, border included.
QVector<QLineF> maskOutline(const float* mask, int w, int h, const QRectF& rect);
// Distinct colours by index (Tableau 10).
QColor seriesColour(int i);

} // namespace attnscope::ui
