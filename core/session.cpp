#include "core/session.h"

#include "core/error.h"
#include "core/image/preprocess.h"
#include "core/io/npy.h"
#include "core/run_memory.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

namespace attnscope {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
} // namespace

RunResult Session::forward(const Tensor& input, const PreprocessGeometry& geometry, RecordPolicy record,
                           const CancelFlag* cancel) {
    require_memory_for_maps(*model_, input, record, recycled_bytes_);
    recycled_bytes_ = 0;
    RunResult r;
    r.geometry = geometry;
    r.interventions = interventions_;
    auto t0 = std::chrono::steady_clock::now();
    NullRecorder none;
    recorder_.reset(); // the maps of the last pass that were not taken, and recycled ones, become spares
    recorder_.set_skip_encoder(record == RecordPolicy::SkipEncoder);
    AttentionRecorder& base = record == RecordPolicy::None ? static_cast<AttentionRecorder&>(none) : recorder_;
    AblatingRecorder ablating(base, interventions_);
    model_->forward(input, interventions_.ablated.empty() ? base : ablating, r, cancel);
    if (record != RecordPolicy::None) r.attention = recorder_.take();
    r.timings_ms["forward"] = ms_since(t0);
    t0 = std::chrono::steady_clock::now();
    postprocess(r, model_->info());
    r.timings_ms["postprocess"] = ms_since(t0);
    return r;
}

void Session::recycle(std::vector<AttentionMap>&& maps) {
    for (const AttentionMap& m : maps) recycled_bytes_ += m.probs.capacity() * sizeof(float);
    recorder_.recycle(std::move(maps));
}

void Session::set_interventions(Interventions iv) {
    validate_interventions(iv, model_->info());
    interventions_ = std::move(iv);
}

RunResult Session::run(const Tensor& input, const PreprocessGeometry& geometry, RecordPolicy record, const CancelFlag* cancel) {
    if (interventions_.masked_patches.empty()) return forward(input, geometry, record, cancel);
    Tensor masked = input;
    zero_patches(masked, model_->info().patch_size, interventions_.masked_patches);
    return forward(masked, geometry, record, cancel);
}

RunResult Session::run(const Tensor& input, RecordPolicy record, const CancelFlag* cancel) {
    PreprocessGeometry g;
    if (input.dim() == 3) {
        g.orig_w = g.resized_w = g.input_w = static_cast<int>(input.size(2));
        g.orig_h = g.resized_h = g.input_h = static_cast<int>(input.size(1));
    }
    return run(input, g, record, cancel);
}

RunResult Session::run(const ImageRGB8& image, RecordPolicy record, const CancelFlag* cancel, Tensor* input_out) {
    const auto t0 = std::chrono::steady_clock::now();
    PreprocessGeometry geometry;
    Tensor input = preprocess(image, model_->preprocess(), &geometry);
    if (!interventions_.masked_patches.empty()) zero_patches(input, model_->info().patch_size, interventions_.masked_patches);
    const double pre_ms = ms_since(t0);
    RunResult r = forward(input, geometry, record, cancel);
    r.timings_ms["preprocess"] = pre_ms;
    if (input_out) *input_out = std::move(input);
    return r;
}

json model_summary_json(const ModelInfo& info) {
    return {{"family", family_name(info.family)}, {"format", info.format},     {"architecture", info.architecture},
            {"source", info.source},       {"hidden", info.hidden},     {"layers", info.n_layers},
            {"heads", info.n_heads},       {"mlp", info.mlp},           {"patch_size", info.patch_size},
            {"image_size", {info.image_h, info.image_w}},               {"num_labels", info.n_labels},
            {"parameters", info.n_params}};
}

json preprocess_json(const PreprocessSpec& s) {
    static const char* resize_names[] = {"none", "exact", "shortest_edge", "shortest_edge_max_longest"};
    json j = {{"resize", resize_names[static_cast<int>(s.resize)]},
              {"resample", resample_name(s.resample)},
              {"rescale", s.rescale},
              {"mean", s.mean},
              {"std", s.std},
              {"center_crop", s.center_crop}};
    if (s.resize == PreprocessSpec::Resize::Exact) j["size"] = {s.resize_h, s.resize_w};
    if (s.shortest_edge) j["shortest_edge"] = s.shortest_edge;
    if (s.longest_edge) j["longest_edge"] = s.longest_edge;
    if (s.size_divisor) j["size_divisor"] = s.size_divisor;
    if (s.center_crop) {
        j["crop_size"] = {s.crop_h, s.crop_w};
        j["crop_rounding"] = s.crop_rounding == PreprocessSpec::CropRounding::Floor ? "floor" : "round";
    }
    return j;
}

json layout_json(const TokenLayout& l) {
    json j = {{"tokens", l.n_tokens()}, {"cls", l.n_cls},       {"distillation", l.n_dist}, {"registers", l.n_reg},
              {"grid", {l.grid_h, l.grid_w}}, {"patch_size", l.patch_size}};
    if (l.n_det) j["detection"] = l.n_det; // YOLOS: after the patches
    return j;
}

void write_run_folder(const std::string& dir, const Model& model, const RunResult& result, const Tensor& input,
                      int top_k_count, const json& extra) {
    std::error_code ec;
    fs::create_directories(fs::path(dir) / "attention", ec);
    if (ec) throw Error(ErrorKind::Io, dir, "", "cannot create output folder: " + ec.message());
    const ModelInfo& info = model.info();
    json j;
    j["model"] = model_summary_json(info);
    j["preprocessing"] = preprocess_json(model.preprocess());
    j["input_shape"] = input.shape;
    j["geometry"] = {{"original", {result.geometry.orig_h, result.geometry.orig_w}},
                     {"resized", {result.geometry.resized_h, result.geometry.resized_w}},
                     {"crop_origin", {result.geometry.crop_y, result.geometry.crop_x}},
                     {"input", {result.geometry.input_h, result.geometry.input_w}}};
    j["layout"] = layout_json(result.layout);
    j["predictions"] = predictions_json(top_k(result, top_k_count));
    j["timings_ms"] = result.timings_ms;
    json files = json::array();
    write_npy((fs::path(dir) / "input.npy").string(), input);
    if (!result.logits.empty()) write_npy((fs::path(dir) / "logits.npy").string(), result.logits);
    if (!result.features.empty()) write_npy((fs::path(dir) / "features.npy").string(), result.features);
    if (!result.boxes.empty()) write_npy((fs::path(dir) / "boxes.npy").string(), result.boxes);
    for (const AttentionMap& m : result.attention) {
        if (m.site == Site::Pool) { // the one pooling head's probe row: [heads, 1, tokens] beside the features
            write_npy((fs::path(dir) / "pool_attention.npy").string(), m.probs.data(), {m.n_heads, m.n_q, m.n_k});
            files.push_back("pool_attention.npy");
            continue;
        }
        char name[64];
        std::snprintf(name, sizeof name, "%s_layer%02d.npy", site_name(m.site), m.layer);
        write_npy((fs::path(dir) / "attention" / name).string(), m.probs.data(), {m.n_heads, m.n_q, m.n_k});
        files.push_back(std::string("attention/") + name);
    }
    j["attention_files"] = files;
    j.update(extra);
    write_file_atomic((fs::path(dir) / "result.json").string(), j.dump(2) + "\n");
}

} // namespace attnscope
