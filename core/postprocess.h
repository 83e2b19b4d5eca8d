// Post-processing of a forward pass, in one place: classification predictions (softmax, best first),
// DETR detections (HF post_process_object_detection) and their JSON form. Session::run computes them
// once per result (RunResult::predictions / ::detections); views and writers only filter and show.
#pragma once

#include "core/models/model.h"

#include <nlohmann/json.hpp>

#include <vector>

namespace attnscope {

// Softmax over the classification logits ([n_labels]), every class, most probable first; empty when
// the logits are not one vector (headless models, DETR). Ties keep the lower class index first.
std::vector<Prediction> classify_predictions(const RunResult& result, const ModelInfo& info);
// The k most probable of result.predictions (what Session::run computed), best first.
std::vector<Prediction> top_k(const RunResult& result, int k);

// HF post_process_object_detection: softmax over all classes, drop "no object", keep score > threshold
// (strict, query order); boxes in pixels of the original image (r.geometry.orig_w/h; the input size when
// the geometry is empty). Empty unless logits are [Q, n_labels + 1] and boxes [Q, 4].
std::vector<Detection> detr_postprocess(const RunResult& r, const ModelInfo& info, float threshold);
// The detections of `all` (e.g. RunResult::detections: every query) with score > threshold, in order.
std::vector<Detection> above_threshold(const std::vector<Detection>& all, float threshold);

// Fills result.predictions (classifiers) and result.detections (DETR: every query, index == query).
void postprocess(RunResult& result, const ModelInfo& info);

// [{index, label, prob, logit}] (result.json's "predictions").
nlohmann::json predictions_json(const std::vector<Prediction>& predictions);
// DETR detections: [{query, label_id, label, score, box_xyxy}] (result.json's "detections").
nlohmann::json detections_json(const std::vector<Detection>& detections);

} // namespace attnscope
