// Session: image → preprocess → Model::forward → post-processing → RunResult, and the JSON summaries
// and run folder that the CLI and the GUI both write out.
#pragma once

#include "core/models/model.h"
#include "core/postprocess.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace attnscope {

// Which attention maps a run keeps. SkipEncoder leaves out the (large) encoder maps, e.g. DETR at
// high resolution; None records nothing (benchmarks of the bare forward pass, evaluation).
enum class RecordPolicy { All, None, SkipEncoder };

// The one run path: image → preprocess (the model's spec) → Model::forward with a recorder →
// post-processing. Every caller (CLI, GUI, evaluation, benchmarks, tests) goes through it; it owns the
// recorder and fills the attention maps, geometry, timings ("preprocess", "forward", "postprocess"),
// predictions and detections of the RunResult. One Session per thread; it refers to `model`, which
// must outlive it. (A Session is the place to keep recorder buffers from one run to the next.)
class Session {
public:
    explicit Session(const Model& model) : model_(&model) {}
    const Model& model() const { return *model_; }

    // `input_out` (optional) receives the exact tensor fed to the model.
    RunResult run(const ImageRGB8& image, RecordPolicy record = RecordPolicy::All, const CancelFlag* cancel = nullptr,
                  Tensor* input_out = nullptr);
    // An already-preprocessed [3, H, W] tensor: the geometry is the input's size (no resize, no crop).
    RunResult run(const Tensor& input, RecordPolicy record = RecordPolicy::All, const CancelFlag* cancel = nullptr);

private:
    RunResult forward(const Tensor& input, const PreprocessGeometry& geometry, RecordPolicy record,
                      const CancelFlag* cancel);
    const Model* model_;
};

nlohmann::json model_summary_json(const ModelInfo& info);
nlohmann::json preprocess_json(const PreprocessSpec& spec);
nlohmann::json layout_json(const TokenLayout& layout);

// Writes the CLI `run` folder: result.json, input.npy, logits.npy (+ features.npy / boxes.npy),
// attention/<site>_layerNN.npy. `extra` is merged into result.json. Files are written atomically.
void write_run_folder(const std::string& dir, const Model& model, const RunResult& result, const Tensor& input,
                      int top_k_count, const nlohmann::json& extra = nlohmann::json::object());

} // namespace attnscope
