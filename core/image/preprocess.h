// TEMPORARY stub until the image module lands.
#pragma once
#include "core/image/image.h"
#include <nlohmann/json_fwd.hpp>
namespace attnscope {
PreprocessSpec spec_from_hf_preprocessor(const nlohmann::json& j, const std::string& file);
PreprocessSpec spec_from_timm_pretrained_cfg(const nlohmann::json& j, const std::string& file);
}
namespace attnscope {
Tensor preprocess(const ImageRGB8& img, const PreprocessSpec& spec, PreprocessGeometry* geometry);
}
