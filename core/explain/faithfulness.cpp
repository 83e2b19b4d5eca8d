#include "core/explain/faithfulness.h"

#include "core/analysis/csv.h"
#include "core/error.h"
#include "core/interventions.h"
#include "core/session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>

namespace attnscope::explain {

namespace {

// The target's probability and whether it is the top-1 class in one pass.
struct Point {
    double prob = 0;
    int top1 = 0;
};

Point score(const RunResult& r, int target) {
    Point p;
    for (const Prediction& q : r.predictions)
        if (q.index == target) p.prob = q.prob;
    p.top1 = !r.predictions.empty() && r.predictions.front().index == target ? 1 : 0;
    return p;
}

Point run_point(Session& session, const Tensor& input, int target, const CancelFlag* cancel) {
    return score(session.run(input, RecordPolicy::None, cancel), target);
}

void push(Curve& c, int patches, int n, const Point& p) {
    c.patches.push_back(patches);
    c.fraction.push_back(double(patches) / n);
    c.prob.push_back(p.prob);
    c.top1.push_back(p.top1);
}

// Copies the pixels of the given patch cells from `from` into `to` (both [3, H, W]).
void copy_patches(Tensor& to, const Tensor& from, int patch, int grid_w, const std::vector<int>& cells) {
    const int64_t C = to.size(0), H = to.size(1), W = to.size(2);
    for (int cell : cells) {
        const int64_t y0 = int64_t(cell / grid_w) * patch, x0 = int64_t(cell % grid_w) * patch;
        for (int64_t c = 0; c < C; ++c)
            for (int64_t y = y0; y < y0 + patch && y < H; ++y) {
                const size_t at = size_t((c * H + y) * W + x0);
                std::copy(from.data.begin() + long(at), from.data.begin() + long(at + patch), to.data.begin() + long(at));
            }
    }
}

std::vector<int> first(const std::vector<int>& order, int k) { return {order.begin(), order.begin() + k}; }

std::string num(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.6f", v);
    return b;
}

} // namespace

double trapezoid(const std::vector<double>& x, const std::vector<double>& y) {
    double s = 0;
    for (size_t i = 1; i < x.size() && i < y.size(); ++i) s += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2;
    return s;
}

double Curve::auc_prob() const { return trapezoid(fraction, prob); }

double Curve::auc_top1() const {
    const std::vector<double> y(top1.begin(), top1.end());
    return trapezoid(fraction, y);
}

std::vector<int> step_counts(int n, double step, double max_fraction) {
    if (!(step > 0 && step <= 1)) throw Error(ErrorKind::Argument, "", "--step", "expects a fraction in (0, 1], got " + num(step));
    if (n < 1) throw Error(ErrorKind::Argument, "", "patches", "no patches to remove");
    std::vector<int> out;
    for (int i = 0; i * step <= max_fraction + 1e-6 && i * step <= 1 + 1e-6; ++i) { // 1e-6: a step read as float
        const int k = std::min(n, int(std::lround(i * step * n)));
        if (out.empty() || k != out.back()) out.push_back(k);
    }
    return out;
}

std::vector<int> patch_order(const Tensor& relevance, bool most_relevant_first) {
    std::vector<int> order(size_t(relevance.numel()));
    std::iota(order.begin(), order.end(), 0);
    const float* v = relevance.ptr();
    auto key = [v](int i) { return std::isnan(v[i]) ? -INFINITY : v[i]; }; // NaN: least relevant
    if (most_relevant_first)
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return key(a) > key(b); });
    else
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return key(a) < key(b); });
    return order;
}

std::vector<double> rise_kernel_1d(int klen, double sigma) {
    if (klen < 1 || klen % 2 == 0 || !(sigma > 0))
        throw Error(ErrorKind::Argument, "", "blur", "the kernel needs an odd length and a positive sigma");
    // scipy.ndimage.gaussian_filter1d of a delta at klen/2: weights exp(−i²/2σ²), |i| ≤ int(4σ + 0.5),
    // normalised; samples outside [0, klen) reflected back ('reflect': … c b a | a b c … x y z | z y x …).
    const int radius = int(4 * sigma + 0.5);
    std::vector<double> w(size_t(2 * radius + 1));
    double total = 0;
    for (int i = -radius; i <= radius; ++i) total += w[size_t(i + radius)] = std::exp(-0.5 * i * i / (sigma * sigma));
    for (double& x : w) x /= total;
    auto reflect = [klen](int p) {
        const int period = 2 * klen;
        p %= period;
        if (p < 0) p += period;
        return p < klen ? p : period - 1 - p;
    };
    std::vector<double> k(size_t(klen), 0.0);
    for (int j = 0; j < klen; ++j)
        for (int i = -radius; i <= radius; ++i)
            if (reflect(j + i) == klen / 2) k[size_t(j)] += w[size_t(i + radius)];
    return k;
}

Tensor rise_blur(const Tensor& input, int klen, double sigma) {
    if (input.dim() != 3) throw Error(ErrorKind::Mismatch, "input", "", "expected a [3, H, W] tensor, got " + shape_str(input.shape));
    const std::vector<double> k = rise_kernel_1d(klen, sigma);
    const int64_t C = input.size(0), H = input.size(1), W = input.size(2), r = klen / 2;
    // The 2-D kernel is k ⊗ k, so the zero-padded 2-D convolution is a row pass then a column pass.
    Tensor rows(input.shape), out(input.shape);
    for (int64_t c = 0; c < C; ++c) {
        const float* src = input.ptr() + c * H * W;
        float* mid = rows.ptr() + c * H * W;
        for (int64_t y = 0; y < H; ++y)
            for (int64_t x = 0; x < W; ++x) {
                double s = 0;
                for (int64_t d = -r; d <= r; ++d)
                    if (x + d >= 0 && x + d < W) s += k[size_t(d + r)] * src[y * W + x + d];
                mid[y * W + x] = float(s);
            }
        float* dst = out.ptr() + c * H * W;
        for (int64_t y = 0; y < H; ++y)
            for (int64_t x = 0; x < W; ++x) {
                double s = 0;
                for (int64_t d = -r; d <= r; ++d)
                    if (y + d >= 0 && y + d < H) s += k[size_t(d + r)] * mid[(y + d) * W + x];
                dst[y * W + x] = float(s);
            }
    }
    return out;
}

FaithfulnessImage prepare_image(const Model& model, const RunResult& clean, Tensor input, const FaithfulnessOptions& options,
                                const CancelFlag* cancel) {
    if (clean.predictions.empty())
        throw Error(ErrorKind::Unsupported, model.info().source, "",
                    "faithfulness needs a classifier (its top-1 class is the target); this model has no class scores");
    if (clean.layout.grid_h * clean.layout.grid_w < 1 || clean.layout.patch_size < 1)
        throw Error(ErrorKind::Unsupported, model.info().source, "", "the model's output has no patch grid");
    FaithfulnessImage im;
    im.layout = clean.layout;
    im.target = clean.predictions.front().index;
    im.label = clean.predictions.front().label;
    im.prob = clean.predictions.front().prob;
    im.input = std::move(input);
    im.blurred = rise_blur(im.input, options.blur_klen, options.blur_sigma);
    Session session(model);
    Tensor zero = im.input;
    std::fill(zero.data.begin(), zero.data.end(), 0.0f);
    const Point z = run_point(session, zero, im.target, cancel), b = run_point(session, im.blurred, im.target, cancel);
    im.prob_zero = float(z.prob);
    im.top1_zero = z.top1;
    im.prob_blurred = float(b.prob);
    im.top1_blurred = b.top1;
    return im;
}

PerturbationCurves perturbation_curves(const Model& model, const FaithfulnessImage& im, const Tensor& relevance,
                                       const FaithfulnessOptions& options, const CancelFlag* cancel) {
    const TokenLayout& L = im.layout;
    const int n = L.grid_h * L.grid_w;
    if (relevance.numel() != n)
        throw Error(ErrorKind::Mismatch, "relevance", "", shape_str(relevance.shape) + " does not match the " +
                                                              std::to_string(L.grid_h) + "×" + std::to_string(L.grid_w) + " patch grid");
    Session session(model);
    const std::vector<int> most = patch_order(relevance, true), least = patch_order(relevance, false);
    const Point clean{im.prob, 1}, zero{im.prob_zero, im.top1_zero}, blurred{im.prob_blurred, im.top1_blurred};
    std::map<int, Point> removed_most; // k most relevant removed: positive and deletion share these passes
    auto remove = [&](const std::vector<int>& order, int k) {
        if (k == 0) return clean;
        if (k == n) return zero;
        Tensor x = im.input;
        zero_patches(x, L.patch_size, first(order, k));
        return run_point(session, x, im.target, cancel);
    };
    auto remove_most = [&](int k) {
        auto it = removed_most.find(k);
        if (it == removed_most.end()) it = removed_most.emplace(k, remove(most, k)).first;
        return it->second;
    };
    PerturbationCurves out;
    for (int k : step_counts(n, options.step, options.perturbation_max)) {
        push(out.positive, k, n, remove_most(k));
        push(out.negative, k, n, remove(least, k));
    }
    for (int k : step_counts(n, options.step, 1.0)) {
        push(out.deletion, k, n, remove_most(k));
        Point p = k == 0 ? blurred : k == n ? clean : Point{};
        if (k > 0 && k < n) {
            Tensor x = im.blurred;
            copy_patches(x, im.input, L.patch_size, L.grid_w, first(most, k));
            p = run_point(session, x, im.target, cancel);
        }
        push(out.insertion, k, n, p);
    }
    return out;
}

FaithfulnessRun run_faithfulness(const Model& model, const std::string& dir, const std::vector<std::string>& files,
                                 const std::vector<Method>& methods, const FaithfulnessOptions& options,
                                 const FaithfulnessCallbacks& cb, const CancelFlag* cancel, const RelevanceFn& relevance) {
    const RelevanceFn relevance_of = relevance ? relevance
                                               : [](const Model& m, const Tensor& x, Method method, int target,
                                                    const ExplainOptions& o, const CancelFlag* c) {
                                                     return explain(m, x, method, Target{target, -1}, o, c).relevance;
                                                 };
    FaithfulnessRun run;
    std::vector<Method> live = methods;
    BatchCallbacks bc;
    bc.starting = cb.starting;
    bc.skipped = cb.skipped;
    bc.progress = cb.progress;
    bc.done_with_input = [&](size_t, const std::string& file, RunResult& clean, const Tensor& input) {
        const FaithfulnessImage im = prepare_image(model, clean, input, options, cancel);
        std::vector<FaithfulnessRow> rows; // the image's rows land together: a failure skips the whole image
        for (size_t m = 0; m < live.size();) {
            FaithfulnessRow row{file, live[m], im.target, im.label, im.prob, {}, 0};
            Tensor map;
            try {
                const auto t0 = std::chrono::steady_clock::now();
                map = relevance_of(model, im.input, live[m], im.target, options.explain, cancel);
                row.explain_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            } catch (const Error& err) {
                if (err.kind() != ErrorKind::Unsupported) throw;
                run.dropped.emplace_back(live[m], err.what());
                if (cb.dropped) cb.dropped(live[m], err.what());
                live.erase(live.begin() + long(m));
                continue;
            }
            row.curves = perturbation_curves(model, im, map, options, cancel);
            rows.push_back(std::move(row));
            ++m;
        }
        for (FaithfulnessRow& r : rows) {
            if (cb.row) cb.row(r);
            run.rows.push_back(std::move(r));
        }
    };
    Session session(model);
    run.batch = run_batch(session, dir, files, RecordPolicy::None, bc, cancel);
    return run;
}

std::string faithfulness_csv(const std::vector<FaithfulnessRow>& rows) {
    std::string s = "image,method,target,label,prob,positive_auc_top1,positive_auc_prob,negative_auc_top1,negative_auc_prob,"
                    "deletion_auc,insertion_auc,explain_ms\n";
    for (const FaithfulnessRow& r : rows) {
        const PerturbationCurves& c = r.curves;
        s += analysis::csv_field(r.image) + "," + method_name(r.method) + "," + std::to_string(r.target) + "," +
             analysis::csv_field(r.label) + "," + num(r.prob) + "," + num(c.positive.auc_top1()) + "," +
             num(c.positive.auc_prob()) + "," + num(c.negative.auc_top1()) + "," + num(c.negative.auc_prob()) + "," +
             num(c.deletion.auc_prob()) + "," + num(c.insertion.auc_prob()) + "," + num(r.explain_ms) + "\n";
    }
    return s;
}

std::string curves_csv(const std::vector<FaithfulnessRow>& rows) {
    std::string s = "image,method,test,patches,fraction,prob,top1\n";
    for (const FaithfulnessRow& r : rows) {
        const std::pair<const char*, const Curve*> tests[] = {{"positive", &r.curves.positive},
                                                              {"negative", &r.curves.negative},
                                                              {"deletion", &r.curves.deletion},
                                                              {"insertion", &r.curves.insertion}};
        for (const auto& [name, c] : tests)
            for (size_t i = 0; i < c->patches.size(); ++i)
                s += analysis::csv_field(r.image) + "," + method_name(r.method) + "," + name + "," +
                     std::to_string(c->patches[i]) + "," + num(c->fraction[i]) + "," + num(c->prob[i]) + "," +
                     std::to_string(c->top1[i]) + "\n";
    }
    return s;
}

std::string summary_csv(const std::vector<FaithfulnessRow>& rows, const std::vector<Method>& methods) {
    using Metric = double (*)(const PerturbationCurves&);
    const std::pair<const char*, Metric> metrics[] = {
        {"positive_auc_top1", [](const PerturbationCurves& c) { return c.positive.auc_top1(); }},
        {"positive_auc_prob", [](const PerturbationCurves& c) { return c.positive.auc_prob(); }},
        {"negative_auc_top1", [](const PerturbationCurves& c) { return c.negative.auc_top1(); }},
        {"negative_auc_prob", [](const PerturbationCurves& c) { return c.negative.auc_prob(); }},
        {"deletion_auc", [](const PerturbationCurves& c) { return c.deletion.auc_prob(); }},
        {"insertion_auc", [](const PerturbationCurves& c) { return c.insertion.auc_prob(); }}};
    std::string s = "method,images";
    for (const auto& m : metrics) s += std::string(",") + m.first + "," + m.first + "_std";
    s += "\n";
    for (Method method : methods) {
        std::vector<const FaithfulnessRow*> mine;
        for (const FaithfulnessRow& r : rows)
            if (r.method == method) mine.push_back(&r);
        s += std::string(method_name(method)) + "," + std::to_string(mine.size());
        for (const auto& m : metrics) {
            if (mine.empty()) {
                s += ",,";
                continue;
            }
            double sum = 0, sq = 0;
            for (const FaithfulnessRow* r : mine) sum += m.second(r->curves);
            const double mean = sum / double(mine.size());
            for (const FaithfulnessRow* r : mine) sq += (m.second(r->curves) - mean) * (m.second(r->curves) - mean);
            const double sd = mine.size() > 1 ? std::sqrt(sq / double(mine.size() - 1)) : 0.0;
            s += "," + num(mean) + "," + num(sd);
        }
        s += "\n";
    }
    return s;
}

} // namespace attnscope::explain
