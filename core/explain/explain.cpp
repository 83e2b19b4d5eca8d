#include "core/explain/explain.h"

#include "core/analysis/heads.h"
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

Explanation explain(const Model& model, const Tensor& input, Method method, const Target& target,
                    const ExplainOptions& options, const CancelFlag* cancel) {
    Explanation out;
    out.method = method;
    switch (method) {
    case Method::Rollout:
    case Method::Attention: {
        if (model.info().task == Task::Detect)
            throw Error(ErrorKind::Unsupported, model.info().source, "",
                        std::string("method '") + method_name(method) + "' explains ViT-family classifiers only");
        Session session(model);
        RunResult run = session.run(input, RecordPolicy::All, cancel);
        fill_target(run, model, target, out);
        out.layout = run.layout;
        if (method == Method::Rollout) {
            analysis::RolloutOptions ro;
            ro.discard_ratio = options.discard_ratio;
            out.relevance = analysis::attention_rollout(run.attention, run.layout, ro);
        } else {
            const AttentionMap* last = nullptr;
            for (const AttentionMap& m : run.attention)
                if (m.site == Site::Encoder) last = &m;
            if (!last) throw Error(ErrorKind::Missing, model.info().source, "", "no encoder attention recorded");
            out.relevance = analysis::query_map(*last, run.layout, 0); // CLS row, mean of heads
        }
        return out;
    }
    case Method::Chefer2:
    case Method::GradCam:
    case Method::GradRollout: {
        const VitConfig* c = vit_config(model);
        const VitWeights* w = vit_weights(model);
        if (!c || !w)
            throw Error(ErrorKind::Unsupported, model.info().source, "",
                        std::string("method '") + method_name(method) + "' explains ViT-family classifiers only");
        if (c->head == VitHead::None)
            throw Error(ErrorKind::Unsupported, model.info().source, "",
                        "this model has no classifier head: there is no class to explain");
        if (target.class_index >= c->n_labels)
            throw Error(ErrorKind::Argument, "--target", std::to_string(target.class_index),
                        "class index outside the model's " + std::to_string(c->n_labels) + " classes");
        const VitGradients g = vit_gradients(*c, *w, input, target.class_index, cancel);
        RunResult run;
        run.logits = g.logits;
        run.predictions = classify_predictions(run, model.info());
        fill_target(run, model, Target{g.target, -1}, out);
        out.layout = g.layout;
        if (method == Method::Chefer2) out.relevance = chefer2_map(g);
        else if (method == Method::GradCam) out.relevance = gradcam_map(g);
        else out.relevance = grad_rollout_map(g, options.discard_ratio);
        return out;
    }
    }
    throw Error(ErrorKind::Unsupported, "--method", method_name(method), "unknown method");
}

} // namespace attnscope::explain
