#include "ui/views/rollout_view.h"

#include "ui/background_task.h"
#include "ui/settings.h"
#include "ui/views/analysis_paint.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMouseEvent>
#include <QPainter>
#include <QSlider>
#include <QVBoxLayout>

#include <cmath>

namespace attnscope::ui {
namespace an = attnscope::analysis;

namespace {
constexpr int kTop = 8, kReadout = 24, kBarArea = 92;
}

RolloutCanvas::RolloutCanvas(Document* doc, QWidget* parent) : QWidget(parent), doc_(doc) {
    setObjectName("rolloutCanvas");
    setMouseTracking(true);
    setFocusPolicy(Qt::ClickFocus);
    setMinimumSize(320, 260);
    setToolTip(tr("Attention rollout: how much each patch flows into the CLS token through the layers "
                  "(residual added as ½·A + ½·I, rows renormalised). Hover a patch for its value."));
    connect(doc_, &Document::displayChanged, this, &RolloutCanvas::recolour);
    connect(doc_, &Document::imageChanged, this, qOverload<>(&QWidget::update));
}

void RolloutCanvas::setMap(std::vector<float> values, int grid_w, int grid_h, const QString& title) {
    values_ = std::move(values);
    gw_ = grid_w;
    gh_ = grid_h;
    title_ = title;
    message_.clear();
    readout_.clear();
    updateReadout();
    recolour();
}

void RolloutCanvas::setMessage(const QString& text) {
    values_.clear();
    gw_ = gh_ = 0;
    mapImage_ = {};
    title_.clear();
    readout_.clear();
    message_ = text;
    update();
}

void RolloutCanvas::recolour() {
    mapImage_ = {};
    if (!values_.empty()) {
        std::tie(lo_, hi_) = valueRange(values_.data(), values_.size());
        const int alpha = int(std::lround(doc_->display().opacity * 255));
        mapImage_ = mapToImage(values_, gw_, gh_, lo_, hi_, doc_->display().colormap, alpha,
                               doc_->display().fade);
    }
    update();
}

QRectF RolloutCanvas::imageRect() const {
    const QImage& img = doc_->qimage();
    if (img.isNull()) return {};
    return fitRect(img.size(), QRectF(8, kTop, width() - kBarArea - 16, height() - kTop - kReadout - 4));
}

// The colour bar beside the image (not at the widget's edge, so an export has no gap).
static QRectF rolloutBar(const QRectF& img, int width) {
    return {std::min(width - kBarArea + 22.0, img.right() + 30), img.top() + 6, 16, std::max(40.0, img.height() - 12)};
}

QRect RolloutCanvas::figureRect() const {
    const QRectF img = imageRect();
    if (img.isEmpty() || !message_.isEmpty()) return rect();
    const QRectF bar = rolloutBar(img, width());
    return QRectF(QPointF(img.left() - 8, img.top() - 8), QPointF(bar.right() + kBarArea - 38, img.bottom() + 8)).toAlignedRect();
}

QRectF RolloutCanvas::gridRect() const {
    const RunResult* r = doc_->result();
    const QRectF img = imageRect();
    if (!r || img.isEmpty() || values_.empty()) return {};
    const QRectF g = doc_->gridInOriginal();
    const double s = img.width() / doc_->imageSize().width(); // original pixels → widget
    return {img.x() + g.x() * s, img.y() + g.y() * s, g.width() * s, g.height() * s};
}

void RolloutCanvas::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), palette().window());
    if (!message_.isEmpty() || doc_->qimage().isNull()) {
        return paintPlaceholder(p, rect(), message_.isEmpty() ? tr("Open a model and an image to see the rollout.") : message_,
                                palette());
    }
    const QColor text = palette().color(QPalette::Text);
    const QRectF img = imageRect();
    p.setRenderHint(QPainter::SmoothPixmapTransform, true);
    p.drawImage(img, doc_->qimage());
    const QRectF g = gridRect();
    if (!mapImage_.isNull() && !g.isEmpty()) {
        paintMapOverPhoto(p, img, g, mapImage_, gw_, gh_, doc_->display().smooth, doc_->display().grid);
        paintColourBar(p, rolloutBar(img, width()),
                       doc_->display().colormap, lo_, hi_, tr("rollout (CLS row)"), text);
    }
    p.setPen(text);
    const QString line = !readout_.isEmpty() ? readout_
                         : values_.empty()   ? tr("Computing…")
                                             : tr("%1 · hover a patch for its value · colours: min…max of this map").arg(title_);
    p.drawText(QRectF(8, height() - kReadout, width() - 16, kReadout), Qt::AlignVCenter | Qt::AlignLeft,
               p.fontMetrics().elidedText(line, Qt::ElideRight, width() - 16));
}

void RolloutCanvas::mouseMoveEvent(QMouseEvent* e) {
    hoverPos_ = e->position();
    updateReadout();
}

// From hoverPos_ and the map shown now (also after a new map under a still pointer).
void RolloutCanvas::updateReadout() {
    const QRectF g = gridRect();
    QString text;
    int r = 0, c = 0;
    if (hoverPos_.x() >= 0 && values_.size() == size_t(gw_) * gh_ && gridCellAt(g, gw_, gh_, hoverPos_, r, c)) {
        double total = 0;
        for (float v : values_) total += v;
        const float v = values_[size_t(r * gw_ + c)];
        text = tr("patch row %1, col %2 · rollout %3 · %4% of the patches' total")
                   .arg(r).arg(c).arg(double(v), 0, 'g', 4).arg(total > 0 ? 100.0 * v / total : 0.0, 0, 'f', 2);
    }
    if (text != readout_) {
        readout_ = text;
        update();
    }
}

void RolloutCanvas::leaveEvent(QEvent*) {
    hoverPos_ = {-1, -1};
    readout_.clear();
    update();
}

RolloutView::RolloutView(Document* doc, QWidget* parent) : View(doc, parent) {
    setObjectName("rolloutView");
    Settings s;
    auto* controls = new QWidget(this);
    controls->setObjectName("rolloutControls");
    auto* row = new QHBoxLayout(controls);
    row->setContentsMargins(6, 4, 6, 0);
    fusion_ = new QComboBox(controls);
    fusion_->setObjectName("rolloutFusion");
    fusion_->addItems({"mean", "max", "min"});
    fusion_->setCurrentText(s.rolloutFusion());
    fusion_->setToolTip(tr("How the heads of a layer are fused before the rollout (vit-explain: mean, max or min)"));
    discard_ = new QSlider(Qt::Horizontal, controls);
    discard_->setObjectName("rolloutDiscard");
    discard_->setRange(0, 99);
    discard_->setValue(int(std::lround(s.rolloutDiscard() * 100)));
    discard_->setMinimumWidth(90);
    discard_->setToolTip(tr("Discard ratio: in every layer, zero this fraction of the smallest fused attention "
                            "entries (never the CLS row or column) before adding the identity — removes noise"));
    discardLabel_ = new QLabel(controls);
    discardLabel_->setMinimumWidth(32);
    upTo_ = new QCheckBox(tr("Up to selected layer"), controls);
    upTo_->setObjectName("rolloutUpToLayer");
    upTo_->setChecked(s.rolloutUpToLayer());
    upTo_->setToolTip(tr("Roll out only the layers 0…L, L the layer selected in the toolbar (↑/↓), to watch the "
                         "rollout build up; off: all layers"));
    row->addWidget(new QLabel(tr("Fusion"), controls));
    row->addWidget(fusion_);
    row->addSpacing(8);
    row->addWidget(new QLabel(tr("Discard"), controls));
    row->addWidget(discard_, 1);
    row->addWidget(discardLabel_);
    row->addSpacing(8);
    row->addWidget(upTo_);
    canvas_ = new RolloutCanvas(doc, this);
    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(0, 0, 0, 0);
    lay->setSpacing(2);
    lay->addWidget(controls);
    lay->addWidget(canvas_, 1);
    task_ = new BackgroundTask(this);
    connect(task_, &BackgroundTask::failed, canvas_, [this](const QString& m) { canvas_->setMessage(tr("Cannot compute the rollout: %1").arg(m)); });

    discardLabel_->setText(QString::number(discard_->value() / 100.0, 'f', 2));
    connect(fusion_, &QComboBox::currentIndexChanged, this, &RolloutView::optionsChanged);
    connect(discard_, &QSlider::valueChanged, this, [this](int v) {
        discardLabel_->setText(QString::number(v / 100.0, 'f', 2));
        optionsChanged();
    });
    connect(upTo_, &QCheckBox::toggled, this, &RolloutView::optionsChanged);
    connect(doc_, &Document::resultChanged, this, [this] { invalidate(); });
    connect(doc_, &Document::runStateChanged, this, [this] { if (!doc_->result()) invalidate(); }); // "Running…" / "Cancelled"
    connect(doc_, &Document::selectionChanged, this, [this] {
        if (upTo_->isChecked() && doc_->selection().layer != shownLast_) invalidate();
    });
    invalidate(); // the empty state, on first show
}

QWidget* RolloutView::canvas() { return canvas_; }

an::RolloutOptions RolloutView::options() const {
    an::RolloutOptions o;
    o.fusion = an::fusion_from_name(fusion_->currentText().toStdString());
    o.discard_ratio = discard_->value() / 100.0;
    return o;
}

void RolloutView::optionsChanged() {
    Settings s;
    s.setRolloutFusion(fusion_->currentText());
    s.setRolloutDiscard(discard_->value() / 100.0);
    s.setRolloutUpToLayer(upTo_->isChecked());
    invalidate();
}

void RolloutView::refresh() {
    std::shared_ptr<const RunResult> r = doc_->resultPtr();
    if (!r) {
        task_->cancel();
        shownLast_ = -1;
        shownResult_ = nullptr;
        return canvas_->setMessage(doc_->model() && doc_->hasImage() ? doc_->waitingText() : tr("Open a model and an image to see the rollout."));
    }
    if (r->layout.n_cls < 1)
        return canvas_->setMessage(tr("Rollout follows the CLS token through the layers, and this model (%1) has none.")
                                       .arg(doc_->model() ? QString(family_name(doc_->model()->info().family)) : QString()));
    if (r.get() != shownResult_) canvas_->setMessage({}); // the old map does not fit the new image
    const an::RolloutOptions opt = options();
    int last = doc_->layerCount(Site::Encoder) - 1;
    if (upTo_->isChecked() && doc_->selection().site == Site::Encoder) last = std::min(last, doc_->selection().layer);
    const QString title = tr("Layers 0–%1").arg(last);
    const int nLayers = doc_->layerCount(Site::Encoder);
    task_->start([this, r, opt, last, nLayers, title](const BackgroundTask::Job&) -> BackgroundTask::Deliver {
        Tensor map;
        if (last == nLayers - 1) {
            map = an::attention_rollout(r->attention, r->layout, opt);
        } else {
            std::vector<AttentionMap> upTo; // the encoder maps of layers 0…last
            for (const AttentionMap& m : r->attention)
                if (m.site == Site::Encoder && m.layer <= last) upTo.push_back(m);
            map = an::attention_rollout(upTo, r->layout, opt);
        }
        return [this, map = std::move(map), r, opt, last, title]() mutable {
            if (doc_->resultPtr() != r) return; // a newer result is on its way
            shownOpt_ = opt;
            shownLast_ = last;
            shownResult_ = r.get();
            canvas_->setMap(std::move(map.data), r->layout.grid_w, r->layout.grid_h, title);
        };
    });
}

std::vector<float> RolloutView::shownValues() const { return canvas_->values(); }
std::vector<int64_t> RolloutView::shownShape() const { return {canvas_->gridH(), canvas_->gridW()}; }
bool RolloutView::busy() const { return task_->busy(); }

QString RolloutView::caption() const {
    return tr("%1 · attention rollout, layers 0–%2 · %3 fusion · discard %4")
        .arg(sourceCaption()).arg(shownLast_).arg(an::fusion_name(shownOpt_.fusion)).arg(shownOpt_.discard_ratio, 0, 'f', 2);
}

} // namespace attnscope::ui
