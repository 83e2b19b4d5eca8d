// CompareCanvas's Heads and Distance figures (the Map figure is in compare_canvas.cpp).
#include "ui/views/analysis_paint.h"
#include "ui/views/compare_canvas.h"
#include "ui/views/map_paint.h"

#include <QPainter>
#include <QPainterPath>

#include <algorithm>
#include <cmath>
#include <map>

namespace attnscope::ui {
namespace {
constexpr double kMargin = 10, kTitle = 26, kLabel = 18, kGap = 6, kBarArea = 74;
const QColor kText(20, 20, 20);

// The marker of side i: A a filled circle, B a filled square (told apart without colour too).
void marker(QPainter& p, int side, QPointF c, double r) {
    if (side == 0) p.drawEllipse(c, r, r);
    else p.drawRect(QRectF(c.x() - r * 0.9, c.y() - r * 0.9, r * 1.8, r * 1.8));
}
} // namespace

void CompareCanvas::paintHeads(QPainter& p) {
    const Document* a = s_->a();
    const int n = int(std::max(headsA_.size(), headsB_.size()));
    if (n == 0) return paintNote(p, rect(), why_.isEmpty() ? tr("No heads for this selection.") : why_);
    QFont small = font();
    small.setPointSizeF(small.pointSizeF() * 0.9);
    for (int h = 0; h < n; ++h) {
        p.setFont(small);
        p.setPen(kText);
        p.drawText(QRectF(headCell(0, h).left(), kTitle, cellW_, kLabel), Qt::AlignHCenter | Qt::AlignBottom, tr("head %1").arg(h));
    }
    p.setFont(font());
    for (int row = 0; row < 3; ++row) {
        const QRectF first = headCell(row, 0);
        paintSideHeader(p, QRectF(kMargin, first.center().y() - 10, cellLeft_ - kMargin - 4, 20), row, {});
        const auto& imgs = headImg_[row];
        const Document* d = row < 2 ? s_->side(row) : nullptr;
        const auto& maps = row == 0 ? headsA_ : headsB_;
        for (int h = 0; h < n; ++h) {
            const QRectF c = headCell(row, h);
            if (h < int(imgs.size()) && d && maps[size_t(h)].spatial()) { // over the side's own photo, as the heads figure
                paintMapCell(p, c, d->qimage(), d->displayScale(), d->seenInOriginal(), d->gridInOriginal(), imgs[size_t(h)],
                             a->display().smooth);
            } else if (h < int(imgs.size())) { // A − B, or keys that are not the grid: the cells as they are
                p.save();
                p.setRenderHint(QPainter::SmoothPixmapTransform, false);
                p.drawImage(c, imgs[size_t(h)]);
                p.restore();
            } else {
                p.setPen(QColor(150, 150, 150));
                p.drawText(c, Qt::AlignCenter, tr("—"));
            }
            p.setPen(QPen(QColor(120, 120, 120), 1));
            p.setBrush(Qt::NoBrush);
            p.drawRect(c);
        }
    }
    const double right = headCell(0, n - 1).right() + 30;
    const QRectF ab(right, headCell(0, 0).top() + 4, 14, headCell(1, 0).bottom() - headCell(0, 0).top() - 8);
    paintColourBar(p, ab, a->display().colormap, lo_, hi_, tr("attention (A and B)"), kText);
    const QRectF dr = headCell(2, 0);
    if (!headDiff_.empty())
        paintColourBar(p, QRectF(right, dr.top() + 2, 14, std::max(30.0, dr.height() - 4)), Colormap::RdBuR, -dm_, dm_, tr("A − B"), kText, 3);
    const QString foot = why_.isEmpty() ? tr("A − B: red where A attends more, blue where B does") : why_;
    p.setPen(kText);
    p.drawText(QRectF(kMargin, dr.bottom() + 4, figure_.width() - 2 * kMargin, kLabel), Qt::AlignLeft | Qt::AlignTop,
               QFontMetricsF(font()).elidedText(foot, Qt::ElideRight, figure_.width() - 2 * kMargin));
}

void CompareCanvas::paintDistance(QPainter& p, const QRectF& area) {
    const int layers = int(std::max(dist_[0].size(), dist_[1].size()));
    if (layers == 0) return paintNote(p, area, tr("No encoder self-attention over a patch grid on either side."));
    double ymax = 0;
    for (const auto& side : dist_)
        for (const auto& l : side)
            for (double v : l) ymax = std::max(ymax, v);
    ymax = ymax > 0 ? ymax * 1.08 : 1;
    const QFontMetricsF fm(font());
    const QRectF plot(area.left() + 58, area.top() + 3 * fm.height() + 14, area.width() - 70, area.height() - 3 * fm.height() - 14 - 2.6 * fm.height());
    auto X = [&](double l) { return plot.left() + (l + 0.5) / layers * plot.width(); };
    auto Y = [&](double v) { return plot.bottom() - v / ymax * plot.height(); };
    p.save();
    p.setRenderHint(QPainter::Antialiasing, true);
    // the selected layer, faintly
    const int sel = s_->a()->selection().layer;
    if (sel < layers) p.fillRect(QRectF(X(sel - 0.5), plot.top(), plot.width() / layers, plot.height()), QColor(0, 0, 0, 14));
    // axes and ticks
    p.setPen(QPen(kText, 1));
    p.drawLine(plot.bottomLeft(), plot.bottomRight());
    p.drawLine(plot.bottomLeft(), plot.topLeft());
    const analysis::Ticks yt = analysis::nice_ticks(0, ymax, 5);
    for (double v : yt.values) {
        p.setPen(QPen(QColor(225, 225, 225), 1));
        p.drawLine(QPointF(plot.left() + 1, Y(v)), QPointF(plot.right(), Y(v)));
        p.setPen(kText);
        p.drawLine(QPointF(plot.left() - 4, Y(v)), QPointF(plot.left(), Y(v)));
        p.drawText(QRectF(plot.left() - 50, Y(v) - fm.height() / 2, 44, fm.height()), Qt::AlignRight | Qt::AlignVCenter,
                   QString::fromStdString(analysis::tick_label(v, yt.step)));
    }
    const int every = std::max(1, int(std::ceil(layers / (plot.width() / 28))));
    for (int l = 0; l < layers; l += every) {
        p.drawLine(QPointF(X(l), plot.bottom()), QPointF(X(l), plot.bottom() + 4));
        p.drawText(QRectF(X(l) - 20, plot.bottom() + 4, 40, fm.height()), Qt::AlignHCenter | Qt::AlignTop, QString::number(l));
    }
    p.drawText(QRectF(plot.left(), plot.bottom() + 4 + fm.height(), plot.width(), fm.height() * 1.4), Qt::AlignCenter, tr("layer"));
    p.save();
    p.translate(area.left() + fm.height() * 0.6, plot.center().y());
    p.rotate(-90);
    p.drawText(QRectF(-plot.height() / 2, -fm.height() / 2, plot.height(), fm.height()), Qt::AlignCenter,
               tr("mean attention distance (px)"));
    p.restore();
    // heads as dots (A left of the layer, B right), the layer mean as a line with markers
    for (int i = 0; i < 2; ++i) {
        const QColor c = CompareSession::sideColour(i);
        const double dx = (i == 0 ? -0.14 : 0.14);
        QColor faint = c;
        faint.setAlpha(95);
        p.setPen(Qt::NoPen);
        p.setBrush(faint);
        for (size_t l = 0; l < dist_[i].size(); ++l)
            for (double v : dist_[i][l]) marker(p, i, QPointF(X(double(l) + dx), Y(v)), 2.4);
        QPainterPath line;
        std::vector<QPointF> means;
        for (size_t l = 0; l < dist_[i].size(); ++l) {
            if (dist_[i][l].empty()) continue;
            double sum = 0;
            for (double v : dist_[i][l]) sum += v;
            const QPointF pt(X(double(l)), Y(sum / double(dist_[i][l].size())));
            if (means.empty()) line.moveTo(pt);
            else line.lineTo(pt);
            means.push_back(pt);
        }
        p.setPen(QPen(c, 2));
        p.setBrush(Qt::NoBrush);
        p.drawPath(line);
        p.setPen(QPen(Qt::white, 1));
        p.setBrush(c);
        for (const QPointF& pt : means) marker(p, i, pt, 4);
    }
    // legend above the plot
    for (int i = 0; i < 3; ++i) {
        const double y = area.top() + 2 + i * (fm.height() + 1);
        if (i < 2) {
            p.setPen(QPen(Qt::white, 1));
            p.setBrush(CompareSession::sideColour(i));
            marker(p, i, QPointF(plot.left() + 8, y + fm.height() / 2), 4);
        }
        p.setPen(i < 2 ? kText : QColor(100, 100, 100));
        const QString t = i < 2 ? tr("%1: %2").arg(CompareSession::sideLetter(i), s_->sideSource(i))
                                : tr("line: the mean over the heads of a layer · dots: each head");
        p.drawText(QRectF(plot.left() + 18, y, plot.width() - 18, fm.height()), Qt::AlignLeft | Qt::AlignVCenter,
                   fm.elidedText(t, Qt::ElideMiddle, plot.width() - 18));
    }
    p.restore();
}

void CompareCanvas::paintPredictions(QPainter& p, const QRectF& area) {
    // The classes in either side's top 5 (by label name: two models may order their labels differently),
    // most probable on either side first; each with A's and B's probability as paired bars.
    struct Row {
        QString label;
        double prob[2] = {NAN, NAN};
    };
    std::map<QString, Row> byLabel;
    bool any[2] = {false, false};
    for (int i = 0; i < 2; ++i) {
        const RunResult* r = s_->side(i)->result();
        if (!r) continue;
        any[i] = !r->predictions.empty();
        for (size_t k = 0; k < std::min<size_t>(5, r->predictions.size()); ++k)
            byLabel[QString::fromStdString(r->predictions[k].label)].label = QString::fromStdString(r->predictions[k].label);
    }
    for (auto& [label, row] : byLabel)
        for (int i = 0; i < 2; ++i)
            if (const RunResult* r = s_->side(i)->result())
                for (const Prediction& pr : r->predictions)
                    if (QString::fromStdString(pr.label) == label) {
                        row.prob[i] = pr.prob;
                        break;
                    }
    std::vector<Row> rows;
    for (auto& [label, row] : byLabel) rows.push_back(row);
    auto best = [](const Row& r) { return std::max(std::isnan(r.prob[0]) ? 0.0 : r.prob[0], std::isnan(r.prob[1]) ? 0.0 : r.prob[1]); };
    std::stable_sort(rows.begin(), rows.end(), [&](const Row& x, const Row& y) { return best(x) > best(y); });
    const QFontMetricsF fm(font());
    QFont bold = font();
    bold.setBold(true);
    p.setFont(bold);
    p.setPen(kText);
    p.drawText(QRectF(area.left(), area.top(), area.width(), fm.height() + 6), Qt::AlignLeft | Qt::AlignVCenter,
               tr("Top classes of A and B (probability)"));
    p.setFont(font());
    double y = area.top() + fm.height() + 12;
    if (rows.empty()) return paintNote(p, QRectF(area.left(), y, area.width(), area.bottom() - y),
                                       tr("Neither side has a class head (features only): no predictions to compare."));
    for (int i = 0; i < 2; ++i)
        if (!any[i]) {
            p.setPen(QColor(110, 110, 110));
            p.drawText(QRectF(area.left(), y, area.width(), fm.height()), Qt::AlignLeft,
                       tr("%1 has no class head: only its features.").arg(CompareSession::sideLetter(i)));
            y += fm.height() + 4;
        }
    const double labelW = std::min(area.width() * 0.42, 200.0), valueW = fm.horizontalAdvance("100.0%") + 6;
    const double barL = area.left() + labelW + 6, barW = std::max(20.0, area.right() - barL - valueW);
    double top = 0; // bars scaled to the largest probability shown (the values are printed)
    for (const Row& r : rows)
        for (double v : r.prob)
            if (!std::isnan(v)) top = std::max(top, v);
    top = top > 0 ? top : 1;
    const double bh = std::max(8.0, std::min(fm.height(), (area.bottom() - y) / std::max<size_t>(rows.size(), 1) / 2 - 3));
    for (const Row& r : rows) {
        if (y + 2 * bh + 6 > area.bottom()) break;
        p.setPen(kText);
        p.drawText(QRectF(area.left(), y, labelW, 2 * bh + 2), Qt::AlignRight | Qt::AlignVCenter,
                   fm.elidedText(r.label, Qt::ElideRight, labelW));
        for (int i = 0; i < 2; ++i) {
            const QRectF slot(barL, y + i * (bh + 2), barW, bh);
            if (std::isnan(r.prob[i])) {
                p.setPen(QColor(140, 140, 140));
                p.drawText(slot, Qt::AlignLeft | Qt::AlignVCenter, any[i] ? tr("%1: not a class of this model").arg(CompareSession::sideLetter(i)) : QString());
                continue;
            }
            const double len = std::max(1.0, slot.width() * r.prob[i] / top);
            p.fillRect(QRectF(slot.left(), slot.top(), len, slot.height()), CompareSession::sideColour(i));
            p.setPen(kText);
            p.drawText(QRectF(slot.left() + len + 4, slot.top() - 2, valueW + 40, bh + 4),
                       Qt::AlignLeft | Qt::AlignVCenter, QString("%1%").arg(r.prob[i] * 100, 0, 'f', 1));
        }
        y += 2 * bh + 10;
    }
}

} // namespace attnscope::ui
