#include "ui/views/map_paint.h"

#include "ui/views/analysis_paint.h"

#include <QFontMetricsF>
#include <QPaintEngine>
#include <QPainter>

#include <algorithm>
#include <cmath>

namespace attnscope::ui {

QTransform originalToTarget(const QRectF& seen, const QRectF& target) {
    if (seen.isEmpty()) return {};
    const double sx = target.width() / seen.width(), sy = target.height() / seen.height();
    return QTransform(sx, 0, 0, sy, target.x() - seen.x() * sx, target.y() - seen.y() * sy);
}

void paintMapCell(QPainter& p, const QRectF& target, const QImage& image, double imageScale, const QRectF& seen,
                  const QRectF& grid, const QImage& map, bool smooth) {
    p.save();
    p.setRenderHint(QPainter::SmoothPixmapTransform, true);
    const QRectF source(seen.x() * imageScale, seen.y() * imageScale, seen.width() * imageScale, seen.height() * imageScale);
    if (!image.isNull()) p.drawImage(target, image, source);
    if (!map.isNull() && !grid.isEmpty()) {
        p.setClipRect(target, Qt::IntersectClip);
        p.setRenderHint(QPainter::SmoothPixmapTransform, smooth);
        p.drawImage(originalToTarget(seen, target).mapRect(grid), map);
    }
    p.restore();
}

void ScaledImageCache::paint(QPainter& p, const QRectF& target, const QImage& image) {
    if (image.isNull() || target.isEmpty()) return;
    if (p.paintEngine() && p.paintEngine()->type() != QPaintEngine::Raster) { // SVG / PDF: the full photo, scaled there
        p.save();
        p.setRenderHint(QPainter::SmoothPixmapTransform, true);
        p.drawImage(target, image);
        p.restore();
        return;
    }
    const QRect r(target.topLeft().toPoint(), target.size().toSize());
    if (r.isEmpty()) return;
    if (image.cacheKey() != key_ || scaled_.size() != r.size()) {
        scaled_ = image.scaled(r.size(), Qt::IgnoreAspectRatio, Qt::SmoothTransformation);
        key_ = image.cacheKey();
    }
    p.drawImage(r.topLeft(), scaled_);
}

QColor detectionColor(int i) {
    // facebookresearch/detr notebook: COLORS = [[0.000, 0.447, 0.741], [0.850, 0.325, 0.098], ...]
    static const QColor palette[] = {QColor(0, 114, 189), QColor(217, 83, 25), QColor(237, 177, 32),
                                     QColor(126, 47, 142), QColor(119, 172, 48), QColor(77, 190, 238)};
    return palette[size_t(std::abs(i)) % std::size(palette)];
}

namespace {

// The tags' font: bold, a little smaller than the painter's.
QFontMetricsF setTagFont(QPainter& p) {
    QFont f = p.font();
    f.setPointSizeF(f.pointSizeF() * 0.9);
    f.setBold(true);
    p.setFont(f);
    return QFontMetricsF(f);
}

// A box's tag: white text on `bg` (opaque: no box line may cross a label) above the box's top-left corner,
// inside the box when there is no room above, kept within `clip` horizontally.
void paintTag(QPainter& p, const QFontMetricsF& fm, const QRectF& box, const QRectF& clip, const QString& text, const QColor& bg) {
    const QSizeF ts(fm.horizontalAdvance(text) + 8, fm.height() + 2);
    QPointF at(box.left(), box.top() - ts.height());
    if (at.y() < clip.top()) at.setY(box.top()); // no room above: inside the box
    at.setX(std::clamp(at.x(), clip.left(), std::max(clip.left(), clip.right() - ts.width())));
    const QRectF tag(at, ts);
    p.fillRect(tag, bg);
    p.setPen(Qt::white);
    p.drawText(tag, Qt::AlignCenter, text);
}

} // namespace

void paintDetectionBox(QPainter& p, const QRectF& box, const QString& tag, const QColor& colour, const QRectF& clip, bool dashed) {
    p.save();
    p.setClipRect(clip, Qt::IntersectClip);
    p.setRenderHint(QPainter::Antialiasing, true);
    p.setBrush(Qt::NoBrush);
    p.setPen(QPen(QColor(0, 0, 0, 160), 5));
    p.drawRect(box);
    p.setPen(QPen(colour, 3, dashed ? Qt::DashLine : Qt::SolidLine));
    p.drawRect(box);
    if (!tag.isEmpty()) paintTag(p, setTagFont(p), box, clip, tag, dashed ? QColor(0, 0, 0, 200) : colour);
    p.restore();
}

void paintDetections(QPainter& p, const std::vector<Detection>& dets, const QTransform& toTarget, int selectedQuery,
                     const QRectF& clip, bool tags) {
    p.save();
    p.setClipRect(clip, Qt::IntersectClip);
    p.setRenderHint(QPainter::Antialiasing, true);
    const QFontMetricsF fm = setTagFont(p);
    const bool anySelected = std::any_of(dets.begin(), dets.end(), [&](const Detection& d) { return d.query == selectedQuery; });
    // Selected last, so it lies on top.
    std::vector<size_t> order(dets.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_partition(order.begin(), order.end(), [&](size_t i) { return dets[i].query != selectedQuery; });
    auto boxOf = [&](const Detection& d) {
        return toTarget.mapRect(QRectF(QPointF(d.box_xyxy[0], d.box_xyxy[1]), QPointF(d.box_xyxy[2], d.box_xyxy[3])));
    };
    for (size_t i : order) { // boxes first, then every tag above all boxes
        const Detection& d = dets[i];
        const bool sel = d.query == selectedQuery;
        QColor c = detectionColor(int(i));
        if (anySelected && !sel) c.setAlpha(150);
        if (sel) {
            p.setPen(QPen(QColor(0, 0, 0, 160), 5));
            p.drawRect(boxOf(d));
        }
        p.setPen(QPen(c, sel ? 3 : 2));
        p.setBrush(Qt::NoBrush);
        p.drawRect(boxOf(d));
    }
    for (size_t i : order) {
        if (!tags) break;
        const Detection& d = dets[i];
        const bool sel = d.query == selectedQuery;
        const QString text = QString("%1 %2").arg(QString::fromStdString(d.label.empty() ? std::to_string(d.label_id) : d.label))
                                 .arg(double(d.score), 0, 'f', 2);
        QColor bg = detectionColor(int(i));
        if (anySelected && !sel) bg = bg.darker(125);
        paintTag(p, fm, boxOf(d), clip, text, bg);
    }
    p.restore();
}

int detectionAt(const std::vector<Detection>& dets, const QPointF& pt) {
    int best = -1;
    double bestArea = 0;
    for (size_t i = 0; i < dets.size(); ++i) {
        const auto& b = dets[i].box_xyxy;
        const QRectF r(QPointF(b[0], b[1]), QPointF(b[2], b[3]));
        const double area = r.width() * r.height();
        if (r.normalized().contains(pt) && (best < 0 || area < bestArea)) {
            best = int(i);
            bestArea = area;
        }
    }
    return best;
}

} // namespace attnscope::ui
