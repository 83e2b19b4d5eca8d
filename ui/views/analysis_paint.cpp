#include "ui/views/analysis_paint.h"

#include <QObject>
#include <QImage>
#include <QPainter>
#include <QPainterPath>
#include <QPalette>

#include <algorithm>

namespace attnscope::ui {

QRectF fitRect(const QSizeF& size, const QRectF& area) {
    if (size.isEmpty() || area.isEmpty()) return {};
    const double s = std::min(area.width() / size.width(), area.height() / size.height());
    const QSizeF sz(size.width() * s, size.height() * s);
    return {area.center() - QPointF(sz.width() / 2, sz.height() / 2), sz};
}

void paintColourBar(QPainter& p, const QRectF& bar, Colormap cm, double lo, double hi, const QString& label,
                    const QColor& text, int ticks) {
    p.save();
    p.drawImage(bar, colorBarImage(cm, 1, 256));
    p.setPen(QPen(text, 1));
    p.setBrush(Qt::NoBrush);
    p.drawRect(bar);
    QFont f = p.font();
    f.setPointSizeF(f.pointSizeF() * 0.9);
    p.setFont(f);
    const QFontMetricsF fm(f);
    if (ticks < 0) ticks = bar.height() > 70 ? 5 : 3;
    // Round numbers inside lo…hi (core's nice_ticks: 0.01 0.02 …), placed where they fall on the bar.
    const int fit = std::max(2, int(bar.height() / (2.2 * fm.height()))); // never closer than ~2 lines
    const analysis::Ticks nice = ticks > 0 ? analysis::nice_ticks(lo, hi, std::min(ticks, fit)) : analysis::Ticks{};
    if (ticks > 0 && !(hi > lo)) // a constant map: its one value, mid-bar
        p.drawText(QRectF(bar.right() + 6, bar.center().y() - fm.height() / 2, 70, fm.height()), Qt::AlignLeft | Qt::AlignVCenter,
                   QString::number(lo, 'g', 3));
    for (double v : nice.values) {
        const double y = bar.bottom() - (v - lo) / (hi - lo) * bar.height();
        p.drawLine(QPointF(bar.right(), y), QPointF(bar.right() + 4, y));
        const QString s = QString::fromStdString(analysis::tick_label(v, nice.step));
        p.drawText(QRectF(bar.right() + 6, y - fm.height() / 2, 70, fm.height()), Qt::AlignLeft | Qt::AlignVCenter, s);
    }
    if (ticks == 0) { // each map scaled to its own range: the ends only
        p.drawText(QRectF(bar.right() + 4, bar.top() - 2, 40, fm.height()), Qt::AlignLeft | Qt::AlignTop, QObject::tr("max"));
        p.drawText(QRectF(bar.right() + 4, bar.bottom() - fm.height() + 2, 40, fm.height()), Qt::AlignLeft | Qt::AlignBottom,
                   QObject::tr("min"));
    }
    if (!label.isEmpty()) {
        p.translate(bar.left() - 4, bar.center().y());
        p.rotate(-90);
        p.drawText(QRectF(-bar.height() / 2 - 40, -fm.height(), bar.height() + 80, fm.height()), Qt::AlignCenter, label);
    }
    p.restore();
}

void paintPlaceholder(QPainter& p, const QRectF& r, const QString& text, const QPalette& pal) {
    p.save();
    p.setPen(pal.color(QPalette::PlaceholderText));
    QFont f = p.font();
    f.setPointSizeF(f.pointSizeF() * 1.1);
    p.setFont(f);
    p.drawText(r.adjusted(20, 20, -20, -20), Qt::AlignCenter | Qt::TextWordWrap, text);
    p.restore();
}

QVector<QLineF> maskOutline(const float* mask, int w, int h, const QRectF& rect) {
    QVector<QLineF> out;
    if (w <= 0 || h <= 0) return out;
    const double cw = rect.width() / w, ch = rect.height() / h;
    auto kept = [&](int r, int c) { return r >= 0 && r < h && c >= 0 && c < w && mask[r * w + c] != 0.0f; };
    for (int r = 0; r < h; ++r)
        for (int c = 0; c < w; ++c) {
            if (!kept(r, c)) continue;
            const double x0 = rect.x() + c * cw, y0 = rect.y() + r * ch, x1 = x0 + cw, y1 = y0 + ch;
            if (!kept(r - 1, c)) out.append(QLineF(x0, y0, x1, y0));
            if (!kept(r + 1, c)) out.append(QLineF(x0, y1, x1, y1));
            if (!kept(r, c - 1)) out.append(QLineF(x0, y0, x0, y1));
            if (!kept(r, c + 1)) out.append(QLineF(x1, y0, x1, y1));
        }
    return out;
}

QColor seriesColour(int i) { return QColor(QRgb(analysis::head_colour(i))); }

void paintMapOverPhoto(QPainter& p, const QRectF& image, const QRectF& grid, const QImage& map, int gw, int gh,
                       bool smooth, bool lines) {
    QPainterPath outside, inside;
    outside.addRect(image);
    inside.addRect(grid);
    p.fillPath(outside.subtracted(inside), QColor(0, 0, 0, 110)); // what the model never saw
    p.setRenderHint(QPainter::SmoothPixmapTransform, smooth);
    p.drawImage(grid, map);
    if (!lines) return;
    p.setPen(QPen(QColor(255, 255, 255, 90), 0));
    for (int c = 1; c < gw; ++c) p.drawLine(QPointF(grid.x() + c * grid.width() / gw, grid.top()), QPointF(grid.x() + c * grid.width() / gw, grid.bottom()));
    for (int r = 1; r < gh; ++r) p.drawLine(QPointF(grid.left(), grid.y() + r * grid.height() / gh), QPointF(grid.right(), grid.y() + r * grid.height() / gh));
}

bool gridCellAt(const QRectF& grid, int gw, int gh, QPointF pos, int& row, int& col) {
    if (gw <= 0 || gh <= 0 || grid.isEmpty() || !grid.contains(pos)) return false;
    col = std::min(int((pos.x() - grid.x()) / grid.width() * gw), gw - 1);
    row = std::min(int((pos.y() - grid.y()) / grid.height() * gh), gh - 1);
    return true;
}

} // namespace attnscope::ui
