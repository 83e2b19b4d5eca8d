// Painting shared by the views: aspect fitting, the colour bar, placeholders, mask outlines.
#pragma once

#include "core/models/model.h"
#include "ui/convert.h"

#include <QLineF>
#include <QRectF>
#include <QString>
#include <QVector>

class QImage;
class QPainter;
class QPalette;

namespace attnscope::ui {

// `size` scaled to fit `area` (aspect kept), centred.
QRectF fitRect(const QSizeF& size, const QRectF& area);
// THE colour bar of every view: vertical (high end on top), about `ticks` round values inside lo…hi
// (core's nice_ticks; fewer on a short bar; 0: just "max"/"min" at the ends; -1: five, or three when the
// bar is under 70 px) and `label` rotated on its left.
void paintColourBar(QPainter& p, const QRectF& bar, Colormap cm, double lo, double hi, const QString& label,
                    const QColor& text, int ticks = 5);
// Text centred in `r`, word-wrapped, in the placeholder colour.
void paintPlaceholder(QPainter& p, const QRectF& r, const QString& text, const QPalette& pal);
// The cell edges between kept (≠ 0) and dropped cells of a w × h mask laid over `rect`, border included.
QVector<QLineF> maskOutline(const float* mask, int w, int h, const QRectF& rect);
// A coloured map over the photo drawn in `image`: outside the patch grid `grid` (what the model never saw)
// darkened, the map image stretched over `grid` (smoothed or not), and the lines between its gw × gh cells
// when `lines`. The rollout and explain canvases.
void paintMapOverPhoto(QPainter& p, const QRectF& image, const QRectF& grid, const QImage& map, int gw, int gh,
                       bool smooth, bool lines);
// The cell of a gw × gh grid drawn in `grid` under `pos` (row, col); false outside it.
bool gridCellAt(const QRectF& grid, int gw, int gh, QPointF pos, int& row, int& col);
// Distinct colours by index: core's head_colour (Tableau 10, then darker), as the CLI's PNGs.
QColor seriesColour(int i);

} // namespace attnscope::ui
