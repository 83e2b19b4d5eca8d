#include "core/models/model_config.h"

#include "core/error.h"
#include "core/image/preprocess.h"

#include <nlohmann/json.hpp>

namespace attnscope {

using json = nlohmann::json;

const char* family_name(Family f) {
    switch (f) {
    case Family::Vit: return "vit";
    case Family::DeitDistilled: return "deit-distilled";
    case Family::Dino: return "dino";
    case Family::Dinov2: return "dinov2";
    case Family::Dinov2Registers: return "dinov2-registers";
    case Family::Detr: return "detr";
    case Family::Clip: return "clip";
    case Family::Siglip: return "siglip";
    case Family::Yolos: return "yolos";
    }
    return "?";
}

const char* task_name(Task t) {
    switch (t) {
    case Task::Classify: return "classify";
    case Task::Embed: return "embed";
    case Task::Detect: return "detect";
    }
    return "?";
}

bool family_from_name(const std::string& name, Family& f) {
    for (Family c : {Family::Vit, Family::DeitDistilled, Family::Dino, Family::Dinov2, Family::Dinov2Registers, Family::Detr,
                     Family::Clip, Family::Siglip, Family::Yolos})
        if (name == family_name(c)) {
            f = c;
            return true;
        }
    return false;
}

int json_int(const json* j, const std::string& key, int fallback, const std::string& file, const std::string& prefix) {
    if (!j || !j->is_object() || !j->contains(key)) return fallback;
    const json& v = (*j)[key];
    if (!v.is_number_integer() || v.get<int64_t>() != static_cast<int64_t>(v.get<int>()))
        throw Error(ErrorKind::Format, file, prefix + key, "expected an integer, got " + v.dump());
    return v.get<int>();
}

std::string architecture_name(const json* config) {
    if (!config || !config->is_object()) return {};
    if (config->contains("architecture") && (*config)["architecture"].is_string()) return (*config)["architecture"].get<std::string>();
    if (config->contains("architectures") && (*config)["architectures"].is_array() && !(*config)["architectures"].empty() &&
        (*config)["architectures"][0].is_string())
        return (*config)["architectures"][0].get<std::string>();
    return {};
}

PreprocessSpec resolve_preprocess(Family family, const PreprocessSpec& defaults, const json* preprocessor,
                                  const json* config, const std::string& config_file) {
    const std::string prep_file = "preprocessor_config.json";
    if (family == Family::Detr || family == Family::Yolos) { // YOLOS: DETR's, sides floored to size_divisor
        PreprocessSpec spec = defaults;
        if (!preprocessor) return spec;
        json p = *preprocessor;
        if (p.is_object() && !p.contains("image_processor_type") && !p.contains("feature_extractor_type"))
            p["image_processor_type"] = family == Family::Yolos ? "YolosImageProcessor" : "DetrImageProcessor";
        const PreprocessSpec file = spec_from_hf_preprocessor(p, prep_file);
        if (file.shortest_edge) spec.shortest_edge = file.shortest_edge;
        if (file.longest_edge) spec.longest_edge = file.longest_edge;
        spec.resample = file.resample;
        spec.rescale = file.rescale;
        spec.mean = file.mean;
        spec.std = file.std;
        return spec;
    }
    if (preprocessor) return spec_from_hf_preprocessor(*preprocessor, prep_file);
    if (config && config->is_object() && config->contains("pretrained_cfg") && (*config)["pretrained_cfg"].is_object())
        return spec_from_timm_pretrained_cfg((*config)["pretrained_cfg"], config_file);
    return defaults;
}

} // namespace attnscope
