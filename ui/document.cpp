#include "ui/document.h"

#include "core/models/detr.h"
#include "core/postprocess.h"

#include <QFileInfo>

#include <algorithm>

namespace attnscope::ui {

QString fusionName(Fusion f) {
    switch (f) {
    case Fusion::Mean: return "mean";
    case Fusion::Max: return "max";
    case Fusion::Min: return "min";
    default: return "";
    }
}

std::vector<float> attentionRow(const AttentionMap& m, int head, Fusion fusion, int q) {
    std::vector<float> row(size_t(m.n_k), 0.0f);
    if (q < 0 || q >= m.n_q || m.n_heads == 0) return row;
    if (fusion == Fusion::None) {
        const float* src = m.head(std::clamp(head, 0, m.n_heads - 1)) + size_t(q) * m.n_k;
        return {src, src + m.n_k};
    }
    for (int h = 0; h < m.n_heads; ++h) {
        const float* src = m.head(h) + size_t(q) * m.n_k;
        for (int k = 0; k < m.n_k; ++k) {
            float& d = row[size_t(k)];
            if (h == 0) d = src[k];
            else if (fusion == Fusion::Mean) d += src[k];
            else if (fusion == Fusion::Max) d = std::max(d, src[k]);
            else d = std::min(d, src[k]);
        }
    }
    if (fusion == Fusion::Mean)
        for (float& v : row) v /= float(m.n_heads);
    return row;
}

Document::Document(QObject* parent) : QObject(parent) {}

void Document::setModel(std::shared_ptr<const Model> model, const QString& path) {
    model_ = std::move(model);
    modelPath_ = path;
    freshModel_ = true;
    result_.reset();
    updateDetections();
    emit modelChanged();
    emit resultChanged();
    emit detectionsChanged();
}

void Document::setImage(ImageRGB8 image, const QString& name) {
    image_ = std::move(image);
    qimage_ = toDisplayQImage(image_); // downscaled when huge; image_ keeps every pixel
    imageName_ = name;
    result_.reset();
    updateDetections();
    emit imageChanged();
    emit resultChanged();
    emit detectionsChanged();
}

void Document::setResult(std::shared_ptr<const RunResult> result, Tensor input) {
    result_ = std::move(result);
    input_ = std::move(input);
    const Selection old = sel_;
    const int oldEnc = encoderQuery_, oldDec = decoderQuery_;
    updateDetections();
    if (freshModel_ && result_ && !result_->attention.empty()) {
        // A new model opens on its last layer, heads averaged, CLS query: the most telling map.
        const Site site = result_->attention.front().site;
        sel_ = Selection{site, layerCount(site) - 1, 0, Fusion::Mean, 0};
        encoderQuery_ = decoderQuery_ = 0;
        if (isDetr() && layerCount(Site::DecoderCross) > 0) {
            // DETR opens like the colab: the best-scoring object's cross-attention in the last decoder layer,
            // and the encoder's reference point at the centre of its box.
            const auto& all = result_->detections; // every query (Session::run)
            const auto best = std::max_element(all.begin(), all.end(),
                                               [](const Detection& a, const Detection& b) { return a.score < b.score; });
            if (best != all.end()) {
                const TokenLayout& L = result_->layout;
                const float* b = result_->boxes.ptr() + size_t(best->query) * 4; // (cx, cy, w, h) of the input
                const int stride = std::max(1, L.patch_size);
                const int c = std::clamp(int(b[0] * result_->geometry.input_w / stride), 0, std::max(0, L.grid_w - 1));
                const int r = std::clamp(int(b[1] * result_->geometry.input_h / stride), 0, std::max(0, L.grid_h - 1));
                decoderQuery_ = best->query;
                encoderQuery_ = L.n_prefix() + r * L.grid_w + c;
            }
            sel_ = Selection{Site::DecoderCross, layerCount(Site::DecoderCross) - 1, 0, Fusion::Mean, decoderQuery_};
        }
        freshModel_ = false;
    }
    sel_ = clamp(sel_);
    for (Site kind : {Site::Encoder, Site::DecoderCross}) {
        int& slot = isDecoderSite(kind) ? decoderQuery_ : encoderQuery_;
        const AttentionMap* m = map(kind, 0);
        if (m) slot = std::clamp(slot, 0, std::max(0, m->n_q - 1));
    }
    rememberQuery(sel_);
    emit resultChanged();
    emit detectionsChanged();
    if (!(old == sel_)) emit selectionChanged();
    if (oldEnc != encoderQuery_ || oldDec != decoderQuery_) emit queriesChanged();
}

bool Document::isDetr() const {
    return model_ && model_->info().family == "detr" && result_ && result_->boxes.dim() == 2;
}

void Document::updateDetections() {
    detections_.clear();
    if (isDetr()) detections_ = above_threshold(result_->detections, threshold_);
}

void Document::setDetectionThreshold(float t) {
    t = std::clamp(t, 0.0f, 1.0f);
    if (t == threshold_) return;
    threshold_ = t;
    updateDetections();
    emit detectionsChanged();
}

int Document::detectionOfQuery(int query) const {
    for (size_t i = 0; i < detections_.size(); ++i)
        if (detections_[i].query == query) return int(i);
    return -1;
}

int Document::queryFor(Site site) const { return isDecoderSite(site) ? decoderQuery_ : encoderQuery_; }

void Document::setQueryFor(Site site, int query) {
    if (isDecoderSite(site) == isDecoderSite(sel_.site)) {
        Selection s = sel_;
        s.query = query;
        return setSelection(s);
    }
    const AttentionMap* m = map(site, 0);
    if (m) query = std::clamp(query, 0, std::max(0, m->n_q - 1));
    int& slot = isDecoderSite(site) ? decoderQuery_ : encoderQuery_;
    if (slot == query) return;
    slot = query;
    emit queriesChanged();
}

bool Document::rememberQuery(const Selection& s) {
    int& slot = isDecoderSite(s.site) ? decoderQuery_ : encoderQuery_;
    if (slot == s.query) return false;
    slot = s.query;
    return true;
}

void Document::setSelection(Selection s) {
    // A query number means a feature cell / token on the encoder and an object query on the decoder:
    // a change of site kind that keeps the number brings back that kind's own query.
    if (isDecoderSite(s.site) != isDecoderSite(sel_.site) && s.query == sel_.query) s.query = queryFor(s.site);
    s = clamp(s);
    if (s == sel_) return;
    sel_ = s;
    const bool queryChanged = rememberQuery(sel_);
    emit selectionChanged();
    if (queryChanged) emit queriesChanged();
}

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
    s.head = std::clamp(s.head, 0, std::max(0, m->n_heads - 1));
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

std::vector<QueryMap> Document::headMaps(const Selection& basis, int layer) const {
    std::vector<QueryMap> out;
    const AttentionMap* m = map(basis.site, layer);
    for (int h = 0; m && h < m->n_heads; ++h) {
        Selection s = basis;
        s.layer = layer;
        s.head = h;
        s.fusion = Fusion::None;
        out.push_back(queryMap(s));
    }
    return out;
}

QueryMap Document::queryMap(const Selection& s) const {
    QueryMap out;
    const AttentionMap* m = map(s.site, s.layer);
    if (!m) return out;
    out.row = attentionRow(*m, s.head, s.fusion, s.query);
    const TokenLayout& L = result_->layout;
    const int n_patch = L.grid_h * L.grid_w;
    int offset = -1; // where the patch keys start
    if (n_patch > 0 && m->n_k == L.n_tokens()) offset = L.n_prefix();
    else if (n_patch > 0 && m->n_k == n_patch) offset = 0;
    if (offset >= 0) {
        out.grid.assign(out.row.begin() + offset, out.row.begin() + offset + n_patch);
        out.grid_w = L.grid_w;
        out.grid_h = L.grid_h;
    }
    return out;
}

std::vector<float> Document::matrix(const Selection& s) const {
    const AttentionMap* m = map(s.site, s.layer);
    std::vector<float> out;
    if (!m) return out;
    out.reserve(size_t(m->n_q) * m->n_k);
    for (int q = 0; q < m->n_q; ++q) {
        const auto row = attentionRow(*m, s.head, s.fusion, q);
        out.insert(out.end(), row.begin(), row.end());
    }
    return out;
}

QString Document::tokenName(int t) const {
    if (!result_) return QString::number(t);
    const TokenLayout& L = result_->layout;
    const AttentionMap* m = currentMap();
    const bool patchesFollowPrefix = m && m->n_q == L.n_tokens() && sel_.site == Site::Encoder;
    if (!patchesFollowPrefix) {
        const int d = isDecoderSite(sel_.site) ? detectionOfQuery(t) : -1;
        if (d < 0) return QString("query %1").arg(t);
        const Detection& det = detections_[size_t(d)];
        return QString("query %1 (%2 %3)").arg(t).arg(QString::fromStdString(det.label)).arg(double(det.score), 0, 'f', 2);
    }
    if (t < L.n_cls) return L.n_cls > 1 ? QString("CLS %1").arg(t) : "CLS";
    if (t < L.n_cls + L.n_dist) return "DIST";
    if (t < L.n_prefix()) return QString("REG %1").arg(t - L.n_cls - L.n_dist);
    const int p = t - L.n_prefix();
    if (isDetr()) return QString("cell %1 (r %2, c %3)").arg(p).arg(p / L.grid_w).arg(p % L.grid_w);
    return QString("patch %1 (r %2, c %3)").arg(p).arg(p / L.grid_w).arg(p % L.grid_w);
}

QString Document::selectionCaption() const {
    const QString modelName = model_ ? QFileInfo(modelPath_).fileName() : "no model";
    const QString head = sel_.fusion == Fusion::None ? QString("head %1").arg(sel_.head)
                                                     : QString("heads %1").arg(fusionName(sel_.fusion));
    const QString token = tokenName(sel_.query); // DETR decoder tokens are named "query 7 (…)" already
    return QString("%1 · %2 · %3 layer %4 · %5 · %6")
        .arg(modelName, imageName_.isEmpty() ? "no image" : imageName_, site_name(sel_.site))
        .arg(sel_.layer)
        .arg(head, token.startsWith("query") ? token : "query " + token);
}

} // namespace attnscope::ui
