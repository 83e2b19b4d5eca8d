// The ViT family's parts: embedding, one encoder block, head (see vit_parts.h).
#include "core/models/vit_parts.h"

#include "core/error.h"
#include "core/io/weights.h"
#include "core/models/model_config.h"
#include "core/tensor/attention.h"
#include "core/tensor/ops.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

namespace attnscope {

void vit_grid(const VitConfig& c, const Tensor& input, int& gh, int& gw) {
    if (input.dim() != 3 || input.size(0) != 3)
        throw Error(ErrorKind::Mismatch, "input", "", "expected a [3, H, W] tensor, got " + shape_str(input.shape));
    gh = static_cast<int>(input.size(1)) / c.patch;
    gw = static_cast<int>(input.size(2)) / c.patch;
    if (gh < 1 || gw < 1)
        throw Error(ErrorKind::Mismatch, "input", "", "image " + shape_str(input.shape) + " is smaller than one " +
                                                          std::to_string(c.patch) + "-pixel patch");
}

PatchEmbedding vit_patch_embedding(const VitConfig& c, const VitWeights& w) {
    PatchEmbedding pe;
    pe.filters = w.patch_w;
    const int64_t D = c.n_embd, G = static_cast<int64_t>(c.pos_grid_h) * c.pos_grid_w;
    const auto first = w.pos.data.begin() + c.n_pos_prefix * D;
    pe.pos = Tensor({G, D}, std::vector<float>(first, first + G * D));
    pe.pos_grid_h = c.pos_grid_h;
    pe.pos_grid_w = c.pos_grid_w;
    pe.n_pos_prefix = c.n_pos_prefix;
    return pe;
}

void vit_info_sizes(const VitConfig& c, ModelInfo& info) {
    info.hidden = c.n_embd;
    info.n_layers = c.n_layers;
    info.n_heads = c.n_heads;
    info.mlp = c.n_mlp;
    info.patch_size = c.patch;
    info.image_h = c.pos_grid_h * c.patch;
    info.image_w = c.pos_grid_w * c.patch;
}

int64_t vit_count_params(const VitWeights& w) {
    int64_t n = 0;
    for (const Tensor* t : {&w.cls, &w.dist, &w.reg, &w.pos, &w.patch_w, &w.patch_b, &w.pre_w, &w.pre_b, &w.norm_w, &w.norm_b,
                            &w.head_w, &w.head_b, &w.dist_w, &w.dist_b})
        n += t->numel();
    for (const VitBlock& b : w.blocks)
        for (const Tensor* t : {&b.ln1_w, &b.ln1_b, &b.qkv_w, &b.qkv_b, &b.proj_w, &b.proj_b, &b.ls1, &b.ln2_w, &b.ln2_b,
                                &b.fc1_w, &b.fc1_b, &b.fc2_w, &b.fc2_b, &b.ls2})
            n += t->numel();
    return n;
}

bool vit_square_grid(int64_t cells, int& root) {
    root = 0;
    if (cells <= 0) return false;
    root = static_cast<int>(std::lround(std::sqrt(static_cast<double>(cells))));
    return static_cast<int64_t>(root) * root == cells;
}

void vit_config_eps(const nlohmann::json* cfg, const std::string& cfg_file, float& eps) {
    if (!cfg || !cfg->contains("layer_norm_eps") || !(*cfg)["layer_norm_eps"].is_number()) return;
    const double e = (*cfg)["layer_norm_eps"].get<double>();
    if (!(e >= 0.0 && e <= 1.0))
        throw Error(ErrorKind::Format, cfg_file, "layer_norm_eps", "expected a number in [0, 1], got " + (*cfg)["layer_norm_eps"].dump());
    eps = static_cast<float>(e);
}

void vit_check_heads(const VitConfig& c, const std::string& heads_file, const std::string& heads_field, const std::string& file) {
    if (c.n_heads <= 0 || c.n_embd % c.n_heads != 0)
        throw Error(ErrorKind::Mismatch, heads_file, heads_field,
                    std::to_string(c.n_heads) + " heads do not divide the hidden size " + std::to_string(c.n_embd) + " of " + file);
}

void vit_check_config_sizes(const VitConfig& c, const nlohmann::json* cfg, const std::string& cfg_file,
                            const std::string& field_prefix, const std::string& width_source) {
    if (const int layers = json_int(cfg, "num_hidden_layers", c.n_layers, cfg_file, field_prefix); layers != c.n_layers)
        throw Error(ErrorKind::Mismatch, cfg_file, field_prefix + "num_hidden_layers",
                    "says " + std::to_string(layers) + " but the checkpoint has " + std::to_string(c.n_layers) + " blocks");
    if (const int hidden = json_int(cfg, "hidden_size", c.n_embd, cfg_file, field_prefix); hidden != c.n_embd)
        throw Error(ErrorKind::Mismatch, cfg_file, field_prefix + "hidden_size",
                    "says " + std::to_string(hidden) + " but " + width_source + " has width " + std::to_string(c.n_embd));
}

std::shared_ptr<const ops::PackedWeight> vit_pack_weight(const Tensor& weight, const WeightSource& src, const std::string& key) {
    if (!weight.data.borrowed() || weight.dim() != 2) return nullptr;
    auto packed = ops::pack_linear_weight(weight.ptr(), weight.size(0), weight.size(1));
    if (packed) src.release(key);
    return packed;
}

VitBuffers vit_buffers(const VitConfig& c, int n_tok) {
    const size_t TD = static_cast<size_t>(n_tok) * c.n_embd;
    VitBuffers b;
    b.h.resize(TD);
    b.qkv.resize(3 * TD);
    b.ctx.resize(TD);
    b.m.resize(static_cast<size_t>(n_tok) * (c.swiglu ? 2 * c.n_mlp : c.n_mlp));
    return b;
}

// Patch embedding + prefix tokens + position embeddings → x (n_tok, D).
void vit_embed(const VitConfig& c_, const VitWeights& w_, const Tensor& input, int gh, int gw, float* x) {
    const int D = c_.n_embd, P = c_.patch, n_patch = gh * gw;
    const int64_t H = input.size(1), W = input.size(2), K = 3LL * P * P;
    // im2col: cols (n_patch, 3·P·P) in (c, ky, kx) order, token t = gy·gw + gx
    std::vector<float> cols(static_cast<size_t>(n_patch) * K);
    for (int gy = 0; gy < gh; ++gy)
        for (int gx = 0; gx < gw; ++gx) {
            float* dst = cols.data() + (static_cast<int64_t>(gy) * gw + gx) * K;
            for (int ch = 0; ch < 3; ++ch)
                for (int ky = 0; ky < P; ++ky) {
                    const float* src = input.ptr() + (ch * H + gy * P + ky) * W + gx * P;
                    std::copy(src, src + P, dst + (ch * P + ky) * P);
                }
        }
    const int n_prefix_tok = c_.n_cls + c_.n_dist + c_.n_reg;
    float* patches = x + static_cast<int64_t>(n_prefix_tok) * D; // (n_patch, D)
    ops::linear(cols.data(), n_patch, K, w_.patch_w.ptr(), w_.patch_b.empty() ? nullptr : w_.patch_b.ptr(), D, patches);

    // position embeddings of the patch grid, resized when the grid differs
    const float* pos = w_.pos.ptr();
    const float* pos_grid = pos + static_cast<int64_t>(c_.n_pos_prefix) * D;
    std::vector<float> resized;
    if (gh != c_.pos_grid_h || gw != c_.pos_grid_w) {
        resized = interpolate_bicubic_tokens(pos_grid, c_.pos_grid_h, c_.pos_grid_w, D, gh, gw);
        pos_grid = resized.data();
    }
    ops::add_inplace(patches, pos_grid, static_cast<int64_t>(n_patch) * D);

    // prefix: CLS (+pos row 0), DIST (+pos row 1), registers (no position embedding)
    if (c_.n_cls)
        for (int i = 0; i < D; ++i) x[i] = w_.cls.data[i] + (c_.n_pos_prefix > 0 ? pos[i] : 0.0f);
    if (c_.n_dist) {
        float* xd = x + D;
        for (int i = 0; i < D; ++i) xd[i] = w_.dist.data[i] + (c_.n_pos_prefix > 1 ? pos[D + i] : 0.0f);
    }
    if (c_.n_reg)
        std::copy(w_.reg.data.begin(), w_.reg.data.end(), x + static_cast<int64_t>(c_.n_cls + c_.n_dist) * D);
    if (c_.ln_pre)
        ops::layer_norm(x, n_prefix_tok + n_patch, D, w_.pre_w.ptr(), w_.pre_b.ptr(), c_.ln_eps, x);
}

void vit_head(const VitConfig& c_, const VitWeights& w_, const float* xn, int n_tok, RunResult& result) {
    const int D = c_.n_embd;
    const int n_prefix_tok = c_.n_cls + c_.n_dist + c_.n_reg;
    std::vector<float> mean_patch;
    if (c_.head == VitHead::ClsMeanPatch || c_.head == VitHead::MeanPatch) {
        mean_patch.assign(static_cast<size_t>(D), 0.0f);
        for (int t = n_prefix_tok; t < n_tok; ++t)
            for (int i = 0; i < D; ++i) mean_patch[i] += xn[static_cast<int64_t>(t) * D + i];
        for (float& v : mean_patch) v /= static_cast<float>(n_tok - n_prefix_tok);
    }
    result.features = Tensor({D}, std::vector<float>(xn, xn + D)); // normed CLS
    const int C = c_.n_labels;
    switch (c_.head) {
    case VitHead::None: result.logits = Tensor(); return;
    case VitHead::Cls:
        result.logits = Tensor({C});
        ops::linear(xn, 1, D, w_.head_w.ptr(), w_.head_b.ptr(), C, result.logits.ptr());
        return;
    case VitHead::ClsDist: {
        result.logits = Tensor({C});
        Tensor d({C});
        ops::linear(xn, 1, D, w_.head_w.ptr(), w_.head_b.ptr(), C, result.logits.ptr());
        ops::linear(xn + D, 1, D, w_.dist_w.ptr(), w_.dist_b.ptr(), C, d.ptr());
        for (int i = 0; i < C; ++i) result.logits.data[i] = (result.logits.data[i] + d.data[i]) * 0.5f;
        return;
    }
    case VitHead::ClsMeanPatch: {
        std::vector<float> cat(xn, xn + D);
        cat.insert(cat.end(), mean_patch.begin(), mean_patch.end());
        result.logits = Tensor({C});
        ops::linear(cat.data(), 1, 2LL * D, w_.head_w.ptr(), w_.head_b.ptr(), C, result.logits.ptr());
        return;
    }
    case VitHead::MeanPatch: {
        // timm global_pool='avg': fc_norm(mean of patch tokens) → head (xn is the un-normed sequence here)
        std::vector<float> pooled(static_cast<size_t>(D));
        ops::layer_norm(mean_patch.data(), 1, D, w_.norm_w.ptr(), w_.norm_b.ptr(), c_.ln_eps, pooled.data());
        result.logits = Tensor({C});
        ops::linear(pooled.data(), 1, D, w_.head_w.ptr(), w_.head_b.ptr(), C, result.logits.ptr());
        return;
    }
    }
}

void vit_block_forward(const VitConfig& c_, const VitBlock& b, int il, float* x, int T, VitBuffers& buf,
                       AttentionRecorder& recorder) {
    const int D = c_.n_embd, M = c_.n_mlp;
    const float scale = 1.0f / std::sqrt(static_cast<float>(D / c_.n_heads));
    const AttentionShape shape{c_.n_heads, D / c_.n_heads, T, T};
    // self-attention
    ops::layer_norm(x, T, D, b.ln1_w.ptr(), b.ln1_b.ptr(), c_.ln_eps, buf.h.data());
    ops::linear(buf.h.data(), T, D, b.qkv_w.ptr(), b.qkv_b.ptr(), 3LL * D, buf.qkv.data(), 0, {}, b.qkv_p.get());
    multi_head_attention(shape, buf.qkv.data(), 3LL * D, buf.qkv.data() + D, 3LL * D, buf.qkv.data() + 2 * D, 3LL * D, scale,
                         nullptr, buf.ctx.data(), D, recorder, Site::Encoder, il, buf.scratch);
    // x += ls1 ⊙ proj(ctx): the residual (and layer scale) inside the product's epilogue
    ops::linear(buf.ctx.data(), T, D, b.proj_w.ptr(), b.proj_b.ptr(), D, x, 0,
                {ops::Act::None, c_.layer_scale ? b.ls1.ptr() : nullptr, /*accumulate=*/true}, b.proj_p.get());
    // MLP
    ops::layer_norm(x, T, D, b.ln2_w.ptr(), b.ln2_b.ptr(), c_.ln_eps, buf.h.data());
    if (c_.swiglu) {
        ops::linear(buf.h.data(), T, D, b.fc1_w.ptr(), b.fc1_b.ptr(), 2LL * M, buf.m.data(), 0, {}, b.fc1_p.get()); // [a | b]
        for (int t = 0; t < T; ++t) {
            float* row = buf.m.data() + static_cast<int64_t>(t) * 2 * M;
            ops::silu(row, M);
            for (int i = 0; i < M; ++i) row[i] *= row[M + i];
            if (t > 0) std::copy(row, row + M, buf.m.data() + static_cast<int64_t>(t) * M); // compact to (T, M)
        }
    } else {
        ops::linear(buf.h.data(), T, D, b.fc1_w.ptr(), b.fc1_b.ptr(), M, buf.m.data(), 0, {c_.act}, b.fc1_p.get());
    }
    ops::linear(buf.m.data(), T, M, b.fc2_w.ptr(), b.fc2_b.ptr(), D, x, 0,
                {ops::Act::None, c_.layer_scale ? b.ls2.ptr() : nullptr, /*accumulate=*/true}, b.fc2_p.get());
}

} // namespace attnscope
