#include "core/data/detection_metrics.h"

#include "core/data/scenes.h"

#include <algorithm>
#include <set>

namespace attnscope::data {

ApResult average_precision(const std::vector<ScoredBox>& detections, const std::vector<ScoredBox>& ground_truth,
                           double iou_threshold) {
    ApResult out;
    out.n_ground_truth = static_cast<int>(ground_truth.size());
    out.n_detections = static_cast<int>(detections.size());
    std::set<int> labels;
    for (const auto& g : ground_truth) labels.insert(g.label);
    double sum = 0.0;
    for (int label : labels) {
        // Ground truth of this class, per image.
        std::map<int, std::vector<const ScoredBox*>> gt;
        int n_gt = 0;
        for (const auto& g : ground_truth)
            if (g.label == label) gt[g.image].push_back(&g), ++n_gt;
        std::map<int, std::vector<bool>> used;
        for (auto& [img, v] : gt) used[img].assign(v.size(), false);
        std::vector<const ScoredBox*> dets;
        for (const auto& d : detections)
            if (d.label == label) dets.push_back(&d);
        std::stable_sort(dets.begin(), dets.end(), [](auto* a, auto* b) { return a->score > b->score; });
        std::vector<double> precision, recall;
        int tp = 0, fp = 0;
        for (const ScoredBox* d : dets) {
            int best = -1;
            double best_iou = iou_threshold;
            auto it = gt.find(d->image);
            if (it != gt.end())
                for (size_t j = 0; j < it->second.size(); ++j) {
                    if (used[d->image][j]) continue;
                    const double iou = box_iou(d->box_xyxy, it->second[j]->box_xyxy);
                    if (iou >= best_iou) best_iou = iou, best = static_cast<int>(j);
                }
            if (best >= 0) used[d->image][best] = true, ++tp;
            else ++fp;
            precision.push_back(double(tp) / (tp + fp));
            recall.push_back(double(tp) / n_gt);
        }
        // Precision envelope (non-increasing from the right), sampled at recall 0, 0.01, …, 1.
        for (int i = static_cast<int>(precision.size()) - 2; i >= 0; --i) precision[i] = std::max(precision[i], precision[i + 1]);
        double ap = 0.0;
        for (int r = 0; r <= 100; ++r) {
            const double at = r / 100.0;
            const auto pos = std::lower_bound(recall.begin(), recall.end(), at - 1e-12);
            if (pos != recall.end()) ap += precision[pos - recall.begin()];
        }
        ap /= 101.0;
        out.per_class[label] = ap;
        sum += ap;
    }
    out.map = labels.empty() ? 0.0 : sum / labels.size();
    return out;
}

} // namespace attnscope::data
