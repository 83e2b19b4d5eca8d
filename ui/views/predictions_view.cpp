#include "ui/views/predictions_view.h"

#include "core/postprocess.h"
#include "ui/detr_state.h"
#include "ui/views/analysis_paint.h"

#include <QFileInfo>
#include <QMouseEvent>
#include <QPainter>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace attnscope::ui {
namespace {
constexpr double kMargin = 12;
const QColor kInk(20, 20, 20), kMuted(110, 110, 110), kTargetFill(255, 236, 179);
} // namespace

PredictionsCanvas::PredictionsCanvas(Document* doc, QWidget* parent) : QWidget(parent), doc_(doc) {
    setObjectName("predictionsCanvas");
    setMinimumSize(280, 200);
    setToolTip(tr("Click a class to make it the target of the class-specific views (click it again: none)"));
    connect(doc_, &Document::resultChanged, this, &PredictionsCanvas::rebuild);
    connect(doc_, &Document::modelChanged, this, &PredictionsCanvas::rebuild);
    connect(doc_, &Document::targetClassChanged, this, qOverload<>(&QWidget::update));
    connect(doc_->detr(), &DetrState::detectionsChanged, this, &PredictionsCanvas::rebuild);
    connect(doc_->detr(), &DetrState::queriesChanged, this, qOverload<>(&QWidget::update));
    rebuild();
}

void PredictionsCanvas::rebuild() {
    rows_.clear();
    summary_.clear();
    signedBars_ = false;
    const Model* m = doc_->model();
    const RunResult* r = doc_->result();
    if (!m || !r) {
        heading_ = m ? tr("Running…") : tr("No model");
        return update();
    }
    if (doc_->detr()->active()) {
        const DetrState& detr = *doc_->detr();
        heading_ = tr("Detections with score ≥ %1 (%2 of %3 object queries)")
                       .arg(double(detr.threshold()), 0, 'f', 2).arg(detr.detections().size()).arg(detr.allQueries().size());
        std::vector<Detection> dets = detr.detections();
        std::stable_sort(dets.begin(), dets.end(), [](const Detection& a, const Detection& b) { return a.score > b.score; });
        for (const Detection& d : dets) {
            const auto& b = d.box_xyxy;
            rows_.push_back({d.label_id, d.query,
                             tr("%1  (%2, %3)–(%4, %5)").arg(QString::fromStdString(d.label)).arg(int(std::lround(b[0])))
                                 .arg(int(std::lround(b[1]))).arg(int(std::lround(b[2]))).arg(int(std::lround(b[3]))),
                             double(d.score), QString::number(double(d.score), 'f', 2)});
        }
        addBoxChanges(*r);
        if (rows_.empty()) summary_ = tr("No detection above the threshold (the Detections view's slider sets it).");
    } else if (!r->predictions.empty()) { // a classifier: core's post-processing, computed once per result
        const int k = std::min<int>(PredictionsView::kTopK, int(r->predictions.size()));
        heading_ = tr("Top %1 of %2 classes (softmax probability)").arg(k).arg(r->predictions.size());
        for (const Prediction& p : top_k(*r, k))
            rows_.push_back({p.index, -1, QString::fromStdString(p.label), double(p.prob),
                             QString("%1%").arg(double(p.prob) * 100, 0, 'f', 1)});
        addBefore(*r);
    } else if (r->features.numel() > 0) { // headless (DINO): the CLS feature the model ends in
        const float* f = r->features.ptr();
        const int n = int(r->features.numel());
        double sum = 0, sq = 0;
        for (int i = 0; i < n; ++i) sum += f[i], sq += double(f[i]) * f[i];
        const double mean = sum / n, sd = std::sqrt(std::max(0.0, sq / n - mean * mean));
        const Family fam = doc_->model() ? doc_->model()->info().family : Family::Dino;
        heading_ = fam == Family::Clip     ? tr("Feature summary: the image embedding (CLIP, not L2-normalised)")
                   : fam == Family::Siglip ? tr("Feature summary: the image embedding (SigLIP's attention-pooling head)")
                                           : tr("Feature summary: no classifier head (the normed CLS token)");
        summary_ = tr("%1 dimensions · L2 norm %2 · mean %3 · std %4 · largest |components|:")
                       .arg(n).arg(std::sqrt(sq), 0, 'f', 2).arg(mean, 0, 'f', 3).arg(sd, 0, 'f', 3);
        std::vector<int> order(static_cast<size_t>(n), 0);
        std::iota(order.begin(), order.end(), 0);
        const int k = std::min(PredictionsView::kTopK, n);
        std::partial_sort(order.begin(), order.begin() + k, order.end(),
                          [f](int a, int b) { return std::abs(f[a]) > std::abs(f[b]); });
        for (int i = 0; i < k; ++i)
            rows_.push_back({-1, -1, tr("component %1").arg(order[size_t(i)]), double(f[order[size_t(i)]]),
                             QString::number(double(f[order[size_t(i)]]), 'f', 2)});
        signedBars_ = true;
    } else {
        heading_ = tr("This model gives no predictions");
    }
    update();
}

// Interventions (issue 18): each class's probability in the clean run beside the intervened one —
// "12.0% (was 36.2%, −24.2)" and a tick on the bar where it was; the heading says what was switched off.
void PredictionsCanvas::addBefore(const RunResult& r) {
    const RunResult* clean = doc_->baseline();
    if (r.interventions.empty() || !clean || clean == &r || clean->predictions.size() != r.predictions.size()) return;
    std::vector<double> was(clean->predictions.size(), 0.0);
    for (const Prediction& p : clean->predictions)
        if (p.index >= 0 && size_t(p.index) < was.size()) was[size_t(p.index)] = p.prob;
    for (Row& row : rows_) {
        if (row.label < 0 || size_t(row.label) >= was.size()) continue;
        row.before = was[size_t(row.label)];
        const double delta = (row.value - row.before) * 100;
        const QString sign = std::abs(delta) < 0.05 ? "±" : delta > 0 ? "+" : "−";
        row.valueText = tr("%1% (was %2%, %3%4 pp)").arg(row.value * 100, 0, 'f', 1).arg(row.before * 100, 0, 'f', 1)
                            .arg(sign).arg(std::abs(delta), 0, 'f', 1);
    }
    heading_ = tr("After %1: top %2 classes, before → after").arg(QString::fromStdString(describe_interventions(r.interventions)))
                   .arg(rows_.size());
}

// DETR with interventions: every query above the threshold in the clean or the intervened run (DetrState's
// changes, matched by query), its score after and before — "0.41 (was 0.97, −0.56)", vanished and
// appeared ones said so — the vanished ones last.
void PredictionsCanvas::addBoxChanges(const RunResult& r) {
    const std::vector<BoxChange>& changes = doc_->detr()->changes();
    if (changes.empty()) return;
    rows_.clear();
    std::vector<BoxChange> order = changes;
    std::stable_sort(order.begin(), order.end(), [](const BoxChange& a, const BoxChange& b) {
        const bool va = a.kind == BoxChange::Vanished, vb = b.kind == BoxChange::Vanished;
        return va != vb ? vb : (va ? a.before.score > b.before.score : a.after.score > b.after.score);
    });
    int counts[4] = {0, 0, 0, 0};
    for (const BoxChange& c : order) {
        ++counts[c.kind];
        const Detection& d = c.kind == BoxChange::Vanished ? c.before : c.after;
        const auto& b = d.box_xyxy;
        const double delta = double(c.after.score) - double(c.before.score);
        const QString sign = std::abs(delta) < 0.005 ? "±" : delta > 0 ? "+" : "−";
        Row row{d.label_id, c.query,
                tr("%1  (%2, %3)–(%4, %5) · %6").arg(QString::fromStdString(d.label)).arg(int(std::lround(b[0]))).arg(int(std::lround(b[1])))
                    .arg(int(std::lround(b[2]))).arg(int(std::lround(b[3]))).arg(boxChangeName(c.kind)),
                double(c.after.score), {}, double(c.before.score)};
        row.valueText = tr("%1 (was %2, %3%4)").arg(double(c.after.score), 0, 'f', 2).arg(double(c.before.score), 0, 'f', 2)
                            .arg(sign).arg(std::abs(delta), 0, 'f', 2);
        rows_.push_back(row);
    }
    heading_ = tr("After %1: detections before → after").arg(QString::fromStdString(describe_interventions(r.interventions)));
    summary_ = tr("%1 kept · %2 moved · %3 vanished · %4 appeared (score ≥ %5 in either run; matched by object query)")
                   .arg(counts[BoxChange::Kept]).arg(counts[BoxChange::Moved]).arg(counts[BoxChange::Vanished])
                   .arg(counts[BoxChange::Appeared]).arg(double(doc_->detr()->threshold()), 0, 'f', 2);
}

double PredictionsCanvas::rowHeight() const { return std::max(22.0, fontMetrics().height() * 1.7); }

double PredictionsCanvas::top() const {
    const double line = fontMetrics().height() * 1.5;
    return kMargin + line * (summary_.isEmpty() ? 1.4 : 2.4);
}

QRectF PredictionsCanvas::rowRect(int i) const {
    return {kMargin, top() + i * rowHeight(), width() - 2 * kMargin, rowHeight()};
}

QRect PredictionsCanvas::figureRect() const {
    const int lines = int(rows_.size()) + (rows_.empty() || rows_.front().label < 0 ? 0 : 1); // + the target line
    return QRect(0, 0, width(), int(std::ceil(rowRect(lines).top() + kMargin))).intersected(rect());
}

void PredictionsCanvas::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), Qt::white); // a figure: white in every theme, as the exports
    p.setRenderHint(QPainter::Antialiasing, true);
    QFont bold = font();
    bold.setBold(true);
    bold.setPointSizeF(font().pointSizeF() * 1.1);
    p.setFont(bold);
    p.setPen(kInk);
    const double line = fontMetrics().height() * 1.5;
    p.drawText(QRectF(kMargin, kMargin, width() - 2 * kMargin, line), Qt::AlignLeft | Qt::AlignVCenter,
               QFontMetricsF(bold).elidedText(heading_, Qt::ElideRight, width() - 2 * kMargin));
    p.setFont(font());
    if (!summary_.isEmpty())
        p.drawText(QRectF(kMargin, kMargin + line, width() - 2 * kMargin, line), Qt::AlignLeft | Qt::AlignVCenter,
                   fontMetrics().elidedText(summary_, Qt::ElideRight, int(width() - 2 * kMargin)));
    if (rows_.empty()) return;

    const QFontMetricsF fm(font());
    double nameW = 0, valueW = 0;
    for (const Row& r : rows_) {
        nameW = std::max(nameW, fm.horizontalAdvance(r.name));
        valueW = std::max(valueW, fm.horizontalAdvance(r.valueText));
    }
    nameW = std::min(nameW + 12, (width() - 2 * kMargin) * 0.5);
    valueW += 10;
    double scale = 1; // probabilities and scores: the track is 0…1; components: the largest reaches the end
    if (signedBars_) {
        scale = 0;
        for (const Row& r : rows_) scale = std::max(scale, std::abs(r.value));
        if (scale <= 0) scale = 1;
    }
    const int target = doc_->targetClass();
    const int query = doc_->detr()->active() ? doc_->detr()->queryFor(Site::DecoderCross) : -1;
    for (int i = 0; i < int(rows_.size()); ++i) {
        const Row& r = rows_[size_t(i)];
        const QRectF row = rowRect(i);
        const bool isTarget = r.label >= 0 && r.label == target && (r.query < 0 || r.query == query);
        if (isTarget) p.fillRect(row, kTargetFill);
        const QRectF bars(row.left() + nameW, row.top() + row.height() * 0.2, row.width() - nameW - valueW, row.height() * 0.6);
        QFont f = font();
        f.setBold(isTarget);
        p.setFont(f);
        p.setPen(kInk);
        p.drawText(QRectF(row.left() + 4, row.top(), nameW - 8, row.height()), Qt::AlignLeft | Qt::AlignVCenter,
                   QFontMetricsF(f).elidedText(r.name, Qt::ElideRight, nameW - 8));
        QRectF bar;
        if (signedBars_) {
            const double zero = bars.center().x(), len = r.value / scale * bars.width() / 2;
            bar = QRectF(QPointF(std::min(zero, zero + len), bars.top()), QSizeF(std::abs(len), bars.height()));
            p.setPen(QPen(kMuted, 1));
            p.drawLine(QPointF(zero, row.top() + 2), QPointF(zero, row.bottom() - 2));
        } else {
            p.fillRect(bars, QColor(236, 236, 236)); // the 0…1 track
            bar = QRectF(bars.topLeft(), QSizeF(std::clamp(r.value / scale, 0.0, 1.0) * bars.width(), bars.height()));
        }
        p.fillRect(bar, isTarget ? seriesColour(1) : seriesColour(0));
        if (!std::isnan(r.before) && !signedBars_) { // where the clean run had it
            const double x = bars.left() + std::clamp(r.before / scale, 0.0, 1.0) * bars.width();
            p.setPen(QPen(kInk, 2));
            p.drawLine(QPointF(x, row.top() + 2), QPointF(x, row.bottom() - 2));
        }
        p.setPen(kInk);
        p.drawText(QRectF(bars.right() + 6, row.top(), valueW, row.height()), Qt::AlignLeft | Qt::AlignVCenter, r.valueText);
    }
    p.setFont(font());
    p.setPen(kMuted);
    const QRectF after = rowRect(int(rows_.size()));
    const QString hint = rows_.front().label < 0 ? QString()
                         : target >= 0 ? tr("Target class: %1 (click it again for none)").arg(
                                             QString::fromStdString(doc_->model()->info().labels.size() > size_t(target)
                                                                        ? doc_->model()->info().labels[size_t(target)] : std::string()))
                                       : tr("Target class: none (the top prediction) · click a class to choose one");
    if (!hint.isEmpty() && after.bottom() < height())
        p.drawText(after, Qt::AlignLeft | Qt::AlignVCenter, fontMetrics().elidedText(hint, Qt::ElideRight, int(after.width())));
}

void PredictionsCanvas::mousePressEvent(QMouseEvent* e) {
    if (e->button() != Qt::LeftButton) return;
    for (int i = 0; i < int(rows_.size()); ++i) {
        const Row& r = rows_[size_t(i)];
        if (!rowRect(i).contains(e->position()) || r.label < 0) continue;
        if (r.query >= 0) doc_->detr()->setQueryFor(Site::DecoderCross, r.query); // that detection in the other views
        doc_->setTargetClass(r.label == doc_->targetClass() && r.query < 0 ? -1 : r.label);
        return;
    }
}

PredictionsView::PredictionsView(Document* doc, QWidget* parent) : View(doc, parent) {
    setObjectName("predictionsView");
    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(0, 0, 0, 0);
    canvas_ = new PredictionsCanvas(doc, this);
    lay->addWidget(canvas_);
}

std::vector<float> PredictionsView::shownValues() const {
    std::vector<float> v;
    for (const auto& r : canvas_->rows()) v.push_back(float(r.value));
    return v;
}

QString PredictionsView::caption() const {
    const QString model = doc_->model() ? QFileInfo(doc_->modelPath()).fileName() : tr("no model");
    return tr("%1 · %2 · predictions").arg(model, doc_->imageName().isEmpty() ? tr("no image") : doc_->imageName());
}

} // namespace attnscope::ui
