// Evaluation of a loaded model through AttnScope's own forward pass: top-1 accuracy on
// Fashion-MNIST and mAP@0.5 on synthetic detection scenes. Images are run in parallel
// (one worker per thread, BLAS single-threaded inside each); the model is shared read-only.
#pragma once

#include "core/data/detection_metrics.h"
#include "core/data/fashion_mnist.h"
#include "core/data/scenes.h"
#include "core/models/model.h"

#include <functional>

namespace attnscope::data {

// Called from worker threads with (done, total); return false to cancel (throws Error(Cancelled)).
using EvalProgress = std::function<bool(int, int)>;

struct ClassificationResult {
    int count = 0, correct = 0;
    double accuracy = 0.0;
    std::vector<int> confusion; // 10 × 10, row = true label, column = predicted
    double seconds = 0.0;
};

// Runs the first `limit` images (all when limit <= 0) of `set`; grey → RGB, the model's own
// preprocessing. The model must have 10 outputs.
ClassificationResult evaluate_classification(const Model& model, const FashionMnist& set, int limit, int threads,
                                             const EvalProgress& progress = {});

struct DetectionEvalResult {
    int scenes = 0;
    ApResult ap;
    double seconds = 0.0;
};

// Scenes `0 .. count-1` of `seed` built from `items`; every query's best class and score counts
// as one detection (threshold 0), as COCO evaluation of DETR does.
DetectionEvalResult evaluate_detection(const Model& model, const FashionMnist& items, uint64_t seed, int count,
                                       int threads, const SceneOptions& opt = {}, const EvalProgress& progress = {});

ImageRGB8 grey_to_rgb(const uint8_t* pixels, int width, int height);

} // namespace attnscope::data
