#include "ui/views/overlay_view.h"

#include "ui/detr_state.h"
#include "ui/interventions_bar.h"
#include "ui/views/analysis_paint.h"
#include "ui/views/map_paint.h"

#include <QAction>
#include <QContextMenuEvent>
#include <QKeyEvent>
#include <QMenu>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QToolBar>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace attnscope::ui {
namespace {
constexpr int kBarArea = 84;     // right margin for the colour bar
constexpr int kReadoutArea = 24; // bottom line for the hover read-out
} // namespace

OverlayCanvas::OverlayCanvas(Document* doc, QWidget* parent) : QWidget(parent), doc_(doc) {
    setObjectName("overlayCanvas");
    setMouseTracking(true);
    setFocusPolicy(Qt::StrongFocus);
    setMinimumSize(320, 240);
    setToolTip(tr("Click a patch to make it the query (DETR decoder: click a box) · ←/→ head · ↑/↓ layer"));
    for (auto sig : {&Document::resultChanged, &Document::selectionChanged, &Document::displayChanged, &Document::imageChanged})
        connect(doc_, sig, this, &OverlayCanvas::refresh);
    connect(doc_, &Document::runStateChanged, this, qOverload<>(&QWidget::update)); // the "Running…" line
    connect(doc_->detr(), &DetrState::detectionsChanged, this, &OverlayCanvas::refresh);
}

void OverlayCanvas::refresh() {
    shown_ = doc_->currentQueryMap();
    mapImage_ = {};
    if (!shown_.grid.empty()) {
        std::tie(lo_, hi_) = valueRange(shown_.grid.data(), shown_.grid.size());
        const int alpha = int(std::lround(doc_->display().opacity * 255));
        mapImage_ = mapToImage(shown_.grid, shown_.grid_w, shown_.grid_h, lo_, hi_, doc_->display().colormap, alpha,
                               doc_->display().fade);
    }
    updateReadout();
    update();
}

QRectF OverlayCanvas::imageRect() const {
    const QImage& img = doc_->qimage();
    if (img.isNull()) return {};
    const QRectF area(8, 8, width() - kBarArea - 16, height() - kReadoutArea - 16);
    const double s = std::min(area.width() / img.width(), area.height() / img.height());
    const QSizeF sz(img.width() * s, img.height() * s);
    return {area.center() - QPointF(sz.width() / 2, sz.height() / 2), sz};
}

QRectF OverlayCanvas::barRect(const QRectF& img) const {
    const double x = std::min(width() - kBarArea + 6.0, img.right() + 26); // room for its label on the left
    return {x, img.top() + 6, 18, std::max(40.0, img.height() - 12)};
}

QRect OverlayCanvas::figureRect() const {
    const QRectF img = imageRect();
    if (img.isEmpty()) return rect();
    const QRectF bar = barRect(img);
    return QRectF(QPointF(img.left() - 8, img.top() - 8), QPointF(bar.left() + kBarArea - 6, img.bottom() + 8)).toAlignedRect();
}

QRectF OverlayCanvas::gridRect() const {
    const QRectF img = imageRect();
    if (!doc_->result() || img.isEmpty()) return {};
    const QRectF g = doc_->gridInOriginal();
    const double s = img.width() / doc_->image().width; // original pixels → widget (the shown image may be downscaled)
    return {img.x() + g.x() * s, img.y() + g.y() * s, g.width() * s, g.height() * s};
}

QPoint OverlayCanvas::patchAt(QPointF pos) const {
    const QRectF g = gridRect();
    if (shown_.grid.empty() || !g.contains(pos) || !imageRect().contains(pos)) return {-1, -1}; // DETR's grid overhangs
    const int c = std::min(int((pos.x() - g.x()) / g.width() * shown_.grid_w), shown_.grid_w - 1);
    const int r = std::min(int((pos.y() - g.y()) / g.height() * shown_.grid_h), shown_.grid_h - 1);
    return {c, r};
}

void OverlayCanvas::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), palette().window());
    if (doc_->qimage().isNull()) return paintEmptyState(p);
    const QRectF img = imageRect();
    photo_.paint(p, img, doc_->qimage());
    const QRectF g = gridRect();
    if (!mapImage_.isNull() && !g.isEmpty()) {
        // Dim what the model never saw (outside the centre crop), then the map over the patch grid.
        QPainterPath outside;
        outside.addRect(img);
        QPainterPath inside;
        inside.addRect(g);
        p.fillPath(outside.subtracted(inside), QColor(0, 0, 0, 110));
        p.setRenderHint(QPainter::SmoothPixmapTransform, doc_->display().smooth);
        p.save();
        p.setClipRect(img); // a DETR feature grid (cells of one stride) overhangs the image by less than a cell
        p.drawImage(g, mapImage_);
        const double cw = g.width() / shown_.grid_w, ch = g.height() / shown_.grid_h;
        if (doc_->display().grid) {
            p.setPen(QPen(QColor(255, 255, 255, 90), 0));
            for (int c = 1; c < shown_.grid_w; ++c) p.drawLine(QPointF(g.x() + c * cw, g.top()), QPointF(g.x() + c * cw, g.bottom()));
            for (int r = 1; r < shown_.grid_h; ++r) p.drawLine(QPointF(g.left(), g.y() + r * ch), QPointF(g.right(), g.y() + r * ch));
        }
        p.restore();
        brush_.paint(p, g); // masked patches: hatched and dimmed
        if (doc_->detr()->isDetectionRow(doc_->selection()) && doc_->detr()->active()) // the detections; the query's box stands out
            paintDetections(p, doc_->detr()->detections(), originalToTarget(QRectF(QPointF(0, 0), doc_->imageSize()), img),
                            doc_->detr()->queryOfRow(doc_->selection().site, doc_->selection().query), img);
        const AttentionMap* m = doc_->currentMap();
        const int start = m ? analysis::query_grid_start(*m, doc_->result()->layout) : -1;
        const int qp = doc_->selection().query - start;
        if (start >= 0 && qp >= 0 && qp < shown_.grid_w * shown_.grid_h) {
            const QRectF cell(g.x() + (qp % shown_.grid_w) * cw, g.y() + (qp / shown_.grid_w) * ch, cw, ch);
            p.setPen(QPen(Qt::black, 3));
            p.drawRect(cell);
            p.setPen(QPen(Qt::white, 1.5));
            p.drawRect(cell);
        }
        if (hover_.x() >= 0 && !exporting_) {
            p.setPen(QPen(QColor(255, 255, 255, 200), 1, Qt::DashLine));
            p.drawRect(QRectF(g.x() + hover_.x() * cw, g.y() + hover_.y() * ch, cw, ch));
        }
        paintColorBar(p, barRect(img));
    } else if (doc_->detr()->active() && doc_->selection().site == Site::DecoderSelf && !shown_.row.empty()) {
        paintQueryKeys(p, img);
    } else if (doc_->result()) {
        p.setPen(palette().color(QPalette::Text));
        p.drawText(QRectF(0, img.bottom() + 2, width(), kReadoutArea), Qt::AlignCenter,
                   tr("This map's keys are not image patches: see the attention matrix."));
    }
    if (mapImage_.isNull() && !g.isEmpty()) brush_.paint(p, g);
    if (brush_.active() && !exporting_ && !g.isEmpty()) { // the brush's frame: the grid that can be masked
        p.setPen(QPen(QColor(255, 170, 0), 2, Qt::DashLine));
        p.drawRect(g.intersected(img));
    }
    p.setPen(palette().color(QPalette::Text));
    p.drawText(QRectF(8, height() - kReadoutArea, width() - 16, kReadoutArea), Qt::AlignVCenter | Qt::AlignLeft, statusLine());
}

QString OverlayCanvas::statusLine() const {
    if (brush_.active())
        return tr("Mask brush: drag to mask patches (set to 0 in the normalised input) · from a masked one: erase · "
                  "%1 masked · Esc: done").arg(brush_.shownMasked().size());
    if (!readout_.isEmpty()) return readout_;
    if (!doc_->result()) return doc_->waitingText(); // "Running…", "Cancelled", the error, what to open
    if (doc_->selection().site == Site::Pool) // one query: the learned probe whose attention pools the tokens
        return tr("the pooling probe's attention: what the image embedding is made of");
    const QString token = doc_->tokenName(doc_->selection().query); // DETR decoder: "query 7 (…)" already
    const QString query = token.startsWith("query") ? token : tr("query %1").arg(token);
    return doc_->detr()->isDetectionRow(doc_->selection()) && doc_->detr()->active() ? tr("%1 — click a box to change it").arg(query)
                                                                           : tr("%1 — click a patch to change it").arg(query);
}

// DETR decoder self-attention: the keys are the other object queries, so each detection's box is drawn
// in the colour of the attention the selected query gives it.
void OverlayCanvas::paintQueryKeys(QPainter& p, const QRectF& img) {
    const auto& dets = doc_->detr()->detections();
    std::tie(lo_, hi_) = valueRange(shown_.row.data(), shown_.row.size());
    const auto& lut = colormapLut(doc_->display().colormap);
    const QTransform toWidget = originalToTarget(QRectF(QPointF(0, 0), doc_->imageSize()), img);
    const int q = doc_->selection().query;
    p.save();
    p.setClipRect(img);
    p.setRenderHint(QPainter::Antialiasing, true);
    std::vector<const Detection*> order; // weakest first, so the strongest lies on top
    for (const Detection& d : dets) order.push_back(&d);
    std::stable_sort(order.begin(), order.end(), [this](const Detection* a, const Detection* b) {
        return shown_.row[size_t(a->query)] < shown_.row[size_t(b->query)];
    });
    for (const Detection* dp : order) {
        const Detection& d = *dp;
        const float v = shown_.row[size_t(d.query)];
        const int i = hi_ > lo_ ? analysis::colormap_index(v, lo_, hi_) : 255;
        const QRectF box = toWidget.mapRect(QRectF(QPointF(d.box_xyxy[0], d.box_xyxy[1]), QPointF(d.box_xyxy[2], d.box_xyxy[3])));
        p.setPen(QPen(QColor(0, 0, 0, 150), d.query == q ? 7 : 5));
        p.drawRect(box);
        p.setPen(QPen(QColor(lut[size_t(i)]), d.query == q ? 4 : 3, d.query == q ? Qt::DashLine : Qt::SolidLine));
        p.drawRect(box);
        const QString tag = QString("%1 %2").arg(QString::fromStdString(d.label)).arg(double(v), 0, 'g', 3);
        const QRectF t(box.topLeft(), QSizeF(p.fontMetrics().horizontalAdvance(tag) + 8, p.fontMetrics().height() + 2));
        p.fillRect(t, QColor(0, 0, 0, 170));
        p.setPen(Qt::white);
        p.drawText(t, Qt::AlignCenter, tag);
    }
    p.restore();
    paintColorBar(p, barRect(img));
    p.setPen(palette().color(QPalette::Text));
    p.drawText(QRectF(0, img.bottom() + 2, width(), kReadoutArea), Qt::AlignCenter,
               dets.empty() ? tr("Decoder self-attention: the keys are object queries; no detection above the threshold to show.")
                            : tr("Decoder self-attention of %1 to each detection (dashed: the query itself)").arg(doc_->tokenName(q)));
}

void OverlayCanvas::paintColorBar(QPainter& p, const QRectF& r) {
    paintColourBar(p, r, doc_->display().colormap, lo_, hi_, tr("attention"), palette().color(QPalette::Text), 5);
}

void OverlayCanvas::paintEmptyState(QPainter& p) {
    p.setPen(palette().color(QPalette::PlaceholderText));
    QFont f = p.font();
    f.setPointSizeF(f.pointSizeF() * 1.2);
    p.setFont(f);
    const QString text = doc_->model() ? tr("Model %1 loaded.\nOpen an image (Ctrl+O), paste one (Ctrl+V) or drop it here.")
                                             .arg(QString::fromStdString(doc_->model()->info().architecture))
                                       : tr("Open a model (Ctrl+M) and an image (Ctrl+O), or drop them here.");
    p.drawText(rect().adjusted(20, 20, -20, -20), Qt::AlignCenter | Qt::TextWordWrap, text);
}

void OverlayCanvas::mouseMoveEvent(QMouseEvent* e) {
    if (brush_.dragging()) {
        if (brush_.move(brush_.cellAt(e->position(), gridRect()))) update();
        return;
    }
    hoverPos_ = e->position();
    if (updateReadout()) update();
}

// The read-out of the cell under the pointer, from the map shown NOW: recomputed on every move and on
// every change of selection / result, so a still mouse never reads out a previous layer's value.
bool OverlayCanvas::updateReadout() {
    const QPoint cell = hoverPos_.x() >= 0 ? patchAt(hoverPos_) : QPoint(-1, -1);
    QString text;
    const AttentionMap* m = doc_->currentMap();
    if (cell.x() >= 0 && m && doc_->result()) {
        const int patch = cell.y() * shown_.grid_w + cell.x();
        const int token = patch + analysis::key_grid_start(*m, doc_->result()->layout);
        text = tr("token %1 · row %2, col %3 · attention %4")
                   .arg(token).arg(cell.y()).arg(cell.x()).arg(double(shown_.grid[size_t(patch)]), 0, 'g', 4);
    }
    if (cell == hover_ && text == readout_) return false;
    hover_ = cell;
    readout_ = text;
    emit hovered(readout_);
    return true;
}

void OverlayCanvas::mousePressEvent(QMouseEvent* e) {
    setFocus();
    if (brush_.active()) {
        if (e->button() == Qt::LeftButton && brush_.press(brush_.cellAt(e->position(), gridRect()))) update();
        return;
    }
    const QPoint cell = patchAt(e->position());
    const RunResult* r = doc_->result();
    const AttentionMap* m = doc_->currentMap();
    if (e->button() == Qt::LeftButton && m && doc_->detr()->isDetectionRow(doc_->selection()) && doc_->detr()->active()) {
        // DETR decoder / YOLOS detection token: the query is a detection; a click on a box picks that detection.
        const QRectF img = imageRect();
        const QPointF o = originalToTarget(QRectF(QPointF(0, 0), doc_->imageSize()), img).inverted().map(e->position());
        const DetrState& detr = *doc_->detr();
        const int d = img.contains(e->position()) ? detectionAt(detr.detections(), o) : -1;
        if (d >= 0) doc_->detr()->setQueryFor(Site::DecoderCross, detr.detections()[size_t(d)].query);
        return;
    }
    const int start = m ? analysis::query_grid_start(*m, r->layout) : -1;
    if (e->button() != Qt::LeftButton || cell.x() < 0 || start < 0) return;
    Selection s = doc_->selection();
    s.query = start + cell.y() * shown_.grid_w + cell.x();
    doc_->setSelection(s);
}

void OverlayCanvas::mouseReleaseEvent(QMouseEvent* e) {
    if (e->button() == Qt::LeftButton && brush_.dragging()) {
        brush_.release(); // one change of the interventions: one undo step, one rerun
        update();
    }
}

void OverlayCanvas::setBrushActive(bool on) {
    if (on == brush_.active()) return;
    brush_.setActive(on);
    setCursor(on ? Qt::CrossCursor : Qt::ArrowCursor);
    update();
    emit brushActiveChanged(on);
}

bool OverlayCanvas::event(QEvent* e) {
    if (e->type() == QEvent::ShortcutOverride && brush_.active() && static_cast<QKeyEvent*>(e)->key() == Qt::Key_Escape) {
        e->accept(); // ours, not the window's Cancel
        return true;
    }
    return QWidget::event(e);
}

void OverlayCanvas::contextMenuEvent(QContextMenuEvent* e) {
    const Selection& s = doc_->selection();
    const AttentionMap* m = doc_->currentMap();
    if (!doc_->result() || !m || s.site == Site::Pool) return;
    QMenu menu(this);
    menu.setObjectName("overlayHeadMenu");
    if (!s.heads.fused()) InterventionsBar::addHeadActions(&menu, doc_, {s.site, s.layer, s.heads.head}); // the head shown
    QMenu* list = menu.addMenu(tr("Heads of layer %1").arg(s.layer));
    list->setObjectName("overlayHeadList");
    for (int h = 0; h < m->n_heads; ++h) { // checked: switched off
        const HeadRef head{s.site, s.layer, h};
        QAction* a = list->addAction(tr("Head %1 switched off").arg(h));
        a->setObjectName(QString("actionOverlayHead%1").arg(h));
        a->setCheckable(true);
        a->setChecked(doc_->interventions().is_ablated(head));
        connect(a, &QAction::toggled, this, [this, head](bool off) { InterventionsBar::setHeadAblated(doc_, head, off); });
    }
    menu.exec(e->globalPos());
}

void OverlayCanvas::leaveEvent(QEvent*) {
    hoverPos_ = {-1, -1};
    hover_ = {-1, -1};
    readout_.clear();
    update();
}

void OverlayCanvas::keyPressEvent(QKeyEvent* e) {
    if (e->key() == Qt::Key_Escape && brush_.active()) {
        brush_.cancelStroke();
        return setBrushActive(false);
    }
    if (!navigateSelection(doc_, e->key())) QWidget::keyPressEvent(e);
}

OverlayView::OverlayView(Document* doc, QWidget* parent) : View(doc, parent) {
    setObjectName("overlayView");
    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(0, 0, 0, 0);
    lay->setSpacing(0);
    auto* bar = new QToolBar(this);
    bar->setObjectName("overlayBar");
    brushAction_ = bar->addAction(tr("Mask brush"));
    brushAction_->setObjectName("actionMaskBrush");
    brushAction_->setCheckable(true);
    brushAction_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_B));
    brushAction_->setToolTip(tr("Mask brush (Ctrl+B): drag over the image to mask patches — masked patches are set to 0 in the "
                                "normalised input (the dataset-mean colour; the tokens stay), drawn hatched. Start a drag on a "
                                "masked patch to erase. Each stroke reruns the model; Ctrl+Z undoes it; Esc leaves the mode."));
    lay->addWidget(bar);
    canvas_ = new OverlayCanvas(doc, this);
    lay->addWidget(canvas_, 1);
    connect(brushAction_, &QAction::toggled, canvas_, &OverlayCanvas::setBrushActive);
    connect(canvas_, &OverlayCanvas::brushActiveChanged, brushAction_, &QAction::setChecked);
    connect(doc, &Document::interventionsChanged, canvas_, qOverload<>(&QWidget::update));
    auto enable = [this] { brushAction_->setEnabled(!canvas_->brush().grid().isEmpty()); };
    connect(doc, &Document::resultChanged, this, enable);
    connect(doc, &Document::modelChanged, this, enable);
    enable();
}

std::vector<float> OverlayView::shownValues() const { return canvas_->shown().grid; }
std::vector<int64_t> OverlayView::shownShape() const {
    return {canvas_->shown().grid_h, canvas_->shown().grid_w};
}

} // namespace attnscope::ui
