#include "core/explain/explain.h"

#include "core/analysis/heads.h"
#include "core/explain/detr_methods.h"
#include "core/explain/gradient_methods.h"
#include "core/explain/vit_grad.h"
#include "core/analysis/rollout.h"
#include "core/error.h"
#include "core/session.h"

#include <algorithm>
#include <cmath>

namespace attnscope::explain {

namespace {

struct MethodName {
    Method method;
    const char* name;
};
constexpr MethodName kMethods[] = {{Method::Chefer2, "chefer2"},
                                   {Method::GradCam, "gradcam"},
                                   {Method::GradRollout, "grad-rollout"},
                                   {Method::Rollout, "rollout"},
                                   {Method::Attention, "attention"}};

// The target class of a classifier's run and its logit / probability.
void fill_target(const RunResult& run, const Model& model, const Target& target, Explanation& out) {
    if (run.predictions.empty())
        throw Error(ErrorKind::Unsupported, model.info().source, "",
                    "this model has no classifier head: there is no class to explain");
    const int n = static_cast<int>(run.logits.numel());
    const int k = target.class_index < 0 ? run.predictions.front().index : target.class_index;
    if (k >= n)
        throw Error(ErrorKind::Argument, "--target", std::to_string(k),
                    "class index outside the model's " + std::to_string(n) + " classes");
    const auto it = std::find_if(run.predictions.begin(), run.predictions.end(),
                                 [k](const Prediction& p) { return p.index == k; });
    out.target_index = k;
    out.target_label = it->label;
    out.logit = it->logit;
    out.prob = it->prob;
}

} // namespace

const char* method_name(Method m) {
    for (const MethodName& e : kMethods)
        if (e.method == m) return e.name;
    return "?";
}

bool method_from_name(const std::string& name, Method& m) {
    for (const MethodName& e : kMethods)
        if (name == e.name) {
            m = e.method;
            return true;
        }
    return false;
}

namespace {
constexpr const char* kBoxCoords[] = {"cx", "cy", "w", "h"};
}

const char* box_coord_name(int coord) { return coord >= 0 && coord < 4 ? kBoxCoords[coord] : ""; }

bool box_coord_from_name(const std::string& name, int& coord) {
    for (int i = 0; i < 4; ++i)
        if (name == kBoxCoords[i]) {
            coord = i;
            return true;
        }
    return false;
}

namespace {

bool is_gradient_method(Method m) { return m == Method::Chefer2 || m == Method::GradCam || m == Method::GradRollout; }

[[noreturn]] void vit_only(const Model& model, Method m) {
    throw Error(ErrorKind::Unsupported, model.info().source, "",
                std::string("method '") + method_name(m) + "' explains ViT-family classifiers only");
}


// DETR: the query and class of `target` (defaults: the most confident detection, its arg-max class) in a
// pass's logits [Q, n_labels + 1] and boxes, with the class's logit, softmax probability and label.
void fill_detection(const Tensor& logits, const Tensor& boxes, const Model& model, const Target& target, Explanation& out) {
    const int Q = static_cast<int>(logits.size(0)), C1 = static_cast<int>(logits.size(1));
    if (target.detection >= Q)
        throw Error(ErrorKind::Argument, "--detection", std::to_string(target.detection),
                    "query index outside the model's " + std::to_string(Q) + " object queries");
    if (target.class_index >= C1)
        throw Error(ErrorKind::Argument, "--target", std::to_string(target.class_index),
                    "class index outside the model's " + std::to_string(C1 - 1) + " classes and no-object (" +
                        std::to_string(C1 - 1) + ")");
    const int q = target.detection >= 0 ? target.detection : detr_top_query(logits);
    const int k = target.class_index >= 0 ? target.class_index : detr_top_class(logits, q);
    const float* row = logits.ptr() + static_cast<int64_t>(q) * C1;
    const float mx = *std::max_element(row, row + C1);
    double sum = 0.0;
    for (int c = 0; c < C1; ++c) sum += std::exp(static_cast<double>(row[c]) - mx);
    out.detection = q;
    out.target_index = k;
    const std::vector<std::string>& labels = model.info().labels;
    out.target_label = k == C1 - 1 ? "no object"
                       : static_cast<size_t>(k) < labels.size() && !labels[static_cast<size_t>(k)].empty()
                           ? labels[static_cast<size_t>(k)]
                           : "class " + std::to_string(k);
    out.logit = row[k];
    out.prob = static_cast<float>(std::exp(static_cast<double>(row[k]) - mx) / sum);
    std::copy_n(boxes.ptr() + static_cast<int64_t>(q) * 4, 4, out.box.begin());
}

std::vector<Explanation> explain_detr(const DetrModel& model, const Tensor& input, const std::vector<Method>& methods,
                                      const Target& target, const CancelFlag* cancel) {
    for (const Method m : methods)
        if (m == Method::GradRollout)
            throw Error(ErrorKind::Unsupported, model.info().source, "",
                        "method 'grad-rollout' has no definition for DETR's encoder-decoder (neither vit-explain nor "
                        "Chefer et al.'s DETR code define one); use chefer2, gradcam, rollout or attention");
    if (target.box_coord >= 4)
        throw Error(ErrorKind::Argument, "", "--box", std::to_string(target.box_coord) + ": expected 0…3 (cx, cy, w, h)");
    RunResult run;
    Explanation base_run;
    if (std::any_of(methods.begin(), methods.end(), [](Method m) { return !is_gradient_method(m); })) {
        run = Session(model).run(input, RecordPolicy::All, cancel);
        fill_detection(run.logits, run.boxes, model, target, base_run);
        base_run.layout = run.layout;
    }
    DetrGradients g;
    Explanation base_grad;
    if (std::any_of(methods.begin(), methods.end(), is_gradient_method)) {
        DetrTarget t{target.detection, target.class_index, target.box_coord};
        g = detr_gradients(model, input, t, cancel);
        fill_detection(g.logits, g.boxes, model, Target{g.class_index, g.query}, base_grad);
        base_grad.layout = g.layout;
    }
    std::vector<Explanation> out;
    for (const Method m : methods) {
        Explanation e = is_gradient_method(m) ? base_grad : base_run;
        e.method = m;
        e.box_coord = std::max(-1, target.box_coord); // the baselines' maps are the query's for any target
        switch (m) {
        case Method::Chefer2: e.relevance = detr_chefer2_map(g); break;
        case Method::GradCam: e.relevance = detr_gradcam_map(g); break;
        case Method::Rollout: e.relevance = detr_rollout_map(run.attention, run.layout, e.detection); break;
        case Method::Attention: e.relevance = detr_attention_map(run.attention, run.layout, e.detection); break;
        case Method::GradRollout: break; // refused above
        }
        out.push_back(std::move(e));
    }
    return out;
}

} // namespace

std::vector<Explanation> explain_methods(const Model& model, const Tensor& input, const std::vector<Method>& methods,
                                         const Target& target, const ExplainOptions& options, const CancelFlag* cancel) {
    if (model.info().task == Task::Detect) {
        const auto* detr = dynamic_cast<const DetrModel*>(&model);
        if (!detr)
            throw Error(ErrorKind::Unsupported, model.info().source, "",
                        "explanations cover DETR's encoder-decoder detectors; this detector (" +
                            std::string(family_name(model.info().family)) + ") is not supported");
        return explain_detr(*detr, input, methods, target, cancel);
    }
    if (target.box_coord >= 0)
        throw Error(ErrorKind::Argument, "", "--box",
                    "a box coordinate belongs to a DETR detection; this model (" + std::string(family_name(model.info().family)) +
                        ") predicts no boxes: explain a class (--target)");
    std::vector<Explanation> out;
    // The baselines: one recorded forward pass.
    RunResult run;
    Explanation base_run;
    const auto baseline = std::find_if(methods.begin(), methods.end(), [](Method m) { return !is_gradient_method(m); });
    if (baseline != methods.end()) {
        run = Session(model).run(input, RecordPolicy::All, cancel);
        fill_target(run, model, target, base_run);
        base_run.layout = run.layout;
    }
    // The gradient methods: one taped forward and one backward.
    VitGradients g;
    Explanation base_grad;
    const auto gradient = std::find_if(methods.begin(), methods.end(), is_gradient_method);
    if (gradient != methods.end()) {
        const VitConfig* c = vit_config(model);
        const VitWeights* w = vit_weights(model);
        if (!c || !w) vit_only(model, *gradient);
        if (c->head == VitHead::None)
            throw Error(ErrorKind::Unsupported, model.info().source, "",
                        "this model has no classifier head: there is no class to explain");
        if (target.class_index >= c->n_labels)
            throw Error(ErrorKind::Argument, "--target", std::to_string(target.class_index),
                        "class index outside the model's " + std::to_string(c->n_labels) + " classes");
        g = vit_gradients(*c, *w, input, target.class_index, cancel);
        RunResult logits;
        logits.logits = g.logits;
        logits.predictions = classify_predictions(logits, model.info());
        fill_target(logits, model, Target{g.target, -1}, base_grad);
        base_grad.layout = g.layout;
    }
    for (const Method m : methods) {
        Explanation e = is_gradient_method(m) ? base_grad : base_run;
        e.method = m;
        switch (m) {
        case Method::Rollout: {
            analysis::RolloutOptions ro;
            ro.discard_ratio = options.discard_ratio;
            e.relevance = analysis::attention_rollout(run.attention, run.layout, ro);
            break;
        }
        case Method::Attention: {
            const AttentionMap* last = nullptr;
            for (const AttentionMap& a : run.attention)
                if (a.site == Site::Encoder) last = &a;
            if (!last) throw Error(ErrorKind::Missing, model.info().source, "", "no encoder attention recorded");
            e.relevance = analysis::query_map(*last, run.layout, 0); // CLS row, mean of heads
            break;
        }
        case Method::Chefer2: e.relevance = chefer2_map(g); break;
        case Method::GradCam: e.relevance = gradcam_map(g); break;
        case Method::GradRollout: e.relevance = grad_rollout_map(g, options.discard_ratio); break;
        }
        out.push_back(std::move(e));
    }
    return out;
}

Explanation explain(const Model& model, const Tensor& input, Method method, const Target& target,
                    const ExplainOptions& options, const CancelFlag* cancel) {
    return explain_methods(model, input, {method}, target, options, cancel).front();
}

} // namespace attnscope::explain
