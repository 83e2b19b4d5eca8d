#include "ui/document.h"

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
    emit modelChanged();
    emit resultChanged();
}

void Document::setImage(ImageRGB8 image, const QString& name) {
    image_ = std::move(image);
    qimage_ = toDisplayQImage(image_); // downscaled when huge; image_ keeps every pixel
    imageName_ = name;
    result_.reset();
    emit imageChanged();
    emit resultChanged();
}

void Document::setResult(std::shared_ptr<const RunResult> result, Tensor input) {
    result_ = std::move(result);
    input_ = std::move(input);
    const Selection old = sel_;
    if (freshModel_ && result_ && !result_->attention.empty()) {
        // A new model opens on its last layer, heads averaged, CLS query: the most telling map.
        const Site site = result_->attention.front().site;
        sel_ = Selection{site, layerCount(site) - 1, 0, Fusion::Mean, 0};
        freshModel_ = false;
    }
    sel_ = clamp(sel_);
    emit resultChanged();
    if (!(old == sel_)) emit selectionChanged();
}

void Document::setSelection(Selection s) {
    s = clamp(s);
    if (s == sel_) return;
    sel_ = s;
    emit selectionChanged();
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
    if (!patchesFollowPrefix) return QString("query %1").arg(t);
    if (t < L.n_cls) return L.n_cls > 1 ? QString("CLS %1").arg(t) : "CLS";
    if (t < L.n_cls + L.n_dist) return "DIST";
    if (t < L.n_prefix()) return QString("REG %1").arg(t - L.n_cls - L.n_dist);
    const int p = t - L.n_prefix();
    return QString("patch %1 (r %2, c %3)").arg(p).arg(p / L.grid_w).arg(p % L.grid_w);
}

QString Document::selectionCaption() const {
    const QString modelName = model_ ? QFileInfo(modelPath_).fileName() : "no model";
    const QString head = sel_.fusion == Fusion::None ? QString("head %1").arg(sel_.head)
                                                     : QString("heads %1").arg(fusionName(sel_.fusion));
    return QString("%1 · %2 · %3 layer %4 · %5 · query %6")
        .arg(modelName, imageName_.isEmpty() ? "no image" : imageName_, site_name(sel_.site))
        .arg(sel_.layer)
        .arg(head, tokenName(sel_.query));
}

} // namespace attnscope::ui
