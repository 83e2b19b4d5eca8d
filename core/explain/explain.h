// Class-specific explanations of one prediction (issue 16): the relevance of every patch for one target
// (a class logit, pre-softmax; for DETR one detection), by one of five methods.
//
//   chefer2       Chefer, Gur, Wolf 2021 (ICCV), gradient-weighted relevance propagation through every block
//   gradcam       Grad-CAM on the last block's pre-attention LayerNorm output (pytorch-grad-cam's ViT recipe)
//   grad-rollout  vit-explain's gradient rollout, each layer's gradient with its own layer, rows renormalised
//   rollout       attention rollout (core/analysis/rollout.h), not class-specific — a baseline
//   attention     last layer, CLS row, mean of heads — a baseline
// DETR (core/explain/detr_methods.h): chefer2 with the encoder-decoder rules of Chefer 2021b, gradcam,
// rollout and attention as in the authors' DETR code, over the selected query's row; grad-rollout has no
// DETR definition and answers Error(Unsupported).
#pragma once

#include "core/models/model.h"

#include <array>
#include <string>
#include <vector>

namespace attnscope::explain {

enum class Method { Chefer2, GradCam, GradRollout, Rollout, Attention };

// "chefer2", "gradcam", "grad-rollout", "rollout", "attention" (the CLI's --method names).
const char* method_name(Method m);
// The inverse of method_name; false (m untouched) for an unknown name.
bool method_from_name(const std::string& name, Method& m);

// What to explain. Classifiers: class_index (−1: the top-1 class). DETR: detection = the query index
// (−1: the most confident query), class_index = that query's class (−1: its arg-max class); box_coord 0…3
// differentiates that query's box coordinate (cx, cy, w, h after the sigmoid, fractions of the input) instead
// of the class logit (class_index is then only reported). A box coordinate on a classifier: Error(Argument).
struct Target {
    int class_index = -1;
    int detection = -1;
    int box_coord = -1;
};

// "cx", "cy", "w", "h" (the CLI's --box values) for 0…3; "" otherwise.
const char* box_coord_name(int coord);
// The inverse of box_coord_name; false (coord untouched) for an unknown name.
bool box_coord_from_name(const std::string& name, int& coord);

struct Explanation {
    Method method = Method::Chefer2;
    int target_index = 0;     // the class explained
    std::string target_label; // its label ("class <index>" when the model has none)
    int detection = -1;       // DETR: the query explained
    std::array<float, 4> box{}; // DETR: that query's box, (cx, cy, w, h) as fractions of the input
    int box_coord = -1;       // DETR: the box coordinate explained (0…3 = cx, cy, w, h; its value box[box_coord]),
                              // −1: the class logit
    float logit = 0.0f, prob = 0.0f; // the target's logit and softmax probability in this pass
    Tensor relevance;         // [grid_h, grid_w]: the method's raw values over the patch grid, not rescaled
    TokenLayout layout;
};

struct ExplainOptions {
    double discard_ratio = 0.0; // rollout and grad-rollout, as the rollout view's
};

// Runs the forward (and for gradient methods the backward) pass on `input` ([3, H, W], normalised).
// Throws Error(Unsupported) when the model or method cannot be explained, Error(Cancelled) when
// `cancel` is set.
Explanation explain(const Model& model, const Tensor& input, Method method, const Target& target,
                    const ExplainOptions& options = {}, const CancelFlag* cancel = nullptr);

// Several methods for one target, in `methods`' order: the gradient methods share one forward + backward
// pass (chefer2 + gradcam + grad-rollout cost one explain() instead of three), the baselines share one
// recorded forward. Each result equals explain() with that method.
std::vector<Explanation> explain_methods(const Model& model, const Tensor& input, const std::vector<Method>& methods,
                                         const Target& target, const ExplainOptions& options = {},
                                         const CancelFlag* cancel = nullptr);

} // namespace attnscope::explain
