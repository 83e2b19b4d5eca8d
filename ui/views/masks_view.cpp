#include "ui/views/masks_view.h"

#include "core/analysis/masks.h"
#include "core/error.h"
#include "ui/settings.h"
#include "ui/views/analysis_paint.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMouseEvent>
#include <QPainter>
#include <QSlider>
#include <QVBoxLayout>

#include <cmath>

namespace attnscope::ui {

namespace {
constexpr int kHeader = 4, kLabel = 18, kGap = 8, kReadout = 22;
}

MasksCanvas::MasksCanvas(Document* doc, QWidget* parent) : QWidget(parent), doc_(doc) {
    setObjectName("masksCanvas");
    setMouseTracking(true);
    setFocusPolicy(Qt::ClickFocus);
    setMinimumSize(320, 260);
    setToolTip(tr("One panel per head of the last layer: the bright part is the smallest set of patches that holds the "
                  "chosen share of the head's CLS attention (DINO's mask). Click a head to select it."));
    connect(doc_, &Document::displayChanged, this, &MasksCanvas::recolour);
    connect(doc_, &Document::selectionChanged, this, qOverload<>(&QWidget::update));
}

void MasksCanvas::setMasks(Tensor masks, std::vector<std::vector<float>> attention, int layer, double mass, bool showAttention) {
    masks_ = std::move(masks);
    attention_ = std::move(attention);
    layer_ = layer;
    mass_ = mass;
    showAttention_ = showAttention;
    message_.clear();
    seen_ = doc_->gridInOriginal(); // the masks cover the patch grid
    layoutPanels();
    updateReadout();
    recolour();
}

void MasksCanvas::setMessage(const QString& text) {
    masks_ = Tensor();
    attention_.clear();
    heat_.clear();
    layer_ = -1;
    readout_.clear();
    message_ = text;
    update();
}

void MasksCanvas::recolour() {
    heat_.clear();
    if (masks_.dim() == 3)
        for (const auto& a : attention_) {
            const auto [lo, hi] = valueRange(a.data(), a.size());
            heat_.push_back(mapToImage(a, int(masks_.size(2)), int(masks_.size(1)), lo, hi, doc_->display().colormap,
                                       int(std::lround(doc_->display().opacity * 255)), doc_->display().fade));
        }
    update();
}

void MasksCanvas::resizeEvent(QResizeEvent*) { layoutPanels(); }

void MasksCanvas::layoutPanels() {
    const int n = masks_.dim() == 3 ? int(masks_.size(0)) : 0;
    if (n == 0 || seen_.isEmpty()) return;
    // The column count that makes the panels largest.
    const double W = width() - kGap, H = height() - kHeader - kReadout - kGap;
    const double aspect = seen_.width() / seen_.height();
    double best = 0;
    for (int c = 1; c <= n; ++c) {
        const int r = (n + c - 1) / c;
        const double w = std::min(W / c - kGap, (H / r - kGap - kLabel) * aspect);
        if (w > best) {
            best = w;
            cols_ = c;
            rows_ = r;
        }
    }
    cellW_ = std::max(10.0, best);
    cellH_ = cellW_ / aspect;
}

QRect MasksCanvas::figureRect() const {
    if (masks_.dim() != 3 || masks_.size(0) == 0) return rect();
    QRectF all;
    for (int h = 0; h < int(masks_.size(0)); ++h) all = all.united(panelRect(h));
    return QRectF(QPointF(0, 0), QPointF(width(), all.bottom() + kGap)).toAlignedRect().intersected(rect());
}

QRectF MasksCanvas::panelRect(int head) const {
    const int r = head / cols_, c = head % cols_;
    const double usedW = cols_ * (cellW_ + kGap) - kGap;
    const double x0 = std::max(double(kGap), (width() - usedW) / 2);
    return {x0 + c * (cellW_ + kGap), kHeader + kGap / 2.0 + r * (cellH_ + kLabel + kGap) + kLabel, cellW_, cellH_};
}

int MasksCanvas::headAt(QPointF pos) const {
    const int n = masks_.dim() == 3 ? int(masks_.size(0)) : 0;
    for (int h = 0; h < n; ++h)
        if (panelRect(h).adjusted(0, -kLabel, 0, 0).contains(pos)) return h;
    return -1;
}

void MasksCanvas::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), palette().window());
    const int n = masks_.dim() == 3 ? int(masks_.size(0)) : 0;
    if (!message_.isEmpty() || n == 0 || doc_->qimage().isNull())
        return paintPlaceholder(p, rect(), message_.isEmpty() ? tr("Open a model and an image to see DINO's masks.") : message_, palette());
    const QColor text = palette().color(QPalette::Text);
    QFont small = font();
    small.setPointSizeF(small.pointSizeF() * 0.9);
    p.setFont(small);
    const int gh = int(masks_.size(1)), gw = int(masks_.size(2)), N = gh * gw;
    const Selection& sel = doc_->selection();
    for (int h = 0; h < n; ++h) {
        const QRectF r = panelRect(h);
        const float* m = masks_.ptr() + size_t(h) * N;
        int kept = 0;
        for (int i = 0; i < N; ++i) kept += m[i] != 0.0f;
        p.setPen(text);
        p.drawText(QRectF(r.x(), r.y() - kLabel, r.width(), kLabel), Qt::AlignLeft | Qt::AlignVCenter,
                   tr("head %1 · %2 of %3 patches").arg(h).arg(kept).arg(N));
        p.setRenderHint(QPainter::SmoothPixmapTransform, true);
        const double ds = doc_->displayScale(); // seen_ is in original pixels
        p.drawImage(r, doc_->qimage(), QRectF(seen_.x() * ds, seen_.y() * ds, seen_.width() * ds, seen_.height() * ds));
        if (showAttention_ && size_t(h) < heat_.size()) {
            p.setRenderHint(QPainter::SmoothPixmapTransform, doc_->display().smooth);
            p.drawImage(r, heat_[size_t(h)]);
        }
        // Dim the dropped patches, outline the kept ones.
        QImage dim(gw, gh, QImage::Format_ARGB32_Premultiplied); // one pixel a patch: no seams between cells
        for (int i = 0; i < N; ++i) dim.setPixel(i % gw, i / gw, m[i] == 0.0f ? qRgba(0, 0, 0, 150) : qRgba(0, 0, 0, 0));
        p.setRenderHint(QPainter::SmoothPixmapTransform, false);
        p.drawImage(r, dim);
        const QVector<QLineF> outline = maskOutline(m, gw, gh, r);
        p.setPen(QPen(QColor(0, 0, 0, 160), 3.5));
        p.drawLines(outline);
        p.setPen(QPen(seriesColour(h).lighter(130), 2));
        p.drawLines(outline);
        const bool selected = sel.site == Site::Encoder && sel.layer == layer_ && !sel.heads.fused() && sel.heads.head == h;
        p.setPen(QPen(selected ? palette().color(QPalette::Highlight) : palette().color(QPalette::Mid), selected ? 3 : 1));
        p.drawRect(r.adjusted(-1, -1, 1, 1));
    }
    p.setPen(text);
    p.setFont(font());
    const QString line = !readout_.isEmpty() ? readout_
                                             : tr("Layer %1 · outlined: the fewest patches holding %2% of the head's CLS attention%3 · click a head to select it")
                                                   .arg(layer_).arg(mass_ * 100, 0, 'f', 0)
                                                   .arg(showAttention_ ? tr(" · colours: its attention, min…max") : QString());
    p.drawText(QRectF(8, height() - kReadout, width() - 16, kReadout), Qt::AlignVCenter | Qt::AlignLeft,
               p.fontMetrics().elidedText(line, Qt::ElideRight, width() - 16));
}

void MasksCanvas::mouseMoveEvent(QMouseEvent* e) {
    hoverPos_ = e->position();
    updateReadout();
}

// From hoverPos_ and the masks shown now (also after new masks under a still pointer).
void MasksCanvas::updateReadout() {
    QString text;
    const int h = hoverPos_.x() >= 0 && masks_.dim() == 3 ? headAt(hoverPos_) : -1;
    if (h >= 0 && h < int(attention_.size()) && panelRect(h).contains(hoverPos_)) {
        const QRectF r = panelRect(h);
        const int gh = int(masks_.size(1)), gw = int(masks_.size(2));
        const int c = std::min(int((hoverPos_.x() - r.x()) / r.width() * gw), gw - 1);
        const int row = std::min(int((hoverPos_.y() - r.y()) / r.height() * gh), gh - 1);
        const size_t i = size_t(row * gw + c);
        text = tr("head %1 · patch row %2, col %3 · attention %4 · %5")
                   .arg(h).arg(row).arg(c).arg(double(attention_[size_t(h)][i]), 0, 'g', 4)
                   .arg(masks_.data[size_t(h) * gh * gw + i] != 0.0f ? tr("kept") : tr("dropped"));
    }
    if (text != readout_) {
        readout_ = text;
        update();
    }
}

void MasksCanvas::mousePressEvent(QMouseEvent* e) {
    const int h = headAt(e->position());
    if (e->button() != Qt::LeftButton || h < 0) return;
    Selection s = doc_->selection();
    s.site = Site::Encoder;
    s.layer = layer_;
    s.heads = {h};
    doc_->setSelection(s);
}

void MasksCanvas::leaveEvent(QEvent*) {
    hoverPos_ = {-1, -1};
    readout_.clear();
    update();
}

MasksView::MasksView(Document* doc, QWidget* parent) : View(doc, parent) {
    setObjectName("masksView");
    Settings s;
    auto* controls = new QWidget(this);
    auto* row = new QHBoxLayout(controls);
    row->setContentsMargins(6, 4, 6, 0);
    mass_ = new QSlider(Qt::Horizontal, controls);
    mass_->setObjectName("maskMass");
    mass_->setRange(1, 100);
    mass_->setValue(int(std::lround(s.maskMass() * 100)));
    mass_->setToolTip(tr("τ: the share of each head's CLS attention its mask keeps (DINO uses 60%)"));
    massLabel_ = new QLabel(controls);
    massLabel_->setMinimumWidth(40);
    showAttention_ = new QCheckBox(tr("Show attention"), controls);
    showAttention_->setObjectName("maskShowAttention");
    showAttention_->setChecked(s.maskShowAttention());
    showAttention_->setToolTip(tr("Colour each panel with the head's attention (its own min…max) under the mask"));
    row->addWidget(new QLabel(tr("Keep mass"), controls));
    row->addWidget(mass_, 1);
    row->addWidget(massLabel_);
    row->addSpacing(8);
    row->addWidget(showAttention_);
    canvas_ = new MasksCanvas(doc, this);
    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(0, 0, 0, 0);
    lay->setSpacing(2);
    lay->addWidget(controls);
    lay->addWidget(canvas_, 1);
    massLabel_->setText(QString("%1%").arg(mass_->value()));
    connect(mass_, &QSlider::valueChanged, this, [this](int v) {
        massLabel_->setText(QString("%1%").arg(v));
        Settings().setMaskMass(v / 100.0);
        invalidate();
    });
    connect(showAttention_, &QCheckBox::toggled, this, [this](bool on) {
        Settings().setMaskShowAttention(on);
        invalidate();
    });
    connect(doc_, &Document::resultChanged, this, [this] { invalidate(); });
    connect(doc_, &Document::runStateChanged, this, [this] { if (!doc_->result()) invalidate(); }); // "Running…" / "Cancelled"
    invalidate(); // the empty state, on first show
}

QWidget* MasksView::canvas() { return canvas_; }

QSize MasksView::screenshotSize() const {
    // Every head large enough to read: up to four panels a row, 1000 px wide.
    const AttentionMap* last = doc_->map(Site::Encoder, doc_->layerCount(Site::Encoder) - 1);
    const RunResult* r = doc_->result();
    if (!last || !r) return {760, 600};
    const QRectF seen = doc_->gridInOriginal();
    const int n = last->n_heads, cols = std::min(n, 4), rows = (n + cols - 1) / cols;
    const double cell = (1000.0 - (cols + 1) * kGap) / cols * seen.height() / std::max(1.0, seen.width());
    return {1000, int(40 + kHeader + kReadout + rows * (cell + kLabel + kGap) + kGap)};
}
double MasksView::mass() const { return mass_->value() / 100.0; }

void MasksView::refresh() {
    const RunResult* r = doc_->result();
    if (!r) return canvas_->setMessage(doc_->model() && doc_->hasImage() ? doc_->waitingText() : tr("Open a model and an image to see DINO's masks."));
    const AttentionMap* last = doc_->map(Site::Encoder, doc_->layerCount(Site::Encoder) - 1);
    if (!last || r->layout.n_cls < 1)
        return canvas_->setMessage(tr("DINO's masks threshold the CLS token's attention, and this model (%1) has none.")
                                       .arg(doc_->model() ? QString(family_name(doc_->model()->info().family)) : QString()));
    try {
        Tensor masks = analysis::dino_masks(*last, r->layout, mass());
        std::vector<std::vector<float>> attention;
        for (auto& h : analysis::head_maps(*last, r->layout, 0)) attention.push_back(std::move(h.grid)); // CLS row
        canvas_->setMasks(std::move(masks), std::move(attention), last->layer, mass(), showAttention_->isChecked());
    } catch (const Error& e) {
        canvas_->setMessage(QString::fromStdString(e.what()));
    }
}

std::vector<float> MasksView::shownValues() const { return canvas_->masks().data; }
std::vector<int64_t> MasksView::shownShape() const {
    const Tensor& m = canvas_->masks();
    return m.dim() == 3 ? std::vector<int64_t>{m.size(0), m.size(1), m.size(2)} : std::vector<int64_t>{0, 0, 0};
}

QString MasksView::caption() const {
    return tr("%1 · DINO masks, layer %2 · %3% of CLS attention per head")
        .arg(sourceCaption()).arg(canvas_->layer()).arg(mass() * 100, 0, 'f', 0);
}

} // namespace attnscope::ui
