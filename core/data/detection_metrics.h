// Detection quality: average precision at one IoU threshold, COCO style (101-point interpolated
// precision envelope, greedy matching of score-sorted detections to unmatched ground truth).
#pragma once

#include <array>
#include <map>
#include <vector>

namespace attnscope::data {

struct ScoredBox {
    int image = 0, label = 0;
    float score = 0.0f;
    std::array<float, 4> box_xyxy{};
};

struct ApResult {
    double map = 0.0;              // mean over classes that have ground truth
    std::map<int, double> per_class; // label → AP
    int n_ground_truth = 0, n_detections = 0;
};

ApResult average_precision(const std::vector<ScoredBox>& detections, const std::vector<ScoredBox>& ground_truth,
                           double iou_threshold = 0.5);

} // namespace attnscope::data
