// The model interface every family implements (one file shape per model: config, weights
// struct with checkpoint keys in comments, load, forward), and the plain result structs.
#pragma once

#include "core/image/image.h"
#include "core/interventions.h"
#include "core/tensor/recorder.h"
#include "core/tensor/tensor.h"

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace attnscope {

// Token layout of a ViT-like sequence: [CLS × n_cls, DIST × n_dist, REG × n_reg, patches (grid_h × grid_w),
// DET × n_det]. For DETR the "patches" are the backbone feature cells and patch_size is the stride; YOLOS
// appends its detection tokens after the patches (n_det; 0 for every other family).
struct TokenLayout {
    int n_cls = 0, n_dist = 0, n_reg = 0;
    int grid_h = 0, grid_w = 0;
    int patch_size = 0;
    int n_det = 0;
    int n_prefix() const { return n_cls + n_dist + n_reg; }
    int det_start() const { return n_prefix() + grid_h * grid_w; } // the first detection token
    int n_tokens() const { return det_start() + n_det; }
    bool is_patch(int t) const { return t >= n_prefix() && t < det_start(); }
};

// What a checkpoint is (decided by its loader from the tensor names) and what its output is for.
enum class Family { Vit, DeitDistilled, Dino, Dinov2, Dinov2Registers, Detr, Clip, Siglip, Yolos };
enum class Task {
    Classify, // logits over labels (ViT, DeiT, DINOv2 with a classifier)
    Embed,    // no head: the normed CLS token is the output (DINO, headless DINOv2); CLIP/SigLIP: the image embedding
    Detect,   // boxes and class logits per query (DETR, YOLOS)
};

// The names every JSON/CSV/CLI output uses: "vit", "deit-distilled", "dino", "dinov2", "dinov2-registers",
// "detr", "clip", "siglip", "yolos"; and "classify", "embed", "detect".
const char* family_name(Family f);
const char* task_name(Task t);
// The inverse of family_name; false (f untouched) for an unknown name.
bool family_from_name(const std::string& name, Family& f);

struct ModelInfo {
    Family family = Family::Vit;
    Task task = Task::Classify;
    std::string format;       // "hf", "timm", "original"
    std::string architecture; // e.g. "ViTForImageClassification", "deit_tiny_patch16_224"
    std::string source;       // path it was loaded from
    int hidden = 0, n_layers = 0, n_heads = 0, mlp = 0, patch_size = 0; // n_layers: encoder layers
    int n_decoder_layers = 0;     // DETR's decoder (0 for encoder-only models)
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
    Tensor logits;          // ViT: [n_labels] (empty for headless models); DETR, YOLOS: [Q, n_labels + 1]
    Tensor features;        // headless models: the normed CLS token [hidden]
    Tensor boxes;           // DETR, YOLOS: [Q, 4] normalised (cx, cy, w, h)
    std::vector<AttentionMap> attention;
    // What the tokens carry: the L2 norm of every token of the residual stream after each block
    // [layers, tokens] (DETR: its encoder's feature cells after each encoder layer), and the final-LayerNorm
    // output [tokens, hidden] (timm avg-pool models, which norm after pooling: the un-normed last residual
    // stream; empty for DETR, whose encoder has no final norm).
    Tensor token_norms, final_tokens;
    TokenLayout layout;
    PreprocessGeometry geometry;
    std::map<std::string, double> timings_ms; // "preprocess", "forward", "postprocess", ...
    // Post-processed once by Session::run (core/postprocess.h):
    std::vector<Prediction> predictions; // classifiers: every class, most probable first
    std::vector<Detection> detections;   // DETR, YOLOS: every query (index == query), unthresholded
    Interventions interventions;         // what this pass ran with (Session::set_interventions; empty: none)
};

// Set from another thread to stop a forward pass between layers (it then throws Error(Cancelled)).
using CancelFlag = std::atomic<bool>;

// The learned input embeddings a model hands out for inspection (ViT paper Fig. 7): the patch-embedding
// filters and the patch rows of the learned position table, as loaded (no second read of the checkpoint).
struct PatchEmbedding {
    Tensor filters;             // [D, 3, P, P] timm patch_embed.proj.weight · HF embeddings.patch_embeddings.projection.weight
    Tensor pos;                 // [Gh·Gw, D] patch rows of pos_embed · embeddings.position_embeddings (empty if none)
    int pos_grid_h = 0, pos_grid_w = 0;
    int n_pos_prefix = 0;       // rows of the table before the grid (CLS, DIST; 0 for timm no_embed_class)
};

class Model {
public:
    virtual ~Model() = default;
    virtual const ModelInfo& info() const = 0;
    virtual const PreprocessSpec& preprocess() const = 0;
    // Empty (no filters, no table) for models without a linear patch embedding (DETR's ResNet stem).
    virtual PatchEmbedding patch_embedding() const { return {}; }
    // input: [3, H, W] normalised. Fills logits / boxes / features / layout of `result` and hands every
    // attention map to `recorder`. Geometry, timings and post-processing are Session::run's.
    virtual void forward(const Tensor& input, AttentionRecorder& recorder, RunResult& result,
                         const CancelFlag* cancel = nullptr) const = 0;
};

} // namespace attnscope
