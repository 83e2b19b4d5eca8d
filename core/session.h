// Session: image → preprocess → Model::forward → RunResult, and the plain-data views of a result
// (top-k predictions, JSON summaries) that the CLI and the GUI both write out.
#pragma once

#include "core/models/model.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace attnscope {

struct Prediction {
    int index = 0;
    std::string label;
    float prob = 0.0f, logit = 0.0f;
};

// Preprocesses `image` with the model's spec, runs the forward pass, records timings and geometry.
// `input_out` (optional) receives the exact tensor fed to the model.
RunResult run_on_image(const Model& model, const ImageRGB8& image, AttentionRecorder& recorder,
                       const CancelFlag* cancel = nullptr, Tensor* input_out = nullptr);
// Runs on an already-preprocessed [3, H, W] tensor.
RunResult run_on_tensor(const Model& model, const Tensor& input, AttentionRecorder& recorder,
                        const CancelFlag* cancel = nullptr);

// Softmax over the classification logits, the k most probable, best first.
std::vector<Prediction> top_k(const RunResult& result, const ModelInfo& info, int k);

nlohmann::json model_summary_json(const ModelInfo& info);
nlohmann::json preprocess_json(const PreprocessSpec& spec);
nlohmann::json layout_json(const TokenLayout& layout);
// DETR detections: [{query, label_id, label, score, box_xyxy}] (result.json's "detections").
nlohmann::json detections_json(const std::vector<Detection>& detections);

// Writes the CLI `run` folder: result.json, input.npy, logits.npy (+ features.npy / boxes.npy),
// attention/<site>_layerNN.npy. `extra` is merged into result.json. Files are written atomically.
void write_run_folder(const std::string& dir, const Model& model, const RunResult& result, const Tensor& input,
                      int top_k_count, const nlohmann::json& extra = nlohmann::json::object());

} // namespace attnscope
