#include "ui/views/filters_view.h"

#include "ui/settings.h"
#include "ui/views/analysis_paint.h"

#include <QFileInfo>
#include <QLabel>
#include <QMouseEvent>
#include <QPainter>
#include <QSpinBox>

#include <cmath>

namespace attnscope::ui {
namespace an = attnscope::analysis;

namespace {
constexpr int kTitle = 8, kLabel = 16, kGap = 6, kReadout = FiltersCanvas::kReadoutLine, kMaxComponents = 96;
}

FiltersCanvas::FiltersCanvas(Document* doc, QWidget* parent) : QWidget(parent), doc_(doc) {
    setObjectName("filtersCanvas");
    setMouseTracking(true);
    setFocusPolicy(Qt::ClickFocus);
    setMinimumSize(320, 260);
    setToolTip(tr("Principal components of the patch-embedding filters (the linear map from a P×P RGB patch to the "
                  "token), largest variance first. Each tile is scaled to its own min…max. Hover or click to enlarge."));
}

void FiltersCanvas::setPca(an::FilterPca pca, const QString& title) {
    pca_ = std::move(pca);
    title_ = title;
    message_.clear();
    hover_ = pinned_ = -1;
    tiles_.clear();
    const int k = int(pca_.axes.size(0)), P = int(pca_.axes.size(2));
    for (int i = 0; i < k; ++i) tiles_.push_back(planarRgbToImage(pca_.axes.ptr() + size_t(i) * 3 * P * P, P, P));
    update();
}

void FiltersCanvas::setMessage(const QString& text) {
    pca_ = {};
    tiles_.clear();
    message_ = text;
    hover_ = pinned_ = -1;
    update();
}

void FiltersCanvas::setCount(int n) {
    count_ = n;
    if (pinned_ >= count()) pinned_ = -1;
    hover_ = -1;
    update();
}

int FiltersCanvas::count() const { return std::min(count_, int(tiles_.size())); }

FiltersCanvas::Geometry FiltersCanvas::geometry() const {
    Geometry g;
    const int n = count();
    if (n == 0) return g;
    const bool side = width() >= 1.35 * height() && width() >= 640;
    const QRectF area(kGap, kTitle, (side ? width() * 0.58 : width()) - 2 * kGap, height() - kTitle - kReadout - kGap);
    auto tileFor = [&](int cols) {
        const int rows = (n + cols - 1) / cols;
        return std::min((area.width() - (cols - 1) * kGap) / cols, (area.height() - rows * (kLabel + kGap)) / rows);
    };
    g.cols = 7; // the paper's 4 × 7 for 28
    if (n != 28) {
        double best = 0;
        for (int c = 1; c <= n; ++c)
            if (tileFor(c) > best) {
                best = tileFor(c);
                g.cols = c;
            }
    }
    g.cols = std::min(g.cols, n);
    g.rows = (n + g.cols - 1) / g.cols;
    g.tile = std::max(6.0, tileFor(g.cols));
    const double w = g.cols * g.tile + (g.cols - 1) * kGap;
    g.grid = QRectF(area.x() + (area.width() - w) / 2, area.y(), w, g.rows * (g.tile + kLabel + kGap));
    if (side) g.detail = QRectF(width() * 0.58 + 2 * kGap, kTitle, width() * 0.42 - 4 * kGap, area.height());
    return g;
}

QRectF FiltersCanvas::tileRect(int i) const {
    const Geometry g = geometry();
    const int r = i / g.cols, c = i % g.cols;
    return {g.grid.x() + c * (g.tile + kGap), g.grid.y() + r * (g.tile + kLabel + kGap), g.tile, g.tile};
}

int FiltersCanvas::tileAt(QPointF pos) const {
    for (int i = 0; i < count(); ++i)
        if (tileRect(i).adjusted(0, 0, 0, kLabel).contains(pos)) return i;
    return -1;
}

int FiltersCanvas::detailComponent() const {
    if (count() == 0) return -1;
    return pinned_ >= 0 ? pinned_ : hover_ >= 0 ? hover_ : 0;
}

void FiltersCanvas::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), palette().window());
    if (!message_.isEmpty() || tiles_.empty())
        return paintPlaceholder(p, rect(), message_.isEmpty() ? tr("Open a model to see its patch-embedding filters.") : message_, palette());
    const QColor text = palette().color(QPalette::Text);
    const Geometry g = geometry();
    QFont small = font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    p.setFont(small);
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);
    const double total = pca_.total_variance > 0 ? pca_.total_variance : 1.0;
    const int shown = detailComponent();
    for (int i = 0; i < count(); ++i) {
        const QRectF r = tileRect(i);
        p.drawImage(r, tiles_[size_t(i)]);
        if (i == shown && !g.detail.isEmpty()) {
            p.setPen(QPen(palette().color(QPalette::Highlight), pinned_ == i ? 3 : 2));
            p.drawRect(r.adjusted(-1.5, -1.5, 1.5, 1.5));
        }
        p.setPen(text);
        p.drawText(QRectF(r.x() - kGap / 2.0, r.bottom(), r.width() + kGap, kLabel), Qt::AlignCenter,
                   r.width() >= 56 ? tr("PC%1 · %2%").arg(i + 1).arg(100 * pca_.variance[size_t(i)] / total, 0, 'f', 1)
                                   : tr("%1").arg(i + 1));
    }
    if (!g.detail.isEmpty() && shown >= 0) {
        // The component large, then its R, G, B weights in grey (mid grey = 0, shared symmetric range).
        const int P = int(pca_.axes.size(2));
        const float* v = pca_.axes.ptr() + size_t(shown) * 3 * P * P;
        float m = 0;
        for (int i = 0; i < 3 * P * P; ++i) m = std::max(m, std::abs(v[i]));
        const QRectF d = g.detail;
        const double big = std::min(d.width(), (d.height() - 3 * kLabel - kGap) * 0.66);
        const QRectF bigRect(d.x() + (d.width() - big) / 2, d.y() + kLabel, big, big);
        p.setFont(font());
        p.setPen(text);
        p.drawText(QRectF(d.x(), d.y(), d.width(), kLabel), Qt::AlignCenter,
                   tr("PC%1 · %2% of the filters' variance").arg(shown + 1).arg(100 * pca_.variance[size_t(shown)] / total, 0, 'f', 2));
        p.drawImage(bigRect, tiles_[size_t(shown)]);
        p.setPen(QPen(palette().color(QPalette::Mid), 1));
        p.drawRect(bigRect);
        const double cs = std::min((d.width() - 2 * kGap) / 3, d.bottom() - bigRect.bottom() - 2 * kLabel - kGap);
        const double x0 = d.x() + (d.width() - 3 * cs - 2 * kGap) / 2;
        const QStringList names{tr("R"), tr("G"), tr("B")};
        p.setFont(small);
        for (int ch = 0; ch < 3 && cs > 8; ++ch) {
            const QRectF cr(x0 + ch * (cs + kGap), bigRect.bottom() + kLabel + kGap, cs, cs);
            p.drawImage(cr, mapToImage(v + size_t(ch) * P * P, P, P, -m, m, Colormap::Grey));
            p.setPen(QPen(palette().color(QPalette::Mid), 1));
            p.drawRect(cr);
            p.setPen(text);
            p.drawText(QRectF(cr.x(), cr.bottom(), cr.width(), kLabel), Qt::AlignCenter, names[ch]);
        }
        p.drawText(QRectF(d.x(), bigRect.bottom() + 2, d.width(), kLabel), Qt::AlignCenter,
                   tr("channel weights: black −%1 · grey 0 · white +%1").arg(double(m), 0, 'g', 2));
    }
    p.setFont(font());
    p.setPen(text);
    const QString line = !readout_.isEmpty() ? readout_
                         : g.detail.isEmpty() ? tr("Hover a component for its variance · a wider view shows it enlarged")
                                              : tr("Hover a component to enlarge it · click to pin it");
    p.drawText(QRectF(8, height() - kReadout, width() - 16, kReadout), Qt::AlignVCenter | Qt::AlignLeft,
               p.fontMetrics().elidedText(line, Qt::ElideRight, width() - 16));
}

void FiltersCanvas::mouseMoveEvent(QMouseEvent* e) {
    const int i = tileAt(e->position());
    QString text;
    if (i >= 0) {
        hover_ = i;
        const double total = pca_.total_variance > 0 ? pca_.total_variance : 1.0;
        text = tr("principal component %1 · variance %2 (%3% of the total) — %4")
                   .arg(i + 1).arg(pca_.variance[size_t(i)], 0, 'g', 4).arg(100 * pca_.variance[size_t(i)] / total, 0, 'f', 2)
                   .arg(pinned_ == i ? tr("pinned; click to unpin") : tr("click to pin"));
        if (geometry().detail.isEmpty()) text = text.section(" — ", 0, 0);
    }
    readout_ = text;
    update();
}

void FiltersCanvas::mousePressEvent(QMouseEvent* e) {
    const int i = tileAt(e->position());
    if (e->button() != Qt::LeftButton || i < 0) return;
    pinned_ = pinned_ == i ? -1 : i;
    update();
}

void FiltersCanvas::leaveEvent(QEvent*) {
    readout_.clear();
    update();
}

FiltersView::FiltersView(Document* doc, QWidget* parent)
    : CheckpointView(doc, parent,
                     {tr("Open a model to see its patch-embedding filters."),
                      tr("DETR has no patch-embedding filters: its tokens come from a ResNet backbone."),
                      tr("Computing the principal components of the filters…"), tr("Cannot compute the filter PCA: %1")}) {
    setObjectName("filtersView");
    count_ = new QSpinBox(this);
    count_->setObjectName("filterCount");
    count_->setRange(1, kMaxComponents);
    count_->setValue(std::min(Settings().filterCount(), kMaxComponents));
    count_->setToolTip(tr("How many principal components to show (the ViT paper shows 28)"));
    canvas_ = new FiltersCanvas(doc, this);
    canvas_->setCount(count_->value());
    place({new QLabel(tr("Components"), this), count_}, canvas_);
    connect(count_, &QSpinBox::valueChanged, this, [this](int n) {
        Settings().setFilterCount(n);
        canvas_->setCount(n);
    });
    invalidate(); // the empty state, on first show
}

QWidget* FiltersView::canvas() { return canvas_; }
void FiltersView::showMessage(const QString& text) { canvas_->setMessage(text); }

BackgroundTask::Deliver FiltersView::compute(const PatchEmbedding& pe, const QString&) const {
    an::FilterPca pca = an::filter_pca(pe.filters, kMaxComponents);
    const int D = int(pe.filters.size(0)), P = int(pe.filters.size(2));
    return [canvas = canvas_, pca = std::move(pca), D, P]() mutable {
        canvas->setPca(std::move(pca), tr("%1 filters, %2×%2 RGB").arg(D).arg(P));
    };
}

std::vector<float> FiltersView::shownValues() const {
    const Tensor& a = canvas_->pca().axes;
    if (a.dim() != 4) return {};
    const size_t per = size_t(a.numel() / a.size(0));
    return {a.data.begin(), a.data.begin() + ptrdiff_t(per * size_t(canvas_->count()))};
}

std::vector<int64_t> FiltersView::shownShape() const {
    const Tensor& a = canvas_->pca().axes;
    if (a.dim() != 4) return {0, 3, 0, 0};
    return {canvas_->count(), 3, a.size(2), a.size(3)};
}

QString FiltersView::caption() const {
    const QString model = doc_->model() ? QFileInfo(doc_->modelPath()).fileName() : tr("no model");
    return tr("%1 · PCA of the patch-embedding filters (%2) · first %3 components, each tile to its own range")
        .arg(model, canvas_->title()).arg(canvas_->count());
}

} // namespace attnscope::ui
