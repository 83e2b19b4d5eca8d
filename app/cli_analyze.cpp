// attnscope-cli analyze / dataset: the analyses of core/analysis on one input or streamed over a
// folder. Every file is written atomically; see docs/analyses.md for the files and their meaning.
#include "app/cli_args.h"
#include "core/analysis/csv.h"
#include "core/analysis/distance.h"
#include "core/analysis/embeddings.h"
#include "core/analysis/heads.h"
#include "core/analysis/masks.h"
#include "core/analysis/query_boxes.h"
#include "core/analysis/render.h"
#include "core/batch.h"
#include "core/analysis/rollout.h"
#include "core/analysis/tokens.h"
#include "core/error.h"
#include "core/image/decode.h"
#include "core/io/npy.h"
#include "core/session.h"
#include "core/tensor/ops.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace attnscope::cli {

namespace fs = std::filesystem;
namespace an = attnscope::analysis;

namespace {

double get_double(const Args& a, const std::string& k, double fallback) {
    if (!a.flag(k)) return fallback;
    try {
        size_t used = 0;
        const double v = std::stod(a.get(k), &used);
        if (used == a.get(k).size()) return v;
    } catch (...) {
    }
    throw Error(ErrorKind::Argument, "", k, "expects a number, got '" + a.get(k) + "'");
}

std::string num(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.6f", v);
    return b;
}

std::string path_in(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

void make_dir(const std::string& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir)) throw Error(ErrorKind::Io, dir, "--out", "cannot create the folder: " + ec.message());
}

void write_rollout(const std::string& out, const RunResult& r, const ImageRGB8* image, const Args& a) {
    an::RolloutOptions ro;
    ro.fusion = an::fusion_from_name(a.get("--fusion", "mean"));
    ro.discard_ratio = get_double(a, "--rollout-discard", 0.9);
    const Tensor map = an::attention_rollout(r.attention, r.layout, ro);
    write_npy(path_in(out, "rollout.npy"), map);
    const std::string title = std::string("Attention rollout (") + an::fusion_name(ro.fusion) + ", discard " + num(ro.discard_ratio).substr(0, 4) + ")";
    an::write_png(path_in(out, "rollout.png"), an::heatmap_png(map, title, 32, {}, "rollout", {"patch column", "patch row", true}));
    if (image)
        an::write_png(path_in(out, "rollout_overlay.png"),
                      an::overlay_png(*image, an::map_to_original(map, r.geometry, an::Upsample::Bilinear), title));
}

void write_embeddings(const std::string& out, const Model& model) {
    const PatchEmbedding pe = model.patch_embedding();
    if (pe.filters.empty()) // DETR: a ResNet stem, no linear patch embedding
        throw Error(ErrorKind::Missing, std::filesystem::path(model.info().source).filename().string(), "patch_embed.proj.weight",
                    "no patch-embedding filters in the checkpoint");
    if (!pe.pos.empty()) {
        const Tensor sim = an::position_similarity(pe.pos);
        write_npy(path_in(out, "pos_similarity.npy"), sim);
        an::write_png(path_in(out, "pos_similarity.png"), an::pos_similarity_png(sim, pe.pos_grid_h, pe.pos_grid_w));
    } else {
        std::fprintf(stderr, "pos_similarity: skipped (no learned position embeddings)\n");
    }
    const an::FilterPca pca = an::filter_pca(pe.filters, 28);
    write_npy(path_in(out, "filters_pca.npy"), pca.axes);
    std::vector<double> share;
    for (double v : pca.variance) share.push_back(pca.total_variance > 0 ? v / pca.total_variance : 0.0);
    an::write_png(path_in(out, "filters_pca.png"), an::filters_png(pca.axes, 7, share));
}

void write_head_stats(const std::string& out, const RunResult& r, double mass) {
    std::string csv = "site,layer,head,entropy_nats\n";
    std::vector<std::vector<double>> enc; // [layer][head] for the picture
    for (const AttentionMap& m : r.attention) {
        const std::vector<double> e = an::attention_entropy(m);
        for (size_t h = 0; h < e.size(); ++h)
            csv += std::string(site_name(m.site)) + "," + std::to_string(m.layer) + "," + std::to_string(h) + "," + num(e[h]) + "\n";
        if (m.site == Site::Encoder) enc.push_back(e);
    }
    write_file_atomic(path_in(out, "entropy.csv"), csv);
    if (!enc.empty()) {
        Tensor t({static_cast<int64_t>(enc.size()), static_cast<int64_t>(enc[0].size())});
        for (size_t l = 0; l < enc.size(); ++l)
            for (size_t h = 0; h < enc[l].size(); ++h) t.data[l * enc[0].size() + h] = static_cast<float>(enc[l][h]);
        an::write_png(path_in(out, "entropy.png"), an::heatmap_png(t, "Attention entropy per head (encoder)", 40, {}, "entropy (nats)", {"head", "layer", true}));
    }
    const AttentionMap* last = nullptr;
    for (const AttentionMap& m : r.attention)
        if (m.site == Site::Encoder) last = &m;
    if (!last || r.layout.n_cls < 1) {
        std::fprintf(stderr, "masks: skipped (no CLS token)\n");
        return;
    }
    const Tensor masks = an::dino_masks(*last, r.layout, mass);
    write_npy(path_in(out, "masks.npy"), masks);
    an::write_png(path_in(out, "masks.png"), an::masks_png(masks, "DINO masks, layer " + std::to_string(last->layer) + ": the fewest patches holding " +
                                                                  num(100 * mass).substr(0, 4) + "% of the CLS attention", 16));
}

// Token analyses (docs/analyses.md): sinks.csv from the encoder maps; token_norms.* and feature_pca.*
// from the forward's token taps (DETR: encoder token norms, no final tokens, so no feature_pca).
void write_tokens(const std::string& out, const RunResult& r, double k) {
    const TokenLayout& l = r.layout;
    const int cell = std::max(4, std::min(16, 448 / std::max(1, std::max(l.grid_h, l.grid_w))));
    std::vector<an::SinkStats> sinks;
    for (const AttentionMap& m : r.attention)
        if (m.site == Site::Encoder) {
            const auto s = an::attention_sinks(m, l);
            sinks.insert(sinks.end(), s.begin(), s.end());
        }
    if (!sinks.empty()) {
        write_file_atomic(path_in(out, "sinks.csv"), an::sinks_csv(sinks, l));
        const int64_t L = sinks.back().layer + 1, H = static_cast<int64_t>(sinks.size()) / L;
        Tensor top({L, H}), pre({L, H});
        for (size_t i = 0; i < sinks.size(); ++i) top.data[i] = static_cast<float>(sinks[i].top_share), pre.data[i] = static_cast<float>(sinks[i].non_patch_share);
        an::write_png(path_in(out, "sinks_top_key.png"), an::heatmap_png(top, "Share of attention on the most-attended key: layer rows, head columns", 24, {0, 1}, "share"));
        if (l.n_prefix() + l.n_det > 0)
            an::write_png(path_in(out, "sinks_non_patch.png"), an::heatmap_png(pre, "Share of attention on the non-patch tokens: layer rows, head columns", 24, {0, 1}, "share"));
        else
            std::fprintf(stderr, "sinks_non_patch.png: skipped (no non-patch tokens; non_patch_share is 0)\n");
    } else {
        std::fprintf(stderr, "sinks: skipped (no encoder attention maps recorded)\n");
    }
    if (r.token_norms.empty()) {
        std::fprintf(stderr, "token_norms / feature_pca: skipped (this model's forward hands out no token norms)\n");
        return;
    }
    write_npy(path_in(out, "token_norms.npy"), r.token_norms);
    const std::vector<an::NormOutlier> outliers = an::norm_outliers(r.token_norms, l, k);
    write_file_atomic(path_in(out, "token_norms.csv"), an::norm_outliers_csv(outliers, l));
    const Tensor grids = an::patch_norm_grids(r.token_norms, l);
    const int last = static_cast<int>(grids.size(0)) - 1;
    std::vector<std::pair<int, int>> marks;
    for (const an::NormOutlier& o : outliers)
        if (o.layer == last && l.is_patch(o.token)) marks.emplace_back((o.token - l.n_prefix()) / l.grid_w, (o.token - l.n_prefix()) % l.grid_w);
    const Tensor last_grid({l.grid_h, l.grid_w}, std::vector<float>(grids.data.end() - l.grid_h * l.grid_w, grids.data.end()));
    an::write_png(path_in(out, "token_norms.png"),
                  an::marked_heatmap_png(last_grid, marks, "Patch token norms after the last block (red: > " + num(k).substr(0, 4) + " x median)", cell, "L2 norm"));
    an::write_png(path_in(out, "token_norms_layers.png"), an::heatmap_row_png(grids, "Patch token norms after each block", "layer", std::max(2, cell / 2)));
    if (r.final_tokens.empty() || l.grid_h * l.grid_w < 2) {
        std::fprintf(stderr, "feature_pca: skipped (no final tokens or fewer than 2 patches)\n");
        return;
    }
    const an::FeaturePca pca = an::feature_pca(r.final_tokens, l);
    write_npy(path_in(out, "feature_pca.npy"), pca.image);
    write_npy(path_in(out, "feature_pca_mask.npy"), pca.mask);
    an::write_png(path_in(out, "feature_pca.png"), an::rgb_grid_png(pca.image, "Patch features, first 3 principal components as RGB", cell));
    an::write_png(path_in(out, "feature_pca_mask.png"), an::heatmap_png(pca.mask, "Foreground: first component > 0", cell, {0, 1}));
}

// dataset: one PCA of the final patch tokens across every image (DINOv2 Fig. 1), each image on the joint
// axes with the joint min-max scaling: feature_pca/NNNN.npy / _mask.npy / .png (NNNN = row of feature_pca.csv).
void write_joint_pca(const std::string& out, const an::JointFeaturePca& joint, const std::vector<std::string>& names) {
    if (joint.size() == 0) {
        std::fprintf(stderr, "feature_pca: skipped (no image handed out final tokens; ViT family only)\n");
        return;
    }
    const std::vector<an::FeaturePca> pcas = joint.finish();
    make_dir(path_in(out, "feature_pca"));
    std::string csv = "index,image,grid_h,grid_w,pc1_explained,pc2_explained,pc3_explained,foreground_share\n";
    for (size_t i = 0; i < pcas.size(); ++i) {
        char stem[40]; // "feature_pca/" + up to 20 digits + NUL
        std::snprintf(stem, sizeof stem, "feature_pca/%04zu", i);
        const an::FeaturePca& f = pcas[i];
        write_npy(path_in(out, std::string(stem) + ".npy"), f.image);
        write_npy(path_in(out, std::string(stem) + "_mask.npy"), f.mask);
        const int cell = std::max(4, std::min(16, 448 / static_cast<int>(std::max<int64_t>(1, std::max(f.image.size(0), f.image.size(1))))));
        an::write_png(path_in(out, std::string(stem) + ".png"),
                      an::rgb_grid_png(f.image, "Patch features on the joint PCA axes of " + std::to_string(pcas.size()) + " images: " + names[i], cell));
        double fg = 0;
        for (float v : f.mask.data) fg += v;
        csv += std::to_string(i) + "," + an::csv_field(names[i]) + "," + std::to_string(f.image.size(0)) + "," + std::to_string(f.image.size(1)) +
               "," + num(f.explained[0]) + "," + num(f.explained[1]) + "," + num(f.explained[2]) + "," + num(fg / f.mask.numel()) + "\n";
    }
    write_file_atomic(path_in(out, "feature_pca.csv"), csv);
}

} // namespace

int cmd_analyze(const Args& a) {
    ops::set_num_threads(a.get_int("--threads", 0));
    if (!a.flag("--image") && !a.flag("--input-npy")) throw Error(ErrorKind::Argument, "", "--image", "or --input-npy is required");
    const std::string out = a.require("--out");
    const double norm_k = get_double(a, "--norm-k", 2.0); // checked before the run
    if (!(norm_k >= 0.0) || !std::isfinite(norm_k))
        throw Error(ErrorKind::Argument, "", "--norm-k", "expects a number >= 0, got '" + a.get("--norm-k") + "'");
    auto model = open_model(a);
    make_dir(out);
    Session session(*model);
    RunResult r;
    ImageRGB8 image;
    if (a.flag("--input-npy")) {
        Tensor input = read_npy(a.get("--input-npy"));
        if (input.dim() == 4 && input.size(0) == 1) input.shape.erase(input.shape.begin());
        r = session.run(input);
        write_npy(path_in(out, "input.npy"), input);
    } else {
        image = decode_image_file(a.require("--image"));
        Tensor input;
        r = session.run(image, RecordPolicy::All, nullptr, &input);
        write_npy(path_in(out, "input.npy"), input);
    }

    if (r.layout.n_cls >= 1) write_rollout(out, r, image.data.empty() ? nullptr : &image, a);
    else std::fprintf(stderr, "rollout: skipped (no CLS token)\n");
    const auto dist = an::mean_attention_distances(r.attention, r.layout);
    an::DistanceAccumulator one;
    one.add(dist);
    write_file_atomic(path_in(out, "attention_distance.csv"), an::distance_csv(one));
    an::write_png(path_in(out, "attention_distance.png"), an::distance_scatter_png(dist, "Mean attention distance, one image"));
    try {
        write_embeddings(out, *model);
    } catch (const Error& e) {
        std::fprintf(stderr, "pos_similarity / filters_pca: skipped (%s)\n", e.what());
    }
    write_head_stats(out, r, get_double(a, "--mask-mass", 0.6));
    write_tokens(out, r, norm_k);
    std::printf("wrote %s\n", out.c_str());
    return 0;
}

int cmd_dataset(const Args& a) {
    ops::set_num_threads(a.get_int("--threads", 0));
    const std::string dir = a.require("--images"), out = a.require("--out");
    const std::vector<std::string> files = list_image_files(dir, a.get("--shard"), a.get_int("--limit", 0));
    auto model = open_model(a);
    make_dir(out);
    // DETR: every query's box per image goes to query_boxes.csv (checked on the DETR fixture).
    // The box-centre scatter picture (DETR Fig. 7) is not drawn yet.
    const bool detr = model->info().task == Task::Detect;
    an::DistanceAccumulator acc;
    std::string per_image = "image,layer,head,mean_px\n", boxes = an::query_boxes_csv_header();
    an::JointFeaturePca joint; // the final patch tokens of every image, for one PCA across them
    std::vector<std::string> pca_names;
    BatchCallbacks cb;
    cb.starting = [](size_t k, size_t n, const std::string& file) { std::fprintf(stderr, "[%zu/%zu] %s\n", k + 1, n, file.c_str()); };
    cb.skipped = [](size_t, const std::string&, const std::string& why) { std::fprintf(stderr, "  skipped: %s\n", why.c_str()); };
    cb.done = [&](size_t, const std::string& file, RunResult& r) {
        const auto d = an::mean_attention_distances(r.attention, r.layout);
        acc.add(d);
        for (size_t l = 0; l < d.size(); ++l)
            for (size_t h = 0; h < d[l].size(); ++h)
                per_image += an::csv_field(file) + "," + std::to_string(l) + "," + std::to_string(h) + "," + num(d[l][h]) + "\n";
        if (detr) boxes += an::query_boxes_csv(an::query_boxes(file, r));
        if (!r.final_tokens.empty() && r.layout.grid_h * r.layout.grid_w >= 1) {
            joint.add(r.final_tokens, r.layout);
            pca_names.push_back(file);
        }
    };
    Session session(*model);
    const BatchSummary done = run_batch(session, dir, files, RecordPolicy::All, cb);
    std::vector<std::vector<double>> means(acc.n_layers());
    for (int l = 0; l < acc.n_layers(); ++l)
        for (int h = 0; h < acc.n_heads(l); ++h) means[l].push_back(acc.mean(l, h));
    write_file_atomic(path_in(out, "attention_distance.csv"), an::distance_csv(acc));
    write_file_atomic(path_in(out, "attention_distance_per_image.csv"), per_image);
    if (detr) write_file_atomic(path_in(out, "query_boxes.csv"), boxes);
    write_joint_pca(out, joint, pca_names);
    if (acc.n_images() > 0)
        an::write_png(path_in(out, "attention_distance.png"),
                      an::distance_scatter_png(means, "Mean attention distance, " + std::to_string(acc.n_images()) + " images"));
    std::printf("{\"images\": %zu, \"processed\": %d, \"skipped\": %d, \"out\": \"%s\"}\n", files.size(), acc.n_images(),
                done.skipped, out.c_str());
    return 0;
}

} // namespace attnscope::cli
