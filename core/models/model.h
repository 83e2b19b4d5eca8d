// The model interface every family implements (one file shape per model: config, weights
// struct with checkpoint keys in comments, load, forward), and the plain result structs.
#pragma once

#include "core/image/image.h"
#include "core/tensor/recorder.h"
#include "core/tensor/tensor.h"

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace attnscope {

// Token layout of a ViT-like sequence: [CLS × n_cls, DIST × n_dist, REG × n_reg, patches (grid_h × grid_w)].
// For DETR the "patches" are the backbone feature cells and patch_size is the stride.
struct TokenLayout {
    int n_cls = 0, n_dist = 0, n_reg = 0;
    int grid_h = 0, grid_w = 0;
    int patch_size = 0;
    int n_prefix() const { return n_cls + n_dist + n_reg; }
    int n_tokens() const { return n_prefix() + grid_h * grid_w; }
};

struct ModelInfo {
    std::string family;       // "vit", "deit-distilled", "dino", "dinov2", "detr"
    std::string format;       // "hf", "timm", "original"
    std::string architecture; // e.g. "ViTForImageClassification", "deit_tiny_patch16_224"
    std::string source;       // path it was loaded from
    int hidden = 0, n_layers = 0, n_heads = 0, mlp = 0, patch_size = 0;
    int image_h = 0, image_w = 0; // native input size
    int n_labels = 0;
    int64_t n_params = 0;
    std::vector<std::string> labels; // index → label ("" when unknown)
};

struct Detection {
    int query = 0;
    int label_id = 0;
    std::string label;
    float score = 0.0f;
    std::array<float, 4> box_xyxy{}; // pixels of the ORIGINAL image
};

struct Prediction {
    int index = 0;
    std::string label;       // "class <index>" when the model has no name for it
    float prob = 0.0f, logit = 0.0f;
};

// One forward pass, as Session::run (core/session.h) hands it out.
struct RunResult {
    Tensor logits;          // ViT: [n_labels] (empty for headless models); DETR: [Q, n_labels + 1]
    Tensor features;        // headless models: the normed CLS token [hidden]
    Tensor boxes;           // DETR: [Q, 4] normalised (cx, cy, w, h)
    std::vector<AttentionMap> attention;
    TokenLayout layout;
    PreprocessGeometry geometry;
    std::map<std::string, double> timings_ms; // "preprocess", "forward", "postprocess", ...
    // Post-processed once by Session::run (core/postprocess.h):
    std::vector<Prediction> predictions; // classifiers: every class, most probable first
    std::vector<Detection> detections;   // DETR: every query (index == query), unthresholded
};

// Set from another thread to stop a forward pass between layers (it then throws Error(Cancelled)).
using CancelFlag = std::atomic<bool>;

class Model {
public:
    virtual ~Model() = default;
    virtual const ModelInfo& info() const = 0;
    virtual const PreprocessSpec& preprocess() const = 0;
    // input: [3, H, W] normalised. Fills logits / boxes / features / layout of `result` and hands every
    // attention map to `recorder`. Geometry, timings and post-processing are Session::run's.
    virtual void forward(const Tensor& input, AttentionRecorder& recorder, RunResult& result,
                         const CancelFlag* cancel = nullptr) const = 0;
};

} // namespace attnscope
