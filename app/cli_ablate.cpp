// attnscope-cli ablate: heads switched off and patches masked (issue 18) — the predictions (DETR: the
// detections) before and after, the intervened logits / boxes, and with --importance the per-head
// importance table for one input (DETR: of the best detection, or of query --detection) or averaged over a
// folder (core/analysis/importance). Files atomic.
#include "app/cli_args.h"
#include "core/analysis/importance.h"
#include "core/analysis/render.h"
#include "core/batch.h"
#include "core/error.h"
#include "core/image/decode.h"
#include "core/io/npy.h"
#include "core/postprocess.h"
#include "core/session.h"
#include "core/tensor/ops.h"

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace attnscope::cli {

namespace fs = std::filesystem;
namespace an = attnscope::analysis;
using json = nlohmann::json;

namespace {

std::string path_in(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

// --heads is the ablation list here; the loader's head-count override is --model-heads.
std::unique_ptr<Model> open_ablate_model(const Args& a) {
    LoadOptions o;
    o.heads_override = a.get_int("--model-heads", 0);
    o.config_path = a.get("--config");
    return load_model(a.require("--model"), o);
}

Interventions interventions_from(const Args& a, Site& site) {
    site = Site::Encoder;
    if (a.flag("--site") && !site_from_name(a.get("--site"), site))
        throw Error(ErrorKind::Argument, "", "--site", "expects encoder, decoder_self or decoder_cross, got '" + a.get("--site") + "'");
    Interventions iv;
    if (a.flag("--mode") && !ablation_mode_from_name(a.get("--mode"), iv.mode))
        throw Error(ErrorKind::Argument, "", "--mode", "expects zero or mean, got '" + a.get("--mode") + "'");
    iv.ablated = parse_head_list(a.get("--heads"), site);
    iv.masked_patches = parse_patch_list(a.get("--mask-patches"));
    return iv;
}

void write_importance_png(const std::string& out, const an::HeadImportance& imp, const std::string& what) {
    // (the PNG font has no Greek letters: "drop" for the delta)
    const std::string title = std::string("Head importance (") + ablation_mode_name(imp.mode) + "-ablated " +
                              site_name(imp.site) + " heads), " + what;
    an::write_png(path_in(out, "head_importance.png"),
                  an::heatmap_png(an::importance_grid(imp, true), title, 40, {}, "drop of target prob.", {"head", "layer", true}));
}

json target_json(const an::ImportanceTarget& t) {
    const char* rule = t.query < 0 ? "top-1 class" : t.chosen ? "--detection" : "best detection";
    return {{"class", t.class_index}, {"label", t.label}, {"query", t.query}, {"logit", t.logit}, {"prob", t.prob}, {"rule", rule}};
}

// What the table measures, for titles and the console: "query 5's 'cat'" (DETR) or "'tabby cat'".
std::string target_text(const an::ImportanceTarget& t) {
    return (t.query >= 0 ? "query " + std::to_string(t.query) + "'s " : std::string()) + "'" + t.label + "'";
}

// --detection: a DETR query for --importance on one input (its range is checked on the run's logits).
int detection_from(const Args& a, const ModelInfo& info) {
    if (!a.flag("--detection")) return -1;
    if (info.task != Task::Detect)
        throw Error(ErrorKind::Argument, "", "--detection",
                    std::string("selects a DETR query; this model (") + family_name(info.family) + ") is not a detector");
    if (!a.flag("--importance")) throw Error(ErrorKind::Argument, "", "--detection", "chooses the detection --importance measures: add --importance");
    if (a.flag("--images"))
        throw Error(ErrorKind::Argument, "", "--detection", "chooses a detection of one input; over a folder each image's best detection is measured");
    const int q = a.get_int("--detection", -1);
    if (q < 0) throw Error(ErrorKind::Argument, "", "--detection", "expects a query index >= 0, got '" + a.get("--detection") + "'");
    return q;
}

void progress_line(int done, int total) {
    if (done == total || done % 8 == 0) std::fprintf(stderr, "\r  importance: %d/%d runs", done, total);
    if (done == total) std::fputc('\n', stderr);
}

int ablate_folder(const Args& a, const Model& model, const Interventions& iv, Site site, const std::string& out) {
    if (!a.flag("--importance"))
        throw Error(ErrorKind::Argument, "", "--images", "ablate over a folder computes head importance: add --importance");
    const std::string dir = a.require("--images");
    const std::vector<std::string> files = list_image_files(dir, a.get("--shard"), a.get_int("--limit", 0));
    std::vector<std::pair<std::string, an::HeadImportance>> per_image;
    BatchCallbacks cb;
    cb.starting = [](size_t k, size_t n, const std::string& file) { std::fprintf(stderr, "[%zu/%zu] %s\n", k + 1, n, file.c_str()); };
    cb.skipped = [](size_t, const std::string&, const std::string& why) { std::fprintf(stderr, "  skipped: %s\n", why.c_str()); };
    BatchSummary summary;
    const an::HeadImportance mean = an::folder_head_importance(model, dir, files, iv, site, cb, &per_image, nullptr, &summary);
    write_file_atomic(path_in(out, "head_importance.csv"), an::importance_csv(mean));
    write_file_atomic(path_in(out, "head_importance_per_image.csv"), an::importance_per_image_csv(per_image));
    if (mean.n_images > 0) write_importance_png(out, mean, std::to_string(mean.n_images) + " images");
    json j = {{"images", files.size()}, {"processed", mean.n_images}, {"skipped", summary.skipped}, {"out", out},
              {"site", site_name(site)}, {"mode", ablation_mode_name(iv.mode)}, {"interventions", interventions_json(iv)}};
    std::puts(j.dump().c_str());
    return 0;
}

} // namespace

int cmd_ablate(const Args& a) {
    ops::set_num_threads(a.get_int("--threads", 0));
    const std::string out = a.require("--out");
    const int n_inputs = int(a.flag("--image")) + int(a.flag("--input-npy")) + int(a.flag("--images"));
    if (n_inputs != 1) throw Error(ErrorKind::Argument, "", "--image", "give exactly one of --image, --input-npy or --images");
    if (a.flag("--shard") && !a.flag("--images")) throw Error(ErrorKind::Argument, "", "--shard", "only applies with --images");
    auto model = open_ablate_model(a);
    const ModelInfo& info = model->info();
    Site site;
    const Interventions iv = interventions_from(a, site);
    validate_interventions(iv, info);
    if (a.flag("--importance") && site_layers(info, site) == 0)
        throw Error(ErrorKind::Argument, "", "--site", std::string("this model has no ") + site_name(site) + " attention");
    const int detection = detection_from(a, info);
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec || !fs::is_directory(out)) throw Error(ErrorKind::Io, out, "--out", "cannot create the folder: " + ec.message());
    if (a.flag("--images")) return ablate_folder(a, *model, iv, site, out);
    if (iv.empty() && !a.flag("--importance"))
        throw Error(ErrorKind::Argument, "", "--heads", "nothing to ablate: give --heads, --mask-patches or --importance");

    // before: no intervention at all; after: every listed one
    Session session(*model);
    Tensor input;
    RunResult before;
    if (a.flag("--input-npy")) {
        input = read_npy(a.get("--input-npy"));
        if (input.dim() == 4 && input.size(0) == 1) input.shape.erase(input.shape.begin());
        before = session.run(input, RecordPolicy::None);
    } else {
        before = session.run(decode_image_file(a.require("--image")), RecordPolicy::None, nullptr, &input);
    }
    session.set_interventions(iv);
    const RunResult after = session.run(input, before.geometry, RecordPolicy::None);
    if (a.flag("--importance")) an::importance_target(after, info, detection); // a bad --detection fails before any file is written

    const int k = a.get_int("--top-k", 5);
    json extra = {{"model", model_summary_json(info)}, {"input_shape", input.shape},
                  {"interventions", interventions_json(iv)}, {"interventions_text", describe_interventions(iv)}};
    write_npy(path_in(out, "input.npy"), input);
    if (!iv.masked_patches.empty()) {
        Tensor masked = input;
        zero_patches(masked, info.patch_size, iv.masked_patches);
        write_npy(path_in(out, "input_masked.npy"), masked);
    }
    if (!after.logits.empty()) write_npy(path_in(out, "logits.npy"), after.logits);
    if (!after.features.empty()) write_npy(path_in(out, "features.npy"), after.features);
    if (!after.boxes.empty()) write_npy(path_in(out, "boxes.npy"), after.boxes);
    if (info.task == Task::Detect) {
        const float threshold = a.get_float("--threshold", 0.7f);
        extra["threshold"] = threshold;
        extra["detections_before"] = detections_json(above_threshold(before.detections, threshold));
        extra["detections_after"] = detections_json(above_threshold(after.detections, threshold));
        std::printf("detections above %.2f: %zu before, %zu after\n", threshold, above_threshold(before.detections, threshold).size(),
                    above_threshold(after.detections, threshold).size());
    } else {
        extra["predictions_before"] = predictions_json(top_k(before, k));
        extra["predictions_after"] = predictions_json(top_k(after, k));
        const auto b = top_k(before, 1), f = top_k(after, 1);
        if (!b.empty() && !f.empty())
            std::printf("top-1 before %6.4f %s, after %6.4f %s\n", b[0].prob, b[0].label.c_str(), f[0].prob, f[0].label.c_str());
    }
    if (a.flag("--importance")) {
        const an::HeadImportance imp = an::head_importance(*model, input, iv, site, detection, progress_line, nullptr, &after);
        write_file_atomic(path_in(out, "head_importance.csv"), an::importance_csv(imp));
        write_importance_png(out, imp, "target " + target_text(imp.target));
        std::printf("head importance of %s (p %.4f at the baseline), %s heads\n", target_text(imp.target).c_str(), imp.target.prob,
                    site_name(site));
        extra["importance"] = {{"site", site_name(site)}, {"mode", ablation_mode_name(iv.mode)},
                               {"target", target_json(imp.target)},
                               {"baseline", iv.empty() ? "clean run" : "run with the listed interventions"}};
    }
    write_file_atomic(path_in(out, "result.json"), extra.dump(2) + "\n");
    std::printf("wrote %s (%s)\n", out.c_str(), describe_interventions(iv).c_str());
    return 0;
}

} // namespace attnscope::cli
