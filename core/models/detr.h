// DETR (facebook/detr-resnet-50/-101/-dc5): ResNet backbone + post-norm encoder/decoder transformer.
// Reads HF `DetrForObjectDetection` names and original facebookresearch/detr names (mapped one to the other
// as in HF convert_detr_original_pytorch_checkpoint_to_pytorch.py).
// Every attention map is recorded: encoder self [heads, HW, HW], decoder self [heads, Q, Q], decoder
// cross [heads, Q, HW], per layer.
#pragma once

#include "core/io/weights.h"
#include "core/models/loader.h"
#include "core/models/model.h"
#include "core/models/resnet.h"

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <vector>

namespace attnscope {

struct DetrConfig {
    int d_model = 256;
    int n_heads = 8;
    int n_enc = 6, n_dec = 6;      // counted from the keys
    int n_ffn_enc = 2048, n_ffn_dec = 2048;
    int n_queries = 100;
    int n_labels = 91;             // class head has n_labels + 1 rows (last = no object)
    bool dc5 = false;
    float ln_eps = 1e-5f;
};

// One attention block, q/k/v split (original checkpoints: rows of the fused in_proj).
struct DetrAttention {
    Tensor wq, bq;  // *.q_proj.{weight,bias}   | in_proj_{weight,bias}[0:d]     (d, d) / (d)
    Tensor wk, bk;  // *.k_proj.{weight,bias}   | in_proj_{weight,bias}[d:2d]
    Tensor wv, bv;  // *.v_proj.{weight,bias}   | in_proj_{weight,bias}[2d:3d]
    Tensor wo, bo;  // *.out_proj.{weight,bias} | *.out_proj.{weight,bias}      (d, d) / (d)
};

struct DetrEncoderLayer {
    DetrAttention attn;     // model.encoder.layers.{i}.self_attn       | transformer.encoder.layers.{i}.self_attn
    Tensor ln1_w, ln1_b;    // model.encoder.layers.{i}.self_attn_layer_norm | ….norm1
    Tensor fc1_w, fc1_b;    // model.encoder.layers.{i}.fc1  (ffn, d)   | ….linear1
    Tensor fc2_w, fc2_b;    // model.encoder.layers.{i}.fc2  (d, ffn)   | ….linear2
    Tensor ln2_w, ln2_b;    // model.encoder.layers.{i}.final_layer_norm | ….norm2
};

struct DetrDecoderLayer {
    DetrAttention self_attn;  // model.decoder.layers.{i}.self_attn      | transformer.decoder.layers.{i}.self_attn
    Tensor ln1_w, ln1_b;      // model.decoder.layers.{i}.self_attn_layer_norm    | ….norm1
    DetrAttention cross_attn; // model.decoder.layers.{i}.encoder_attn   | ….multihead_attn
    Tensor ln2_w, ln2_b;      // model.decoder.layers.{i}.encoder_attn_layer_norm | ….norm2
    Tensor fc1_w, fc1_b;      // model.decoder.layers.{i}.fc1 (ffn, d)   | ….linear1
    Tensor fc2_w, fc2_b;      // model.decoder.layers.{i}.fc2 (d, ffn)   | ….linear2
    Tensor ln3_w, ln3_b;      // model.decoder.layers.{i}.final_layer_norm | ….norm3
};

struct DetrWeights {
    ResNet backbone;                        // model.backbone.conv_encoder.model.* | backbone.0.body.*
    Tensor proj_w, proj_b;                  // model.input_projection.{weight,bias} (d, c_backbone) | input_proj.*
    Tensor query_pos;                       // model.query_position_embeddings.weight (Q, d) | query_embed.weight
    std::vector<DetrEncoderLayer> enc;
    std::vector<DetrDecoderLayer> dec;
    Tensor dec_ln_w, dec_ln_b;              // model.decoder.layernorm.* | transformer.decoder.norm.*
    Tensor cls_w, cls_b;                    // class_labels_classifier.* (n_labels+1, d) | class_embed.*
    Tensor box_w[3], box_b[3];              // bbox_predictor.layers.{0,1,2}.* (d,d),(d,d),(4,d) | bbox_embed.layers.*
};

// The transformer's input for one image: the backbone and input projection, the (nearest-downsampled)
// padding mask and the sine position embedding — what DetrModel::forward_masked feeds its encoder.
struct DetrEncoderInput {
    int h = 0, w = 0;            // the feature grid (S = h·w cells)
    std::vector<float> x;        // (S, d) projected backbone features, row = cell
    std::vector<float> pos;      // (S, d) sine position embedding
    std::vector<float> key_bias; // (S): −inf on padded cells, 0 elsewhere; empty when nothing is padded
    double backbone_ms = 0.0;
};

// Work buffers of detr_attention: its projections stay in them after the call.
struct DetrAttnBuffers {
    std::vector<float> q, k, v, att; // (n_q, d), (n_k, d), (n_k, d), (n_q, d): q/k/v projections, context
    std::vector<float> scratch;      // probabilities when the recorder declines
};

// out (n_q, d) = out_proj(MHA(q_in·Wq, k_in·Wk, v_in·Wv)), DETR's attention (scale 1/√head_dim, key_bias
// may be null); the probabilities go to recorder at (site, il). The model's forward and the explanation
// engine's taped forward (core/explain/detr_grad) both run it.
void detr_attention(const DetrAttention& a, const float* q_in, int n_q, const float* k_in, const float* v_in, int n_k,
                    int d, int n_heads, const float* key_bias, AttentionRecorder& rec, Site site, int il,
                    DetrAttnBuffers& b, float* out);

class DetrModel final : public Model {
public:
    DetrModel(DetrConfig config, DetrWeights weights, ModelInfo info, PreprocessSpec spec);
    const ModelInfo& info() const override { return info_; }
    const PreprocessSpec& preprocess() const override { return spec_; }
    const DetrConfig& config() const { return config_; }
    const DetrWeights& weights() const { return w_; }
    // The backbone, input projection, mask and position embedding (the encoder's input). pixel_mask as below.
    DetrEncoderInput encoder_input(const Tensor& input, const Tensor* pixel_mask, const CancelFlag* cancel = nullptr) const;
    // Single unpadded image: the pixel mask is all ones.
    void forward(const Tensor& input, AttentionRecorder& recorder, RunResult& result,
                 const CancelFlag* cancel = nullptr) const override;
    // pixel_mask: (H, W), 1 = real pixel, 0 = padding (HF convention); null = all ones.
    void forward_masked(const Tensor& input, const Tensor* pixel_mask, AttentionRecorder& recorder,
                        RunResult& result, const CancelFlag* cancel = nullptr) const;

private:
    DetrConfig config_;
    DetrWeights w_;
    ModelInfo info_;
    PreprocessSpec spec_;
};

// True when the tensor names look like a DETR checkpoint (HF or original naming).
bool is_detr_checkpoint(const WeightSource& w);

// config: the HF config.json (nullptr when none). Sizes are inferred from the tensors and checked.
// preprocessor: preprocessor_config.json (nullptr when none), read by resolve_preprocess.
// options: heads_override (else config encoder_attention_heads, else 8), dc5 (else config `dilation`).
std::unique_ptr<Model> load_detr(std::shared_ptr<const WeightSource> w, const nlohmann::json* config,
                                 const nlohmann::json* preprocessor, const LoadOptions& options);

// DetrImageProcessor's defaults (HF image_processing_detr.py): shortest edge 800, longest 1333, bilinear,
// ×1/255, ImageNet mean/std, no crop. YOLOS starts from them too.
PreprocessSpec detr_preprocess_defaults();

// Post-processing (detr_postprocess): core/postprocess.h.

// COCO detection id → label as in facebook/detr-resnet-50's config (91 ids, "N/A" for unused ids).
const std::vector<std::string>& coco_detr_labels();

} // namespace attnscope
