// CLIP and SigLIP image towers: the model (forward over the ViT parts + their own heads) and the loader.
#include "core/models/clip_siglip.h"

#include "core/error.h"
#include "core/models/model_config.h"
#include "core/models/token_taps.h"
#include "core/models/vit_parts.h"
#include "core/tensor/attention.h"
#include "core/tensor/ops.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace attnscope {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

enum class Naming { HF, OpenAI };

// SigLIP's attention-pooling head (HF vision_model.head.*).
struct PoolHead {
    Tensor probe;          // [1, 1, D] head.probe
    Tensor in_w, in_b;     // [3D, D] / [3D] head.attention.in_proj_weight / in_proj_bias (q, k, v rows)
    Tensor out_w, out_b;   // [D, D] / [D] head.attention.out_proj
    Tensor ln_w, ln_b;     // [D] head.layernorm
    Tensor fc1_w, fc1_b;   // [M, D] head.mlp.fc1
    Tensor fc2_w, fc2_b;   // [D, M] head.mlp.fc2
};

struct Spec {
    Family family = Family::Clip;
    Naming naming = Naming::HF;
    std::string prefix; // "vision_model.", "visual.", ""
    VitConfig vit;
    int n_proj = 0;     // CLIP projection width E (0: none)
    bool pool_head = false;
};

// ---- names --------------------------------------------------------------------------------

struct Names {
    const Spec& s;
    std::string emb(const std::string& hf, const std::string& openai) const {
        return s.prefix + (s.naming == Naming::HF ? "embeddings." + hf : openai);
    }
    std::string blk(int il, const std::string& hf, const std::string& openai) const {
        const std::string i = std::to_string(il);
        return s.naming == Naming::HF ? s.prefix + "encoder.layers." + i + "." + hf
                                      : s.prefix + "transformer.resblocks." + i + "." + openai;
    }
    std::string top(const std::string& hf, const std::string& openai) const {
        return s.prefix + (s.naming == Naming::HF ? hf : openai);
    }
};

// Naming, prefix and family from the tensor names; false when they are neither CLIP nor SigLIP.
bool detect(const WeightSource& w, Spec& s) {
    for (const char* p : {"vision_model.", ""}) {
        const std::string pre(p);
        if (!w.has(pre + "embeddings.patch_embedding.weight") || !w.has(pre + "embeddings.position_embedding.weight") ||
            !w.has(pre + "encoder.layers.0.layer_norm1.weight"))
            continue;
        s.naming = Naming::HF;
        s.prefix = pre;
        s.family = w.has(pre + "embeddings.class_embedding") ? Family::Clip : Family::Siglip;
        return true;
    }
    for (const char* p : {"visual.", ""}) {
        const std::string pre(p);
        if (!w.has(pre + "conv1.weight") || !w.has(pre + "class_embedding") || !w.has(pre + "positional_embedding") ||
            !w.has(pre + "transformer.resblocks.0.ln_1.weight"))
            continue;
        s.naming = Naming::OpenAI;
        s.prefix = pre;
        s.family = Family::Clip;
        return true;
    }
    return false;
}

// open_clip_config.json beside the weights (open_clip hub folders), or null.
std::optional<json> open_clip_config(const WeightSource& w) {
    const fs::path p = fs::path(w.path()).parent_path() / "open_clip_config.json";
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) return std::nullopt;
    std::ifstream in(p, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return parse_json_object(std::move(text).str(), p.string());
}

VitAct activation_from_name(const std::string& name, const std::string& file, const std::string& field) {
    if (name == "gelu") return VitAct::GeluErf;
    if (name == "quick_gelu") return VitAct::QuickGelu;
    if (name == "gelu_pytorch_tanh" || name == "gelu_new" || name == "gelu_fast") return VitAct::GeluTanh;
    throw Error(ErrorKind::Unsupported, file, field,
                "activation '" + name + "' is not supported (gelu, quick_gelu, gelu_pytorch_tanh, gelu_new)");
}

// Sizes, heads, activation, eps and heads from the weights and the (vision) config.
Spec configure(const WeightSource& w, const json* config, const LoadOptions& opt) {
    const std::string file = file_of(w);
    Spec s;
    if (!detect(w, s)) throw Error(ErrorKind::Unsupported, file, "", "not a CLIP or SigLIP image tower");
    const Names n{s};
    VitConfig& c = s.vit;
    c.naming = VitNaming::HF; // unused by the parts; the names are ours
    c.n_cls = s.family == Family::Clip ? 1 : 0;
    c.n_pos_prefix = c.n_cls;
    c.ln_pre = s.family == Family::Clip;

    const TensorInfo pw = w.info(n.emb("patch_embedding.weight", "conv1.weight"));
    if (pw.shape.size() != 4 || pw.shape[1] != 3 || pw.shape[2] != pw.shape[3] || pw.shape[0] < 1)
        throw Error(ErrorKind::Mismatch, file, "tensor '" + pw.name + "'", "expected [D, 3, P, P], found " + shape_str(pw.shape));
    c.n_embd = static_cast<int>(pw.shape[0]);
    c.patch = static_cast<int>(pw.shape[2]);
    while (w.has(n.blk(c.n_layers, "layer_norm1.weight", "ln_1.weight"))) ++c.n_layers;
    c.n_mlp = static_cast<int>(w.info(n.blk(0, "mlp.fc1.weight", "mlp.c_fc.weight")).shape.at(0));

    const TensorInfo pos = w.info(n.emb("position_embedding.weight", "positional_embedding"));
    int root = 0;
    if (pos.shape.size() != 2 || pos.shape[1] != c.n_embd || !vit_square_grid(pos.shape[0] - c.n_pos_prefix, root))
        throw Error(ErrorKind::Mismatch, file, "tensor '" + pos.name + "'",
                    "position table " + shape_str(pos.shape) + " is not " + (c.n_cls ? "1 + " : "") + "a square patch grid of width " +
                        std::to_string(c.n_embd));
    c.pos_grid_h = c.pos_grid_w = root;

    if (s.naming == Naming::HF && w.has("visual_projection.weight"))
        s.n_proj = static_cast<int>(w.info("visual_projection.weight").shape.at(0));
    if (s.naming == Naming::OpenAI && w.has(s.prefix + "proj"))
        s.n_proj = static_cast<int>(w.info(s.prefix + "proj").shape.at(1));
    s.pool_head = s.family == Family::Siglip && w.has(s.prefix + "head.probe");

    // the vision config: a full CLIPModel / SiglipModel config keeps it under vision_config
    const std::string cfg_file = opt.config_path.empty() ? "config.json" : opt.config_path;
    const json* vc = config;
    std::string field_prefix;
    if (config && config->contains("vision_config") && (*config)["vision_config"].is_object()) {
        vc = &(*config)["vision_config"];
        field_prefix = "vision_config.";
    }
    // OpenAI defaults: quick-GELU, eps 1e-5, 64-wide heads; SigLIP: tanh-GELU, eps 1e-6
    c.act = s.family == Family::Clip ? VitAct::QuickGelu : VitAct::GeluTanh;
    c.ln_eps = s.family == Family::Clip ? 1e-5f : 1e-6f;
    int head_width = 64;
    std::string heads_file = cfg_file, heads_field = field_prefix + "num_attention_heads";
    std::optional<json> oc = config ? std::nullopt : open_clip_config(w);
    if (oc) { // open_clip: model_cfg.quick_gelu (default false: exact GELU), vision_cfg.head_width
        const std::string ocf = (fs::path(w.path()).parent_path() / "open_clip_config.json").string();
        const json* mc = oc->contains("model_cfg") && (*oc)["model_cfg"].is_object() ? &(*oc)["model_cfg"] : nullptr;
        if (mc) {
            if (mc->contains("quick_gelu") && !(*mc)["quick_gelu"].is_boolean())
                throw Error(ErrorKind::Format, ocf, "model_cfg.quick_gelu", "expected true or false, got " + (*mc)["quick_gelu"].dump());
            c.act = mc->value("quick_gelu", false) ? VitAct::QuickGelu : VitAct::GeluErf;
            if (mc->contains("vision_cfg") && (*mc)["vision_cfg"].is_object())
                head_width = json_int(&(*mc)["vision_cfg"], "head_width", 64, ocf, "model_cfg.vision_cfg.");
            if (head_width <= 0) throw Error(ErrorKind::Format, ocf, "model_cfg.vision_cfg.head_width", "must be positive");
        }
    }
    if (vc && vc->contains("hidden_act")) {
        if (!(*vc)["hidden_act"].is_string())
            throw Error(ErrorKind::Format, cfg_file, field_prefix + "hidden_act", "expected a string, got " + (*vc)["hidden_act"].dump());
        c.act = activation_from_name((*vc)["hidden_act"].get<std::string>(), cfg_file, field_prefix + "hidden_act");
    }
    if (vc && vc->contains("layer_norm_eps")) {
        const json& e = (*vc)["layer_norm_eps"];
        if (!e.is_number() || !(e.get<double>() >= 0.0 && e.get<double>() <= 1.0))
            throw Error(ErrorKind::Format, cfg_file, field_prefix + "layer_norm_eps", "expected a number in [0, 1], got " + e.dump());
        c.ln_eps = static_cast<float>(e.get<double>());
    }
    c.n_heads = opt.heads_override;
    if (c.n_heads) heads_file.clear(), heads_field = "--heads";
    if (!c.n_heads) c.n_heads = json_int(vc, "num_attention_heads", 0, cfg_file, field_prefix);
    if (!c.n_heads && s.family == Family::Clip && c.n_embd % head_width == 0) { // OpenAI: heads = width // 64
        c.n_heads = c.n_embd / head_width;
        heads_file = file, heads_field = "width / " + std::to_string(head_width);
    }
    if (!c.n_heads)
        throw Error(ErrorKind::Missing, file, "num_heads", "cannot tell the number of attention heads (no config.json); pass --heads N");
    vit_check_heads(c, heads_file, heads_field, file);
    if (c.n_layers == 0)
        throw Error(ErrorKind::Missing, file, "tensor '" + n.blk(0, "layer_norm1.weight", "ln_1.weight") + "'", "no transformer blocks found");
    vit_check_config_sizes(c, vc, cfg_file, field_prefix, "the patch embedding");
    if (const int patch = json_int(vc, "patch_size", c.patch, cfg_file, field_prefix); patch != c.patch)
        throw Error(ErrorKind::Mismatch, cfg_file, field_prefix + "patch_size",
                    "says " + std::to_string(patch) + " but the patch embedding has " + std::to_string(c.patch) + "-pixel patches");
    return s;
}

Tensor vec(const WeightSource& w, const std::string& key, int d) { return load_checked(w, key, {d}); }
Tensor mat(const WeightSource& w, const std::string& key, int rows, int cols) { return load_checked(w, key, {rows, cols}); }

VitBlock load_block(const WeightSource& w, const Spec& s, int il) {
    const Names n{s};
    const int D = s.vit.n_embd, M = s.vit.n_mlp;
    VitBlock b;
    b.ln1_w = vec(w, n.blk(il, "layer_norm1.weight", "ln_1.weight"), D);
    b.ln1_b = vec(w, n.blk(il, "layer_norm1.bias", "ln_1.bias"), D);
    std::string qkv_key; // stays empty when q, k, v are stacked (owned)
    if (s.naming == Naming::OpenAI) {
        qkv_key = n.blk(il, "", "attn.in_proj_weight");
        b.qkv_w = mat(w, qkv_key, 3 * D, D);
        b.qkv_b = vec(w, n.blk(il, "", "attn.in_proj_bias"), 3 * D);
    } else {
        b.qkv_w = Tensor({3 * D, D});
        b.qkv_b = Tensor({3 * D});
        int part = 0;
        for (const char* p : {"q_proj", "k_proj", "v_proj"}) {
            const std::string base = std::string("self_attn.") + p;
            const std::string wk = n.blk(il, base + ".weight", ""), bk = n.blk(il, base + ".bias", "");
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
    const std::string proj_key = n.blk(il, "self_attn.out_proj.weight", "attn.out_proj.weight");
    const std::string fc1_key = n.blk(il, "mlp.fc1.weight", "mlp.c_fc.weight"), fc2_key = n.blk(il, "mlp.fc2.weight", "mlp.c_proj.weight");
    b.proj_w = mat(w, proj_key, D, D);
    b.proj_b = vec(w, n.blk(il, "self_attn.out_proj.bias", "attn.out_proj.bias"), D);
    b.ln2_w = vec(w, n.blk(il, "layer_norm2.weight", "ln_2.weight"), D);
    b.ln2_b = vec(w, n.blk(il, "layer_norm2.bias", "ln_2.bias"), D);
    b.fc1_w = mat(w, fc1_key, M, D);
    b.fc1_b = vec(w, n.blk(il, "mlp.fc1.bias", "mlp.c_fc.bias"), M);
    b.fc2_w = mat(w, fc2_key, D, M);
    b.fc2_b = vec(w, n.blk(il, "mlp.fc2.bias", "mlp.c_proj.bias"), D);
    if (!qkv_key.empty()) b.qkv_p = vit_pack_weight(b.qkv_w, w, qkv_key);
    b.proj_p = vit_pack_weight(b.proj_w, w, proj_key);
    b.fc1_p = vit_pack_weight(b.fc1_w, w, fc1_key);
    b.fc2_p = vit_pack_weight(b.fc2_w, w, fc2_key);
    return b;
}

struct Weights {
    VitWeights vit;
    Tensor proj;   // [E, D] visual_projection.weight · transposed visual.proj
    PoolHead pool;
};

Weights load_weights(const WeightSource& w, const Spec& s) {
    const Names n{s};
    const VitConfig& c = s.vit;
    const int D = c.n_embd, P = c.patch;
    Weights out;
    VitWeights& v = out.vit;
    if (c.n_cls) v.cls = vec(w, n.emb("class_embedding", "class_embedding"), D);
    v.pos = mat(w, n.emb("position_embedding.weight", "positional_embedding"), c.n_pos_prefix + c.pos_grid_h * c.pos_grid_w, D);
    v.patch_w = load_checked(w, n.emb("patch_embedding.weight", "conv1.weight"), {D, 3, P, P});
    if (w.has(n.emb("patch_embedding.bias", "conv1.bias"))) v.patch_b = vec(w, n.emb("patch_embedding.bias", "conv1.bias"), D);
    if (c.ln_pre) {
        v.pre_w = vec(w, n.top("pre_layrnorm.weight", "ln_pre.weight"), D);
        v.pre_b = vec(w, n.top("pre_layrnorm.bias", "ln_pre.bias"), D);
    }
    for (int il = 0; il < c.n_layers; ++il) v.blocks.push_back(load_block(w, s, il));
    v.norm_w = vec(w, n.top("post_layernorm.weight", "ln_post.weight"), D);
    v.norm_b = vec(w, n.top("post_layernorm.bias", "ln_post.bias"), D);
    if (s.n_proj && s.naming == Naming::HF) out.proj = mat(w, "visual_projection.weight", s.n_proj, D);
    if (s.n_proj && s.naming == Naming::OpenAI) { // x @ proj with proj [D, E] → an nn.Linear weight [E, D]
        const Tensor p = mat(w, s.prefix + "proj", D, s.n_proj);
        out.proj = Tensor({s.n_proj, D});
        for (int i = 0; i < D; ++i)
            for (int e = 0; e < s.n_proj; ++e) out.proj.data[static_cast<size_t>(e) * D + i] = p.data[static_cast<size_t>(i) * s.n_proj + e];
    }
    if (s.pool_head) {
        const std::string h = s.prefix + "head.";
        PoolHead& p = out.pool;
        p.probe = load_checked(w, h + "probe", {1, 1, D});
        p.in_w = mat(w, h + "attention.in_proj_weight", 3 * D, D);
        p.in_b = vec(w, h + "attention.in_proj_bias", 3 * D);
        p.out_w = mat(w, h + "attention.out_proj.weight", D, D);
        p.out_b = vec(w, h + "attention.out_proj.bias", D);
        p.ln_w = vec(w, h + "layernorm.weight", D);
        p.ln_b = vec(w, h + "layernorm.bias", D);
        const int M = static_cast<int>(w.info(h + "mlp.fc1.weight").shape.at(0));
        p.fc1_w = mat(w, h + "mlp.fc1.weight", M, D);
        p.fc1_b = vec(w, h + "mlp.fc1.bias", M);
        p.fc2_w = mat(w, h + "mlp.fc2.weight", D, M);
        p.fc2_b = vec(w, h + "mlp.fc2.bias", D);
    }
    return out;
}

int64_t count_params(const Weights& x) {
    const PoolHead& p = x.pool;
    int64_t n = vit_count_params(x.vit);
    for (const Tensor* t : {&x.proj, &p.probe, &p.in_w, &p.in_b, &p.out_w, &p.out_b, &p.ln_w, &p.ln_b, &p.fc1_w, &p.fc1_b, &p.fc2_w, &p.fc2_b})
        n += t->numel();
    return n;
}

class ClipSiglipModel final : public Model {
public:
    ClipSiglipModel(Spec s, Weights w, ModelInfo info, PreprocessSpec spec)
        : s_(std::move(s)), w_(std::move(w)), info_(std::move(info)), spec_(std::move(spec)) {}
    const ModelInfo& info() const override { return info_; }
    const PreprocessSpec& preprocess() const override { return spec_; }
    PatchEmbedding patch_embedding() const override { return vit_patch_embedding(s_.vit, w_.vit); }
    void forward(const Tensor& input, AttentionRecorder& recorder, RunResult& result, const CancelFlag* cancel) const override;

private:
    void pool(const float* xn, int T, AttentionRecorder& recorder, VitBuffers& buf, RunResult& result) const;

    Spec s_;
    Weights w_;
    ModelInfo info_;
    PreprocessSpec spec_;
};

// SigLIP MAP head: o = out_proj(MHA(probe, xn, xn)); pooled = o + fc2(act(fc1(LN(o)))).
void ClipSiglipModel::pool(const float* xn, int T, AttentionRecorder& recorder, VitBuffers& buf, RunResult& result) const {
    const VitConfig& c = s_.vit;
    const PoolHead& p = w_.pool;
    const int D = c.n_embd, M = static_cast<int>(p.fc1_b.numel());
    std::vector<float> q(D), kv(static_cast<size_t>(T) * 2 * D), ctx(D), o(D), h(D), m(M);
    ops::linear(p.probe.ptr(), 1, D, p.in_w.ptr(), p.in_b.ptr(), D, q.data());
    ops::linear(xn, T, D, p.in_w.ptr() + static_cast<int64_t>(D) * D, p.in_b.ptr() + D, 2LL * D, kv.data());
    const AttentionShape shape{c.n_heads, D / c.n_heads, 1, T};
    multi_head_attention(shape, q.data(), D, kv.data(), 2LL * D, kv.data() + D, 2LL * D,
                         1.0f / std::sqrt(static_cast<float>(D / c.n_heads)), nullptr, ctx.data(), D, recorder, Site::Pool, 0,
                         buf.scratch);
    ops::linear(ctx.data(), 1, D, p.out_w.ptr(), p.out_b.ptr(), D, o.data());
    ops::layer_norm(o.data(), 1, D, p.ln_w.ptr(), p.ln_b.ptr(), c.ln_eps, h.data());
    ops::linear(h.data(), 1, D, p.fc1_w.ptr(), p.fc1_b.ptr(), M, m.data());
    ops::activate(c.act, m.data(), M);
    ops::linear(m.data(), 1, M, p.fc2_w.ptr(), p.fc2_b.ptr(), D, h.data());
    ops::add_inplace(o.data(), h.data(), D);
    result.features = Tensor({D}, std::move(o));
}

void ClipSiglipModel::forward(const Tensor& input, AttentionRecorder& recorder, RunResult& result, const CancelFlag* cancel) const {
    const VitConfig& c = s_.vit;
    const int P = c.patch, D = c.n_embd;
    int gh = 0, gw = 0;
    vit_grid(c, input, gh, gw);
    const int T = c.n_cls + gh * gw;
    std::vector<float> x(static_cast<size_t>(T) * D);
    VitBuffers buf = vit_buffers(c, T);
    vit_embed(c, w_.vit, input, gh, gw, x.data()); // with ln_pre (CLIP)

    result.token_norms = Tensor({c.n_layers, T});
    for (int il = 0; il < c.n_layers; ++il) {
        if (cancel && cancel->load()) throw Error(ErrorKind::Cancelled, "", "", "forward pass cancelled");
        vit_block_forward(c, w_.vit.blocks[static_cast<size_t>(il)], il, x.data(), T, buf, recorder);
        token_norms(x.data(), T, D, result.token_norms.ptr() + static_cast<int64_t>(il) * T);
    }
    std::vector<float> h(x.size()); // ln_post / post_layernorm on every token (CLIP pools the CLS row)
    ops::layer_norm(x.data(), T, D, w_.vit.norm_w.ptr(), w_.vit.norm_b.ptr(), c.ln_eps, h.data());
    result.logits = Tensor();
    if (s_.family == Family::Clip) {
        if (s_.n_proj) {
            result.features = Tensor({s_.n_proj});
            ops::linear(h.data(), 1, D, w_.proj.ptr(), nullptr, s_.n_proj, result.features.ptr());
        } else {
            result.features = Tensor({D}, std::vector<float>(h.begin(), h.begin() + D));
        }
    } else if (s_.pool_head) {
        pool(h.data(), T, recorder, buf, result);
    } else { // a SigLIP tower without its head (vision_use_head false): the mean of the normed tokens
        result.features = Tensor({D});
        for (int t = 0; t < T; ++t)
            for (int i = 0; i < D; ++i) result.features.data[i] += h[static_cast<size_t>(t) * D + i] / static_cast<float>(T);
    }
    result.final_tokens = Tensor({T, D}, std::move(h));
    result.layout = TokenLayout{c.n_cls, 0, 0, gh, gw, P};
}

// Preprocessing without preprocessor_config.json: CLIP's (shortest side, bicubic, centre crop, CLIP
// mean/std) or SigLIP's (squash to the native size, bicubic, mean/std 0.5).
PreprocessSpec default_spec(const Spec& s) {
    PreprocessSpec p;
    const int size = s.vit.pos_grid_h * s.vit.patch;
    p.resize_h = p.resize_w = p.crop_h = p.crop_w = size;
    p.resample = Resample::Bicubic;
    if (s.family == Family::Clip) {
        p.resize = PreprocessSpec::Resize::ShortestEdge;
        p.shortest_edge = size;
        p.center_crop = true;
        p.crop_rounding = PreprocessSpec::CropRounding::Floor;
        p.mean = {0.48145466f, 0.4578275f, 0.40821073f};
        p.std = {0.26862954f, 0.26130258f, 0.27577711f};
    }
    return p;
}

} // namespace

bool is_clip_siglip_checkpoint(const WeightSource& w) {
    Spec s;
    return detect(w, s);
}

std::unique_ptr<Model> load_clip_siglip(std::shared_ptr<const WeightSource> w, const json* config, const json* preprocessor,
                                        const LoadOptions& options) {
    const Spec s = configure(*w, config, options);
    require_memory_for_weights(*w);
    Weights weights = load_weights(*w, s);
    const VitConfig& c = s.vit;
    ModelInfo info;
    info.family = s.family;
    info.task = Task::Embed;
    info.format = s.naming == Naming::HF ? "hf" : "openai";
    info.source = w->path();
    vit_info_sizes(c, info);
    info.n_params = count_params(weights);
    info.architecture = architecture_name(config);
    if (info.architecture.empty()) info.architecture = std::string(family_name(info.family)) + " (inferred from tensor names)";
    const PreprocessSpec spec = resolve_preprocess(info.family, default_spec(s), preprocessor, config,
                                                   options.config_path.empty() ? "config.json" : options.config_path);
    return std::make_unique<ClipSiglipModel>(s, std::move(weights), std::move(info), spec);
}

} // namespace attnscope
