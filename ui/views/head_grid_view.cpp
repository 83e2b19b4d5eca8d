#include "ui/views/head_grid_view.h"

#include "ui/interventions_bar.h"
#include "ui/views/analysis_paint.h"
#include "ui/views/importance_mode.h"

#include <QAction>
#include <QComboBox>
#include <QContextMenuEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QKeyEvent>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QMouseEvent>
#include <QPainter>
#include <QProgressBar>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>

namespace attnscope::ui {
namespace {
constexpr int kLeft = 34, kTop = 22, kRight = 64, kBottom = 8, kGap = 3;
}

HeadGridCanvas::HeadGridCanvas(Document* doc, QWidget* parent) : QWidget(parent), doc_(doc) {
    setObjectName("headGridCanvas");
    setFocusPolicy(Qt::StrongFocus);
    setMouseTracking(true);
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
    const QRectF last = cellRect(layers_ - 1, heads_ - 1);
    const QRectF bar(last.right() + 14, kTop, 14, std::max(30.0, last.bottom() - kTop));
    if (showsImportance()) {
        paintImportance(p, *importance_, [this](int l, int h) { return cellRect(l, h); }, bar, palette().color(QPalette::Text));
    } else {
        for (int l = 0; l < layers_; ++l)
            for (int h = 0; h < heads_; ++h) p.drawImage(cellRect(l, h), thumbs_[size_t(l * heads_ + h)]);
    }
    paintAblated(p);
    // Selection: the cell, or the whole row when heads are fused.
    QRectF selRect = cellRect(sel.layer, std::max(0, sel.heads.head));
    if (sel.heads.fused()) selRect = cellRect(sel.layer, 0).united(cellRect(sel.layer, heads_ - 1));
    p.setPen(QPen(palette().color(QPalette::Highlight), 3));
    p.drawRect(selRect.adjusted(-2, -2, 2, 2));
    // Colour bar: each cell is scaled to its own range.
    if (!showsImportance()) paintColourBar(p, bar, doc_->display().colormap, 0, 1, QString(), palette().color(QPalette::Text), 0);
}

bool HeadGridCanvas::showsImportance() const {
    const analysis::HeadImportance* imp = importance_ && importance_->enabled() ? importance_->current() : nullptr;
    return imp && imp->n_layers == layers_ && imp->n_heads == heads_ && imp->site == basis_.site;
}

QPoint HeadGridCanvas::cellAt(QPointF pos) const {
    for (int l = 0; l < layers_; ++l)
        for (int h = 0; h < heads_; ++h)
            if (cellRect(l, h).adjusted(-1.5, -1.5, 1.5, 1.5).contains(pos)) return {l, h};
    return {-1, -1};
}

void HeadGridCanvas::mousePressEvent(QMouseEvent* e) {
    setFocus();
    const QPoint c = cellAt(e->position());
    if (c.x() < 0 || e->button() != Qt::LeftButton) return;
    Selection s = doc_->selection();
    s.layer = c.x();
    s.heads = {c.y()};
    doc_->setSelection(s);
}

// The hover read-out: the cell's importance (both metrics) in importance mode, else its layer and head.
void HeadGridCanvas::setHover(QPointF pos) {
    hoverPos_ = pos;
    const QPoint c = pos.x() >= 0 ? cellAt(pos) : QPoint(-1, -1);
    QString text;
    if (c.x() >= 0 && showsImportance()) {
        const analysis::HeadImportance& imp = *importance_->current();
        text = tr("L%1 H%2: Δ logit %3 · Δ probability %4 of %5").arg(c.x()).arg(c.y())
                   .arg(imp.logit_at(c.x(), c.y()), 0, 'f', 4).arg(imp.prob_at(c.x(), c.y()), 0, 'f', 4).arg(importance_->targetName());
    } else if (c.x() >= 0) {
        text = tr("L%1 H%2").arg(c.x()).arg(c.y());
    }
    if (text == hoverText_) return;
    hoverText_ = text;
    emit hovered(text);
}

void HeadGridCanvas::mouseMoveEvent(QMouseEvent* e) { setHover(e->position()); }

void HeadGridCanvas::leaveEvent(QEvent*) { setHover({-1, -1}); }

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
    const QPoint c = cellAt(e->pos());
    if (!doc_->result() || c.x() < 0) return;
    QMenu menu(this);
    menu.setObjectName("headMenu");
    InterventionsBar::addHeadActions(&menu, doc_, {basis_.site, c.x(), c.y()});
    menu.exec(e->globalPos());
}

void HeadGridCanvas::keyPressEvent(QKeyEvent* e) {
    if (!navigateSelection(doc_, e->key())) QWidget::keyPressEvent(e);
}

HeadGridView::HeadGridView(Document* doc, QWidget* parent) : View(doc, parent) {
    setObjectName("modelView");
    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(0, 0, 0, 0);
    lay->setSpacing(0);
    auto* bar = new QToolBar(this);
    bar->setObjectName("modelViewBar");
    bar->setIconSize(QSize(16, 16));
    importanceMode_ = bar->addAction(tr("Head importance"));
    importanceMode_->setObjectName("actionImportanceMode");
    importanceMode_->setCheckable(true);
    importanceMode_->setShortcut(QKeySequence(tr("Ctrl+Shift+I")));
    importanceMode_->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    importanceMode_->setToolTip(tr("Colour each head by how much the prediction depends on it alone: the top-1 class's logit / "
                                   "probability minus its value with that one head ablated (the interventions bar's zero / mean "
                                   "mode; one run per head, computed in the background). DETR: the selected detection's query and "
                                   "its class, named in the status line; another detection selected, another table (Ctrl+Shift+I)"));
    metric_ = new QComboBox(bar);
    metric_->setObjectName("importanceMetric");
    metric_->addItem(tr("Δ probability"), true);
    metric_->addItem(tr("Δ logit"), false);
    metric_->setToolTip(tr("What the colour shows: the drop of the target's softmax probability or of its logit"));
    bar->addWidget(metric_);
    progress_ = new QProgressBar(bar);
    progress_->setObjectName("importanceProgress");
    progress_->setMaximumWidth(140);
    progress_->setTextVisible(true);
    cancel_ = new QToolButton(bar);
    cancel_->setObjectName("importanceCancel");
    cancel_->setText(tr("Cancel"));
    cancel_->setToolTip(tr("Stop computing the head importance"));
    progressAct_ = bar->addWidget(progress_);
    cancelAct_ = bar->addWidget(cancel_);
    exportCsv_ = bar->addAction(tr("Export CSV…"));
    exportCsv_->setObjectName("actionExportImportanceCsv");
    exportCsv_->setToolTip(tr("Save the importance table as CSV: layer,head,delta_logit,delta_prob, DETR also target_class,target_query "
                              "(as the CLI's head_importance.csv)"));
    lay->addWidget(bar);
    canvas_ = new HeadGridCanvas(doc, this);
    lay->addWidget(canvas_, 1);
    status_ = new QLabel(this);
    status_->setObjectName("importanceStatus");
    status_->setWordWrap(true);
    status_->setContentsMargins(6, 2, 6, 2);
    lay->addWidget(status_);
    importance_ = new ImportanceState(doc, this);
    canvas_->setImportance(importance_);

    connect(importanceMode_, &QAction::toggled, this, [this](bool on) {
        importance_->setSite(canvas_->site());
        importance_->setEnabled(on);
    });
    connect(metric_, &QComboBox::currentIndexChanged, this, [this] { importance_->setShowsProb(metric_->currentData().toBool()); });
    connect(cancel_, &QToolButton::clicked, importance_, &ImportanceState::cancel);
    connect(exportCsv_, &QAction::triggered, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Export head importance"), "head_importance.csv", tr("CSV (*.csv)"));
        if (path.isEmpty()) return;
        if (const QString err = exportImportanceCsv(path); !err.isEmpty()) QMessageBox::warning(this, tr("Export failed"), err);
    });
    connect(importance_, &ImportanceState::changed, this, &HeadGridView::syncImportance);
    connect(importance_, &ImportanceState::busyChanged, this, &HeadGridView::syncImportance);
    connect(importance_, &ImportanceState::progress, this, [this](int done, int total) {
        progress_->setRange(0, total);
        progress_->setValue(done);
    });
    connect(doc_, &Document::selectionChanged, this, [this] { importance_->setSite(doc_->selection().site); });
    connect(canvas_, &HeadGridCanvas::hovered, this, [this](const QString& t) { status_->setText(t.isEmpty() ? importance_->status() : t); });
    syncImportance();
}

void HeadGridView::syncImportance() {
    const bool on = importance_->enabled();
    metric_->setEnabled(on);
    progressAct_->setVisible(on && importance_->busy());
    cancelAct_->setVisible(on && importance_->busy());
    if (!importance_->busy()) progress_->reset();
    exportCsv_->setEnabled(on && importance_->current());
    status_->setVisible(on);
    status_->setText(importance_->status());
    status_->setToolTip(importance_->status()); // the whole line where the view is narrow
    canvas_->update();
}

bool HeadGridView::busy() const { return importance_->enabled() && importance_->busy(); }

QString HeadGridView::caption() const {
    if (!canvas_->showsImportance()) return View::caption();
    return tr("%1 · head importance: %2").arg(sourceCaption(), importance_->status());
}

QString HeadGridView::exportImportanceCsv(const QString& path) const {
    const QString csv = importance_->csv();
    if (csv.isEmpty()) return tr("No head importance to export: switch the importance mode on and wait for it");
    return exportBytes(csv.toUtf8(), path);
}

std::vector<float> HeadGridView::shownValues() const { // [layers, heads, n_k]; importance: [layers, heads]
    std::vector<float> out;
    const bool imp = canvas_->showsImportance();
    for (int l = 0; l < canvas_->layers(); ++l)
        for (int h = 0; h < canvas_->heads(); ++h) {
            if (imp) {
                out.push_back(float(importance_->value(l, h)));
                continue;
            }
            const auto& r = canvas_->cell(l, h).row;
            out.insert(out.end(), r.begin(), r.end());
        }
    return out;
}

std::vector<int64_t> HeadGridView::shownShape() const {
    if (canvas_->showsImportance()) return {canvas_->layers(), canvas_->heads()};
    const int64_t nk = canvas_->layers() ? int64_t(canvas_->cell(0, 0).row.size()) : 0;
    return {canvas_->layers(), canvas_->heads(), nk};
}

} // namespace attnscope::ui
