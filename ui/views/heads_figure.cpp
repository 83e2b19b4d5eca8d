#include "ui/views/heads_figure.h"

#include "ui/detr_state.h"
#include "ui/export.h"
#include "ui/views/analysis_paint.h"
#include "ui/views/map_paint.h"

#include <QFileInfo>
#include <QPainter>

#include <cmath>

namespace attnscope::ui {
namespace {
constexpr double kTitle = 26, kLabel = 16, kGap = 6, kMargin = 10, kBar = 78;
}

HeadsFigure::HeadsFigure(const Document* doc, bool allLayers, QWidget* parent)
    : QWidget(parent), doc_(doc), allLayers_(allLayers), basis_(doc->selection()) {
    setObjectName("headsFigure");
    setAttribute(Qt::WA_DontShowOnScreen);
    const AttentionMap* m = doc_->map(basis_.site, basis_.layer);
    heads_ = m ? m->n_heads : 0;
    if (allLayers_)
        for (int l = 0; l < doc_->layerCount(basis_.site); ++l) layers_.push_back(l);
    else if (m)
        layers_.push_back(basis_.layer);
    for (int l : layers_) {
        std::vector<QueryMap> row = doc_->headMaps(basis_, l);
        maps_.insert(maps_.end(), std::make_move_iterator(row.begin()), std::make_move_iterator(row.end()));
    }
    // Colours: one scale for a single layer, so its heads compare; each cell its own across layers.
    const DisplayOptions& d = doc_->display();
    const int alpha = int(std::lround(std::clamp(d.opacity, 0.3, 1.0) * 255));
    if (!maps_.empty()) {
        lo_ = hi_ = maps_[0].values().empty() ? 0.0f : maps_[0].values()[0];
        for (const QueryMap& q : maps_) {
            const auto [lo, hi] = valueRange(q.values().data(), q.values().size());
            lo_ = std::min(lo_, lo);
            hi_ = std::max(hi_, hi);
        }
    }
    for (const QueryMap& q : maps_) {
        const auto& v = q.values();
        auto [lo, hi] = valueRange(v.data(), v.size());
        if (!allLayers_) std::tie(lo, hi) = std::make_pair(lo_, hi_);
        images_.push_back(mapToImage(v, q.spatial() ? q.grid_w : int(v.size()), q.spatial() ? q.grid_h : 1, lo, hi,
                                     d.colormap, q.spatial() ? alpha : 255)); // small multiples: flat, a faded cell would read as empty
    }
    const QImage& img = doc_->qimage();
    thumb_ = img.width() > 800 ? img.scaledToWidth(800, Qt::SmoothTransformation) : img;
    thumbScale_ = img.isNull() ? 1.0 : double(thumb_.width()) / doc_->imageSize().width(); // per original pixel

    ensurePolished(); // the font the title is measured with
    // Size: cells of the seen region's aspect.
    const QRectF seen = doc_->seenInOriginal();
    const double aspect = seen.isEmpty() ? 1.0 : std::clamp(seen.height() / seen.width(), 0.25, 4.0);
    if (allLayers_) {
        cols_ = heads_;
        cellW_ = heads_ > 8 ? 84 : 110;
        left_ = 34;
    } else {
        const int rows = (heads_ + 5) / 6;
        cols_ = std::max(1, (heads_ + rows - 1) / std::max(1, rows));
        cellW_ = 200;
        left_ = kMargin;
    }
    cellH_ = cellW_ * aspect;
    const int rows = allLayers_ ? layers() : (heads_ + std::max(1, cols_) - 1) / std::max(1, cols_);
    title_ = maps_.empty() ? tr("No attention map for this selection")
             : allLayers_  ? tr("%1 attention of %2 · every layer × head · each map on its own scale")
                                .arg(siteTitle(basis_.site), doc_->tokenName(basis_.query))
                           : tr("%1 layer %2 attention of %3 · every head · one colour scale")
                                .arg(siteTitle(basis_.site)).arg(basis_.layer).arg(doc_->tokenName(basis_.query));
    QFont bold = font();
    bold.setBold(true);
    // Whole pixels with room to spare: a width rounded down by a fraction elided the title ("… sc…").
    const double titleW = std::ceil(QFontMetricsF(bold).horizontalAdvance(title_)) + 2 * kMargin + 8;
    resize(int(std::max(left_ + cols_ * (cellW_ + kGap) + kBar, titleW)), int(kTitle + rows * (kLabel + cellH_ + kGap) + kMargin));
}

QRectF HeadsFigure::cellRect(int li, int h) const {
    const int row = allLayers_ ? li : h / std::max(1, cols_);
    const int col = allLayers_ ? h : h % std::max(1, cols_);
    return {left_ + col * (cellW_ + kGap), kTitle + row * (kLabel + cellH_ + kGap) + kLabel, cellW_, cellH_};
}

QString HeadsFigure::caption() const {
    const QString model = doc_->model() ? QFileInfo(doc_->modelPath()).fileName() : tr("no model");
    const QString which = allLayers_ ? tr("layers 0–%1").arg(layers() - 1) : tr("layer %1").arg(basis_.layer);
    const QString token = doc_->tokenName(basis_.query); // DETR decoder tokens read "query 7 (…)" already
    return tr("%1 · %2 · %3 %4 · all %5 heads · %6")
        .arg(model, doc_->imageName().isEmpty() ? tr("no image") : doc_->imageName(), siteTitle(basis_.site), which)
        .arg(heads_)
        .arg(token.startsWith("query") ? token : tr("query %1").arg(token));
}

void HeadsFigure::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), Qt::white);
    const QColor text(20, 20, 20);
    p.setPen(text);
    QFont bold = font();
    bold.setBold(true);
    p.setFont(bold);
    p.drawText(QRectF(kMargin, 0, width() - 2 * kMargin, kTitle), Qt::AlignVCenter | Qt::AlignLeft,
               QFontMetricsF(bold).elidedText(title_, Qt::ElideRight, width() - 2 * kMargin));
    QFont small = font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    p.setFont(small);
    const QRectF seen = doc_->seenInOriginal(), grid = doc_->gridInOriginal();
    for (int li = 0; li < layers(); ++li) {
        if (allLayers_) {
            const QRectF c = cellRect(li, 0);
            p.drawText(QRectF(0, c.top(), left_ - 4, c.height()), Qt::AlignRight | Qt::AlignVCenter, tr("L%1").arg(layers_[size_t(li)]));
        }
        for (int h = 0; h < heads_; ++h) {
            const QRectF c = cellRect(li, h);
            if (!allLayers_ || li == 0)
                p.drawText(QRectF(c.left(), c.top() - kLabel, c.width(), kLabel), Qt::AlignHCenter | Qt::AlignBottom,
                           allLayers_ ? tr("H%1").arg(h) : tr("head %1").arg(h));
            const QueryMap& q = cell(li, h);
            const QImage& im = images_[size_t(li * heads_ + h)];
            if (!q.grid.empty()) {
                paintMapCell(p, c, thumb_, thumbScale_, seen, grid, im, doc_->display().smooth);
                paintQueryMark(p, c, seen, grid, q);
            } else { // keys that are not image patches: the row as a strip
                p.drawImage(c, im);
            }
            p.setPen(QPen(QColor(120, 120, 120), 1));
            p.setBrush(Qt::NoBrush);
            p.drawRect(c);
            p.setPen(text);
        }
    }
    if (maps_.empty()) return;
    const QRectF first = cellRect(0, 0);
    const QRectF last = cellRect(layers() - 1, heads_ - 1);
    const double right = left_ + cols_ * (cellW_ + kGap);
    const QRectF bar(right + 16, first.top(), 12, std::max(40.0, std::max(first.bottom(), last.bottom()) - first.top()));
    paintColourBar(p, bar, doc_->display().colormap, lo_, hi_, tr("attention"), text, allLayers_ ? 0 : -1);
}

// Where the query is: its patch / feature cell (encoder), or its box (DETR decoder).
void HeadsFigure::paintQueryMark(QPainter& p, const QRectF& c, const QRectF& seen, const QRectF& grid, const QueryMap& q) const {
    const RunResult* r = doc_->result();
    const QTransform toCell = originalToTarget(seen, c);
    p.save();
    p.setClipRect(c);
    p.setRenderHint(QPainter::Antialiasing, true);
    p.setBrush(Qt::NoBrush);
    const AttentionMap* m = doc_->map(basis_.site, basis_.layer);
    const int start = m ? analysis::query_grid_start(*m, r->layout) : -1;
    const int cell = basis_.query - start;
    const int detection = doc_->detr()->queryOfRow(basis_.site, basis_.query); // DETR object query, YOLOS detection token
    if (!isDecoderSite(basis_.site) && start >= 0 && cell >= 0 && q.grid_w > 0 && cell < q.grid_w * q.grid_h) {
        const double cw = grid.width() / q.grid_w, ch = grid.height() / q.grid_h;
        const QRectF mark = toCell.mapRect(QRectF(grid.x() + (cell % q.grid_w) * cw, grid.y() + (cell / q.grid_w) * ch, cw, ch));
        p.setPen(QPen(Qt::black, 2.5));
        p.drawRect(mark);
        p.setPen(QPen(Qt::white, 1.2));
        p.drawRect(mark);
    } else if (detection >= 0 && doc_->detr()->active()) {
        const DetrState& detr = *doc_->detr();
        const auto& all = detr.allQueries();
        if (detection < int(all.size())) {
            const auto& b = all[size_t(detection)].box_xyxy;
            const int d = detr.detectionOfQuery(detection);
            p.setPen(QPen(d >= 0 ? detectionColor(d) : QColor(Qt::white), 1.5, d >= 0 ? Qt::SolidLine : Qt::DashLine));
            p.drawRect(toCell.mapRect(QRectF(QPointF(b[0], b[1]), QPointF(b[2], b[3]))));
        }
    }
    p.restore();
}

QString exportHeadsFigure(const Document& doc, bool allLayers, const QString& path) {
    if (!doc.result()) return QObject::tr("%1: nothing to export (no result yet)").arg(path);
    HeadsFigure figure(&doc, allLayers);
    figure.ensurePolished();
    return exportView(&figure, figure.caption(), path);
}

} // namespace attnscope::ui
