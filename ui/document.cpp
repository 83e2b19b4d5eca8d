#include "ui/document.h"

#include "ui/detr_state.h"

#include <QFileInfo>

#include <algorithm>

namespace attnscope::ui {

QString siteTitle(Site s) {
    switch (s) {
    case Site::Encoder: return QObject::tr("Encoder self-attention");
    case Site::DecoderSelf: return QObject::tr("Decoder self-attention");
    case Site::DecoderCross: return QObject::tr("Decoder cross-attention");
    case Site::Pool: return QObject::tr("Attention pooling (probe)");
    }
    return QString::fromLatin1(site_name(s));
}

void Document::setTargetClass(int label) {
    const int n = model_ ? model_->info().n_labels : 0;
    if (label < -1 || label >= n) label = -1;
    if (label == targetClass_) return;
    targetClass_ = label;
    emit targetClassChanged(label);
}

QString headsName(const analysis::HeadSelect& h) {
    return h.fused() ? QString("heads %1").arg(analysis::fusion_name(h.fusion)) : QString("head %1").arg(h.head);
}

Document::Document(QObject* parent) : QObject(parent), detr_(new DetrState(this)) {}

void Document::setModel(std::shared_ptr<const Model> model, const QString& path) {
    model_ = std::move(model);
    modelPath_ = path;
    freshModel_ = true;
    result_.reset();
    baseline_.reset();
    interventions_ = {}; // announced by modelChanged: a change of interventions would ask for a run
    detr_->update();
    const bool hadTarget = targetClass_ >= 0;
    targetClass_ = -1; // another model's label indices mean other classes
    emit modelChanged();
    if (hadTarget) emit targetClassChanged(-1);
    emit resultChanged();
    emit detr_->detectionsChanged();
}

void Document::setImage(ImageRGB8 image, const QString& name) {
    image_ = std::move(image);
    qimage_ = toDisplayQImage(image_); // downscaled when huge; image_ keeps every pixel
    imageName_ = name;
    result_.reset();
    baseline_.reset();
    detr_->update();
    emit imageChanged();
    emit resultChanged();
    emit detr_->detectionsChanged();
}

void Document::setResult(std::shared_ptr<const RunResult> result, Tensor input) {
    result_ = std::move(result);
    input_ = std::move(input);
    if (result_ && result_->interventions.empty()) baseline_ = result_;
    const Selection old = sel_;
    const auto oldQueries = detr_->queries();
    detr_->update();
    if (freshModel_ && result_ && !result_->attention.empty()) {
        // A new model opens on its last layer, heads averaged, CLS query: the most telling map
        // (DETR: the best object's cross-attention, see DetrState::opening).
        // SigLIP (no CLS token): its pooling head's probe, the row that makes the image embedding.
        const Site site = layerCount(Site::Pool) ? Site::Pool : result_->attention.front().site;
        sel_ = Selection{site, layerCount(site) - 1, {-1, analysis::HeadFusion::Mean}, 0};
        if (!detr_->opening(sel_)) detr_->resetQueries();
        freshModel_ = false;
    }
    sel_ = clamp(sel_);
    detr_->clampQueries();
    detr_->remember(sel_);
    emit resultChanged();
    emit detr_->detectionsChanged();
    if (!(old == sel_)) emit selectionChanged();
    if (oldQueries != detr_->queries()) emit detr_->queriesChanged();
}

void Document::setSelection(Selection s) {
    // A query number means a feature cell / token on the encoder and an object query on the decoder:
    // a change of site kind that keeps the number brings back that kind's own query.
    if (isDecoderSite(s.site) != isDecoderSite(sel_.site) && s.query == sel_.query) s.query = detr_->queryFor(s.site);
    s = clamp(s);
    if (s == sel_) return;
    sel_ = s;
    const bool queryChanged = detr_->remember(sel_);
    emit selectionChanged();
    if (queryChanged) emit detr_->queriesChanged();
}

void Document::setInterventions(Interventions iv) {
    if (iv == interventions_) return;
    interventions_ = std::move(iv);
    emit interventionsChanged();
}

void Document::setBaseline(std::shared_ptr<const RunResult> clean) { baseline_ = std::move(clean); }

void Document::setDisplay(const DisplayOptions& d) {
    if (d == display_) return;
    display_ = d;
    emit displayChanged();
}

Selection Document::clamp(Selection s) const {
    const auto all = sites();
    if (all.empty()) return s;
    if (std::find(all.begin(), all.end(), s.site) == all.end()) s.site = all.front();
    s.layer = std::clamp(s.layer, 0, std::max(0, layerCount(s.site) - 1));
    const AttentionMap* m = map(s.site, s.layer);
    if (!m) return s;
    if (s.heads.fused()) s.heads.head = -1;
    else s.heads = {std::clamp(s.heads.head, 0, std::max(0, m->n_heads - 1))}; // one head: no fusion kept
    s.query = std::clamp(s.query, 0, std::max(0, m->n_q - 1));
    return s;
}

std::vector<Site> Document::sites() const {
    std::vector<Site> out;
    if (!result_) return out;
    for (const auto& m : result_->attention)
        if (std::find(out.begin(), out.end(), m.site) == out.end()) out.push_back(m.site);
    return out;
}

int Document::layerCount(Site site) const {
    int n = 0;
    if (result_)
        for (const auto& m : result_->attention) n += m.site == site;
    return n;
}

const AttentionMap* Document::map(Site site, int layer) const {
    if (!result_) return nullptr;
    for (const auto& m : result_->attention)
        if (m.site == site && m.layer == layer) return &m;
    return nullptr;
}

int Document::headCount() const {
    const AttentionMap* m = currentMap();
    return m ? m->n_heads : 0;
}

namespace {
bool inside(const AttentionMap& m, const Selection& s) {
    return s.query >= 0 && s.query < m.n_q && s.heads.head < m.n_heads && m.n_heads > 0;
}
} // namespace

std::vector<QueryMap> Document::headMaps(const Selection& basis, int layer) const {
    const AttentionMap* m = map(basis.site, layer);
    if (!m || !inside(*m, basis)) return {};
    return analysis::head_maps(*m, result_->layout, basis.query);
}

QueryMap Document::queryMap(const Selection& s) const {
    const AttentionMap* m = map(s.site, s.layer);
    if (!m || !inside(*m, s)) return {};
    return analysis::query_attention(*m, result_->layout, s.query, s.heads);
}

std::vector<float> Document::matrix(const Selection& s) const {
    const AttentionMap* m = map(s.site, s.layer);
    if (!m || s.heads.head >= m->n_heads || m->n_heads == 0) return {};
    return analysis::head_matrix(*m, s.heads);
}

QRectF Document::gridInOriginal() const {
    return result_ ? toQRectF(analysis::grid_in_original(result_->geometry, result_->layout)) : QRectF();
}

QRectF Document::seenInOriginal() const {
    if (!result_) return QRectF(QPointF(0, 0), imageSize());
    return toQRectF(analysis::seen_in_original(result_->geometry, result_->layout));
}

QString Document::tokenName(int t) const {
    if (!result_) return QString::number(t);
    const TokenLayout& L = result_->layout;
    if (sel_.site == Site::Pool) return "pooling probe";
    const AttentionMap* m = currentMap();
    const bool patchesFollowPrefix = m && analysis::query_grid_start(*m, L) == L.n_prefix() && sel_.site == Site::Encoder;
    if (!patchesFollowPrefix) {
        const int d = isDecoderSite(sel_.site) ? detr_->detectionOfQuery(t) : -1;
        if (d < 0) return QString("query %1").arg(t);
        const Detection& det = detr_->detections()[size_t(d)];
        return QString("query %1 (%2 %3)").arg(t).arg(QString::fromStdString(det.label)).arg(double(det.score), 0, 'f', 2);
    }
    if (t < L.n_cls) return L.n_cls > 1 ? QString("CLS %1").arg(t) : "CLS";
    if (t < L.n_cls + L.n_dist) return "DIST";
    if (t < L.n_prefix()) return QString("REG %1").arg(t - L.n_cls - L.n_dist);
    if (L.n_det && t >= L.det_start()) { // YOLOS detection token: named with its detection when it has one
        const int d = detr_->detectionOfQuery(t - L.det_start());
        if (d < 0) return QString("DET %1").arg(t - L.det_start());
        const Detection& det = detr_->detections()[size_t(d)];
        return QString("DET %1 (%2 %3)").arg(t - L.det_start()).arg(QString::fromStdString(det.label)).arg(double(det.score), 0, 'f', 2);
    }
    const int p = t - L.n_prefix();
    return QString("token %1 (row %2, col %3)").arg(t).arg(p / L.grid_w).arg(p % L.grid_w);
}

void Document::setRunState(RunState s, const QString& error) {
    if (s == runState_ && error == runError_) return;
    runState_ = s;
    runError_ = error;
    emit runStateChanged();
}

QString Document::waitingText() const {
    switch (runState_) {
    case RunState::Running: return tr("Running…");
    case RunState::Cancelled: return tr("Cancelled — Run ▸ Run Again (F5) runs it.");
    case RunState::Failed: return tr("Failed: %1").arg(runError_);
    case RunState::Idle: break;
    }
    if (!model_) return tr("Open a model (Ctrl+M) to run it on this image.");
    if (!hasImage()) return tr("Open an image (Ctrl+O) to run %1 on it.").arg(QFileInfo(modelPath_).fileName());
    return tr("Run ▸ Run Again (F5) runs the model.");
}

QString Document::selectionCaption() const {
    const QString modelName = model_ ? QFileInfo(modelPath_).fileName() : "no model";
    const QString head = headsName(sel_.heads);
    const QString token = tokenName(sel_.query); // DETR decoder tokens are named "query 7 (…)" already
    return QString("%1 · %2 · %3 layer %4 · %5 · %6")
        .arg(modelName, imageName_.isEmpty() ? "no image" : imageName_, siteTitle(sel_.site))
        .arg(sel_.layer)
        .arg(head, token.startsWith("query") ? token : "query " + token);
}

} // namespace attnscope::ui
