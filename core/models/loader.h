// Opening a model: a HF folder, a timm-hub folder, or a bare checkpoint file. The family is
// recognised from config.json and the tensor names, then handed to that family's loader.
#pragma once

#include "core/models/model.h"

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <optional>
#include <string>

namespace attnscope {

class WeightSource;

// The one set of options every family's loader takes (load_vit, load_detr, load_model).
struct LoadOptions {
    int heads_override = 0;   // --heads: when the head count cannot be known from config/architecture (ViT);
                              // DETR: replaces config encoder_attention_heads (8 without a config)
    std::optional<bool> dc5;  // DETR: set overrides config.json `dilation`
    std::string config_path;  // --config: a config.json to use for a bare checkpoint. load_model sets it to
                              // the folder's config.json when it reads one, so errors name the full path.
};

std::unique_ptr<Model> load_model(const std::string& path, const LoadOptions& options = {});

// The steps of load_model after the files are read, for callers (and fuzzers) that hold them in
// memory: parse a config.json / preprocessor_config.json text (Error(Format) naming `file` unless
// it is a JSON object), and pick the family from the tensor names and build the model.
nlohmann::json parse_json_object(const std::string& text, const std::string& file);
std::unique_ptr<Model> load_model_from(std::shared_ptr<const WeightSource> weights, const nlohmann::json* config,
                                       const nlohmann::json* preprocessor, const LoadOptions& options = {});

} // namespace attnscope
