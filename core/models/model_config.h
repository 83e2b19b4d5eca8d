// The one place that reads what every family's loader needs from a model folder's JSON: integer fields,
// the architecture name, and the preprocessing (defaults per family, replaced by preprocessor_config.json
// or a timm pretrained_cfg). Errors name the file and the field.
#pragma once

#include "core/image/image.h"
#include "core/models/model.h"

#include <nlohmann/json_fwd.hpp>

#include <string>

namespace attnscope {

// (*j)[key] as an int; `fallback` when j is null or has no such key. A present key that is not an
// integer is an Error(Format) naming `file` and `prefix + key` (never silently ignored).
int json_int(const nlohmann::json* j, const std::string& key, int fallback, const std::string& file,
             const std::string& prefix = "");

// timm "architecture" or HF "architectures"[0]; "" when absent or not a string.
std::string architecture_name(const nlohmann::json* config);

// The model's preprocessing, resolved the same way for every family from `defaults` (the family's own:
// ViT's from the position grid, DETR's DetrImageProcessor defaults):
//  - DETR and YOLOS: preprocessor_config.json is parsed as a DetrImageProcessor whatever it names (absent keys take
//    DETR's defaults, not ViT's); its resize bounds (when given), filter, rescale and normalisation replace
//    the defaults; resizing stays shortest/longest edge without a crop.
//  - ViT family: preprocessor_config.json replaces the defaults; else config.json's timm pretrained_cfg.
// preprocessor / config may be null; config_file names config.json in errors.
PreprocessSpec resolve_preprocess(Family family, const PreprocessSpec& defaults, const nlohmann::json* preprocessor,
                                  const nlohmann::json* config, const std::string& config_file = "config.json");

} // namespace attnscope
