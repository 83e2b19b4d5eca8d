// Opening a model: a HF folder, a timm-hub folder, or a bare checkpoint file. The family is
// recognised from config.json and the tensor names, then handed to that family's loader.
#pragma once

#include "core/models/model.h"

#include <memory>
#include <string>

namespace attnscope {

struct LoadOptions {
    int heads_override = 0;   // --heads: when the head count cannot be known from config/architecture
    std::string config_path;  // --config: a config.json to use for a bare checkpoint
};

std::unique_ptr<Model> load_model(const std::string& path, const LoadOptions& options = {});

} // namespace attnscope
