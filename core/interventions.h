// Interventions on a forward pass (issue 18): heads switched off, patches removed.
//
// Session::set_interventions (core/session.h) applies them to every following run: the masked patches
// are zeroed in the normalised input before the forward, the ablated heads are switched off inside the
// attention kernel (core/tensor/attention.cpp) through the recorder's head_output() — AblatingRecorder
// below wraps whatever recorder the run uses. RunResult::interventions says what a result was run with.
#pragma once

#include "core/tensor/recorder.h"
#include "core/tensor/tensor.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace attnscope {

struct ModelInfo; // core/models/model.h

// Zero: the head's output — its attention-weighted values, before the output projection — is 0 for
// every token. Mean: replaced by its mean over the (query) tokens of this pass.
enum class AblationMode { Zero, Mean };
const char* ablation_mode_name(AblationMode mode); // "zero", "mean"
bool ablation_mode_from_name(const std::string& name, AblationMode& mode); // false (untouched) if unknown

struct HeadRef {
    Site site = Site::Encoder;
    int layer = 0, head = 0;
    bool operator==(const HeadRef&) const = default;
};

struct Interventions {
    std::vector<HeadRef> ablated;
    AblationMode mode = AblationMode::Zero;
    // Patch cells (row-major over the patch grid) set to 0 in the normalised input before the pass.
    // (Zeroed, not dropped: the token stays in the sequence with the dataset-mean colour as its pixels.)
    std::vector<int> masked_patches;
    bool empty() const { return ablated.empty() && masked_patches.empty(); }
    bool operator==(const Interventions&) const = default;

    bool is_ablated(const HeadRef& h) const;
    // Adds or removes one head (no duplicates; the order of the others is kept).
    void set_ablated(const HeadRef& h, bool on);
};

// Sets the pixels of the given patch cells of `input` ([3, H, W]) to 0 (the normalised value, i.e. the
// dataset mean colour). Cells are gy·grid_w + gx with grid_w = W / patch_size; out-of-range cells throw.
void zero_patches(Tensor& input, int patch_size, const std::vector<int>& cells);

// Layers of `site` in a model: encoder → info.n_layers, decoder sites → info.n_decoder_layers (0 for
// encoder-only models).
int site_layers(const ModelInfo& info, Site site);

// Every ablated head must exist in the model: its site has layers, layer < site_layers, head < n_heads.
// Error(Argument, field "--heads") naming the head, the site and the valid range otherwise.
void validate_interventions(const Interventions& iv, const ModelInfo& info);

// The CLI's --heads list: "L:H,L:H,…" on `default_site`, or "site:L:H" entries with a site name
// ("encoder", "decoder_self", "decoder_cross"); spaces ignored; "" → none. Error(Argument, "--heads").
std::vector<HeadRef> parse_head_list(const std::string& text, Site default_site = Site::Encoder);
// The CLI's --mask-patches list "i,j,…" (non-negative integers). Error(Argument, "--mask-patches").
std::vector<int> parse_patch_list(const std::string& text);

// {"mode": "zero", "heads": [{"site", "layer", "head"}], "masked_patches": [...]} (result.json).
nlohmann::json interventions_json(const Interventions& iv);
// One line for people: "zero-ablated encoder 3:1, 5:2; 4 patches masked", or "none".
std::string describe_interventions(const Interventions& iv);

// Wraps the recorder of a run: hands the maps to `inner` untouched and answers head_output() from `iv`.
// Both must outlive it.
class AblatingRecorder final : public AttentionRecorder {
public:
    AblatingRecorder(AttentionRecorder& inner, const Interventions& iv) : inner_(inner), iv_(iv) {}
    float* acquire(Site site, int layer, int n_heads, int n_q, int n_k) override {
        return inner_.acquire(site, layer, n_heads, n_q, n_k);
    }
    HeadOutput head_output(Site site, int layer, int head) const override;

private:
    AttentionRecorder& inner_;
    const Interventions& iv_;
};

} // namespace attnscope
