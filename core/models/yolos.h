// YOLOS (hustvl/yolos-tiny, -small, -base; HF `YolosForObjectDetection`): a DeiT-style ViT encoder with
// learned detection tokens appended after the patches, and DETR's class and box MLP heads on them.
// Upstream: HF transformers modeling_yolos.py (YolosEmbeddings, InterpolateInitialPositionEmbeddings,
// InterpolateMidPositionEmbeddings, YolosEncoder, YolosForObjectDetection); Fang et al. 2021, "You Only Look
// at One Sequence".
//
// Sequence: [CLS, patches (gh × gw of the actual input, row-major), DET × n_det]. The position table
// [1, 1 + G₀ + n_det, D] holds a G₀ = (image_size / patch) grid for the config's image_size; on every forward
// its grid part is resized bicubically to the input's (H / P) × (W / P) grid (CLS and DET rows as they are).
// With use_mid_position_embeddings (yolos-small) there are L − 1 more such tables, resized the same way;
// table i is added to the residual stream after block i (i < L − 1). The blocks are ViT's (vit_parts.h),
// every encoder map [heads, T, T] is recorded (Site::Encoder): a detection token's row is its attention.
// Heads read the final-normed last n_det tokens: logits [n_det, n_labels + 1] (last = no object) and
// sigmoid boxes [n_det, 4] (cx, cy, w, h of the input) — DETR's post-processing applies as it is.
#pragma once

#include "core/io/weights.h"
#include "core/models/loader.h"
#include "core/models/model.h"
#include "core/models/vit_parts.h"

#include <nlohmann/json_fwd.hpp>

#include <memory>

namespace attnscope {

struct YolosConfig {
    VitConfig vit;          // naming HF, prefix "vit.", n_pos_prefix 1, pos_grid = image_size / patch
    int n_det = 100;        // num_detection_tokens
    bool mid_pos = false;   // use_mid_position_embeddings
    int n_labels = 91;      // class head rows = n_labels + 1
};

struct YolosWeights {
    VitWeights vit;          // cls_token, position_embeddings [1, 1 + G₀ + n_det, D], patch projection,
                             // encoder.layer.{i}.*, layernorm — all under "vit."
    Tensor det;              // [1, n_det, D] vit.embeddings.detection_tokens
    Tensor mid_pos;          // [L − 1, 1, 1 + G₀ + n_det, D] vit.encoder.mid_position_embeddings (empty without)
    Tensor cls_w[3], cls_b[3]; // class_labels_classifier.layers.{0,1,2}: (D,D), (D,D), (n_labels+1, D)
    Tensor box_w[3], box_b[3]; // bbox_predictor.layers.{0,1,2}: (D,D), (D,D), (4, D)
};

class YolosModel final : public Model {
public:
    YolosModel(YolosConfig c, YolosWeights w, ModelInfo info, PreprocessSpec spec);
    const ModelInfo& info() const override { return info_; }
    const PreprocessSpec& preprocess() const override { return spec_; }
    PatchEmbedding patch_embedding() const override;
    void forward(const Tensor& input, AttentionRecorder& recorder, RunResult& result,
                 const CancelFlag* cancel = nullptr) const override;
    const YolosConfig& config() const { return c_; }

private:
    YolosConfig c_;
    YolosWeights w_;
    ModelInfo info_;
    PreprocessSpec spec_;
};

// True when the tensor names look like an HF YOLOS checkpoint (vit.embeddings.detection_tokens + cls_token).
bool is_yolos_checkpoint(const WeightSource& w);

// config: HF config.json (nullptr: sizes from the tensors, a square position grid, --heads required).
// preprocessor: preprocessor_config.json (YolosImageProcessor; nullptr: its defaults, shortest edge 800,
// longest 1333, bilinear, ImageNet mean/std, sides floored to multiples of 16).
std::unique_ptr<Model> load_yolos(std::shared_ptr<const WeightSource> w, const nlohmann::json* config,
                                  const nlohmann::json* preprocessor, const LoadOptions& options);

} // namespace attnscope
