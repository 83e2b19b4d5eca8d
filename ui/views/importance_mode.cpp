#include "ui/views/importance_mode.h"

#include "core/error.h"
#include "ui/background_task.h"
#include "ui/detr_state.h"
#include "ui/views/analysis_paint.h"

#include <QPainter>
#include <QPointer>

#include <algorithm>
#include <cmath>

namespace attnscope::ui {

ImportanceState::ImportanceState(Document* doc, QObject* parent) : QObject(parent), doc_(doc), task_(new BackgroundTask(this)) {
    connect(task_, &BackgroundTask::progress, this, &ImportanceState::progress);
    connect(task_, &BackgroundTask::busyChanged, this, &ImportanceState::busyChanged);
    connect(task_, &BackgroundTask::failed, this, [this](const QString& msg) {
        status_ = tr("Head importance failed: %1").arg(msg);
        emit changed();
    });
    connect(doc_, &Document::imageChanged, this, [this] { ++imageSerial_; });
    connect(doc_, &Document::modelChanged, this, [this] { cache_.clear(); current_.reset(); });
    connect(doc_, &Document::resultChanged, this, &ImportanceState::update); // mode, masks, a new image's input
    connect(doc_->detr(), &DetrState::queriesChanged, this, [this] { // another detection selected
        if (enabled_ && key() != asked_) update();
    });
}

bool ImportanceState::busy() const { return task_->busy(); }

void ImportanceState::cancel() { task_->cancel(); }

void ImportanceState::setEnabled(bool on) {
    if (on == enabled_) return;
    enabled_ = on;
    if (!on) task_->cancel();
    update();
}

void ImportanceState::setShowsProb(bool prob) {
    if (prob == prob_) return;
    prob_ = prob;
    update(); // the status names the metric
}

void ImportanceState::setSite(Site site) {
    if (site == site_) return;
    site_ = site;
    if (enabled_) update();
}

QString ImportanceState::metricName() const { return prob_ ? tr("Δ probability") : tr("Δ logit"); }

double ImportanceState::value(int layer, int head) const {
    return prob_ ? current_->prob_at(layer, head) : current_->logit_at(layer, head);
}

QString ImportanceState::csv() const { return current_ ? QString::fromStdString(analysis::importance_csv(*current_)) : QString(); }

int ImportanceState::detection() const {
    const DetrState* d = doc_->detr();
    if (!d->active()) return -1;
    const int q = d->queryFor(Site::DecoderCross); // the selected detection (YOLOS: its detection token)
    return q >= 0 && q < int(d->allQueries().size()) ? q : -1;
}

QString ImportanceState::targetName() const {
    if (!current_) return {};
    const analysis::ImportanceTarget& t = current_->target;
    const QString label = QString("'%1'").arg(QString::fromStdString(t.label));
    return t.query >= 0 ? tr("query %1 %2").arg(t.query).arg(label) : label;
}

ImportanceState::Key ImportanceState::key() const {
    const Interventions& iv = doc_->interventions();
    return {imageSerial_, doc_->model(), int(iv.mode), iv.masked_patches, int(site_), detection()};
}

void ImportanceState::update() {
    current_.reset();
    const RunResult* r = doc_->result();
    const Model* m = doc_->model();
    if (!enabled_) {
        status_.clear();
        return emit changed();
    }
    if (!m || !r || doc_->input().numel() == 0) {
        status_ = r ? tr("Head importance needs a run of the model on an image") : doc_->waitingText();
        return emit changed();
    }
    const Key k = key();
    asked_ = k;
    // The input of the document's result: masked patches are already zeroed in it (zeroing again is a no-op).
    const Interventions& docIv = doc_->interventions();
    Interventions base;
    base.mode = docIv.mode;
    base.masked_patches = docIv.masked_patches;
    const QString mode = QString::fromLatin1(ablation_mode_name(base.mode));
    const QString site = siteTitle(site_).toLower();
    if (auto it = cache_.find(k); it != cache_.end()) {
        current_ = it->second;
        const analysis::ImportanceTarget& t = current_->target;
        const auto best = topHeads(*current_, prob_, 1);
        const QString label = QString::fromStdString(t.label);
        const QString target = t.query < 0 ? tr("the top-1 class '%1' (p = %2)").arg(label).arg(t.prob, 0, 'f', 3)
                               : t.chosen  ? tr("the selected detection — query %1, its class '%2' (p = %3)").arg(t.query).arg(label).arg(t.prob, 0, 'f', 3)
                                           : tr("the best detection — query %1, class '%2' (p = %3; none selected)").arg(t.query).arg(label).arg(t.prob, 0, 'f', 3);
        status_ = tr("%1 of %2 when each %3 head alone is %4-ablated%5 (clean − ablated: > 0 the head helped) · most important: L%6 H%7 (%8)")
                      .arg(metricName(), target, site, mode,
                           base.masked_patches.empty() ? QString() : tr(" (%1 masked patch(es) in the baseline)").arg(base.masked_patches.size()))
                      .arg(best.empty() ? 0 : best[0].first).arg(best.empty() ? 0 : best[0].second)
                      .arg(best.empty() ? 0.0 : value(best[0].first, best[0].second), 0, 'g', 3);
        return emit changed();
    }
    const int heads = site_layers(m->info(), site_) * doc_->headCount();
    status_ = std::get<5>(k) >= 0 ? tr("Computing head importance for the selected detection, query %1 (%2 %3 heads, one run each)…")
                                        .arg(std::get<5>(k)).arg(heads).arg(site)
                                  : tr("Computing head importance (%1 %2 heads, one run each)…").arg(heads).arg(site);
    emit changed();
    std::shared_ptr<const Model> model = doc_->modelPtr();
    Tensor input = doc_->input();
    const Site s = site_;
    const int detection = std::get<5>(k);
    QPointer<ImportanceState> self(this);
    task_->start([self, model, input = std::move(input), base, s, detection, k](const BackgroundTask::Job& job) -> BackgroundTask::Deliver {
        std::shared_ptr<analysis::HeadImportance> imp;
        try {
            imp = std::make_shared<analysis::HeadImportance>(
                analysis::head_importance(*model, input, base, s, detection, job.progress, &job.cancel));
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::Cancelled) throw;
            return [self] {
                if (!self) return;
                self->status_ = tr("Head importance cancelled — switch the mode off and on to compute it again");
                emit self->changed();
            };
        }
        return [self, imp, k] {
            if (!self) return;
            self->cache_[k] = imp;
            if (self->enabled_ && self->key() == k) self->update();
        };
    });
}

std::vector<std::pair<int, int>> topHeads(const analysis::HeadImportance& imp, bool prob, int k) {
    std::vector<std::pair<int, int>> all;
    for (int l = 0; l < imp.n_layers; ++l)
        for (int h = 0; h < imp.n_heads; ++h) all.push_back({l, h});
    auto v = [&](const std::pair<int, int>& c) { return prob ? imp.prob_at(c.first, c.second) : imp.logit_at(c.first, c.second); };
    std::stable_sort(all.begin(), all.end(), [&](const auto& a, const auto& b) { return v(a) > v(b); });
    all.resize(std::min<size_t>(all.size(), size_t(std::max(0, k))));
    return all;
}

void paintImportance(QPainter& p, const ImportanceState& st, const std::function<QRectF(int, int)>& cellRect, const QRectF& bar,
                     const QColor& text, int top) {
    const analysis::HeadImportance& imp = *st.current();
    std::vector<float> vals;
    for (int l = 0; l < imp.n_layers; ++l)
        for (int h = 0; h < imp.n_heads; ++h) vals.push_back(float(st.value(l, h)));
    const double m = analysis::diverging_range(vals.data(), vals.size());
    const auto& lut = colormapLut(Colormap::RdBuR);
    p.save();
    QFont f = p.font();
    const double cellH = cellRect(0, 0).height(), cellW = cellRect(0, 0).width();
    f.setPixelSize(std::clamp(int(std::min(cellH * 0.28, cellW * 0.2)), 7, 14));
    p.setFont(f);
    const bool writeValues = cellW >= 34 && cellH >= 16;
    for (int l = 0; l < imp.n_layers; ++l)
        for (int h = 0; h < imp.n_heads; ++h) {
            const double v = st.value(l, h);
            const QRectF r = cellRect(l, h);
            const QColor c(lut[size_t(analysis::colormap_index(v, -m, m))]);
            p.fillRect(r, c);
            if (!writeValues) continue;
            p.setPen(c.lightnessF() < 0.5 ? Qt::white : Qt::black);
            p.drawText(r, Qt::AlignCenter, QString::number(v, 'g', 2));
        }
    // The most important heads: a heavy frame and their rank in the corner.
    const auto best = topHeads(imp, st.showsProb(), top);
    p.setRenderHint(QPainter::Antialiasing, true);
    for (size_t i = 0; i < best.size(); ++i) {
        const QRectF r = cellRect(best[i].first, best[i].second);
        p.setPen(QPen(Qt::black, 3));
        p.drawRect(r.adjusted(1, 1, -1, -1));
        p.setPen(QPen(QColor(255, 200, 0), 1.5));
        p.drawRect(r.adjusted(1, 1, -1, -1));
        const QRectF tag(r.topLeft() + QPointF(2, 2), QSizeF(f.pixelSize() + 6, f.pixelSize() + 4));
        p.fillRect(tag, Qt::black);
        p.setPen(QColor(255, 200, 0));
        p.drawText(tag, Qt::AlignCenter, QString::number(i + 1));
    }
    p.restore();
    paintColourBar(p, bar, Colormap::RdBuR, -m, m, st.metricName(), text, -1);
}

} // namespace attnscope::ui
