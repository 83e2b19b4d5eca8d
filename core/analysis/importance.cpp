#include "core/analysis/importance.h"

#include "core/analysis/csv.h"
#include "core/error.h"
#include "core/session.h"

#include <cmath>
#include <cstdio>

namespace attnscope::analysis {

namespace {

// Softmax probability of entry `c` of the n logits at `x`, in double.
double softmax_at(const float* x, int64_t n, int64_t c) {
    double mx = x[0];
    for (int64_t i = 1; i < n; ++i) mx = std::max(mx, static_cast<double>(x[i]));
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - mx);
    return std::exp(x[c] - mx) / sum;
}

std::string num(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.6f", v);
    return b;
}

} // namespace

ImportanceTarget importance_target(const RunResult& r, const ModelInfo& info, int detection) {
    ImportanceTarget t;
    const Tensor& lg = r.logits;
    const bool detector = lg.dim() == 2 && lg.size(1) >= 2 && info.task == Task::Detect;
    if (detection != -1 && !detector)
        throw Error(ErrorKind::Argument, "", "--detection",
                    "selects a DETR query; this model (" + std::string(family_name(info.family)) + ") has no detections");
    if (detector && (detection < -1 || detection >= lg.size(0)))
        throw Error(ErrorKind::Argument, "", "--detection",
                    "query " + std::to_string(detection) + " is out of range: this model has " + std::to_string(lg.size(0)) +
                        " object queries (0…" + std::to_string(lg.size(0) - 1) + ")");
    if (lg.dim() == 1 && lg.numel() > 0) {
        for (int64_t i = 1; i < lg.numel(); ++i)
            if (lg.data[i] > lg.data[t.class_index]) t.class_index = static_cast<int>(i);
    } else if (detector && detection >= 0) {
        const int64_t n = lg.size(1);
        const float* x = lg.ptr() + detection * n;
        for (int64_t c = 1; c + 1 < n; ++c) // the last logit is "no object"
            if (x[c] > x[t.class_index]) t.class_index = static_cast<int>(c);
        t.query = detection;
        t.chosen = true;
    } else if (detector) {
        const int64_t n = lg.size(1);
        double best = -1;
        for (int64_t q = 0; q < lg.size(0); ++q)
            for (int64_t c = 0; c + 1 < n; ++c) { // the last logit is "no object"
                const double p = softmax_at(lg.ptr() + q * n, n, c);
                if (p > best) {
                    best = p;
                    t.query = static_cast<int>(q);
                    t.class_index = static_cast<int>(c);
                }
            }
    } else {
        throw Error(ErrorKind::Unsupported, info.source, "logits",
                    "head importance needs a model with class logits (this one hands out features only)");
    }
    if (t.class_index < static_cast<int>(info.labels.size())) t.label = info.labels[t.class_index];
    if (t.label.empty()) t.label = "class " + std::to_string(t.class_index);
    std::tie(t.logit, t.prob) = target_value(r, t);
    return t;
}

std::pair<double, double> target_value(const RunResult& r, const ImportanceTarget& t) {
    const Tensor& lg = r.logits;
    const int64_t n = lg.dim() == 2 ? lg.size(1) : lg.numel();
    const int64_t row = t.query < 0 ? 0 : t.query;
    if (lg.empty() || t.class_index >= n || (row + 1) * n > lg.numel())
        throw Error(ErrorKind::Mismatch, "logits", "", "the result has no logit for the importance target");
    const float* x = lg.ptr() + row * n;
    return {x[t.class_index], softmax_at(x, n, t.class_index)};
}

HeadImportance head_importance(const Model& model, const Tensor& input, const Interventions& base, Site site,
                               int detection, const std::function<void(int, int)>& progress, const CancelFlag* cancel,
                               const RunResult* baseline) {
    const ModelInfo& info = model.info();
    HeadImportance imp;
    imp.site = site;
    imp.mode = base.mode;
    imp.n_layers = site_layers(info, site);
    imp.n_heads = info.n_heads;
    if (imp.n_layers == 0)
        throw Error(ErrorKind::Argument, "", "--site", std::string("this model has no ") + site_name(site) + " attention");
    Session session(model);
    session.set_interventions(base);
    RunResult own;
    if (!baseline) {
        own = session.run(input, RecordPolicy::None, cancel);
        baseline = &own;
    }
    imp.target = importance_target(*baseline, info, detection);
    const int total = 1 + imp.n_layers * imp.n_heads;
    int done = 1;
    if (progress) progress(done, total);
    for (int l = 0; l < imp.n_layers; ++l)
        for (int h = 0; h < imp.n_heads; ++h) {
            if (cancel && cancel->load()) throw Error(ErrorKind::Cancelled, "", "", "head importance cancelled");
            Interventions iv = base;
            iv.set_ablated(HeadRef{site, l, h}, true);
            session.set_interventions(std::move(iv));
            const RunResult r = session.run(input, RecordPolicy::None, cancel);
            const auto [logit, prob] = target_value(r, imp.target);
            imp.delta_logit.push_back(imp.target.logit - logit);
            imp.delta_prob.push_back(imp.target.prob - prob);
            if (progress) progress(++done, total);
        }
    return imp;
}

HeadImportance folder_head_importance(const Model& model, const std::string& dir, const std::vector<std::string>& files,
                                      const Interventions& base, Site site, const BatchCallbacks& callbacks,
                                      std::vector<std::pair<std::string, HeadImportance>>* per_image,
                                      const CancelFlag* cancel, BatchSummary* summary) {
    HeadImportance mean;
    mean.site = site;
    mean.mode = base.mode;
    mean.n_layers = site_layers(model.info(), site);
    mean.n_heads = model.info().n_heads;
    mean.n_images = 0;
    mean.target.class_index = -1;
    mean.delta_logit.assign(static_cast<size_t>(mean.n_layers) * mean.n_heads, 0.0);
    mean.delta_prob = mean.delta_logit;
    if (mean.n_layers == 0)
        throw Error(ErrorKind::Argument, "", "--site", std::string("this model has no ") + site_name(site) + " attention");
    Session session(model);
    session.set_interventions(base);
    BatchCallbacks cb = callbacks;
    cb.done = nullptr;
    cb.done_with_input = [&](size_t, const std::string& file, RunResult& r, const Tensor& input) {
        HeadImportance one = head_importance(model, input, base, site, -1, {}, cancel, &r);
        for (size_t i = 0; i < one.delta_logit.size(); ++i) {
            mean.delta_logit[i] += one.delta_logit[i];
            mean.delta_prob[i] += one.delta_prob[i];
        }
        ++mean.n_images;
        if (per_image) per_image->emplace_back(file, std::move(one));
    };
    const BatchSummary s = run_batch(session, dir, files, RecordPolicy::None, cb, cancel);
    if (summary) *summary = s;
    if (mean.n_images > 0)
        for (size_t i = 0; i < mean.delta_logit.size(); ++i) {
            mean.delta_logit[i] /= mean.n_images;
            mean.delta_prob[i] /= mean.n_images;
        }
    return mean;
}

std::string importance_csv(const HeadImportance& imp) {
    const bool detection = imp.target.query >= 0;
    const std::string target = detection ? "," + std::to_string(imp.target.class_index) + "," + std::to_string(imp.target.query) : "";
    std::string s = detection ? "layer,head,delta_logit,delta_prob,target_class,target_query\n" : "layer,head,delta_logit,delta_prob\n";
    for (int l = 0; l < imp.n_layers; ++l)
        for (int h = 0; h < imp.n_heads; ++h)
            s += std::to_string(l) + "," + std::to_string(h) + "," + num(imp.logit_at(l, h)) + "," + num(imp.prob_at(l, h)) + target + "\n";
    return s;
}

std::string importance_per_image_csv(const std::vector<std::pair<std::string, HeadImportance>>& per_image) {
    std::string s = "image,layer,head,delta_logit,delta_prob,target_class,target_query\n";
    for (const auto& [file, imp] : per_image) {
        const std::string name = csv_field(file);
        for (int l = 0; l < imp.n_layers; ++l)
            for (int h = 0; h < imp.n_heads; ++h)
                s += name + "," + std::to_string(l) + "," + std::to_string(h) + "," + num(imp.logit_at(l, h)) + "," +
                     num(imp.prob_at(l, h)) + "," + std::to_string(imp.target.class_index) + "," +
                     std::to_string(imp.target.query) + "\n";
    }
    return s;
}

Tensor importance_grid(const HeadImportance& imp, bool prob) {
    Tensor t({imp.n_layers, imp.n_heads});
    const std::vector<double>& v = prob ? imp.delta_prob : imp.delta_logit;
    for (size_t i = 0; i < v.size(); ++i) t.data[i] = static_cast<float>(v[i]);
    return t;
}

} // namespace attnscope::analysis
