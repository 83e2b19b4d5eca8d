#include "ui/views/analysis_paint.h"

#include <QObject>
#include <QPainter>
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
    for (int i = 0; i < ticks; ++i) {
        const double t = ticks > 1 ? i / double(ticks - 1) : 0.0, y = bar.bottom() - t * bar.height();
        p.drawLine(QPointF(bar.right(), y), QPointF(bar.right() + 4, y));
        const double v = lo + t * (hi - lo);
        const QString s = QString::number(std::abs(v) < 1e-4 * std::abs(hi - lo) ? 0.0 : v, 'g', 3);
        p.drawText(QRectF(bar.right() + 6, y - fm.height() / 2, 60, fm.height()), Qt::AlignLeft | Qt::AlignVCenter, s);
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

QColor seriesColour(int i) {
    static const QRgb tab10[] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};
    const QColor c(tab10[i % 10]);
    return i < 10 ? c : c.darker(100 + 40 * (i / 10)); // beyond ten: the same hues, darker
}

} // namespace attnscope::ui
