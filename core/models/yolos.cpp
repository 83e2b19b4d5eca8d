// YOLOS: config and weights (HF names), load, forward over the ViT parts (see yolos.h).
#include "core/models/yolos.h"

#include "core/error.h"
#include "core/models/detr.h"
#include "core/models/labels.h"
#include "core/models/model_config.h"
#include "core/models/token_taps.h"
#include "core/tensor/ops.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace attnscope {

using json = nlohmann::json;

namespace {

const char* kCls = "vit.embeddings.cls_token";
const char* kDet = "vit.embeddings.detection_tokens";
const char* kPos = "vit.embeddings.position_embeddings";
const char* kPatch = "vit.embeddings.patch_embeddings.projection.";
const char* kMidPos = "vit.encoder.mid_position_embeddings";

[[noreturn]] void fail(ErrorKind kind, const std::string& file, const std::string& field, const std::string& what) {
    throw Error(kind, file, field, what);
}

std::string tensor_field(const std::string& name) { return "tensor '" + name + "'"; }

// config.json image_size: an int (square) or [height, width]; {0, 0} when absent.
std::pair<int, int> config_image_size(const json* cfg, const std::string& file) {
    if (!cfg || !cfg->contains("image_size")) return {0, 0};
    const json& v = (*cfg)["image_size"];
    auto positive = [&](const json& x) {
        if (!x.is_number_integer() || x.get<int64_t>() <= 0 || x.get<int64_t>() > 100000)
            fail(ErrorKind::Format, file, "image_size", "expected a positive integer or [height, width], got " + v.dump());
        return x.get<int>();
    };
    if (v.is_array() && v.size() == 2) return {positive(v[0]), positive(v[1])};
    if (v.is_number()) return {positive(v), positive(v)};
    fail(ErrorKind::Format, file, "image_size", "expected a positive integer or [height, width], got " + v.dump());
}

YolosConfig configure(const WeightSource& w, const json* cfg, const LoadOptions& opt) {
    const std::string file = file_of(w);
    const std::string cfg_file = opt.config_path.empty() ? "config.json" : opt.config_path;
    YolosConfig c;
    VitConfig& v = c.vit;
    v.naming = VitNaming::HF;
    v.prefix = "vit.";
    v.n_pos_prefix = 1;
    v.ln_eps = 1e-12f; // YolosConfig default
    const TensorInfo cls = w.info(kCls);
    if (cls.shape.size() != 3 || cls.shape[0] != 1 || cls.shape[1] != 1)
        fail(ErrorKind::Mismatch, file, tensor_field(kCls), "expected [1, 1, D], found " + shape_str(cls.shape));
    v.n_embd = static_cast<int>(cls.shape[2]);
    const int D = v.n_embd;
    const TensorInfo det = w.info(kDet);
    if (det.shape.size() != 3 || det.shape[0] != 1 || det.shape[1] < 1 || det.shape[2] != D)
        fail(ErrorKind::Mismatch, file, tensor_field(kDet), "expected [1, N, " + std::to_string(D) + "], found " + shape_str(det.shape));
    c.n_det = static_cast<int>(det.shape[1]);
    const TensorInfo pw = w.info(std::string(kPatch) + "weight");
    if (pw.shape.size() != 4 || pw.shape[0] != D || pw.shape[1] != 3 || pw.shape[2] != pw.shape[3] || pw.shape[2] < 1)
        fail(ErrorKind::Mismatch, file, tensor_field(pw.name), "expected [" + std::to_string(D) + ", 3, P, P], found " + shape_str(pw.shape));
    v.patch = static_cast<int>(pw.shape[2]);
    while (w.has("vit.encoder.layer." + std::to_string(v.n_layers) + ".layernorm_before.weight")) ++v.n_layers;
    if (v.n_layers == 0) fail(ErrorKind::Missing, file, tensor_field("vit.encoder.layer.0.layernorm_before.weight"), "no transformer blocks found");
    v.n_mlp = static_cast<int>(w.info("vit.encoder.layer.0.intermediate.dense.weight").shape.at(0));

    // The position table's grid: config image_size / patch (HF InterpolateInitialPositionEmbeddings), else square.
    const TensorInfo pos = w.info(kPos);
    if (pos.shape.size() != 3 || pos.shape[0] != 1 || pos.shape[2] != D)
        fail(ErrorKind::Mismatch, file, tensor_field(kPos), "expected [1, 1 + grid + " + std::to_string(c.n_det) + ", " + std::to_string(D) + "], found " + shape_str(pos.shape));
    const int64_t cells = pos.shape[1] - 1 - c.n_det;
    const auto [img_h, img_w] = config_image_size(cfg, cfg_file);
    if (img_h > 0) {
        v.pos_grid_h = img_h / v.patch;
        v.pos_grid_w = img_w / v.patch;
        if (static_cast<int64_t>(v.pos_grid_h) * v.pos_grid_w != cells)
            fail(ErrorKind::Mismatch, cfg_file, "image_size",
                 "[" + std::to_string(img_h) + ", " + std::to_string(img_w) + "] makes a " + std::to_string(v.pos_grid_h) + "×" +
                     std::to_string(v.pos_grid_w) + " patch grid, but " + file + " has " + std::to_string(cells) +
                     " patch rows in " + kPos + " " + shape_str(pos.shape));
    } else {
        int root = 0;
        if (!vit_square_grid(cells, root))
            fail(ErrorKind::Missing, file, "image_size",
                 "the position table has " + std::to_string(cells) + " patch rows, not a square grid; give the config.json "
                 "with image_size [height, width] (--config)");
        v.pos_grid_h = v.pos_grid_w = root;
    }

    vit_config_eps(cfg, cfg_file, v.ln_eps);
    if (cfg && cfg->contains("hidden_act") && (*cfg)["hidden_act"] != "gelu")
        fail(ErrorKind::Unsupported, cfg_file, "hidden_act", (*cfg)["hidden_act"].dump() + " (only \"gelu\", exact GELU, is implemented)");
    std::string heads_file = cfg_file, heads_field = "num_attention_heads";
    v.n_heads = opt.heads_override;
    if (v.n_heads) heads_file.clear(), heads_field = "--heads";
    else v.n_heads = json_int(cfg, "num_attention_heads", 0, cfg_file);
    if (!v.n_heads) fail(ErrorKind::Missing, file, "num_heads", "cannot tell the number of attention heads without config.json; pass --heads N");
    vit_check_heads(v, heads_file, heads_field, file);
    vit_check_config_sizes(v, cfg, cfg_file, "", "cls_token");
    if (const int n = json_int(cfg, "num_detection_tokens", c.n_det, cfg_file); n != c.n_det)
        fail(ErrorKind::Mismatch, cfg_file, "num_detection_tokens", "says " + std::to_string(n) + " but " + kDet + " has " + std::to_string(c.n_det));

    c.mid_pos = w.has(kMidPos);
    if (cfg && cfg->contains("use_mid_position_embeddings") && (*cfg)["use_mid_position_embeddings"].is_boolean() &&
        (*cfg)["use_mid_position_embeddings"].get<bool>() != c.mid_pos)
        fail(ErrorKind::Mismatch, cfg_file, "use_mid_position_embeddings",
             std::string(c.mid_pos ? "is false but " : "is true but no ") + kMidPos + " in " + file);

    const TensorInfo head = w.info("class_labels_classifier.layers.2.weight");
    if (head.shape.size() != 2 || head.shape[0] < 2 || head.shape[1] != D)
        fail(ErrorKind::Mismatch, file, tensor_field(head.name), "expected [num_labels + 1, " + std::to_string(D) + "], found " + shape_str(head.shape));
    c.n_labels = static_cast<int>(head.shape[0]) - 1;
    int cfg_labels = -1;
    if (cfg && cfg->contains("id2label") && (*cfg)["id2label"].is_object()) cfg_labels = static_cast<int>((*cfg)["id2label"].size());
    if (cfg_labels >= 0 && cfg_labels != c.n_labels)
        fail(ErrorKind::Mismatch, cfg_file, "id2label",
             std::to_string(cfg_labels) + " labels, but the class head has " + std::to_string(head.shape[0]) +
                 " rows (num_labels + 1, the last is 'no object')");
    return c;
}

void load_mlp(const WeightSource& w, const std::string& base, int D, int out, Tensor* wt, Tensor* b) {
    for (int i = 0; i < 3; ++i) {
        const std::string p = base + std::to_string(i) + ".";
        const int rows = i == 2 ? out : D;
        wt[i] = load_checked(w, p + "weight", {rows, D});
        b[i] = load_checked(w, p + "bias", {rows});
    }
}

YolosWeights load_weights(const WeightSource& w, const YolosConfig& c) {
    const VitConfig& v = c.vit;
    const int D = v.n_embd, P = v.patch;
    const int64_t seq = 1 + static_cast<int64_t>(v.pos_grid_h) * v.pos_grid_w + c.n_det;
    YolosWeights y;
    y.vit.cls = load_checked(w, kCls, {1, 1, D});
    y.vit.pos = load_checked(w, kPos, {1, seq, D});
    y.vit.patch_w = load_checked(w, std::string(kPatch) + "weight", {D, 3, P, P});
    y.vit.patch_b = load_checked(w, std::string(kPatch) + "bias", {D});
    for (int il = 0; il < v.n_layers; ++il) y.vit.blocks.push_back(vit_load_block(w, v, il));
    y.vit.norm_w = load_checked(w, "vit.layernorm.weight", {D});
    y.vit.norm_b = load_checked(w, "vit.layernorm.bias", {D});
    y.det = load_checked(w, kDet, {1, c.n_det, D});
    if (c.mid_pos) {
        if (v.n_layers < 2) fail(ErrorKind::Mismatch, file_of(w), tensor_field(kMidPos), "present in a one-block model");
        y.mid_pos = load_checked(w, kMidPos, {v.n_layers - 1, 1, seq, D});
    }
    load_mlp(w, "class_labels_classifier.layers.", D, c.n_labels + 1, y.cls_w, y.cls_b);
    load_mlp(w, "bbox_predictor.layers.", D, 4, y.box_w, y.box_b);
    return y;
}

int64_t count_params(const YolosWeights& y) {
    int64_t n = vit_count_params(y.vit) + y.det.numel() + y.mid_pos.numel();
    for (int i = 0; i < 3; ++i) n += y.cls_w[i].numel() + y.cls_b[i].numel() + y.box_w[i].numel() + y.box_b[i].numel();
    return n;
}

// DETR's 3-layer MLP head (ReLU between layers) on rows x (n, D) → y (n, out).
void mlp3(const float* x, int n, int D, const Tensor* wt, const Tensor* b, int out, float* y) {
    std::vector<float> h1(static_cast<size_t>(n) * D), h2(h1.size());
    ops::linear(x, n, D, wt[0].ptr(), b[0].ptr(), D, h1.data(), 0, {ops::Act::Relu});
    ops::linear(h1.data(), n, D, wt[1].ptr(), b[1].ptr(), D, h2.data(), 0, {ops::Act::Relu});
    ops::linear(h2.data(), n, D, wt[2].ptr(), b[2].ptr(), out, y);
}

// One position table [1 + G₀ + n_det, D] laid on a gh × gw input grid: [1 + gh·gw + n_det, D].
std::vector<float> table_for_grid(const float* table, const VitConfig& v, int n_det, int gh, int gw) {
    const int D = v.n_embd, G0 = v.pos_grid_h * v.pos_grid_w, G = gh * gw;
    std::vector<float> out(static_cast<size_t>(1 + G + n_det) * D);
    std::copy(table, table + D, out.begin());
    float* grid = out.data() + D;
    if (gh == v.pos_grid_h && gw == v.pos_grid_w) {
        std::copy(table + D, table + static_cast<int64_t>(1 + G0) * D, grid);
    } else {
        const std::vector<float> r = interpolate_bicubic_tokens(table + D, v.pos_grid_h, v.pos_grid_w, D, gh, gw);
        std::copy(r.begin(), r.end(), grid);
    }
    std::copy(table + static_cast<int64_t>(1 + G0) * D, table + static_cast<int64_t>(1 + G0 + n_det) * D,
              out.begin() + static_cast<int64_t>(1 + G) * D);
    return out;
}

} // namespace

bool is_yolos_checkpoint(const WeightSource& w) { return w.has(kDet) && w.has(kCls); }

YolosModel::YolosModel(YolosConfig c, YolosWeights w, ModelInfo info, PreprocessSpec spec)
    : c_(std::move(c)), w_(std::move(w)), info_(std::move(info)), spec_(std::move(spec)) {}

PatchEmbedding YolosModel::patch_embedding() const { return vit_patch_embedding(c_.vit, w_.vit); }

void YolosModel::forward(const Tensor& input, AttentionRecorder& recorder, RunResult& result, const CancelFlag* cancel) const {
    const VitConfig& v = c_.vit;
    const int P = v.patch, D = v.n_embd, Q = c_.n_det;
    // The patch convolution (stride P, no padding) drops a remainder; HF sizes the grid the same way.
    int gh = 0, gw = 0;
    vit_grid(v, input, gh, gw);
    const int G = gh * gw, T = 1 + G + Q;
    std::vector<float> x(static_cast<size_t>(T) * D);
    VitBuffers buf = vit_buffers(v, T);
    // CLS and patches (+ their position rows, the grid resized) by ViT's embedding; then the detection tokens.
    vit_embed(v, w_.vit, input, gh, gw, x.data());
    const float* det_pos = w_.vit.pos.ptr() + static_cast<int64_t>(1 + v.pos_grid_h * v.pos_grid_w) * D;
    float* xd = x.data() + static_cast<int64_t>(1 + G) * D;
    for (int64_t i = 0; i < static_cast<int64_t>(Q) * D; ++i) xd[i] = w_.det.data[static_cast<size_t>(i)] + det_pos[i];

    const int64_t table_rows = 1 + static_cast<int64_t>(v.pos_grid_h) * v.pos_grid_w + Q;
    result.token_norms = Tensor({v.n_layers, T});
    for (int il = 0; il < v.n_layers; ++il) {
        if (cancel && cancel->load()) throw Error(ErrorKind::Cancelled, "", "", "forward pass cancelled");
        vit_block_forward(v, w_.vit.blocks[static_cast<size_t>(il)], il, x.data(), T, buf, recorder);
        // the block's output (HF hidden_states), before the next mid position table is added
        token_norms(x.data(), T, D, result.token_norms.ptr() + static_cast<int64_t>(il) * T);
        if (c_.mid_pos && il < v.n_layers - 1) {
            const std::vector<float> mid = table_for_grid(w_.mid_pos.ptr() + il * table_rows * D, v, Q, gh, gw);
            ops::add_inplace(x.data(), mid.data(), static_cast<int64_t>(T) * D);
        }
    }
    std::vector<float>& h = buf.h;
    ops::layer_norm(x.data(), T, D, w_.vit.norm_w.ptr(), w_.vit.norm_b.ptr(), v.ln_eps, h.data());
    const float* dets = h.data() + static_cast<int64_t>(1 + G) * D;
    result.logits = Tensor({Q, c_.n_labels + 1});
    mlp3(dets, Q, D, w_.cls_w, w_.cls_b, c_.n_labels + 1, result.logits.ptr());
    result.boxes = Tensor({Q, 4});
    mlp3(dets, Q, D, w_.box_w, w_.box_b, 4, result.boxes.ptr());
    for (float& b : result.boxes.data) b = 1.0f / (1.0f + std::exp(-b));
    result.features = Tensor();
    result.final_tokens = Tensor({T, D}, std::move(h));
    result.layout = TokenLayout{1, 0, 0, gh, gw, P, Q};
}

std::unique_ptr<Model> load_yolos(std::shared_ptr<const WeightSource> w, const json* config, const json* preprocessor,
                                  const LoadOptions& options) {
    const YolosConfig c = configure(*w, config, options);
    require_memory_for_weights(*w);
    YolosWeights weights = load_weights(*w, c);
    const VitConfig& v = c.vit;
    ModelInfo info;
    info.family = Family::Yolos;
    info.task = Task::Detect;
    info.format = "hf";
    info.source = w->path();
    vit_info_sizes(v, info);
    info.n_labels = c.n_labels;
    info.n_params = count_params(weights);
    info.architecture = architecture_name(config);
    if (info.architecture.empty()) info.architecture = "yolos (inferred from tensor names)";
    // id2label (or a labels .txt beside the checkpoint), else COCO's 91 ids, else LABEL_i — as DETR
    info.labels = load_labels(config, std::filesystem::path(w->path()).parent_path().string(), c.n_labels);
    if (std::all_of(info.labels.begin(), info.labels.end(), [](const std::string& l) { return l.empty(); })) {
        if (c.n_labels == static_cast<int>(coco_detr_labels().size())) info.labels = coco_detr_labels();
        else
            for (int i = 0; i < c.n_labels; ++i) info.labels[static_cast<size_t>(i)] = "LABEL_" + std::to_string(i);
    }
    // YolosImageProcessor's defaults (HF image_processing_yolos.py): DETR's sizes, bilinear, ImageNet mean/std,
    // and get_size_with_aspect_ratio's mod_size 16.
    PreprocessSpec defaults = detr_preprocess_defaults();
    defaults.size_divisor = 16;
    const PreprocessSpec spec = resolve_preprocess(Family::Yolos, defaults, preprocessor, config,
                                                   options.config_path.empty() ? "config.json" : options.config_path);
    return std::make_unique<YolosModel>(c, std::move(weights), std::move(info), spec);
}

} // namespace attnscope
