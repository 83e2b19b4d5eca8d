// The ViT family's parts, shared by every model built from them (VitModel in vit.cpp, and the families
// and analyses that reuse its blocks): the config, the weights (checkpoint keys in comments), and the
// three stages of the forward pass — embedding, one encoder block, head.
//
// Sequence layout: [CLS?, DIST?, REG×n_reg, patches (grid_h × grid_w, row-major)] (SigLIP: no CLS).
// Embedding: patches + position table (+ CLIP's ln_pre). Block (pre-LN): x += ls1 ⊙ proj(MHA(LN1(x)));
// x += ls2 ⊙ fc2(act(fc1(LN2(x)))), act = exact GELU (ViT), quick-GELU (CLIP) or tanh-GELU (SigLIP); then final LN.
#pragma once

#include "core/models/model.h"
#include "core/models/vit.h"
#include "core/tensor/ops.h"
#include "core/tensor/recorder.h"
#include "core/tensor/tensor.h"

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace attnscope {

class WeightSource;

enum class VitHead { None, Cls, ClsDist, ClsMeanPatch, MeanPatch };

// The MLP activation (HF config `hidden_act`): "gelu" (erf), "quick_gelu" x·σ(1.702x) (OpenAI CLIP),
// "gelu_pytorch_tanh" / "gelu_new" 0.5x(1+tanh(√(2/π)(x+0.044715x³))) (SigLIP).
using VitAct = ops::Act; // GeluErf, QuickGelu or GeluTanh


struct VitConfig {
    VitNaming naming = VitNaming::Timm;
    std::string prefix;        // "vit.", "deit.", "dinov2.", "" — HF only
    int n_embd = 0;            // D
    int n_layers = 0;
    int n_heads = 0;
    int n_mlp = 0;             // MLP hidden (SwiGLU: the gated width)
    int patch = 0;
    int n_cls = 1;             // class tokens: 1, or 0 for SigLIP (patch tokens only)
    int n_dist = 0, n_reg = 0; // distillation token, register tokens
    int n_pos_prefix = 1;      // rows of the position table before the patch grid (CLS, DIST)
    int pos_grid_h = 0, pos_grid_w = 0;
    bool layer_scale = false, swiglu = false, fc_norm = false;
    bool ln_pre = false;       // CLIP: LayerNorm on the embedded sequence before the first block
    VitAct act = VitAct::GeluErf;
    float ln_eps = 1e-6f;
    VitHead head = VitHead::None;
    int n_labels = 0;
};

struct VitBlock {
    Tensor ln1_w, ln1_b;   // timm blocks.{il}.norm1 · HF encoder.layer.{il}.layernorm_before · DINOv2 .norm1
    Tensor qkv_w, qkv_b;   // [3D, D] / [3D] timm blocks.{il}.attn.qkv · HF attention.attention.{query,key,value} stacked
    Tensor proj_w, proj_b; // [D, D] timm attn.proj · HF attention.output.dense
    Tensor ls1;            // [D] timm ls1.gamma · HF layer_scale1.lambda1 (DINOv2 only)
    Tensor ln2_w, ln2_b;   // timm norm2 · HF layernorm_after · DINOv2 norm2
    Tensor fc1_w, fc1_b;   // [M, D] timm mlp.fc1 · HF intermediate.dense · DINOv2 mlp.fc1 (SwiGLU mlp.w12 [2M, D])
    Tensor fc2_w, fc2_b;   // [D, M] timm mlp.fc2 · HF output.dense · DINOv2 mlp.fc2 (SwiGLU mlp.w3)
    Tensor ls2;            // [D] timm ls2.gamma · HF layer_scale2.lambda1
    // qkv_w, proj_w, fc1_w, fc2_w in the product kernels' layout (vit_pack_weight); null: read in place
    std::shared_ptr<const ops::PackedWeight> qkv_p, proj_p, fc1_p, fc2_p;
};

// A block weight packed for the products (ops::pack_linear_weight), when it is borrowed — served from
// the checkpoint's mapping —, and then its checkpoint pages dropped from memory (src.release(key)): the
// packed copy takes their place, so peak RSS stays the weights once. Their pages fault back in from the
// page cache if read again (the explanations' backward pass reads the [out, in] matrices). Owned weights
// (converted or stacked by the loader) are not packed: that would hold them twice. Null: not packed.
std::shared_ptr<const ops::PackedWeight> vit_pack_weight(const Tensor& weight, const WeightSource& src, const std::string& key);

struct VitWeights {
    Tensor cls;            // [1, 1, D] cls_token · embeddings.cls_token (CLIP: [D] class_embedding)
    Tensor dist;           // [1, 1, D] dist_token · embeddings.distillation_token
    Tensor reg;            // [1, R, D] register_tokens · embeddings.register_tokens
    Tensor pos;            // [1, n_pos_prefix + Gh·Gw, D] pos_embed · embeddings.position_embeddings
    Tensor patch_w, patch_b; // [D, 3, P, P] / [D] patch_embed.proj · embeddings.patch_embeddings.projection (CLIP: no bias, empty)
    Tensor pre_w, pre_b;   // [D] CLIP ln_pre · pre_layrnorm (when ln_pre)
    std::vector<VitBlock> blocks;
    Tensor norm_w, norm_b; // [D] norm · layernorm (timm fc_norm when global_pool='avg')
    Tensor head_w, head_b; // [C, D] head · classifier · cls_classifier ([C, 2D] for DINOv2 classifier)
    Tensor dist_w, dist_b; // [C, D] head_dist · distillation_classifier
};

// Work buffers of one forward pass over T tokens (sized by vit_buffers), reused block to block.
struct VitBuffers {
    std::vector<float> h;       // (T, D) normed
    std::vector<float> qkv;     // (T, 3D)
    std::vector<float> ctx;     // (T, D) attention output, head h in columns [h·dh, (h+1)·dh)
    std::vector<float> m;       // (T, M) or (T, 2M) for SwiGLU
    std::vector<float> scratch; // probabilities of sites the recorder does not keep
};
VitBuffers vit_buffers(const VitConfig& c, int n_tok);

// Patch embedding + prefix tokens + position embeddings (resized bicubically when the grid differs from
// the table's) of a [3, gh·P, gw·P] input → x (n_cls + n_dist + n_reg + gh·gw, D), then ln_pre if any.
void vit_embed(const VitConfig& c, const VitWeights& w, const Tensor& input, int gh, int gw, float* x);

// Block `il` in place on the residual stream x (T, D); its attention probabilities go to `recorder`
// (Site::Encoder, layer il).
void vit_block_forward(const VitConfig& c, const VitBlock& b, int il, float* x, int T, VitBuffers& buf,
                       AttentionRecorder& recorder);

// The head on the final-normed sequence xn (n_tok, D) (un-normed for timm avg-pool models): fills
// result.logits and result.features (the normed CLS token).
void vit_head(const VitConfig& c, const VitWeights& w, const float* xn, int n_tok, RunResult& result);

// The patch grid (gh, gw) of a [3, H, W] input (whole patches; the rest is dropped), or an Error(Mismatch)
// naming the input when it is not [3, H, W] or smaller than one patch.
void vit_grid(const VitConfig& c, const Tensor& input, int& gh, int& gw);

// Model::patch_embedding() of a ViT-like model: the filters and the patch rows of the position table
// (rows n_pos_prefix .. n_pos_prefix + pos_grid_h·pos_grid_w; rows after the grid, YOLOS's DET, are not patches).
PatchEmbedding vit_patch_embedding(const VitConfig& c, const VitWeights& w);

// The ModelInfo sizes every ViT-like model reports (hidden, layers, heads, mlp, patch, native image size).
void vit_info_sizes(const VitConfig& c, ModelInfo& info);

// The number of parameters in w: every tensor of it and of its blocks (absent ones are empty and count 0).
int64_t vit_count_params(const VitWeights& w);

// True when `cells` is a positive perfect square (a square position grid); its side in `root`.
bool vit_square_grid(int64_t cells, int& root);

// config.json's layer_norm_eps into eps when it is a number (an Error(Format) naming cfg_file when it is
// outside [0, 1]); eps is kept when the key is absent or not a number.
void vit_config_eps(const nlohmann::json* cfg, const std::string& cfg_file, float& eps);

// c.n_heads (taken from heads_file / heads_field: a config field or "--heads") divides c.n_embd, else an
// Error(Mismatch) naming them and the checkpoint `file`.
void vit_check_heads(const VitConfig& c, const std::string& heads_file, const std::string& heads_field, const std::string& file);

// A (vision) config's num_hidden_layers and hidden_size, when present, agree with the checkpoint's (c), else an
// Error(Mismatch) naming cfg_file and field_prefix + the field; width_source names what the width came from.
void vit_check_config_sizes(const VitConfig& c, const nlohmann::json* cfg, const std::string& cfg_file,
                            const std::string& field_prefix, const std::string& width_source);

// Block `il` read from a checkpoint named as c.naming / c.prefix say (HF, HF DINOv2, timm), shapes checked
// against c (n_embd, n_mlp, swiglu, layer_scale): for families that reuse ViT blocks under ViT names (YOLOS).
VitBlock vit_load_block(const WeightSource& w, const VitConfig& c, int il);

// The config and weights of a model loaded by load_vit; nullptr for any other model.
const VitConfig* vit_config(const Model& model);
const VitWeights* vit_weights(const Model& model);

} // namespace attnscope
