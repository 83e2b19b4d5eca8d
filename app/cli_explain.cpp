// attnscope-cli explain: a class-specific relevance map of one prediction (core/explain, issue 16),
// and `bench --explain METHOD`: the time of an explanation beside the forward pass it explains.
// Files are written atomically; see docs/explanations.md.
#include "app/cli_args.h"
#include "core/analysis/heads.h"
#include "core/analysis/render.h"
#include "core/error.h"
#include "core/explain/detr_grad.h"
#include "core/explain/explain.h"
#include "core/explain/vit_grad.h"
#include "core/image/decode.h"
#include "core/image/preprocess.h"
#include "core/io/npy.h"
#include "core/session.h"
#include "core/tensor/ops.h"

#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace attnscope::cli {

namespace fs = std::filesystem;
namespace an = attnscope::analysis;
using json = nlohmann::json;

namespace {

explain::Method method_arg(const Args& a) {
    const std::string name = a.require("--method");
    explain::Method m;
    if (!explain::method_from_name(name, m))
        throw Error(ErrorKind::Argument, "", "--method",
                    "unknown method '" + name + "' (known: chefer2, gradcam, grad-rollout, rollout, attention)");
    return m;
}

double discard_arg(const Args& a) {
    const double d = a.get_double("--discard", 0.9);
    if (!(d >= 0.0 && d < 1.0)) throw Error(ErrorKind::Argument, "", "--discard", "must be in [0, 1), got '" + a.get("--discard") + "'");
    return d;
}

// The normalised input back to 8-bit RGB (the picture under the overlay when the input is a tensor).
ImageRGB8 denormalise(const Tensor& x, const PreprocessSpec& spec) {
    ImageRGB8 img;
    img.height = static_cast<int>(x.size(1));
    img.width = static_cast<int>(x.size(2));
    const int64_t n = static_cast<int64_t>(img.width) * img.height;
    img.data.resize(static_cast<size_t>(n) * 3);
    for (int c = 0; c < 3; ++c)
        for (int64_t i = 0; i < n; ++i) {
            const float v = (x.data[static_cast<size_t>(c * n + i)] * spec.std[c] + spec.mean[c]) * 255.0f;
            img.data[static_cast<size_t>(i * 3 + c)] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
        }
    return img;
}

// --input-npy as is (geometry = the input's size), or --image preprocessed as the model's authors did.
Tensor explain_input(const Args& a, const Model& model, ImageRGB8& image, PreprocessGeometry& geometry) {
    if (a.flag("--input-npy") == a.flag("--image"))
        throw Error(ErrorKind::Argument, "", "--image", "give exactly one of --image or --input-npy");
    if (a.flag("--input-npy")) {
        const std::string file = a.get("--input-npy");
        Tensor input = read_npy(file);
        if (input.dim() == 4 && input.size(0) == 1) input.shape.erase(input.shape.begin());
        if (input.dim() != 3 || input.size(0) != 3)
            throw Error(ErrorKind::Mismatch, file, "shape", "expected [3, H, W] (or [1, 3, H, W]), got " + shape_str(input.shape));
        const int h = static_cast<int>(input.size(1)), w = static_cast<int>(input.size(2));
        geometry = PreprocessGeometry{w, h, w, h, 0, 0, w, h};
        image = denormalise(input, model.preprocess());
        return input;
    }
    image = decode_image_file(a.get("--image"));
    return preprocess(image, model.preprocess(), &geometry);
}

std::string fmt(const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

long peak_rss_kb() {
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

} // namespace

int cmd_explain(const Args& a) {
    ops::set_num_threads(a.get_int("--threads", 0));
    const explain::Method method = method_arg(a);
    const std::string out = a.require("--out");
    if (a.flag("--target") && a.flag("--detection"))
        throw Error(ErrorKind::Argument, "", "--detection", "give either --target (a class) or --detection (a DETR query), not both");
    explain::Target target;
    target.class_index = a.get_int("--target", -1);
    target.detection = a.get_int("--detection", -1);
    if (a.flag("--target") && target.class_index < 0)
        throw Error(ErrorKind::Argument, "", "--target", "expects a class index >= 0, got '" + a.get("--target") + "'");
    if (a.flag("--detection") && target.detection < 0)
        throw Error(ErrorKind::Argument, "", "--detection", "expects a query index >= 0, got '" + a.get("--detection") + "'");
    if (a.flag("--box")) { // a coordinate of the detection's box instead of its class logit
        if (!explain::box_coord_from_name(a.get("--box"), target.box_coord))
            throw Error(ErrorKind::Argument, "", "--box", "unknown box coordinate '" + a.get("--box") + "' (known: cx, cy, w, h)");
        if (a.flag("--target"))
            throw Error(ErrorKind::Argument, "", "--box",
                        "explains a box coordinate, not a class: give --box or --target, not both");
    }
    explain::ExplainOptions opt;
    opt.discard_ratio = discard_arg(a);
    auto model = open_model(a);
    if (a.flag("--detection") && model->info().task != Task::Detect)
        throw Error(ErrorKind::Argument, "", "--detection", "selects a DETR query; this model is a classifier (use --target)");
    if (a.flag("--box") && model->info().task != Task::Detect)
        throw Error(ErrorKind::Argument, "", "--box", "explains a DETR detection's box coordinate; this model is a classifier (use --target)");
    ImageRGB8 image;
    PreprocessGeometry geometry;
    const Tensor input = explain_input(a, *model, image, geometry);

    const auto t0 = std::chrono::steady_clock::now();
    const explain::Explanation e = explain::explain(*model, input, method, target, opt);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec || !fs::is_directory(out)) throw Error(ErrorKind::Io, out, "--out", "cannot create the folder: " + ec.message());
    write_npy((fs::path(out) / "relevance.npy").string(), e.relevance);
    write_npy((fs::path(out) / "input.npy").string(), input);
    const bool uses_discard = method == explain::Method::Rollout || method == explain::Method::GradRollout;
    const bool box = e.box_coord >= 0;
    json jt = {{"index", e.target_index}, {"label", e.target_label}, {"kind", box ? "box_coordinate" : "class_logit"}};
    if (box) jt["box_coord"] = explain::box_coord_name(e.box_coord);
    jt["value"] = box ? e.box[size_t(e.box_coord)] : e.logit; // the scalar explained
    json j = {{"method", explain::method_name(method)},
              {"target", jt},
              {"logit", e.logit},
              {"prob", e.prob},
              {"relevance_shape", e.relevance.shape},
              {"layout", layout_json(e.layout)},
              {"input", input.shape},
              {"model", model->info().source},
              {"elapsed_ms", ms}};
    if (uses_discard && model->info().task != Task::Detect) j["discard_ratio"] = opt.discard_ratio;
    std::string what = "class " + std::to_string(e.target_index);
    if (e.detection >= 0) { // DETR: the query, its box (input fractions and original-image pixels); prob: softmax over its row
        const auto& b = e.box;
        const double W = geometry.orig_w, H = geometry.orig_h;
        j["detection"] = e.detection;
        j["box"] = {{"cxcywh", {b[0], b[1], b[2], b[3]}},
                    {"xyxy", {(b[0] - b[2] / 2) * W, (b[1] - b[3] / 2) * H, (b[0] + b[2] / 2) * W, (b[1] + b[3] / 2) * H}}};
        what += ", query " + std::to_string(e.detection);
    }
    write_file_atomic((fs::path(out) / "explain.json").string(), j.dump(2) + "\n");
    // A box coordinate: "box cx = 0.6016 of <label>"; the class and probability are the detection's.
    const std::string subject = box ? std::string("box ") + explain::box_coord_name(e.box_coord) + " = " +
                                          fmt("%.4f", e.box[size_t(e.box_coord)]) + " of " + e.target_label
                                    : e.target_label;
    const std::string title = std::string(explain::method_name(method)) + ": " + subject + " (" + what +
                              ", p = " + fmt("%.3f", e.prob) + ")";
    an::write_png((fs::path(out) / "relevance_overlay.png").string(),
                  an::overlay_png(image, an::map_to_original(e.relevance, geometry, an::Upsample::Bilinear), title, 0.6,
                                  "relevance"));
    std::printf("%s: %s (%s) logit %.4f p %.4f\nwrote %s\n", explain::method_name(method), subject.c_str(),
                what.c_str(), e.logit, e.prob, out.c_str());
    return 0;
}

// bench --explain METHOD: median wall and process-CPU time of the forward pass (every map recorded, as the
// app runs it) and of the explanation (forward + backward + map), alternating, and their ratio.
int cmd_bench_explain(const Args& a) {
    const int threads = a.get_int("--threads", 2);
    ops::set_num_threads(threads);
    const int runs = std::max(1, a.get_int("--runs", 10));
    const explain::Method method = [&] {
        explain::Method m;
        if (!explain::method_from_name(a.get("--explain"), m))
            throw Error(ErrorKind::Argument, "", "--explain", "unknown method '" + a.get("--explain") + "'");
        return m;
    }();
    auto model = open_model(a);
    const ModelInfo& info = model->info();
    Tensor input;
    if (a.flag("--image")) {
        input = preprocess(decode_image_file(a.get("--image")), model->preprocess());
    } else {
        input = Tensor({3, info.image_h, info.image_w});
        std::mt19937 rng(1);
        std::normal_distribution<float> nd;
        for (float& v : input.data) v = nd(rng);
    }
    Session session(*model);
    auto cpu_ms = [] { return 1e3 * static_cast<double>(std::clock()) / CLOCKS_PER_SEC; };
    std::vector<double> fwd, exp, fwd_cpu, exp_cpu;
    for (int i = 0; i <= runs; ++i) { // run 0 is warm-up
        double c0 = cpu_ms();
        auto t0 = std::chrono::steady_clock::now();
        session.run(input, RecordPolicy::All);
        const double f = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        const double fc = cpu_ms() - c0;
        c0 = cpu_ms();
        t0 = std::chrono::steady_clock::now();
        explain::explain(*model, input, method, {});
        const double e = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (i == 0) continue;
        fwd.push_back(f), fwd_cpu.push_back(fc), exp.push_back(e), exp_cpu.push_back(cpu_ms() - c0);
    }
    for (auto* v : {&fwd, &exp, &fwd_cpu, &exp_cpu}) std::sort(v->begin(), v->end());
    const size_t m = fwd.size() / 2;
    json j = {{"model", info.architecture}, {"method", explain::method_name(method)}, {"input", input.shape},
              {"threads", threads}, {"runs", runs}, {"backend", ops::backend_name(ops::gemm_backend())},
              {"forward_median_ms", fwd[m]}, {"explain_median_ms", exp[m]}, {"ratio_wall", exp[m] / fwd[m]},
              {"forward_median_cpu_ms", fwd_cpu[m]}, {"explain_median_cpu_ms", exp_cpu[m]},
              {"ratio_cpu", exp_cpu[m] / fwd_cpu[m]}, {"peak_rss_mb", peak_rss_kb() / 1024.0}};
    if (const VitConfig* c = vit_config(*model); c && c->head != VitHead::None)
        j["tape_mb"] = explain::vit_gradients(*c, *vit_weights(*model), input, -1).tape_bytes / 1048576.0;
    if (const auto* detr = dynamic_cast<const DetrModel*>(model.get()))
        j["tape_mb"] = explain::detr_gradients(*detr, input, {}).tape_bytes / 1048576.0;
    std::puts(j.dump().c_str());
    return 0;
}

} // namespace attnscope::cli
