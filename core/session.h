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
// must outlive it.
//
// Memory: before the forward pass, the bytes its recorded maps will take (core/run_memory.h) are checked
// against the available memory (less a margin, less the recycled buffers the run reuses); a run that would
// not fit is refused with an Error naming the model, the size and how to reduce it.
//
// Interventions (issue 18): set_interventions() applies to every following run — masked patches are
// zeroed in the normalised input (the tensor handed out as `input_out` is the masked one), ablated heads
// are switched off in the attention kernel; RunResult::interventions records them. The recorded maps
// are the real probabilities of the intervened pass.
//
// Buffers (issue 15): the Session keeps one RecordAll for all its runs. Maps handed back with recycle()
// (e.g. the previous result's, once it is replaced) are written again by the next run: no allocation,
// no page faults, no zeroing. Maps not handed back simply stay with their RunResult.
class Session {
public:
    explicit Session(const Model& model) : model_(&model) {}
    const Model& model() const { return *model_; }

    // `input_out` (optional) receives the exact tensor fed to the model.
    RunResult run(const ImageRGB8& image, RecordPolicy record = RecordPolicy::All, const CancelFlag* cancel = nullptr,
                  Tensor* input_out = nullptr);
    // An already-preprocessed [3, H, W] tensor: the geometry is the input's size (no resize, no crop).
    RunResult run(const Tensor& input, RecordPolicy record = RecordPolicy::All, const CancelFlag* cancel = nullptr);
    // The same with the geometry of an earlier run(image) (e.g. run again with other interventions:
    // DETR's boxes in original-image pixels need it).
    RunResult run(const Tensor& input, const PreprocessGeometry& geometry, RecordPolicy record = RecordPolicy::All,
                  const CancelFlag* cancel = nullptr);

    // Validated against the model: Error(Argument, "--heads") for a head it does not have. Masked
    // patches are checked against each input's patch grid when it runs (Error(Argument, "--mask-patches")).
    void set_interventions(Interventions iv);
    void clear_interventions() { interventions_ = {}; }
    const Interventions& interventions() const { return interventions_; }

    // Hands maps of an earlier result back (result.attention, moved): the next run writes into them.
    void recycle(std::vector<AttentionMap>&& maps);
    size_t spare_buffers() const { return recorder_.spare_count(); }
    void release_buffers() {
        recorder_.release_spare();
        recycled_bytes_ = 0;
    }

private:
    RunResult forward(const Tensor& input, const PreprocessGeometry& geometry, RecordPolicy record,
                      const CancelFlag* cancel);
    const Model* model_;
    Interventions interventions_;
    RecordAll recorder_;
    uint64_t recycled_bytes_ = 0; // capacity of the maps handed back since the last run (reused by the next)
};

nlohmann::json model_summary_json(const ModelInfo& info);
nlohmann::json preprocess_json(const PreprocessSpec& spec);
nlohmann::json layout_json(const TokenLayout& layout);

// Writes the CLI `run` folder: result.json, input.npy, logits.npy (+ features.npy / boxes.npy),
// attention/<site>_layerNN.npy. `extra` is merged into result.json. Files are written atomically.
void write_run_folder(const std::string& dir, const Model& model, const RunResult& result, const Tensor& input,
                      int top_k_count, const nlohmann::json& extra = nlohmann::json::object());

} // namespace attnscope
