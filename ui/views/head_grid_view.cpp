#include "ui/views/head_grid_view.h"

#include "ui/interventions_bar.h"
#include "ui/views/analysis_paint.h"

#include <QContextMenuEvent>
#include <QKeyEvent>
#include <QMenu>
#include <QMouseEvent>
#include <QPainter>
#include <QVBoxLayout>

#include <algorithm>

namespace attnscope::ui {
namespace {
constexpr int kLeft = 34, kTop = 22, kRight = 64, kBottom = 8, kGap = 3;
}

HeadGridCanvas::HeadGridCanvas(Document* doc, QWidget* parent) : QWidget(parent), doc_(doc) {
    setObjectName("headGridCanvas");
    setFocusPolicy(Qt::StrongFocus);
    setMinimumSize(240, 200);
    setToolTip(tr("Each cell: one layer (row) and head (column), query as selected, scaled to its own range. "
                  "Click to select · right-click to switch a head off or on · ←/→ head · ↑/↓ layer"));
    connect(doc_, &Document::resultChanged, this, &HeadGridCanvas::rebuild);
    connect(doc_, &Document::interventionsChanged, this, qOverload<>(&QWidget::update)); // the crosses
    connect(doc_, &Document::selectionChanged, this, [this] {
        const Selection& s = doc_->selection();
        if (s.site != basis_.site || s.query != basis_.query) rebuild();
        else update();
    });
    connect(doc_, &Document::displayChanged, this, &HeadGridCanvas::recolour);
}

void HeadGridCanvas::rebuild() {
    basis_ = doc_->selection();
    maps_.clear();
    layers_ = doc_->layerCount(basis_.site);
    const AttentionMap* m0 = doc_->map(basis_.site, 0);
    heads_ = m0 ? m0->n_heads : 0;
    for (int l = 0; l < layers_; ++l) {
        std::vector<QueryMap> row = doc_->headMaps(basis_, l);
        maps_.insert(maps_.end(), std::make_move_iterator(row.begin()), std::make_move_iterator(row.end()));
    }
    // Cells keep the map's own aspect (DETR's feature grid is rarely square; a ViT's usually is).
    aspect_ = 1.0;
    if (!maps_.empty() && !maps_[0].grid.empty() && maps_[0].grid_h > 0)
        aspect_ = std::clamp(double(maps_[0].grid_w) / maps_[0].grid_h, 0.2, 5.0);
    recolour();
}

void HeadGridCanvas::recolour() {
    thumbs_.clear();
    for (const QueryMap& q : maps_) {
        const auto& v = q.values();
        const auto [lo, hi] = valueRange(v.data(), v.size());
        thumbs_.push_back(mapToImage(v, q.spatial() ? q.grid_w : int(v.size()), q.spatial() ? q.grid_h : 1, lo, hi,
                                     doc_->display().colormap));
    }
    update();
}

QRectF HeadGridCanvas::cellRect(int layer, int head) const {
    if (layers_ == 0 || heads_ == 0) return {};
    const double cw = (width() - kLeft - kRight) / double(heads_);
    const double ch = (height() - kTop - kBottom) / double(layers_);
    const double w = std::max(4.0, std::min(cw, ch * aspect_));
    const double h = std::max(4.0, w / aspect_);
    return {kLeft + head * w + kGap / 2.0, kTop + layer * h + kGap / 2.0, w - kGap, h - kGap};
}

QRect HeadGridCanvas::figureRect() const {
    if (thumbs_.empty()) return rect();
    const QRectF last = cellRect(layers_ - 1, heads_ - 1);
    return QRectF(QPointF(0, 0), QPointF(last.right() + kRight, last.bottom() + kBottom + kGap)).toAlignedRect();
}

QSize HeadGridCanvas::figureSize() const {
    if (layers_ == 0 || heads_ == 0) return {};
    const double w = 72, h = w / aspect_;
    return {int(kLeft + heads_ * w + kRight), int(kTop + layers_ * h + kBottom)};
}

void HeadGridCanvas::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), palette().window());
    if (thumbs_.empty()) {
        p.setPen(palette().color(QPalette::PlaceholderText));
        p.drawText(rect(), Qt::AlignCenter, tr("No result yet"));
        return;
    }
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);
    const Selection& sel = doc_->selection();
    QFont f = p.font();
    f.setPointSizeF(f.pointSizeF() * 0.85);
    p.setFont(f);
    p.setPen(palette().color(QPalette::Text));
    for (int l = 0; l < layers_; ++l) {
        const QRectF r = cellRect(l, 0);
        p.drawText(QRectF(0, r.top(), kLeft - 4, r.height()), Qt::AlignRight | Qt::AlignVCenter, QString("L%1").arg(l));
    }
    const bool dense = heads_ > 8 && cellRect(0, 0).width() < 28;
    for (int h = 0; h < heads_; ++h) {
        if (dense && h % 2) continue;
        const QRectF r = cellRect(0, h);
        p.drawText(QRectF(r.left() - 6, 0, r.width() + 12, kTop - 2), Qt::AlignHCenter | Qt::AlignBottom, QString("H%1").arg(h));
    }
    for (int l = 0; l < layers_; ++l)
        for (int h = 0; h < heads_; ++h) p.drawImage(cellRect(l, h), thumbs_[size_t(l * heads_ + h)]);
    paintAblated(p);
    // Selection: the cell, or the whole row when heads are fused.
    QRectF selRect = cellRect(sel.layer, std::max(0, sel.heads.head));
    if (sel.heads.fused()) selRect = cellRect(sel.layer, 0).united(cellRect(sel.layer, heads_ - 1));
    p.setPen(QPen(palette().color(QPalette::Highlight), 3));
    p.drawRect(selRect.adjusted(-2, -2, 2, 2));
    // Colour bar: each cell is scaled to its own range.
    const QRectF last = cellRect(layers_ - 1, heads_ - 1);
    const QRectF bar(last.right() + 14, kTop, 14, std::max(30.0, last.bottom() - kTop));
    paintColourBar(p, bar, doc_->display().colormap, 0, 1, QString(), palette().color(QPalette::Text), 0);
}

void HeadGridCanvas::mousePressEvent(QMouseEvent* e) {
    setFocus();
    for (int l = 0; l < layers_; ++l)
        for (int h = 0; h < heads_; ++h)
            if (cellRect(l, h).adjusted(-1.5, -1.5, 1.5, 1.5).contains(e->position())) {
                Selection s = doc_->selection();
                s.layer = l;
                s.heads = {h};
                doc_->setSelection(s);
                return;
            }
}

void HeadGridCanvas::paintAblated(QPainter& p) {
    const Interventions& iv = doc_->interventions();
    p.save();
    p.setRenderHint(QPainter::Antialiasing, true);
    for (const HeadRef& h : iv.ablated) {
        if (h.site != basis_.site || h.layer >= layers_ || h.head >= heads_) continue;
        const QRectF r = cellRect(h.layer, h.head);
        p.fillRect(r, QColor(255, 255, 255, 150));
        p.setPen(QPen(QColor(200, 30, 30), 2.5));
        p.drawLine(r.topLeft() + QPointF(3, 3), r.bottomRight() - QPointF(3, 3));
        p.drawLine(r.topRight() + QPointF(-3, 3), r.bottomLeft() + QPointF(3, -3));
    }
    p.restore();
}

void HeadGridCanvas::contextMenuEvent(QContextMenuEvent* e) {
    if (!doc_->result()) return;
    for (int l = 0; l < layers_; ++l)
        for (int h = 0; h < heads_; ++h) {
            if (!cellRect(l, h).adjusted(-1.5, -1.5, 1.5, 1.5).contains(e->pos())) continue;
            const HeadRef head{basis_.site, l, h};
            const bool off = doc_->interventions().is_ablated(head);
            QMenu menu(this);
            menu.setObjectName("headMenu");
            QAction* toggle = menu.addAction(off ? tr("Restore layer %1 head %2").arg(l).arg(h)
                                                 : tr("Switch off layer %1 head %2 (ablate)").arg(l).arg(h));
            toggle->setObjectName("actionToggleHead");
            QAction* all = menu.addAction(tr("Restore every head"));
            all->setObjectName("actionRestoreAllHeads");
            all->setEnabled(!doc_->interventions().ablated.empty());
            connect(toggle, &QAction::triggered, this, [this, head, off] { InterventionsBar::setHeadAblated(doc_, head, !off); });
            connect(all, &QAction::triggered, this, [this] {
                Interventions iv = doc_->interventions();
                iv.ablated.clear();
                doc_->setInterventions(iv);
            });
            menu.exec(e->globalPos());
            return;
        }
}

void HeadGridCanvas::keyPressEvent(QKeyEvent* e) {
    if (!navigateSelection(doc_, e->key())) QWidget::keyPressEvent(e);
}

HeadGridView::HeadGridView(Document* doc, QWidget* parent) : View(doc, parent) {
    setObjectName("modelView");
    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(0, 0, 0, 0);
    canvas_ = new HeadGridCanvas(doc, this);
    lay->addWidget(canvas_);
}

std::vector<float> HeadGridView::shownValues() const { // [layers, heads, n_k]
    std::vector<float> out;
    for (int l = 0; l < canvas_->layers(); ++l)
        for (int h = 0; h < canvas_->heads(); ++h) {
            const auto& r = canvas_->cell(l, h).row;
            out.insert(out.end(), r.begin(), r.end());
        }
    return out;
}

std::vector<int64_t> HeadGridView::shownShape() const {
    const int64_t nk = canvas_->layers() ? int64_t(canvas_->cell(0, 0).row.size()) : 0;
    return {canvas_->layers(), canvas_->heads(), nk};
}

} // namespace attnscope::ui
