#include "core/image/preprocess.h"
#include <nlohmann/json.hpp>
namespace attnscope {
PreprocessSpec spec_from_hf_preprocessor(const nlohmann::json&, const std::string&) { return {}; }
PreprocessSpec spec_from_timm_pretrained_cfg(const nlohmann::json&, const std::string&) { return {}; }
}
namespace attnscope {
Tensor preprocess(const ImageRGB8&, const PreprocessSpec&, PreprocessGeometry*) { return {}; }
}
namespace attnscope {
const char* resample_name(Resample) { return "bilinear"; }
}
