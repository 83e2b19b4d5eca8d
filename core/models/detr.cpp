// DETR: config, weights (HF and original names), load, forward, post-processing. Upstream: HF transformers
// modeling_detr.py (DetrForObjectDetection) and facebookresearch/detr models/{detr,transformer,backbone}.py.
#include "core/models/detr.h"

#include "core/error.h"
#include "core/models/labels.h"
#include "core/models/model_config.h"
#include "core/models/token_taps.h"
#include "core/tensor/attention.h"
#include "core/tensor/ops.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numbers>

namespace attnscope {

namespace {

const char* kHfBackbone = "model.backbone.conv_encoder.model.";
const char* kOrigBackbone = "backbone.0.body.";

[[noreturn]] void fail(ErrorKind kind, const WeightSource& src, const std::string& tensor, const std::string& what) {
    throw Error(kind, file_of(src), tensor.empty() ? "" : "tensor '" + tensor + "'", what);
}

// Checkpoint key names for one naming scheme (HF DetrForObjectDetection or facebookresearch/detr;
// the rename map of HF convert_detr_original_pytorch_checkpoint_to_pytorch.py).
struct DetrNames {
    bool original = false;
    std::string pick(const std::string& hf, const std::string& orig) const { return original ? orig : hf; }
    std::string backbone() const { return pick(kHfBackbone, kOrigBackbone); }
    std::string proj() const { return pick("model.input_projection.", "input_proj."); }
    std::string query() const { return pick("model.query_position_embeddings.weight", "query_embed.weight"); }
    std::string enc(int il) const {
        return pick("model.encoder.layers.", "transformer.encoder.layers.") + std::to_string(il) + ".";
    }
    std::string dec(int il) const {
        return pick("model.decoder.layers.", "transformer.decoder.layers.") + std::to_string(il) + ".";
    }
    std::string dec_norm() const { return pick("model.decoder.layernorm.", "transformer.decoder.norm."); }
    std::string cls() const { return pick("class_labels_classifier.", "class_embed."); }
    std::string box(int i) const { return pick("bbox_predictor.layers.", "bbox_embed.layers.") + std::to_string(i) + "."; }
};

void load_linear(const WeightSource& src, const std::string& p, int64_t out, int64_t in, Tensor& w, Tensor& b) {
    w = load_checked(src, p + "weight", {out, in});
    b = load_checked(src, p + "bias", {out});
}

void load_norm(const WeightSource& src, const std::string& p, int64_t d, Tensor& w, Tensor& b) {
    w = load_checked(src, p + "weight", {d});
    b = load_checked(src, p + "bias", {d});
}

Tensor rows(const Tensor& t, int64_t r0, int64_t r1) { // rows [r0, r1) of a 1-D or 2-D tensor
    const int64_t cols = t.dim() == 2 ? t.size(1) : 1;
    Shape s = t.shape;
    s[0] = r1 - r0;
    return Tensor(s, std::vector<float>(t.data.begin() + r0 * cols, t.data.begin() + r1 * cols));
}

// base: "<layer>.self_attn." etc. Original checkpoints fuse q, k, v into in_proj_{weight,bias} [3d, d].
DetrAttention load_attention(const WeightSource& src, const DetrNames& n, const std::string& base, int64_t d) {
    DetrAttention a;
    if (n.original) {
        {
            const Tensor w = load_checked(src, base + "in_proj_weight", {3 * d, d}); // (3d, d)
            const Tensor b = load_checked(src, base + "in_proj_bias", {3 * d});      // (3d)
            a.wq = rows(w, 0, d), a.wk = rows(w, d, 2 * d), a.wv = rows(w, 2 * d, 3 * d);
            a.bq = rows(b, 0, d), a.bk = rows(b, d, 2 * d), a.bv = rows(b, 2 * d, 3 * d);
        }
        src.release(base + "in_proj_weight"), src.release(base + "in_proj_bias"); // split into copies above
    } else {
        load_linear(src, base + "q_proj.", d, d, a.wq, a.bq);
        load_linear(src, base + "k_proj.", d, d, a.wk, a.bk);
        load_linear(src, base + "v_proj.", d, d, a.wv, a.bv);
    }
    load_linear(src, base + "out_proj.", d, d, a.wo, a.bo);
    return a;
}

void check_config(const WeightSource& src, const nlohmann::json* cfg, const std::string& cfg_file, const char* key,
                  int found, const std::string& tensor, const std::string& what) {
    const int want = json_int(cfg, key, found, cfg_file);
    if (want != found)
        fail(ErrorKind::Mismatch, src, tensor,
             what + " " + std::to_string(found) + " but config.json " + key + " = " + std::to_string(want));
}

// facebookresearch/detr models/position_encoding.py PositionEmbeddingSine (normalize=True, scale 2π;
// HF DetrSinePositionEmbedding): sine position embedding of the (h, w) mask → (h·w, d), y features first then x.
std::vector<float> sine_position(const std::vector<float>& mask, int h, int w, int d) {
    const int n_feats = d / 2;
    const float eps = 1e-6f, scale = 2.0f * std::numbers::pi_v<float>;
    std::vector<float> y_embed(static_cast<size_t>(h) * w), x_embed(static_cast<size_t>(h) * w); // (h, w)
    for (int c = 0; c < w; ++c) {
        float acc = 0.0f;
        for (int r = 0; r < h; ++r) y_embed[r * w + c] = acc += mask[r * w + c];
    }
    for (int r = 0; r < h; ++r) {
        float acc = 0.0f;
        for (int c = 0; c < w; ++c) x_embed[r * w + c] = acc += mask[r * w + c];
    }
    std::vector<float> dim_t(static_cast<size_t>(n_feats)); // (n_feats)
    for (int k = 0; k < n_feats; ++k)
        dim_t[k] = std::pow(10000.0f, 2.0f * static_cast<float>(k / 2) / static_cast<float>(n_feats));
    std::vector<float> pos(static_cast<size_t>(h) * w * d); // (h·w, d)
    for (int r = 0; r < h; ++r) {
        for (int c = 0; c < w; ++c) {
            const float y = y_embed[r * w + c] / (y_embed[(h - 1) * w + c] + eps) * scale;
            const float x = x_embed[r * w + c] / (x_embed[r * w + w - 1] + eps) * scale;
            float* p = pos.data() + (static_cast<int64_t>(r) * w + c) * d;
            for (int k = 0; k < n_feats; ++k) {
                p[k] = k % 2 == 0 ? std::sin(y / dim_t[k]) : std::cos(y / dim_t[k]);
                p[n_feats + k] = k % 2 == 0 ? std::sin(x / dim_t[k]) : std::cos(x / dim_t[k]);
            }
        }
    }
    return pos;
}

void check_cancel(const CancelFlag* cancel) {
    if (cancel && cancel->load()) throw Error(ErrorKind::Cancelled, "", "", "forward pass cancelled");
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

PreprocessSpec detr_preprocess_defaults() {
    PreprocessSpec d;
    d.resize = PreprocessSpec::Resize::ShortestEdgeMaxLongest;
    d.shortest_edge = 800;
    d.longest_edge = 1333;
    d.resample = Resample::Bilinear;
    d.center_crop = false;
    d.rescale = 1.0 / 255.0;
    d.mean = {0.485f, 0.456f, 0.406f};
    d.std = {0.229f, 0.224f, 0.225f};
    return d;
}

bool is_detr_checkpoint(const WeightSource& w) {
    const bool hf = w.has("model.query_position_embeddings.weight") && w.has("model.input_projection.weight");
    const bool orig = w.has("query_embed.weight") && w.has("input_proj.weight") &&
                      w.has("transformer.decoder.norm.weight");
    return hf || orig;
}

// ---------------------------------------------------------------------------------------------- load

std::unique_ptr<Model> load_detr(std::shared_ptr<const WeightSource> wsrc, const nlohmann::json* cfg,
                                 const nlohmann::json* preprocessor, const LoadOptions& opts) {
    const WeightSource& src = *wsrc;
    const std::string cfg_file = opts.config_path.empty() ? "config.json" : opts.config_path;
    require_memory_for_weights(src);
    DetrNames n;
    n.original = !src.has("model.query_position_embeddings.weight") && src.has("query_embed.weight");
    if (!n.original && !src.has(n.query()))
        fail(ErrorKind::Missing, src, n.query(), "not a DETR checkpoint: no query position embeddings");
    if (!n.original && src.has(std::string(kHfBackbone) + "embedder.embedder.convolution.weight"))
        fail(ErrorKind::Unsupported, src, std::string(kHfBackbone) + "embedder.embedder.convolution.weight",
             "the HF 'no_timm' ResNet backbone naming is not supported (use the timm revision)");

    DetrConfig c;
    // d_model and queries from the query embeddings (Q, d)
    const TensorInfo qi = src.info(n.query());
    if (qi.shape.size() != 2) fail(ErrorKind::Mismatch, src, n.query(), "expected [num_queries, d_model], found " + shape_str(qi.shape));
    c.n_queries = static_cast<int>(qi.shape[0]);
    c.d_model = static_cast<int>(qi.shape[1]);
    const int64_t d = c.d_model;
    check_config(src, cfg, cfg_file, "d_model", c.d_model, n.query(), "query embeddings are");
    check_config(src, cfg, cfg_file, "num_queries", c.n_queries, n.query(), "checkpoint has query count");

    // heads: --heads override, else config, else 8 (the original DETR)
    c.n_heads = opts.heads_override > 0 ? opts.heads_override : json_int(cfg, "encoder_attention_heads", 8, cfg_file);
    if (opts.heads_override <= 0 && json_int(cfg, "decoder_attention_heads", c.n_heads, cfg_file) != c.n_heads)
        throw Error(ErrorKind::Unsupported, cfg_file, "decoder_attention_heads",
                    "differs from encoder_attention_heads (" + std::to_string(c.n_heads) + "); one head count is supported");
    if (c.n_heads <= 0 || c.d_model % c.n_heads != 0)
        // reported against where the count came from: --heads, config.json, or DETR's default of 8
        throw Error(opts.heads_override > 0 ? ErrorKind::Argument : ErrorKind::Mismatch,
                    opts.heads_override > 0 ? "" : cfg && cfg->contains("encoder_attention_heads") ? cfg_file : file_of(src),
                    opts.heads_override > 0 ? "--heads" : cfg && cfg->contains("encoder_attention_heads") ? "encoder_attention_heads" : "heads",
                    "d_model " + std::to_string(c.d_model) + " is not divisible by " + std::to_string(c.n_heads) + " heads");
    c.dc5 = opts.dc5 ? *opts.dc5 : (cfg && cfg->contains("dilation") && (*cfg)["dilation"].is_boolean() && (*cfg)["dilation"].get<bool>());

    DetrWeights w;
    w.backbone = ResNet::load(src, n.backbone(), c.dc5);

    // input projection (d, c_backbone, 1, 1)
    const std::string proj_w = n.proj() + "weight";
    if (!src.has(proj_w)) fail(ErrorKind::Missing, src, proj_w, "input projection is missing");
    const Shape ps = src.info(proj_w).shape;
    if (ps.size() != 4 || ps[2] != 1 || ps[3] != 1)
        fail(ErrorKind::Mismatch, src, proj_w, "expected a 1×1 conv [d_model, c, 1, 1], found " + shape_str(ps));
    if (ps[0] != d)
        fail(ErrorKind::Mismatch, src, proj_w,
             "input projection outputs " + std::to_string(ps[0]) + " channels but the query embeddings ('" + n.query() +
                 "') are " + std::to_string(d) + " wide (d_model)");
    if (ps[1] != w.backbone.c_out)
        fail(ErrorKind::Mismatch, src, proj_w,
             "input projection takes " + std::to_string(ps[1]) + " channels but the backbone gives " +
                 std::to_string(w.backbone.c_out));
    w.proj_w = load_checked(src, proj_w, {d, w.backbone.c_out, 1, 1});
    w.proj_b = load_checked(src, n.proj() + "bias", {d});
    w.query_pos = src.load(n.query());

    // encoder / decoder layers, counted from the keys
    auto fc1 = [&](const std::string& layer) { return layer + n.pick("fc1.weight", "linear1.weight"); };
    c.n_enc = 0;
    while (src.has(fc1(n.enc(c.n_enc)))) ++c.n_enc;
    c.n_dec = 0;
    while (src.has(fc1(n.dec(c.n_dec)))) ++c.n_dec;
    if (c.n_enc == 0) fail(ErrorKind::Missing, src, fc1(n.enc(0)), "no encoder layers");
    if (c.n_dec == 0) fail(ErrorKind::Missing, src, fc1(n.dec(0)), "no decoder layers");
    check_config(src, cfg, cfg_file, "encoder_layers", c.n_enc, fc1(n.enc(c.n_enc)), "checkpoint has encoder layer count");
    check_config(src, cfg, cfg_file, "decoder_layers", c.n_dec, fc1(n.dec(c.n_dec)), "checkpoint has decoder layer count");
    c.n_ffn_enc = static_cast<int>(src.info(fc1(n.enc(0))).shape.at(0));
    c.n_ffn_dec = static_cast<int>(src.info(fc1(n.dec(0))).shape.at(0));

    for (int il = 0; il < c.n_enc; ++il) {
        const std::string p = n.enc(il);
        DetrEncoderLayer L;
        L.attn = load_attention(src, n, p + "self_attn.", d);
        load_norm(src, p + n.pick("self_attn_layer_norm.", "norm1."), d, L.ln1_w, L.ln1_b);
        load_linear(src, p + n.pick("fc1.", "linear1."), c.n_ffn_enc, d, L.fc1_w, L.fc1_b);
        load_linear(src, p + n.pick("fc2.", "linear2."), d, c.n_ffn_enc, L.fc2_w, L.fc2_b);
        load_norm(src, p + n.pick("final_layer_norm.", "norm2."), d, L.ln2_w, L.ln2_b);
        w.enc.push_back(std::move(L));
    }
    for (int il = 0; il < c.n_dec; ++il) {
        const std::string p = n.dec(il);
        DetrDecoderLayer L;
        L.self_attn = load_attention(src, n, p + "self_attn.", d);
        load_norm(src, p + n.pick("self_attn_layer_norm.", "norm1."), d, L.ln1_w, L.ln1_b);
        L.cross_attn = load_attention(src, n, p + n.pick("encoder_attn.", "multihead_attn."), d);
        load_norm(src, p + n.pick("encoder_attn_layer_norm.", "norm2."), d, L.ln2_w, L.ln2_b);
        load_linear(src, p + n.pick("fc1.", "linear1."), c.n_ffn_dec, d, L.fc1_w, L.fc1_b);
        load_linear(src, p + n.pick("fc2.", "linear2."), d, c.n_ffn_dec, L.fc2_w, L.fc2_b);
        load_norm(src, p + n.pick("final_layer_norm.", "norm3."), d, L.ln3_w, L.ln3_b);
        w.dec.push_back(std::move(L));
    }
    load_norm(src, n.dec_norm(), d, w.dec_ln_w, w.dec_ln_b);

    // heads: class (n_labels + 1, d), box MLP d → d → d → 4
    const std::string cls_w = n.cls() + "weight";
    if (!src.has(cls_w)) fail(ErrorKind::Missing, src, cls_w, "class head is missing");
    const Shape cs = src.info(cls_w).shape;
    if (cs.size() != 2 || cs[0] < 2 || cs[1] != d)
        fail(ErrorKind::Mismatch, src, cls_w, "expected [num_labels + 1, " + std::to_string(d) + "], found " + shape_str(cs));
    c.n_labels = static_cast<int>(cs[0]) - 1;
    int cfg_labels = json_int(cfg, "num_labels", -1, cfg_file);
    if (cfg && cfg->contains("id2label") && (*cfg)["id2label"].is_object()) cfg_labels = static_cast<int>((*cfg)["id2label"].size());
    if (cfg_labels >= 0 && cfg_labels + 1 != cs[0])
        fail(ErrorKind::Mismatch, src, cls_w,
             "class head has " + std::to_string(cs[0]) + " rows but config.json has " + std::to_string(cfg_labels) +
                 " labels (expected num_labels + 1 = " + std::to_string(cfg_labels + 1) + " rows, the last is 'no object')");
    load_linear(src, n.cls(), c.n_labels + 1, d, w.cls_w, w.cls_b);
    for (int i = 0; i < 3; ++i) load_linear(src, n.box(i), i == 2 ? 4 : d, d, w.box_w[i], w.box_b[i]);

    // info
    ModelInfo info;
    info.family = Family::Detr;
    info.task = Task::Detect;
    info.format = n.original ? "original" : "hf";
    info.architecture = architecture_name(cfg);
    if (info.architecture.empty()) info.architecture = "DetrForObjectDetection";
    info.source = src.path();
    info.hidden = c.d_model;
    info.n_layers = c.n_enc;
    info.n_decoder_layers = c.n_dec;
    info.n_heads = c.n_heads;
    info.mlp = c.n_ffn_enc;
    info.patch_size = w.backbone.stride;
    info.n_labels = c.n_labels;
    for (const std::string& name : src.names()) info.n_params += shape_numel(src.info(name).shape);
    // id2label (or a labels .txt beside the checkpoint), else COCO's 91 ids, else LABEL_i
    info.labels = load_labels(cfg, std::filesystem::path(src.path()).parent_path().string(), c.n_labels);
    if (std::all_of(info.labels.begin(), info.labels.end(), [](const std::string& l) { return l.empty(); })) {
        if (c.n_labels == static_cast<int>(coco_detr_labels().size())) info.labels = coco_detr_labels();
        else
            for (int i = 0; i < c.n_labels; ++i) info.labels[i] = "LABEL_" + std::to_string(i);
    }

    // DetrImageProcessor's defaults (HF image_processing_detr.py): shortest edge 800, longest 1333, bilinear,
    // no crop, 1/255, ImageNet mean/std; a preprocessor_config.json replaces them (resolve_preprocess).
    const PreprocessSpec defaults = detr_preprocess_defaults();
    const PreprocessSpec spec = resolve_preprocess(Family::Detr, defaults, preprocessor, cfg, cfg_file);
    return std::make_unique<DetrModel>(c, std::move(w), std::move(info), spec);
}

DetrModel::DetrModel(DetrConfig config, DetrWeights weights, ModelInfo info, PreprocessSpec spec)
    : config_(config), w_(std::move(weights)), info_(std::move(info)), spec_(spec) {}

// ---------------------------------------------------------------------------------------------- forward

void detr_attention(const DetrAttention& a, const float* q_in, int n_q, const float* k_in, const float* v_in, int n_k,
                    int d, int n_heads, const float* key_bias, AttentionRecorder& rec, Site site, int il,
                    DetrAttnBuffers& b, float* out) {
    b.q.resize(static_cast<size_t>(n_q) * d);
    b.k.resize(static_cast<size_t>(n_k) * d);
    b.v.resize(static_cast<size_t>(n_k) * d);
    b.att.resize(static_cast<size_t>(n_q) * d);
    ops::linear(q_in, n_q, d, a.wq.ptr(), a.bq.ptr(), d, b.q.data()); // (n_q, d)
    ops::linear(k_in, n_k, d, a.wk.ptr(), a.bk.ptr(), d, b.k.data()); // (n_k, d)
    ops::linear(v_in, n_k, d, a.wv.ptr(), a.bv.ptr(), d, b.v.data()); // (n_k, d)
    const int head_dim = d / n_heads;
    const AttentionShape s{n_heads, head_dim, n_q, n_k};
    multi_head_attention(s, b.q.data(), d, b.k.data(), d, b.v.data(), d, 1.0f / std::sqrt(static_cast<float>(head_dim)),
                         key_bias, b.att.data(), d, rec, site, il, b.scratch);
    ops::linear(b.att.data(), n_q, d, a.wo.ptr(), a.bo.ptr(), d, out); // (n_q, d)
}

namespace {

// x (n, d) = LN(x + FFN(x)), FFN = fc2(ReLU(fc1(x))).
void ffn_block(float* x, int n, int d, int n_ffn, const Tensor& w1, const Tensor& b1, const Tensor& w2, const Tensor& b2,
               const Tensor& ln_w, const Tensor& ln_b, float eps, std::vector<float>& hid) {
    hid.resize(static_cast<size_t>(n) * n_ffn); // (n, ffn)
    ops::linear(x, n, d, w1.ptr(), b1.ptr(), n_ffn, hid.data(), 0, {ops::Act::Relu});
    ops::linear(hid.data(), n, n_ffn, w2.ptr(), b2.ptr(), d, x, 0, {ops::Act::None, nullptr, /*accumulate=*/true});
    ops::layer_norm(x, n, d, ln_w.ptr(), ln_b.ptr(), eps, x);
}

void add(const float* a, const float* b, int64_t n, float* y) {
    for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

} // namespace

DetrEncoderInput DetrModel::encoder_input(const Tensor& input, const Tensor* pixel_mask, const CancelFlag* cancel) const {
    const auto t0 = std::chrono::steady_clock::now();
    if (input.dim() != 3 || input.size(0) != 3)
        throw Error(ErrorKind::Argument, info_.source, "input", "expected a [3, H, W] image, got " + shape_str(input.shape));
    const int H = static_cast<int>(input.size(1)), W = static_cast<int>(input.size(2));
    if (pixel_mask && (pixel_mask->dim() != 2 || pixel_mask->size(0) != H || pixel_mask->size(1) != W))
        throw Error(ErrorKind::Argument, info_.source, "pixel_mask",
                    "expected [" + std::to_string(H) + ", " + std::to_string(W) + "], got " + shape_str(pixel_mask->shape));
    const int d = config_.d_model;
    DetrEncoderInput in;
    // backbone
    const Tensor feat = w_.backbone.forward(input); // (C, h, w)
    check_cancel(cancel);
    in.backbone_ms = ms_since(t0);
    const int C = static_cast<int>(feat.size(0)), h = static_cast<int>(feat.size(1)), w = static_cast<int>(feat.size(2));
    const int S = h * w;
    in.h = h, in.w = w;

    // mask: nearest-downsampled pixel mask (h, w), 1 = real; padded keys get −inf
    std::vector<float> mask(static_cast<size_t>(S), 1.0f); // (h, w)
    if (pixel_mask) {
        const float sy = static_cast<float>(H) / h, sx = static_cast<float>(W) / w;
        for (int r = 0; r < h; ++r)
            for (int c = 0; c < w; ++c) {
                const int iy = std::min(H - 1, static_cast<int>(std::floor(r * sy)));
                const int ix = std::min(W - 1, static_cast<int>(std::floor(c * sx)));
                mask[r * w + c] = pixel_mask->data[static_cast<size_t>(iy) * W + ix] != 0.0f ? 1.0f : 0.0f;
            }
        if (std::find(mask.begin(), mask.end(), 0.0f) != mask.end()) {
            in.key_bias.resize(static_cast<size_t>(S));
            for (int i = 0; i < S; ++i) in.key_bias[i] = mask[i] != 0.0f ? 0.0f : -std::numeric_limits<float>::infinity();
        }
    }
    in.pos = sine_position(mask, h, w, d); // (S, d)

    // input projection: x (S, d) = featᵀ · Wᵀ + b
    std::vector<float> xt(static_cast<size_t>(d) * S); // (d, S)
    ops::gemm(d, S, C, 1.0f, w_.proj_w.ptr(), C, feat.ptr(), S, /*b_transposed=*/false, 0.0f, xt.data(), S);
    in.x.resize(static_cast<size_t>(S) * d); // (S, d)
    for (int i = 0; i < S; ++i)
        for (int j = 0; j < d; ++j) in.x[static_cast<size_t>(i) * d + j] = xt[static_cast<size_t>(j) * S + i] + w_.proj_b.data[j];
    return in;
}

void DetrModel::forward(const Tensor& input, AttentionRecorder& recorder, RunResult& result,
                        const CancelFlag* cancel) const {
    forward_masked(input, nullptr, recorder, result, cancel);
}

void DetrModel::forward_masked(const Tensor& input, const Tensor* pixel_mask, AttentionRecorder& recorder,
                               RunResult& result, const CancelFlag* cancel) const {
    const auto t0 = std::chrono::steady_clock::now();
    const int d = config_.d_model, n_heads = config_.n_heads, Q = config_.n_queries;
    const float eps = config_.ln_eps;
    DetrEncoderInput in = encoder_input(input, pixel_mask, cancel);
    const int h = in.h, w = in.w, S = h * w;
    const float* kb = in.key_bias.empty() ? nullptr : in.key_bias.data();
    const std::vector<float>& pos = in.pos;
    std::vector<float>& x = in.x; // (S, d)

    DetrAttnBuffers ab;
    std::vector<float> qk(static_cast<size_t>(S) * d);  // (S, d) x + pos
    std::vector<float> a(static_cast<size_t>(S) * d);   // (S, d) attention output
    std::vector<float> hid;                             // FFN hidden buffer

    // encoder: q = k = x + pos, v = x; post-norm. Token norms: every feature cell after each layer.
    result.token_norms = Tensor({config_.n_enc, S});
    for (int il = 0; il < config_.n_enc; ++il) {
        const DetrEncoderLayer& L = w_.enc[il];
        add(x.data(), pos.data(), static_cast<int64_t>(S) * d, qk.data());
        detr_attention(L.attn, qk.data(), S, qk.data(), x.data(), S, d, n_heads, kb, recorder, Site::Encoder, il, ab, a.data());
        ops::add_inplace(x.data(), a.data(), static_cast<int64_t>(S) * d);
        ops::layer_norm(x.data(), S, d, L.ln1_w.ptr(), L.ln1_b.ptr(), eps, x.data());
        ffn_block(x.data(), S, d, config_.n_ffn_enc, L.fc1_w, L.fc1_b, L.fc2_w, L.fc2_b, L.ln2_w, L.ln2_b, eps, hid);
        token_norms(x.data(), S, d, result.token_norms.ptr() + static_cast<int64_t>(il) * S);
        check_cancel(cancel);
    }

    // decoder: t from zeros, query pos on q/k of self-attn and q of cross-attn; k = memory + pos, v = memory
    const std::vector<float>& mem = x;                          // (S, d)
    std::vector<float> mem_pos(static_cast<size_t>(S) * d);     // (S, d)
    add(mem.data(), pos.data(), static_cast<int64_t>(S) * d, mem_pos.data());
    const float* qpos = w_.query_pos.ptr();                     // (Q, d)
    std::vector<float> t(static_cast<size_t>(Q) * d, 0.0f);     // (Q, d)
    std::vector<float> tq(static_cast<size_t>(Q) * d);          // (Q, d) t + qpos
    std::vector<float> ta(static_cast<size_t>(Q) * d);          // (Q, d) attention output
    for (int il = 0; il < config_.n_dec; ++il) {
        const DetrDecoderLayer& L = w_.dec[il];
        // self-attention
        add(t.data(), qpos, static_cast<int64_t>(Q) * d, tq.data());
        detr_attention(L.self_attn, tq.data(), Q, tq.data(), t.data(), Q, d, n_heads, nullptr, recorder, Site::DecoderSelf, il,
                  ab, ta.data());
        ops::add_inplace(t.data(), ta.data(), static_cast<int64_t>(Q) * d);
        ops::layer_norm(t.data(), Q, d, L.ln1_w.ptr(), L.ln1_b.ptr(), eps, t.data());
        // cross-attention
        add(t.data(), qpos, static_cast<int64_t>(Q) * d, tq.data());
        detr_attention(L.cross_attn, tq.data(), Q, mem_pos.data(), mem.data(), S, d, n_heads, kb, recorder, Site::DecoderCross,
                  il, ab, ta.data());
        ops::add_inplace(t.data(), ta.data(), static_cast<int64_t>(Q) * d);
        ops::layer_norm(t.data(), Q, d, L.ln2_w.ptr(), L.ln2_b.ptr(), eps, t.data());
        // FFN
        ffn_block(t.data(), Q, d, config_.n_ffn_dec, L.fc1_w, L.fc1_b, L.fc2_w, L.fc2_b, L.ln3_w, L.ln3_b, eps, hid);
        check_cancel(cancel);
    }
    ops::layer_norm(t.data(), Q, d, w_.dec_ln_w.ptr(), w_.dec_ln_b.ptr(), eps, t.data());

    // heads: logits (Q, n_labels + 1); boxes (Q, 4) = sigmoid(MLP)
    const int n_cls = config_.n_labels + 1;
    result.logits = Tensor({Q, n_cls});
    ops::linear(t.data(), Q, d, w_.cls_w.ptr(), w_.cls_b.ptr(), n_cls, result.logits.ptr());
    std::vector<float> h1(static_cast<size_t>(Q) * d), h2(static_cast<size_t>(Q) * d); // (Q, d)
    ops::linear(t.data(), Q, d, w_.box_w[0].ptr(), w_.box_b[0].ptr(), d, h1.data(), 0, {ops::Act::Relu});
    ops::linear(h1.data(), Q, d, w_.box_w[1].ptr(), w_.box_b[1].ptr(), d, h2.data(), 0, {ops::Act::Relu});
    result.boxes = Tensor({Q, 4});
    ops::linear(h2.data(), Q, d, w_.box_w[2].ptr(), w_.box_b[2].ptr(), 4, result.boxes.ptr());
    for (float& v : result.boxes.data) v = 1.0f / (1.0f + std::exp(-v));

    result.layout = TokenLayout{0, 0, 0, h, w, w_.backbone.stride};
    result.timings_ms["backbone"] = in.backbone_ms;
    result.timings_ms["transformer"] = ms_since(t0) - in.backbone_ms;
}

// ---------------------------------------------------------------------------------------------- labels (facebook/detr-resnet-50 config.json id2label)

const std::vector<std::string>& coco_detr_labels() {
    static const std::vector<std::string> labels = {
        "N/A", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
        "traffic light", "fire hydrant", "N/A", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse",
        "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "N/A", "backpack", "umbrella", "N/A",
        "N/A", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat",
        "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle", "N/A", "wine glass", "cup", "fork", "knife",
        "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza",
        "donut", "cake", "chair", "couch", "potted plant", "bed", "N/A", "dining table", "N/A", "N/A",
        "toilet", "N/A", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven",
        "toaster", "sink", "refrigerator", "N/A", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
        "toothbrush"};
    return labels;
}

} // namespace attnscope
