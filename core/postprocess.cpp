#include "core/postprocess.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace attnscope {

using json = nlohmann::json;

std::vector<Prediction> classify_predictions(const RunResult& result, const ModelInfo& info) {
    std::vector<Prediction> out;
    if (result.logits.dim() != 1 || result.logits.numel() == 0) return out;
    const std::vector<float>& z = result.logits.data;
    const float mx = *std::max_element(z.begin(), z.end());
    double sum = 0.0;
    for (float v : z) sum += std::exp(static_cast<double>(v - mx));
    std::vector<int> idx(z.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return z[a] > z[b]; });
    out.reserve(idx.size());
    for (int i : idx) {
        Prediction p;
        p.index = i;
        p.logit = z[i];
        p.prob = static_cast<float>(std::exp(static_cast<double>(p.logit - mx)) / sum);
        p.label = i < static_cast<int>(info.labels.size()) ? info.labels[i] : std::string();
        if (p.label.empty()) p.label = "class " + std::to_string(i);
        out.push_back(std::move(p));
    }
    return out;
}

std::vector<Prediction> top_k(const RunResult& result, int k) {
    const size_t n = std::min(result.predictions.size(), static_cast<size_t>(std::max(0, k)));
    return {result.predictions.begin(), result.predictions.begin() + static_cast<std::ptrdiff_t>(n)};
}

std::vector<Detection> detr_postprocess(const RunResult& r, const ModelInfo& info, float threshold) {
    std::vector<Detection> out;
    if (r.logits.dim() != 2 || r.boxes.dim() != 2 || r.logits.size(0) != r.boxes.size(0) || r.logits.size(1) < 2)
        return out;
    const int Q = static_cast<int>(r.logits.size(0)), n_cls = static_cast<int>(r.logits.size(1));
    float img_w = static_cast<float>(r.geometry.orig_w), img_h = static_cast<float>(r.geometry.orig_h);
    if (img_w <= 0 || img_h <= 0) {
        img_w = static_cast<float>(r.geometry.input_w > 0 ? r.geometry.input_w : r.layout.grid_w * r.layout.patch_size);
        img_h = static_cast<float>(r.geometry.input_h > 0 ? r.geometry.input_h : r.layout.grid_h * r.layout.patch_size);
    }
    for (int q = 0; q < Q; ++q) {
        const float* z = r.logits.ptr() + static_cast<int64_t>(q) * n_cls; // (n_cls)
        const float mx = *std::max_element(z, z + n_cls);
        double sum = 0.0;
        for (int i = 0; i < n_cls; ++i) sum += std::exp(static_cast<double>(z[i] - mx));
        const int best = static_cast<int>(std::max_element(z, z + n_cls - 1) - z); // drop "no object"
        const float score = static_cast<float>(std::exp(static_cast<double>(z[best] - mx)) / sum);
        if (!(score > threshold)) continue;
        const float* b = r.boxes.ptr() + static_cast<int64_t>(q) * 4; // (cx, cy, w, h)
        Detection det;
        det.query = q;
        det.label_id = best;
        det.label = best < static_cast<int>(info.labels.size()) ? info.labels[best] : "";
        det.score = score;
        det.box_xyxy = {(b[0] - 0.5f * b[2]) * img_w, (b[1] - 0.5f * b[3]) * img_h, (b[0] + 0.5f * b[2]) * img_w,
                        (b[1] + 0.5f * b[3]) * img_h};
        out.push_back(std::move(det));
    }
    return out;
}

std::vector<Detection> above_threshold(const std::vector<Detection>& all, float threshold) {
    std::vector<Detection> out;
    for (const Detection& d : all)
        if (d.score > threshold) out.push_back(d);
    return out;
}

void postprocess(RunResult& result, const ModelInfo& info) {
    result.predictions = classify_predictions(result, info);
    // Scores are probabilities (≥ 0): a threshold of -1 keeps every query.
    result.detections = detr_postprocess(result, info, -1.0f);
}

json predictions_json(const std::vector<Prediction>& predictions) {
    json out = json::array();
    for (const Prediction& p : predictions)
        out.push_back({{"index", p.index}, {"label", p.label}, {"prob", p.prob}, {"logit", p.logit}});
    return out;
}

json detections_json(const std::vector<Detection>& detections) {
    json out = json::array();
    for (const Detection& d : detections)
        out.push_back({{"query", d.query}, {"label_id", d.label_id}, {"label", d.label}, {"score", d.score},
                       {"box_xyxy", d.box_xyxy}});
    return out;
}

} // namespace attnscope
