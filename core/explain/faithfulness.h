// How faithful is a relevance map to the model (issue 16)? Remove or insert patches in the map's order and
// watch the model's confidence in its own top-1 class:
//
//   positive / negative perturbation  Chefer, Gur, Wolf 2021 (CVPR, §5; their ViT perturbation script):
//       set patches to 0 in the normalised input (core/interventions.h zero_patches), most relevant first
//       (positive: a faithful map drops the class fast — lower AUC is better) or least relevant first
//       (negative: higher is better), in steps of 10% of the patches from 0% to 90%; record whether the
//       target is still the top-1 class and its softmax probability.
//   deletion / insertion  Petsiuk, Das, Saenko 2018 (RISE, BMVC, §4): delete the most relevant patches
//       first down to an all-zero input (lower is better), or insert the original's patches, most
//       relevant first, onto a blurred copy of the input (higher is better); the target's probability
//       from 0% to 100% changed.
//
// Every AUC is the trapezoid rule over the fractions of patches actually changed (round(f · n) patches
// at step f), the curve's y in [0, 1]. The target is the model's own top-1 class on the clean input.
// Core (no Qt): the CLI's `faithfulness` and its tests use it; docs/explanations.md has the numbers.
#pragma once

#include "core/batch.h"
#include "core/explain/explain.h"

#include <functional>
#include <string>
#include <vector>

namespace attnscope::explain {

struct FaithfulnessOptions {
    double step = 0.1;             // fraction of the patches changed per step
    double perturbation_max = 0.9; // positive / negative perturbation stop here (Chefer: 90%)
    int blur_klen = 11;            // RISE's insertion substrate: klen 11, σ 5 (see rise_blur)
    double blur_sigma = 5.0;
    ExplainOptions explain;        // discard ratio of rollout / grad-rollout
};

// One test's curve over its steps (step 0 = the clean input for removal, the blurred one for insertion).
struct Curve {
    std::vector<int> patches;     // patches changed at each step, ascending from 0
    std::vector<double> fraction; // patches / all patches
    std::vector<double> prob;     // the target's softmax probability
    std::vector<int> top1;        // 1 while the target is the top-1 class, else 0
    double auc_prob() const;
    double auc_top1() const;
};

struct PerturbationCurves {
    Curve positive, negative; // Chefer: most / least relevant removed first, 0 … perturbation_max
    Curve deletion, insertion; // RISE: 0 … 100%
};

// ∫ y dx by the trapezoid rule over the points (x ascending); 0 for fewer than two points.
double trapezoid(const std::vector<double>& x, const std::vector<double>& y);

// Patch counts of the steps: round(i · step · n) for i = 0, 1, … while i · step ≤ max_fraction, duplicates
// dropped (a coarse grid), ascending; always starts at 0. Error(Argument) for step ∉ (0, 1] or n < 1.
std::vector<int> step_counts(int n_patches, double step, double max_fraction);

// The patch cells (row-major over relevance's [grid_h, grid_w]) in order of relevance: most relevant first
// (descending) or least relevant first (ascending); ties in cell order either way; NaN counts as least.
std::vector<int> patch_order(const Tensor& relevance, bool most_relevant_first);

// RISE's blur (gkern in their evaluation.py): the klen × klen kernel is scipy's gaussian_filter(σ) of a
// centred delta (a sampled Gaussian of radius 4σ folded back by 'reflect' at the kernel's edge, so it
// sums to 1; it is the outer product of the 1-D kernel below), convolved per channel with zero padding
// (0 = the mean colour of the normalised input), output the input's size.
std::vector<double> rise_kernel_1d(int klen, double sigma);
Tensor rise_blur(const Tensor& input, int klen, double sigma);

// One image, ready to be perturbed: the clean pass's target and the passes every method shares.
struct FaithfulnessImage {
    Tensor input;        // [3, H, W] normalised, as fed
    Tensor blurred;      // rise_blur(input)
    TokenLayout layout;
    int target = 0;      // the clean top-1 class
    std::string label;
    float prob = 0.0f;   // its clean probability
    float prob_zero = 0.0f, prob_blurred = 0.0f; // all patches removed; the blurred input
    int top1_zero = 0, top1_blurred = 0;
};

// From the clean run of `input` (Session::run, any RecordPolicy): runs the all-removed and blurred passes.
// Error(Unsupported) for a model without classes (DETR, headless), naming the model.
FaithfulnessImage prepare_image(const Model& model, const RunResult& clean, Tensor input, const FaithfulnessOptions& options,
                                const CancelFlag* cancel = nullptr);

// The four curves of one relevance map ([grid_h, grid_w] of image's layout); 3 × (steps − 1) passes.
PerturbationCurves perturbation_curves(const Model& model, const FaithfulnessImage& image, const Tensor& relevance,
                                       const FaithfulnessOptions& options, const CancelFlag* cancel = nullptr);

// One image and method.
struct FaithfulnessRow {
    std::string image; // relative to the folder
    Method method = Method::Rollout;
    int target = 0;
    std::string label;
    float prob = 0.0f;
    PerturbationCurves curves;
    double explain_ms = 0; // the explanation's own time (the perturbation passes not counted)
};

struct FaithfulnessCallbacks {
    std::function<void(size_t index, size_t total, const std::string& file)> starting;
    std::function<void(const FaithfulnessRow& row)> row;
    std::function<void(size_t index, const std::string& file, const std::string& why)> skipped;
    // A method the model cannot be explained by (Error(Unsupported)): left out of every later image.
    std::function<void(Method method, const std::string& why)> dropped;
    std::function<void(size_t finished, size_t total)> progress;
};

struct FaithfulnessRun {
    BatchSummary batch;
    std::vector<FaithfulnessRow> rows; // image order, then the order of `methods`
    std::vector<std::pair<Method, std::string>> dropped;
};

// One method's relevance map ([grid_h, grid_w]) for `target` on `input`: explain() by default; a seam for
// tests (a map that knows the answer) and other sources of maps. Error(Unsupported) drops the method.
using RelevanceFn = std::function<Tensor(const Model& model, const Tensor& input, Method method, int target,
                                         const ExplainOptions& options, const CancelFlag* cancel)>;

// The folder job (core/batch.h's run_batch: skip bad images, progress, stop on cancel keeping the rows so
// far): each image's clean pass, then every method's explanation and curves. An image on which anything
// but Error(Unsupported) fails is skipped whole (no rows), as an image that does not decode.
FaithfulnessRun run_faithfulness(const Model& model, const std::string& dir, const std::vector<std::string>& files,
                                 const std::vector<Method>& methods, const FaithfulnessOptions& options,
                                 const FaithfulnessCallbacks& callbacks = {}, const CancelFlag* cancel = nullptr,
                                 const RelevanceFn& relevance = {});

// faithfulness.csv: one line per image and method (target, its clean probability, every AUC).
std::string faithfulness_csv(const std::vector<FaithfulnessRow>& rows);
// faithfulness_curves.csv: one line per image, method, test and step (patches, fraction, prob, top1).
std::string curves_csv(const std::vector<FaithfulnessRow>& rows);
// summary.csv: one line per method of `methods` (in that order): images, then each AUC's mean and sample
// standard deviation over the images (empty cells for a method without rows).
std::string summary_csv(const std::vector<FaithfulnessRow>& rows, const std::vector<Method>& methods);

} // namespace attnscope::explain
