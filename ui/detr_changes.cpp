#include "ui/detr_changes.h"

#include <QLineF>
#include <QObject>
#include <QPainter>

#include <algorithm>
#include <cmath>

namespace attnscope::ui {
namespace {
const QColor kVanished(220, 50, 47), kAppeared(40, 170, 60), kMoved(255, 170, 0), kKept(60, 120, 220);

QColor kindColour(BoxChange::Kind k) {
    switch (k) {
    case BoxChange::Vanished: return kVanished;
    case BoxChange::Appeared: return kAppeared;
    case BoxChange::Moved: return kMoved;
    default: return kKept;
    }
}

QRectF boxOf(const Detection& d, const QTransform& t) {
    return t.mapRect(QRectF(QPointF(d.box_xyxy[0], d.box_xyxy[1]), QPointF(d.box_xyxy[2], d.box_xyxy[3])));
}

void box(QPainter& p, const QRectF& r, const QColor& c, bool dashed) {
    p.setPen(QPen(QColor(0, 0, 0, 140), 4, dashed ? Qt::DashLine : Qt::SolidLine));
    p.drawRect(r);
    p.setPen(QPen(c, 2, dashed ? Qt::DashLine : Qt::SolidLine));
    p.drawRect(r);
}

void tag(QPainter& p, const QRectF& r, const QString& text, const QColor& c, const QRectF& clip) {
    const QFontMetricsF fm(p.font());
    const QSizeF ts(fm.horizontalAdvance(text) + 8, fm.height() + 2);
    QPointF at(r.left(), r.top() - ts.height());
    if (at.y() < clip.top()) at.setY(r.top());
    const QRectF t(at, ts);
    p.fillRect(t, QColor(0, 0, 0, 170));
    p.setPen(c.lighter(130));
    p.drawText(t, Qt::AlignCenter, text);
}
} // namespace

QString boxChangeName(BoxChange::Kind k) {
    switch (k) {
    case BoxChange::Vanished: return QObject::tr("vanished");
    case BoxChange::Appeared: return QObject::tr("appeared");
    case BoxChange::Moved: return QObject::tr("moved");
    default: return QObject::tr("kept");
    }
}

std::vector<BoxChange> detectionChanges(const std::vector<Detection>& before, const std::vector<Detection>& after, float threshold) {
    std::vector<BoxChange> out;
    const size_t n = std::min(before.size(), after.size());
    for (size_t q = 0; q < n; ++q) {
        const Detection& b = before[q];
        const Detection& a = after[q];
        const bool inB = b.score >= threshold, inA = a.score >= threshold;
        if (!inB && !inA) continue;
        BoxChange c{BoxChange::Kept, int(q), b, a};
        if (inB && !inA) c.kind = BoxChange::Vanished;
        else if (!inB) c.kind = BoxChange::Appeared;
        else {
            double shift = 0;
            for (int i = 0; i < 4; ++i) shift = std::max(shift, double(std::abs(a.box_xyxy[size_t(i)] - b.box_xyxy[size_t(i)])));
            if (shift > kMovePx || a.label_id != b.label_id) c.kind = BoxChange::Moved;
        }
        out.push_back(c);
    }
    return out;
}

void paintDetectionChanges(QPainter& p, const std::vector<BoxChange>& changes, const QTransform& toTarget, const QRectF& clip) {
    p.save();
    p.setClipRect(clip, Qt::IntersectClip);
    p.setRenderHint(QPainter::Antialiasing, true);
    p.setBrush(Qt::NoBrush);
    QFont f = p.font();
    f.setPointSizeF(f.pointSizeF() * 0.85);
    f.setBold(true);
    p.setFont(f);
    auto label = [](const Detection& d) { return QString::fromStdString(d.label.empty() ? std::to_string(d.label_id) : d.label); };
    for (const BoxChange& c : changes) {
        const QColor col = kindColour(c.kind);
        const QRectF rb = boxOf(c.before, toTarget), ra = boxOf(c.after, toTarget);
        if (c.kind == BoxChange::Vanished || c.kind == BoxChange::Moved) box(p, rb, col, true);
        if (c.kind != BoxChange::Vanished) box(p, ra, col, false);
        if (c.kind == BoxChange::Moved && QLineF(rb.center(), ra.center()).length() > 3) {
            p.setPen(QPen(col, 2));
            const QLineF l(rb.center(), ra.center());
            p.drawLine(l);
            for (double a : {150.0, -150.0}) {
                QLineF h = QLineF::fromPolar(8, l.angle() + a);
                h.translate(l.p2());
                p.drawLine(h);
            }
        }
    }
    for (const BoxChange& c : changes) {
        const bool gone = c.kind == BoxChange::Vanished;
        const Detection& d = gone ? c.before : c.after;
        const QString text = gone ? QObject::tr("%1 %2 → %3 (vanished)").arg(label(d)).arg(double(c.before.score), 0, 'f', 2).arg(double(c.after.score), 0, 'f', 2)
                             : c.kind == BoxChange::Appeared ? QObject::tr("%1 %2 (new; was %3)").arg(label(d)).arg(double(d.score), 0, 'f', 2).arg(double(c.before.score), 0, 'f', 2)
                                                            : QObject::tr("%1 %2 → %3").arg(label(d)).arg(double(c.before.score), 0, 'f', 2).arg(double(c.after.score), 0, 'f', 2);
        tag(p, boxOf(d, toTarget), text, kindColour(c.kind), clip);
    }
    p.restore();
}

void paintChangesLegend(QPainter& p, const QPointF& at) {
    p.save();
    p.setRenderHint(QPainter::Antialiasing, true);
    const QFontMetricsF fm(p.font());
    const double line = fm.height() + 4, sw = 26;
    const QString title = QObject::tr("with interventions: before dashed, after solid");
    const std::pair<BoxChange::Kind, QString> rows[] = {{BoxChange::Vanished, QObject::tr("vanished (before only)")},
                                                        {BoxChange::Appeared, QObject::tr("appeared (after only)")},
                                                        {BoxChange::Moved, QObject::tr("moved / relabelled (same query)")},
                                                        {BoxChange::Kept, QObject::tr("kept")}};
    double w = fm.horizontalAdvance(title);
    for (const auto& r : rows) w = std::max(w, sw + 6 + fm.horizontalAdvance(r.second));
    const QRectF frame(at, QSizeF(w + 12, line * 5 + 6));
    p.fillRect(frame, QColor(0, 0, 0, 175));
    p.setPen(Qt::white);
    p.drawText(QRectF(at.x() + 6, at.y() + 3, w, line), Qt::AlignLeft | Qt::AlignVCenter, title);
    for (int i = 0; i < 4; ++i) {
        const double y = at.y() + 3 + line * (i + 1);
        const QColor c = kindColour(rows[i].first);
        const bool dashed = rows[i].first == BoxChange::Vanished;
        p.setPen(QPen(c, 2, dashed ? Qt::DashLine : Qt::SolidLine));
        p.drawLine(QPointF(at.x() + 6, y + line / 2), QPointF(at.x() + 6 + sw, y + line / 2));
        p.setPen(Qt::white);
        p.drawText(QRectF(at.x() + 12 + sw, y, w - sw, line), Qt::AlignLeft | Qt::AlignVCenter, rows[i].second);
    }
    p.restore();
}

} // namespace attnscope::ui
