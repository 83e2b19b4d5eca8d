#include "ui/views/tokens_view.h"

#include "ui/views/analysis_paint.h"

#include "core/analysis/heads.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QMouseEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QPainterPath>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace attnscope::ui {

namespace an = attnscope::analysis;

TokensCanvas::TokensCanvas(Document* doc, QWidget* parent) : QWidget(parent), doc_(doc) {
    setObjectName("tokensCanvas");
    setMinimumSize(420, 260);
    connect(doc_, &Document::displayChanged, this, qOverload<>(&QWidget::update));
}

void TokensCanvas::setData(Tensor norms, std::vector<an::NormOutlier> outliers, Tensor sinks, Tensor pca, int layer, double k) {
    norms_ = std::move(norms);
    outliers_ = std::move(outliers);
    sinks_ = std::move(sinks);
    pca_ = std::move(pca);
    layer_ = layer;
    k_ = k;
    message_.clear();
    update();
}

void TokensCanvas::setLeftLabels(QString title, QString bar, int picked) {
    leftTitle_ = std::move(title);
    leftBar_ = std::move(bar);
    picked_ = picked;
    update();
}

int TokensCanvas::cellAt(QPointF pos) const {
    if (norms_.dim() != 2 || !gridRect_.contains(pos)) return -1;
    const int gh = int(norms_.size(0)), gw = int(norms_.size(1));
    const int gx = std::clamp(int((pos.x() - gridRect_.x()) / gridRect_.width() * gw), 0, gw - 1);
    const int gy = std::clamp(int((pos.y() - gridRect_.y()) / gridRect_.height() * gh), 0, gh - 1);
    return gy * gw + gx;
}

void TokensCanvas::mousePressEvent(QMouseEvent* e) {
    const int cell = cellAt(e->position());
    if (cell >= 0 && e->button() == Qt::LeftButton) emit cellClicked(cell);
    QWidget::mousePressEvent(e);
}

void TokensCanvas::setMessage(const QString& text) {
    norms_ = sinks_ = pca_ = Tensor();
    outliers_.clear();
    message_ = text;
    update();
}

void TokensCanvas::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), palette().window());
    if (!message_.isEmpty() || norms_.dim() != 2 || doc_->qimage().isNull())
        return paintPlaceholder(p, rect(), message_.isEmpty() ? tr("Open a model and an image to see its tokens.") : message_, palette());
    const QColor text = palette().color(QPalette::Text);
    const Colormap cm = doc_->display().colormap;
    const int gh = int(norms_.size(0)), gw = int(norms_.size(1)), label = 20;
    const double W = width(), H = height() - label;
    // left: norms over the whole original image (what the model did not see dimmed), outliers outlined
    const QRectF seen = doc_->gridInOriginal();
    const QSizeF full = doc_->imageSize();
    const QRectF left = fitRect(full, QRectF(8, label, W * 0.55 - 100, H - 8));
    const double s = left.width() / full.width();
    const QRectF g(left.x() + seen.x() * s, left.y() + seen.y() * s, seen.width() * s, seen.height() * s);
    p.setPen(text);
    p.drawText(QRectF(8, 0, W * 0.55, label), Qt::AlignVCenter | Qt::AlignLeft,
               leftTitle_.isEmpty() ? tr("Layer %1: token norms · outlined > %2 × median patch norm").arg(layer_).arg(k_, 0, 'g', 3)
                                    : leftTitle_);
    gridRect_ = g;
    p.setRenderHint(QPainter::SmoothPixmapTransform, true);
    p.drawImage(left, doc_->qimage());
    QPainterPath outside;
    outside.addRect(left);
    QPainterPath inside;
    inside.addRect(g);
    p.fillPath(outside.subtracted(inside), QColor(0, 0, 0, 110));
    const auto [lo, hi] = std::minmax_element(norms_.data.begin(), norms_.data.end());
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);
    p.save();
    p.setClipRect(left);
    p.drawImage(g, mapToImage(norms_.data, gw, gh, *lo, *hi, cm, int(std::lround(doc_->display().opacity * 255))));
    const TokenLayout layout = doc_->result() ? doc_->result()->layout : TokenLayout{};
    const int prefix = layout.n_prefix();
    const double cw = g.width() / gw, ch = g.height() / gh;
    p.setPen(QPen(QColor(230, 30, 30), 2.5));
    for (const an::NormOutlier& o : outliers_)
        if (o.layer == layer_ && layout.is_patch(o.token)) { // not prefix or YOLOS detection tokens
            const int i = o.token - prefix;
            p.drawRect(QRectF(g.x() + (i % gw) * cw, g.y() + (i / gw) * ch, cw, ch));
        }
    if (picked_ >= 0 && picked_ < gh * gw) { // the picked token: a white ring inside a dark one
        const QRectF c(g.x() + (picked_ % gw) * cw, g.y() + (picked_ / gw) * ch, cw, ch);
        p.setPen(QPen(QColor(20, 20, 20), 4));
        p.drawEllipse(c.adjusted(-2, -2, 2, 2));
        p.setPen(QPen(Qt::white, 2));
        p.drawEllipse(c.adjusted(-2, -2, 2, 2));
    }
    p.restore();
    paintColourBar(p, QRectF(left.right() + 22, left.y(), 12, left.height()), cm, *lo, *hi,
                   leftBar_.isEmpty() ? tr("L2 norm") : leftBar_, text, -1);
    // right top: sinks (layer rows × head columns, share on the most-attended key); bottom: PCA
    const double rx = W * 0.55 + 16, rw = W - rx - 8, half = (H - 8) / 2;
    if (sinks_.dim() == 2) {
        p.setPen(text);
        p.drawText(QRectF(rx, 0, rw, label), Qt::AlignVCenter | Qt::AlignLeft, tr("Most-attended key's share: layer × head"));
        const int axis = p.fontMetrics().height() + 2; // room for the axis titles: head below, layer to the left
        const QRectF r = fitRect(QSizeF(sinks_.size(1), sinks_.size(0)), QRectF(rx + axis, label, rw - 84 - axis, half - 8 - axis));
        p.drawImage(r, mapToImage(sinks_.data, int(sinks_.size(1)), int(sinks_.size(0)), 0.0f, 1.0f, cm));
        const int nh = int(sinks_.size(1)), nl = int(sinks_.size(0));
        const QString heads = tr("head 0 … %1").arg(nh - 1); // centred under the grid, wider than it when it is narrow
        const double hw = std::max(r.width(), double(p.fontMetrics().horizontalAdvance(heads)) + 4);
        p.drawText(QRectF(r.center().x() - hw / 2, r.bottom() + 1, hw, axis), Qt::AlignCenter, heads);
        p.save();
        p.translate(r.x() - 2, r.center().y());
        p.rotate(-90);
        const QString layers = tr("layer 0 … %1").arg(nl - 1);
        p.drawText(QRectF(-r.height() / 2, -axis, r.height(), axis), Qt::AlignCenter,
                   p.fontMetrics().horizontalAdvance(layers) <= r.height() ? layers : tr("layer"));
        p.restore();
        p.setPen(QPen(palette().color(QPalette::Highlight), 2));
        const double rh = r.height() / sinks_.size(0);
        p.drawRect(QRectF(r.x(), r.y() + layer_ * rh, r.width(), rh));
        paintColourBar(p, QRectF(r.right() + 22, r.y(), 12, r.height()), cm, 0, 1, tr("share"), text, 3);
    }
    if (pca_.dim() == 3) {
        const double py = label + half;
        p.setPen(text);
        p.drawText(QRectF(rx, py, rw, label), Qt::AlignVCenter | Qt::AlignLeft, tr("Final patch features: PCA 1–3 as RGB"));
        QImage img(int(pca_.size(1)), int(pca_.size(0)), QImage::Format_RGB32);
        for (int y = 0; y < img.height(); ++y)
            for (int x = 0; x < img.width(); ++x) {
                const float* v = pca_.ptr() + (size_t(y) * img.width() + x) * 3;
                img.setPixel(x, y, qRgb(int(std::lround(255 * v[0])), int(std::lround(255 * v[1])), int(std::lround(255 * v[2]))));
            }
        p.drawImage(fitRect(seen.size(), QRectF(rx, py + label, rw, half - label)), img);
    }
}

TokensView::TokensView(Document* doc, QWidget* parent) : View(doc, parent) {
    setObjectName("view_tokens");
    auto* row = new QHBoxLayout;
    row->addWidget(new QLabel(tr("High norm: above")));
    k_ = new QDoubleSpinBox(this);
    k_->setObjectName("tokensNormK");
    k_->setRange(0.0, 100.0);
    k_->setSingleStep(0.1);
    k_->setValue(2.0);
    k_->setSuffix(tr(" × median patch norm"));
    k_->setToolTip(tr("Tokens whose norm exceeds this multiple of the layer's median patch norm are outlined "
                      "(attnscope-cli analyze --norm-k)"));
    row->addWidget(k_);
    row->addSpacing(12);
    row->addWidget(new QLabel(tr("Map:")));
    show_ = new QComboBox(this);
    show_->setObjectName("tokensShow");
    show_->addItem(tr("Token norms"));
    show_->addItem(tr("Attention out of the picked token"));
    show_->addItem(tr("Attention into the picked token"));
    show_->setToolTip(tr("Click a token on the map (e.g. an outlined high-norm one) to pick it: then see where it "
                         "looks (its attention row over the patches) or who looks at it (every patch's attention "
                         "to it), at the shown layer, for the selected head(s)"));
    row->addWidget(show_);
    row->addStretch();
    canvas_ = new TokensCanvas(doc, this);
    auto* v = new QVBoxLayout(this);
    v->addLayout(row);
    v->addWidget(canvas_, 1);
    connect(k_, &QDoubleSpinBox::valueChanged, this, [this] { invalidate(); });
    connect(show_, &QComboBox::currentIndexChanged, this, [this] { invalidate(); });
    connect(canvas_, &TokensCanvas::cellClicked, this, [this](int cell) {
        const RunResult* r = doc_->result();
        if (!r) return;
        pickToken(r->layout.n_prefix() + cell);
        if (show() == Show::Norms) setShow(Show::AttentionOut);
    });
    connect(doc_, &Document::modelChanged, this, [this] { picked_ = -1; });
    connect(doc_, &Document::resultChanged, this, [this] { invalidate(); });
    connect(doc_, &Document::imageChanged, this, [this] { invalidate(); });
    connect(doc_, &Document::selectionChanged, this, [this] { invalidate(); });
}

QWidget* TokensView::canvas() { return canvas_; }
void TokensView::setNormK(double k) { k_->setValue(k); }
void TokensView::setShow(Show s) { show_->setCurrentIndex(int(s)); }
TokensView::Show TokensView::show() const { return Show(show_->currentIndex()); }

void TokensView::pickToken(int token) {
    picked_ = token;
    // the other views follow: the picked token becomes the selected query (the overlay shows its row)
    const RunResult* r = doc_->result();
    if (token >= 0 && r && r->layout.is_patch(token) && doc_->selection().site == Site::Encoder) {
        Selection s = doc_->selection();
        s.query = token;
        doc_->setSelection(s); // → selectionChanged → invalidate
    }
    invalidate();
}

std::vector<float> TokensView::shownValues() const { return canvas_->norms().data; }
std::vector<int64_t> TokensView::shownShape() const { return canvas_->norms().shape; }
QString TokensView::caption() const {
    if (!canvas_->leftTitle().isEmpty()) return sourceCaption() + " · " + canvas_->leftTitle();
    return sourceCaption() + tr(" · token norms, layer %1 · > %2 × median patch norm").arg(canvas_->layer()).arg(k_->value(), 0, 'g', 3);
}

void TokensView::refresh() {
    const RunResult* r = doc_->result();
    if (!r) return canvas_->setMessage(QString());
    if (r->token_norms.empty())
        return canvas_->setMessage(tr("This model's forward hands out no token norms."));
    // the selected encoder layer; another site (SigLIP's pooling probe, DETR's decoder) shows the last block
    const int lastLayer = int(r->token_norms.size(0)) - 1;
    const int layer = doc_->selection().site == Site::Encoder ? std::clamp(doc_->selection().layer, 0, lastLayer) : lastLayer;
    const Tensor grids = an::patch_norm_grids(r->token_norms, r->layout);
    const int64_t n = int64_t(r->layout.grid_h) * r->layout.grid_w;
    Tensor shown({r->layout.grid_h, r->layout.grid_w}, std::vector<float>(grids.data.begin() + layer * n, grids.data.begin() + (layer + 1) * n));
    std::vector<float> top;
    int64_t L = 0;
    for (const AttentionMap& m : r->attention)
        if (m.site == Site::Encoder) {
            for (const an::SinkStats& s : an::attention_sinks(m, r->layout)) top.push_back(float(s.top_share));
            ++L;
        }
    const int64_t heads = L ? int64_t(top.size()) / L : 0;
    Tensor sinks = L ? Tensor({L, heads}, std::move(top)) : Tensor();
    if (pcaFor_.lock() != doc_->resultPtr()) { // once per result: an eigen-decomposition of hidden × hidden
        pca_ = r->final_tokens.empty() || n < 2 ? Tensor() : an::feature_pca(r->final_tokens, r->layout).image;
        pcaFor_ = doc_->resultPtr();
    }
    // a picked token's attention at this layer instead of the norms
    QString title, bar;
    const int pickedCell = r->layout.is_patch(picked_) ? picked_ - r->layout.n_prefix() : -1;
    if (show() != Show::Norms) {
        const AttentionMap* m = nullptr;
        for (const AttentionMap& a : r->attention)
            if (a.site == Site::Encoder && a.layer == layer) m = &a;
        const int T = r->layout.n_tokens();
        if (picked_ < 0) {
            title = tr("Click a token on the map to pick it");
        } else if (!m || m->n_q != T || m->n_k != T || picked_ >= T) {
            title = tr("Layer %1: no encoder self-attention over every token to follow").arg(layer);
        } else {
            const an::HeadSelect heads = doc_->selection().heads;
            const std::vector<float> A = an::head_matrix(*m, heads); // [T, T]
            const QString who = pickedCell >= 0 ? tr("patch (%1, %2)").arg(pickedCell / r->layout.grid_w).arg(pickedCell % r->layout.grid_w)
                                                : tr("token %1").arg(picked_);
            const QString hs = heads.fused() ? tr("%1 of heads").arg(QString::fromLatin1(an::fusion_name(heads.fusion)))
                                             : tr("head %1").arg(heads.head);
            const int p0 = r->layout.n_prefix();
            for (int i = 0; i < int(n); ++i)
                shown.data[size_t(i)] = show() == Show::AttentionOut ? A[size_t(picked_) * T + p0 + i]  // its row over the patch keys
                                                                      : A[size_t(p0 + i) * T + picked_]; // each patch query's weight on it
            title = show() == Show::AttentionOut ? tr("Layer %1: attention out of %2 (%3)").arg(layer).arg(who, hs)
                                                 : tr("Layer %1: attention into %2 (%3)").arg(layer).arg(who, hs);
            bar = tr("attention");
        }
    }
    canvas_->setData(std::move(shown), an::norm_outliers(r->token_norms, r->layout, k_->value()), std::move(sinks), pca_, layer, k_->value());
    canvas_->setLeftLabels(title, bar, pickedCell);
}

} // namespace attnscope::ui
