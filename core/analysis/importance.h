// Head importance (issue 18; Michel et al. 2019, "Are Sixteen Heads Really Better than One?"): how much
// the model's decision on one input depends on each single attention head — the target's logit and
// probability of the baseline run minus their values with that head ablated (one run per head).
//
// Target: classifiers — the baseline's top-1 class (ties: lower index). Detectors (DETR, YOLOS: logits
// [Q, C + 1], the last one "no object") — one query and one class, both fixed at the baseline run:
//   - by default the baseline's best detection: the query with the highest score (max over the real classes
//     of the softmax over all logits, "no object" excluded: DETR's post-processing rule) and that class;
//   - with `detection` = q ≥ 0 (a chosen detection, e.g. the one selected in the GUI, `ablate --detection`):
//     query q and its top class at the baseline (arg-max of its real-class logits, ties: lower index —
//     the class its Detection shows).
// Measured in every run (baseline and ablated): row q of the logits — that class's logit, and its softmax
// probability over the query's whole row (no-object included). The query is followed by its index (DETR's
// object slots are fixed), the class stays the baseline's even when an ablation makes another class win
// for that query, and the box is not measured (a vanished detection shows as a fall of that probability).
// Headless models (no logits) have no target: Error(Unsupported). `detection` ≥ 0 for a classifier, or
// outside 0 … Q − 1: Error(Argument, field "--detection").
// Baseline: the run with `base` (usually none; e.g. masked patches); each head is ablated on top of it,
// with base.mode. Deltas are positive when the head helped the target.
#pragma once

#include "core/batch.h"
#include "core/interventions.h"
#include "core/models/model.h"

#include <functional>
#include <string>
#include <vector>

namespace attnscope::analysis {

struct ImportanceTarget {
    int query = -1;       // DETR: the query; -1 for classifiers
    bool chosen = false;  // DETR: the query was given (`detection` ≥ 0), not the best detection
    int class_index = 0;
    std::string label;
    double logit = 0, prob = 0; // baseline values
};

struct HeadImportance {
    Site site = Site::Encoder;
    AblationMode mode = AblationMode::Zero;
    int n_layers = 0, n_heads = 0;
    int n_images = 1;             // > 1: means over a folder (target differs per image: target holds none)
    ImportanceTarget target;
    std::vector<double> delta_logit, delta_prob; // [layer · n_heads + head]: baseline − ablated
    double logit_at(int layer, int head) const { return delta_logit[static_cast<size_t>(layer) * n_heads + head]; }
    double prob_at(int layer, int head) const { return delta_prob[static_cast<size_t>(layer) * n_heads + head]; }
};

// The target of a result (see above): `detection` −1 = the default rule, ≥ 0 = that DETR query.
// Error(Unsupported) when it has no logits; Error(Argument, "--detection") for a bad `detection`.
ImportanceTarget importance_target(const RunResult& result, const ModelInfo& info, int detection = -1);
// `target`'s logit and probability in another result of the same model.
std::pair<double, double> target_value(const RunResult& result, const ImportanceTarget& target);

// `detection`: the DETR query to measure (−1: the best detection; see above — checked on the baseline,
// before any ablated run). progress(done, total) after every run (total = 1 + layers·heads); cancel
// between runs and between layers (Error(Cancelled)). `baseline`: an already computed run of `input`
// with `base` (saves one run).
HeadImportance head_importance(const Model& model, const Tensor& input, const Interventions& base, Site site,
                               int detection = -1, const std::function<void(int done, int total)>& progress = {},
                               const CancelFlag* cancel = nullptr, const RunResult* baseline = nullptr);

// Over a folder (files as list_image_files gives them; one image at a time through run_batch): every
// image's own target, deltas averaged over the processed images. `per_image` (optional) receives each
// image's table. Skipped images are reported through callbacks.skipped; progress counts images.
HeadImportance folder_head_importance(const Model& model, const std::string& dir, const std::vector<std::string>& files,
                                      const Interventions& base, Site site, const BatchCallbacks& callbacks,
                                      std::vector<std::pair<std::string, HeadImportance>>* per_image = nullptr,
                                      const CancelFlag* cancel = nullptr, BatchSummary* summary = nullptr);

// head_importance.csv: "layer,head,delta_logit,delta_prob", one row per head, numbers "%.6f"; a detector's
// single-input table (target.query ≥ 0) adds "target_class,target_query" (the class and query measured,
// as in the per-image file) to every row.
std::string importance_csv(const HeadImportance& imp);
// head_importance_per_image.csv rows: "image,layer,head,delta_logit,delta_prob,target_class,target_query";
// the header alone with an empty list.
std::string importance_per_image_csv(const std::vector<std::pair<std::string, HeadImportance>>& per_image);
// [layers, heads] of delta_prob (true) or delta_logit (false), for the grid picture.
Tensor importance_grid(const HeadImportance& imp, bool prob);

} // namespace attnscope::analysis
