// ViT family: the model (forward over the parts in vit_parts.h) and its loader (naming, config, weights).
#include "core/models/vit.h"
#include "core/models/vit_parts.h"

#include "core/error.h"
#include "core/image/preprocess.h"
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

namespace attnscope {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// ---- names --------------------------------------------------------------------------------

struct Names {
    const VitConfig& c;
    std::string emb(const std::string& hf, const std::string& timm) const {
        return c.naming == VitNaming::Timm ? timm : c.prefix + "embeddings." + hf;
    }
    std::string blk(int il, const std::string& hf, const std::string& dinov2, const std::string& timm) const {
        const std::string i = std::to_string(il);
        switch (c.naming) {
        case VitNaming::HF: return c.prefix + "encoder.layer." + i + "." + hf;
        case VitNaming::HFDinov2: return c.prefix + "encoder.layer." + i + "." + dinov2;
        case VitNaming::Timm: return "blocks." + i + "." + timm;
        }
        return {};
    }
    std::string top(const std::string& hf, const std::string& timm) const {
        return c.naming == VitNaming::Timm ? timm : c.prefix + hf;
    }
};

// Detects naming and HF prefix from the tensor names.
void detect_naming(const WeightSource& w, VitConfig& c) {
    if (w.has("cls_token") && w.has("patch_embed.proj.weight")) {
        c.naming = VitNaming::Timm;
        return;
    }
    for (const char* p : {"vit.", "deit.", "dinov2.", ""}) {
        if (!w.has(std::string(p) + "embeddings.cls_token")) continue;
        c.prefix = p;
        c.naming = w.has(c.prefix + "encoder.layer.0.norm1.weight") ? VitNaming::HFDinov2 : VitNaming::HF;
        return;
    }
    throw Error(ErrorKind::Unsupported, file_of(w), "", "not a ViT-family checkpoint (no cls_token / patch embedding)");
}

int count_layers(const WeightSource& w, const Names& n) {
    int il = 0;
    while (w.has(n.blk(il, "layernorm_before.weight", "norm1.weight", "norm1.weight"))) ++il;
    return il;
}

} // namespace

int heads_from_architecture(const std::string& name) {
    std::string s = name;
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    const bool dinov2 = s.find("dinov2") != std::string::npos;
    struct Size { const char* tag; int heads; };
    static const Size sizes[] = {{"tiny", 3}, {"small", 6}, {"base", 12}, {"large", 16}, {"huge", 16},
                                 {"vitt", 3}, {"vits", 6}, {"vitb", 12}, {"vitl", 16}, {"vith", 16},
                                 {"vit_t", 3}, {"vit_s", 6}, {"vit_b", 12}, {"vit_l", 16}, {"vit_h", 16}};
    if (s.find("giant") != std::string::npos || s.find("vitg") != std::string::npos) return dinov2 ? 24 : 16;
    for (const Size& z : sizes)
        if (s.find(z.tag) != std::string::npos) return z.heads;
    return 0;
}

bool is_vit_checkpoint(const WeightSource& w) {
    if (w.has("cls_token") && w.has("patch_embed.proj.weight")) return true;
    for (const char* p : {"vit.", "deit.", "dinov2.", ""})
        if (w.has(std::string(p) + "embeddings.cls_token") &&
            w.has(std::string(p) + "embeddings.patch_embeddings.projection.weight"))
            return true;
    return false;
}

// PyTorch upsample_bicubic2d, align_corners=False, A = −0.75, indices clamped at the border.
std::vector<float> interpolate_bicubic_tokens(const float* grid, int in_h, int in_w, int channels, int out_h,
                                              int out_w) {
    auto taps = [](int in, int out, int d, int idx[4], float wts[4]) {
        const float scale = static_cast<float>(in) / static_cast<float>(out);
        const float src = scale * (static_cast<float>(d) + 0.5f) - 0.5f;
        const float fl = std::floor(src);
        const float t = src - fl;
        constexpr float A = -0.75f;
        auto near = [&](float x) { return ((A + 2) * x - (A + 3)) * x * x + 1; };
        auto far = [&](float x) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; };
        wts[0] = far(t + 1.0f);
        wts[1] = near(t);
        wts[2] = near(1.0f - t);
        wts[3] = far(2.0f - t);
        for (int k = 0; k < 4; ++k) idx[k] = std::clamp(static_cast<int>(fl) - 1 + k, 0, in - 1);
    };
    std::vector<float> out(static_cast<size_t>(out_h) * out_w * channels, 0.0f);
    for (int oy = 0; oy < out_h; ++oy) {
        int iy[4];
        float wy[4];
        taps(in_h, out_h, oy, iy, wy);
        for (int ox = 0; ox < out_w; ++ox) {
            int ix[4];
            float wx[4];
            taps(in_w, out_w, ox, ix, wx);
            float* o = out.data() + (static_cast<size_t>(oy) * out_w + ox) * channels;
            for (int a = 0; a < 4; ++a) {
                // PyTorch interpolates along x for each of the 4 rows, then along y.
                for (int ch = 0; ch < channels; ++ch) {
                    float row = 0.0f;
                    for (int b = 0; b < 4; ++b)
                        row += wx[b] * grid[(static_cast<size_t>(iy[a]) * in_w + ix[b]) * channels + ch];
                    o[ch] += wy[a] * row;
                }
            }
        }
    }
    return out;
}

namespace {

class VitModel final : public Model {
public:
    VitModel(VitConfig c, VitWeights w, ModelInfo info, PreprocessSpec spec)
        : c_(std::move(c)), w_(std::move(w)), info_(std::move(info)), spec_(std::move(spec)) {}
    const ModelInfo& info() const override { return info_; }
    const PreprocessSpec& preprocess() const override { return spec_; }
    PatchEmbedding patch_embedding() const override { return vit_patch_embedding(c_, w_); }
    void forward(const Tensor& input, AttentionRecorder& recorder, RunResult& result,
                 const CancelFlag* cancel) const override;

    const VitConfig& config() const { return c_; }
    const VitWeights& weights() const { return w_; }

private:
    VitConfig c_;
    VitWeights w_;
    ModelInfo info_;
    PreprocessSpec spec_;
};

void VitModel::forward(const Tensor& input, AttentionRecorder& recorder, RunResult& result,
                       const CancelFlag* cancel) const {
    const int P = c_.patch, D = c_.n_embd;
    int gh = 0, gw = 0;
    vit_grid(c_, input, gh, gw);
    const int n_prefix_tok = c_.n_cls + c_.n_dist + c_.n_reg;
    const int T = n_prefix_tok + gh * gw;
    const int64_t TD = static_cast<int64_t>(T) * D;

    std::vector<float> x(TD); // (T, D) residual stream
    VitBuffers buf = vit_buffers(c_, T);
    vit_embed(c_, w_, input, gh, gw, x.data());

    result.token_norms = Tensor({c_.n_layers, T});
    for (int il = 0; il < c_.n_layers; ++il) {
        if (cancel && cancel->load()) throw Error(ErrorKind::Cancelled, "", "", "forward pass cancelled");
        vit_block_forward(c_, w_.blocks[static_cast<size_t>(il)], il, x.data(), T, buf, recorder);
        token_norms(x.data(), T, D, result.token_norms.ptr() + static_cast<int64_t>(il) * T);
    }
    // final norm on all tokens (timm avg-pool models norm after pooling instead)
    std::vector<float>& h = buf.h;
    if (c_.fc_norm) h = x;
    else ops::layer_norm(x.data(), T, D, w_.norm_w.ptr(), w_.norm_b.ptr(), c_.ln_eps, h.data());
    vit_head(c_, w_, h.data(), T, result);
    result.final_tokens = Tensor({T, D}, std::move(h));

    result.layout = TokenLayout{1, c_.n_dist, c_.n_reg, gh, gw, P};
}

} // namespace

const VitConfig* vit_config(const Model& model) {
    const auto* v = dynamic_cast<const VitModel*>(&model);
    return v ? &v->config() : nullptr;
}

const VitWeights* vit_weights(const Model& model) {
    const auto* v = dynamic_cast<const VitModel*>(&model);
    return v ? &v->weights() : nullptr;
}

namespace {

// Fills sizes, head count, token counts and head kind from the weights and configs.
VitConfig configure(const WeightSource& w, const json* config, const LoadOptions& opt) {
    const std::string file = file_of(w);
    const std::string cfg_file = opt.config_path.empty() ? "config.json" : opt.config_path;
    VitConfig c;
    detect_naming(w, c);
    const Names n{c};
    const TensorInfo cls = w.info(n.emb("cls_token", "cls_token"));
    if (cls.shape.size() != 3 || cls.shape[0] != 1 || cls.shape[1] != 1)
        throw Error(ErrorKind::Mismatch, file, "tensor '" + cls.name + "'", "expected [1, 1, D], found " + shape_str(cls.shape));
    c.n_embd = static_cast<int>(cls.shape[2]);
    const TensorInfo pw = w.info(n.emb("patch_embeddings.projection.weight", "patch_embed.proj.weight"));
    if (pw.shape.size() != 4 || pw.shape[0] != c.n_embd || pw.shape[1] != 3 || pw.shape[2] != pw.shape[3])
        throw Error(ErrorKind::Mismatch, file, "tensor '" + pw.name + "'",
                    "expected [" + std::to_string(c.n_embd) + ", 3, P, P], found " + shape_str(pw.shape));
    c.patch = static_cast<int>(pw.shape[2]);
    c.n_layers = count_layers(w, n);
    if (c.n_layers == 0) throw Error(ErrorKind::Missing, file, "tensor '" + n.blk(0, "layernorm_before.weight", "norm1.weight", "norm1.weight") + "'", "no transformer blocks found");
    c.n_dist = w.has(n.emb("distillation_token", "dist_token")) ? 1 : 0;
    const std::string reg_key = n.emb("register_tokens", "register_tokens");
    if (w.has(reg_key)) c.n_reg = static_cast<int>(w.info(reg_key).shape.at(1));
    c.layer_scale = w.has(n.blk(0, "-", "layer_scale1.lambda1", "ls1.gamma"));
    c.swiglu = w.has(n.blk(0, "-", "mlp.weights_in.weight", "mlp.w12.weight"));
    const std::string fc1 = c.swiglu ? n.blk(0, "-", "mlp.weights_in.weight", "mlp.w12.weight")
                                     : n.blk(0, "intermediate.dense.weight", "mlp.fc1.weight", "mlp.fc1.weight");
    c.n_mlp = static_cast<int>(w.info(fc1).shape.at(0)) / (c.swiglu ? 2 : 1);

    // position table: [1, prefix + Gh·Gw, D]
    const TensorInfo pos = w.info(n.emb("position_embeddings", "pos_embed"));
    const int64_t n_pos = pos.shape.size() == 3 ? pos.shape[1] : 0;
    int root = 0;
    if (vit_square_grid(n_pos - 1 - c.n_dist, root)) c.n_pos_prefix = 1 + c.n_dist;
    else if (vit_square_grid(n_pos, root)) c.n_pos_prefix = 0; // timm no_embed_class
    else throw Error(ErrorKind::Mismatch, file, "tensor '" + pos.name + "'", "position table " + shape_str(pos.shape) + " is not a square patch grid plus prefix tokens");
    c.pos_grid_h = c.pos_grid_w = root;

    // eps and heads from the config, the architecture name, or the override
    const bool timm_cfg = config && config->contains("architecture");
    const std::string arch = architecture_name(config);
    if (c.naming == VitNaming::Timm) c.ln_eps = 1e-6f;
    else c.ln_eps = c.naming == VitNaming::HFDinov2 ? 1e-6f : 1e-12f;
    vit_config_eps(config, cfg_file, c.ln_eps);
    // The head count and where it came from, so that a wrong one is reported against its source.
    std::string heads_file = cfg_file, heads_field = "num_attention_heads";
    c.n_heads = opt.heads_override;
    if (c.n_heads) heads_file.clear(), heads_field = "--heads";
    if (!c.n_heads) c.n_heads = json_int(config, "num_attention_heads", 0, cfg_file);
    if (!c.n_heads && timm_cfg && config->contains("model_args")) {
        c.n_heads = json_int(&(*config)["model_args"], "num_heads", 0, cfg_file, "model_args.");
        heads_field = "model_args.num_heads";
    }
    if (!c.n_heads && !arch.empty()) {
        c.n_heads = heads_from_architecture(arch);
        heads_field = timm_cfg ? "architecture" : "architectures";
    }
    if (!c.n_heads)
        throw Error(ErrorKind::Missing, file, "num_heads",
                    "cannot tell the number of attention heads (no config, architecture name unknown); pass --heads N");
    if (c.n_heads < 0 || c.n_heads > c.n_embd)
        throw Error(ErrorKind::Format, heads_file, heads_field,
                    std::to_string(c.n_heads) + " attention heads for hidden size " + std::to_string(c.n_embd) + " (from " + file + ")");
    vit_check_heads(c, heads_file, heads_field, file);
    vit_check_config_sizes(c, config, cfg_file, "", "cls_token");

    // classification head
    const std::string head = c.naming == VitNaming::Timm ? "head.weight" : (c.n_dist ? "cls_classifier.weight" : "classifier.weight");
    c.fc_norm = c.naming == VitNaming::Timm && w.has("fc_norm.weight");
    if (w.has(head)) {
        const TensorInfo hi = w.info(head);
        c.n_labels = static_cast<int>(hi.shape.at(0));
        if (c.fc_norm) c.head = VitHead::MeanPatch;
        else if (c.n_dist && w.has(c.naming == VitNaming::Timm ? "head_dist.weight" : "distillation_classifier.weight")) c.head = VitHead::ClsDist;
        else if (hi.shape.at(1) == 2LL * c.n_embd) c.head = VitHead::ClsMeanPatch;
        else c.head = VitHead::Cls;
    }
    return c;
}

Tensor vec(const WeightSource& w, const std::string& key, int d) { return load_checked(w, key, {d}); }
Tensor mat(const WeightSource& w, const std::string& key, int rows, int cols) { return load_checked(w, key, {rows, cols}); }

VitBlock load_block(const WeightSource& w, const VitConfig& c, int il) {
    const Names n{c};
    const int D = c.n_embd, M = c.n_mlp;
    VitBlock b;
    b.ln1_w = vec(w, n.blk(il, "layernorm_before.weight", "norm1.weight", "norm1.weight"), D);
    b.ln1_b = vec(w, n.blk(il, "layernorm_before.bias", "norm1.bias", "norm1.bias"), D);
    std::string qkv_key, fc1_key, fc2_key; // qkv_key stays empty when q, k, v are stacked (owned)
    if (c.naming == VitNaming::Timm) {
        qkv_key = n.blk(il, "", "", "attn.qkv.weight");
        b.qkv_w = mat(w, qkv_key, 3 * D, D);
        b.qkv_b = vec(w, n.blk(il, "", "", "attn.qkv.bias"), 3 * D);
    } else {
        b.qkv_w = Tensor({3 * D, D});
        b.qkv_b = Tensor({3 * D});
        int part = 0;
        for (const char* qkv : {"query", "key", "value"}) {
            const std::string base = std::string("attention.attention.") + qkv;
            const std::string wk = n.blk(il, base + ".weight", base + ".weight", ""), bk = n.blk(il, base + ".bias", base + ".bias", "");
            {
                const Tensor wt = mat(w, wk, D, D);
                const Tensor bs = vec(w, bk, D);
                std::copy(wt.data.begin(), wt.data.end(), b.qkv_w.data.begin() + static_cast<int64_t>(part) * D * D);
                std::copy(bs.data.begin(), bs.data.end(), b.qkv_b.data.begin() + static_cast<int64_t>(part) * D);
            }
            w.release(wk), w.release(bk); // stacked into qkv: the file's pages of them are not needed
            ++part;
        }
    }
    const std::string proj_key = n.blk(il, "attention.output.dense.weight", "attention.output.dense.weight", "attn.proj.weight");
    b.proj_w = mat(w, proj_key, D, D);
    b.proj_b = vec(w, n.blk(il, "attention.output.dense.bias", "attention.output.dense.bias", "attn.proj.bias"), D);
    b.ln2_w = vec(w, n.blk(il, "layernorm_after.weight", "norm2.weight", "norm2.weight"), D);
    b.ln2_b = vec(w, n.blk(il, "layernorm_after.bias", "norm2.bias", "norm2.bias"), D);
    if (c.swiglu) {
        fc1_key = n.blk(il, "", "mlp.weights_in.weight", "mlp.w12.weight");
        fc2_key = n.blk(il, "", "mlp.weights_out.weight", "mlp.w3.weight");
        b.fc1_w = mat(w, fc1_key, 2 * M, D);
        b.fc1_b = vec(w, n.blk(il, "", "mlp.weights_in.bias", "mlp.w12.bias"), 2 * M);
        b.fc2_w = mat(w, fc2_key, D, M);
        b.fc2_b = vec(w, n.blk(il, "", "mlp.weights_out.bias", "mlp.w3.bias"), D);
    } else {
        fc1_key = n.blk(il, "intermediate.dense.weight", "mlp.fc1.weight", "mlp.fc1.weight");
        fc2_key = n.blk(il, "output.dense.weight", "mlp.fc2.weight", "mlp.fc2.weight");
        b.fc1_w = mat(w, fc1_key, M, D);
        b.fc1_b = vec(w, n.blk(il, "intermediate.dense.bias", "mlp.fc1.bias", "mlp.fc1.bias"), M);
        b.fc2_w = mat(w, fc2_key, D, M);
        b.fc2_b = vec(w, n.blk(il, "output.dense.bias", "mlp.fc2.bias", "mlp.fc2.bias"), D);
    }
    if (c.layer_scale) {
        b.ls1 = vec(w, n.blk(il, "", "layer_scale1.lambda1", "ls1.gamma"), D);
        b.ls2 = vec(w, n.blk(il, "", "layer_scale2.lambda1", "ls2.gamma"), D);
    }
    if (!qkv_key.empty()) b.qkv_p = vit_pack_weight(b.qkv_w, w, qkv_key);
    b.proj_p = vit_pack_weight(b.proj_w, w, proj_key);
    b.fc1_p = vit_pack_weight(b.fc1_w, w, fc1_key);
    b.fc2_p = vit_pack_weight(b.fc2_w, w, fc2_key);
    return b;
}

} // namespace

VitBlock vit_load_block(const WeightSource& w, const VitConfig& c, int il) { return load_block(w, c, il); }

namespace {

VitWeights load_weights(const WeightSource& w, const VitConfig& c) {
    const Names n{c};
    const int D = c.n_embd, P = c.patch, C = c.n_labels;
    VitWeights v;
    v.cls = load_checked(w, n.emb("cls_token", "cls_token"), {1, 1, D});
    if (c.n_dist) v.dist = load_checked(w, n.emb("distillation_token", "dist_token"), {1, 1, D});
    if (c.n_reg) v.reg = load_checked(w, n.emb("register_tokens", "register_tokens"), {1, c.n_reg, D});
    v.pos = load_checked(w, n.emb("position_embeddings", "pos_embed"), {1, c.n_pos_prefix + c.pos_grid_h * c.pos_grid_w, D});
    v.patch_w = load_checked(w, n.emb("patch_embeddings.projection.weight", "patch_embed.proj.weight"), {D, 3, P, P});
    v.patch_b = vec(w, n.emb("patch_embeddings.projection.bias", "patch_embed.proj.bias"), D);
    for (int il = 0; il < c.n_layers; ++il) v.blocks.push_back(load_block(w, c, il));
    const std::string norm = c.fc_norm ? "fc_norm" : n.top("layernorm", "norm");
    v.norm_w = vec(w, norm + ".weight", D);
    v.norm_b = vec(w, norm + ".bias", D);
    if (c.head != VitHead::None) {
        const std::string head = c.naming == VitNaming::Timm ? "head" : (c.n_dist ? "cls_classifier" : "classifier");
        const int in = c.head == VitHead::ClsMeanPatch ? 2 * D : D;
        v.head_w = mat(w, head + ".weight", C, in);
        v.head_b = vec(w, head + ".bias", C);
        if (c.head == VitHead::ClsDist) {
            const std::string dh = c.naming == VitNaming::Timm ? "head_dist" : "distillation_classifier";
            v.dist_w = mat(w, dh + ".weight", C, D);
            v.dist_b = vec(w, dh + ".bias", C);
        }
    }
    return v;
}

Family family_of(const VitConfig& c) {
    if (c.n_dist) return Family::DeitDistilled;
    if (c.naming == VitNaming::HFDinov2 || c.layer_scale) return c.n_reg ? Family::Dinov2Registers : Family::Dinov2;
    if (c.head == VitHead::None) return Family::Dino;
    return Family::Vit;
}

// Default preprocessing when neither preprocessor_config.json nor pretrained_cfg is given.
PreprocessSpec default_spec(const VitConfig& c) {
    PreprocessSpec s;
    const int size = c.pos_grid_h * c.patch;
    s.resize_h = s.resize_w = s.crop_h = s.crop_w = size;
    if (c.naming == VitNaming::Timm || c.naming == VitNaming::HFDinov2) { // timm eval / DINO: ImageNet stats
        s.resize = PreprocessSpec::Resize::ShortestEdge;
        s.shortest_edge = static_cast<int>(std::floor(size / 0.875));
        s.resample = Resample::Bicubic;
        s.center_crop = true;
        s.crop_rounding = PreprocessSpec::CropRounding::Round;
        s.mean = {0.485f, 0.456f, 0.406f};
        s.std = {0.229f, 0.224f, 0.225f};
    }
    return s;
}

} // namespace

std::unique_ptr<Model> load_vit(std::shared_ptr<const WeightSource> w, const json* config, const json* preprocessor,
                                const LoadOptions& options) {
    const VitConfig c = configure(*w, config, options);
    require_memory_for_weights(*w);
    VitWeights weights = load_weights(*w, c);
    ModelInfo info;
    info.family = family_of(c);
    info.task = c.head == VitHead::None ? Task::Embed : Task::Classify;
    info.format = c.naming == VitNaming::Timm ? "timm" : "hf";
    info.source = w->path();
    vit_info_sizes(c, info);
    info.n_labels = c.n_labels;
    info.n_params = vit_count_params(weights);
    info.architecture = architecture_name(config);
    if (info.architecture.empty()) info.architecture = std::string(family_name(info.family)) + " (inferred from tensor names)";
    info.labels = load_labels(config, fs::path(w->path()).parent_path().string(), c.n_labels);

    const PreprocessSpec spec = resolve_preprocess(info.family, default_spec(c), preprocessor, config,
                                                   options.config_path.empty() ? "config.json" : options.config_path);
    return std::make_unique<VitModel>(c, std::move(weights), std::move(info), spec);
}

} // namespace attnscope
