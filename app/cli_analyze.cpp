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
#include "core/analysis/rollout.h"
#include "core/error.h"
#include "core/image/decode.h"
#include "core/io/npy.h"
#include "core/session.h"
#include "core/tensor/ops.h"

#include <algorithm>
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

// "layer,head,mean_px" rows of one image's distances.
std::string distance_csv(const std::vector<std::vector<double>>& d) {
    std::string s = "layer,head,mean_px\n";
    for (size_t l = 0; l < d.size(); ++l)
        for (size_t h = 0; h < d[l].size(); ++h) s += std::to_string(l) + "," + std::to_string(h) + "," + num(d[l][h]) + "\n";
    return s;
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

void write_embeddings(const std::string& out, const ModelInfo& info) {
    const an::PatchEmbedding pe = an::read_patch_embedding(*open_weights(info.source));
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

} // namespace

int cmd_analyze(const Args& a) {
    ops::set_num_threads(a.get_int("--threads", 0));
    if (!a.flag("--image") && !a.flag("--input-npy")) throw Error(ErrorKind::Argument, "", "--image", "or --input-npy is required");
    const std::string out = a.require("--out");
    auto model = open_model(a);
    make_dir(out);
    RecordAll rec;
    RunResult r;
    ImageRGB8 image;
    if (a.flag("--input-npy")) {
        Tensor input = read_npy(a.get("--input-npy"));
        if (input.dim() == 4 && input.size(0) == 1) input.shape.erase(input.shape.begin());
        r = run_on_tensor(*model, input, rec);
    } else {
        image = decode_image_file(a.require("--image"));
        r = run_on_image(*model, image, rec);
    }
    r.attention = rec.take();

    if (r.layout.n_cls >= 1) write_rollout(out, r, image.data.empty() ? nullptr : &image, a);
    else std::fprintf(stderr, "rollout: skipped (no CLS token)\n");
    const auto dist = an::mean_attention_distances(r.attention, r.layout);
    write_file_atomic(path_in(out, "attention_distance.csv"), distance_csv(dist));
    an::write_png(path_in(out, "attention_distance.png"), an::distance_scatter_png(dist, "Mean attention distance, one image"));
    try {
        write_embeddings(out, model->info());
    } catch (const Error& e) {
        std::fprintf(stderr, "pos_similarity / filters_pca: skipped (%s)\n", e.what());
    }
    write_head_stats(out, r, get_double(a, "--mask-mass", 0.6));
    std::printf("wrote %s\n", out.c_str());
    return 0;
}

namespace {

bool is_image_name(const fs::path& p) {
    std::string e = p.extension().string();
    std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const char* x : {".png", ".jpg", ".jpeg", ".jfif", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pnm"})
        if (e == x) return true;
    return false;
}

// Sorted image files under `dir` (recursive, by extension), then shard `i/n`, then the first `limit`.
std::vector<std::string> list_images(const std::string& dir, const std::string& shard, int limit) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw Error(ErrorKind::Io, dir, "--images", "is not a folder");
    std::vector<std::string> all;
    for (const auto& e : fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied))
        if (e.is_regular_file() && is_image_name(e.path())) all.push_back(fs::relative(e.path(), dir).generic_string());
    std::sort(all.begin(), all.end());
    int i = 0, n = 1;
    if (!shard.empty() && (std::sscanf(shard.c_str(), "%d/%d", &i, &n) != 2 || n < 1 || i < 0 || i >= n))
        throw Error(ErrorKind::Argument, "", "--shard", "expects i/n with 0 <= i < n, got '" + shard + "'");
    std::vector<std::string> out;
    for (size_t k = static_cast<size_t>(i); k < all.size(); k += n) out.push_back(all[k]);
    if (limit > 0 && static_cast<int>(out.size()) > limit) out.resize(limit);
    return out;
}

} // namespace

int cmd_dataset(const Args& a) {
    ops::set_num_threads(a.get_int("--threads", 0));
    const std::string dir = a.require("--images"), out = a.require("--out");
    const std::vector<std::string> files = list_images(dir, a.get("--shard"), a.get_int("--limit", 0));
    auto model = open_model(a);
    make_dir(out);
    // DETR: every query's box per image goes to query_boxes.csv (checked on the DETR fixture).
    // The box-centre scatter picture (DETR Fig. 7) is not drawn yet.
    const bool detr = model->info().family == "detr";
    an::DistanceAccumulator acc;
    std::string per_image = "image,layer,head,mean_px\n", boxes = an::query_boxes_csv_header();
    int skipped = 0;
    for (size_t k = 0; k < files.size(); ++k) {
        std::fprintf(stderr, "[%zu/%zu] %s\n", k + 1, files.size(), files[k].c_str());
        RunResult r;
        try {
            RecordAll rec; // one image's maps at a time
            r = run_on_image(*model, decode_image_file((fs::path(dir) / files[k]).string()), rec);
            r.attention = rec.take();
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::Cancelled) throw;
            std::fprintf(stderr, "  skipped: %s\n", e.what());
            ++skipped;
            continue;
        }
        const auto d = an::mean_attention_distances(r.attention, r.layout);
        acc.add(d);
        for (size_t l = 0; l < d.size(); ++l)
            for (size_t h = 0; h < d[l].size(); ++h)
                per_image += an::csv_field(files[k]) + "," + std::to_string(l) + "," + std::to_string(h) + "," + num(d[l][h]) + "\n";
        if (detr) boxes += an::query_boxes_csv(an::query_boxes(files[k], r));
    }
    std::string mean = "layer,head,mean_px,std_px,n_images\n";
    std::vector<std::vector<double>> means(acc.n_layers());
    for (int l = 0; l < acc.n_layers(); ++l)
        for (int h = 0; h < acc.n_heads(l); ++h) {
            mean += std::to_string(l) + "," + std::to_string(h) + "," + num(acc.mean(l, h)) + "," + num(acc.std_dev(l, h)) + "," + std::to_string(acc.n_images()) + "\n";
            means[l].push_back(acc.mean(l, h));
        }
    write_file_atomic(path_in(out, "attention_distance.csv"), mean);
    write_file_atomic(path_in(out, "attention_distance_per_image.csv"), per_image);
    if (detr) write_file_atomic(path_in(out, "query_boxes.csv"), boxes);
    if (acc.n_images() > 0)
        an::write_png(path_in(out, "attention_distance.png"),
                      an::distance_scatter_png(means, "Mean attention distance, " + std::to_string(acc.n_images()) + " images"));
    std::printf("{\"images\": %zu, \"processed\": %d, \"skipped\": %d, \"out\": \"%s\"}\n", files.size(), acc.n_images(), skipped, out.c_str());
    return 0;
}

} // namespace attnscope::cli
