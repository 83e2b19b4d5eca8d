#include "ui/detr_state.h"

#include "core/postprocess.h"

#include <algorithm>

namespace attnscope::ui {

DetrState::DetrState(Document* doc) : QObject(doc), doc_(doc) {}

bool DetrState::isDetectionModel(const Model* m) { return m && m->info().task == Task::Detect; }

bool DetrState::active() const {
    const RunResult* r = doc_->result();
    return isDetectionModel(doc_->model()) && r && r->boxes.dim() == 2;
}

void DetrState::update() {
    detections_.clear();
    all_.clear();
    changes_.clear();
    if (!active()) return;
    all_ = doc_->result()->detections; // every query, post-processed once by Session::run
    detections_ = above_threshold(all_, threshold_);
    updateChanges();
}

void DetrState::updateChanges() {
    changes_.clear();
    const RunResult* r = doc_->result();
    const RunResult* clean = doc_->baseline();
    if (!r || !clean || clean == r || r->interventions.empty() || clean->detections.size() != r->detections.size()) return;
    changes_ = detectionChanges(clean->detections, r->detections, threshold_);
}

void DetrState::setThreshold(float t) {
    t = std::clamp(t, 0.0f, 1.0f);
    if (t == threshold_) return;
    threshold_ = t;
    detections_.clear();
    changes_.clear();
    if (active()) {
        detections_ = above_threshold(all_, threshold_);
        updateChanges();
    }
    emit detectionsChanged();
}

int DetrState::detectionOfQuery(int query) const {
    for (size_t i = 0; i < detections_.size(); ++i)
        if (detections_[i].query == query) return int(i);
    return -1;
}

const TokenLayout* DetrState::tokenDetections() const {
    const RunResult* r = doc_->result();
    return r && r->layout.n_det > 0 && isDetectionModel(doc_->model()) ? &r->layout : nullptr;
}

Site DetrState::detectionSite() const { return tokenDetections() ? Site::Encoder : Site::DecoderCross; }

int DetrState::detectionRow(int query) const {
    const TokenLayout* L = tokenDetections();
    return L ? L->det_start() + query : query;
}

int DetrState::queryOfRow(Site site, int row) const {
    if (const TokenLayout* L = tokenDetections()) return site == Site::Encoder && row >= L->det_start() ? row - L->det_start() : -1;
    return isDecoderSite(site) ? row : -1;
}

int DetrState::queryFor(Site site) const { return isDecoderSite(site) ? decoderQuery_ : encoderQuery_; }

void DetrState::setQueryFor(Site site, int query) {
    if (isDecoderSite(site) == isDetectionRow(doc_->selection())) {
        Selection s = doc_->selection();
        s.query = isDecoderSite(site) ? detectionRow(query) : query;
        return doc_->setSelection(s); // remembers the query and emits queriesChanged through the document
    }
    const AttentionMap* m = doc_->map(site, 0);
    if (m) query = std::clamp(query, 0, std::max(0, m->n_q - 1));
    if (const TokenLayout* L = tokenDetections()) // YOLOS: a detection index, or a patch token
        query = isDecoderSite(site) ? std::clamp(query, 0, L->n_det - 1) : std::clamp(query, L->n_prefix(), std::max(L->n_prefix(), L->det_start() - 1));
    int& slot = isDecoderSite(site) ? decoderQuery_ : encoderQuery_;
    if (slot == query) return;
    slot = query;
    emit queriesChanged();
}

bool DetrState::opening(Selection& sel) {
    const Site site = detectionSite(); // DETR's decoder cross-attention, YOLOS's encoder
    if (!active() || doc_->layerCount(site) == 0) return false;
    const RunResult& res = *doc_->result();
    encoderQuery_ = decoderQuery_ = 0;
    const auto best = std::max_element(all_.begin(), all_.end(), [](const Detection& a, const Detection& b) { return a.score < b.score; });
    if (best != all_.end()) {
        const TokenLayout& L = res.layout;
        const float* b = res.boxes.ptr() + size_t(best->query) * 4; // (cx, cy, w, h) of the input
        const int stride = std::max(1, L.patch_size);
        const int c = std::clamp(int(b[0] * res.geometry.input_w / stride), 0, std::max(0, L.grid_w - 1));
        const int r = std::clamp(int(b[1] * res.geometry.input_h / stride), 0, std::max(0, L.grid_h - 1));
        decoderQuery_ = best->query;
        encoderQuery_ = L.n_prefix() + r * L.grid_w + c;
    }
    sel = Selection{site, doc_->layerCount(site) - 1, {-1, analysis::HeadFusion::Mean}, detectionRow(decoderQuery_)};
    return true;
}

void DetrState::clampQueries() {
    if (const TokenLayout* L = tokenDetections()) {
        decoderQuery_ = std::clamp(decoderQuery_, 0, L->n_det - 1);
        encoderQuery_ = std::clamp(encoderQuery_, L->n_prefix(), std::max(L->n_prefix(), L->det_start() - 1));
        return;
    }
    for (Site kind : {Site::Encoder, Site::DecoderCross}) {
        int& slot = isDecoderSite(kind) ? decoderQuery_ : encoderQuery_;
        const AttentionMap* m = doc_->map(kind, 0);
        if (m) slot = std::clamp(slot, 0, std::max(0, m->n_q - 1));
    }
}

bool DetrState::remember(const Selection& s) {
    int* slot = isDecoderSite(s.site) ? &decoderQuery_ : &encoderQuery_;
    int value = s.query;
    if (const TokenLayout* L = tokenDetections()) { // YOLOS: a detection token, a patch, or neither (CLS)
        if (s.query >= L->det_start()) slot = &decoderQuery_, value = s.query - L->det_start();
        else if (!L->is_patch(s.query)) return false;
    }
    if (*slot == value) return false;
    *slot = value;
    return true;
}

} // namespace attnscope::ui
