// PreprocessSpec from HF preprocessor_config.json and timm pretrained_cfg.
#include "core/error.h"
#include "core/image/preprocess.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace attnscope {

using json = nlohmann::json;

namespace {

constexpr std::array<float, 3> kImagenetMean{0.485f, 0.456f, 0.406f}, kImagenetStd{0.229f, 0.224f, 0.225f};
constexpr std::array<float, 3> kHalf{0.5f, 0.5f, 0.5f};
constexpr std::array<float, 3> kClipMean{0.48145466f, 0.4578275f, 0.40821073f},
    kClipStd{0.26862954f, 0.26130258f, 0.27577711f};

// Typed access to one field; every failure names file and field.
struct Fields {
    const json& j;
    const std::string& file;
    std::string prefix; // "pretrained_cfg." for timm

    [[noreturn]] void fail(const std::string& key, const std::string& what, ErrorKind k = ErrorKind::Format) const {
        throw Error(k, file, prefix + key, what);
    }
    bool has(const char* key) const { return j.contains(key) && !j.at(key).is_null(); }
    bool boolean(const char* key, bool dflt) const {
        if (!has(key)) return dflt;
        if (!j.at(key).is_boolean()) fail(key, "expected true or false, got " + j.at(key).dump());
        return j.at(key).get<bool>();
    }
    double number(const char* key, double dflt) const {
        if (!has(key)) return dflt;
        if (!j.at(key).is_number()) fail(key, "expected a number, got " + j.at(key).dump());
        return j.at(key).get<double>();
    }
    int positive_int(const json& v, const std::string& key) const {
        if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > 100000)
            fail(key, "expected a positive integer, got " + v.dump());
        return v.get<int>();
    }
    std::string string(const char* key, const std::string& dflt) const {
        if (!has(key)) return dflt;
        if (!j.at(key).is_string()) fail(key, "expected a string, got " + j.at(key).dump());
        return j.at(key).get<std::string>();
    }
    std::array<float, 3> triple(const char* key, std::array<float, 3> dflt, bool nonzero) const {
        if (!has(key)) return dflt;
        json v = j.at(key);
        if (v.is_number()) v = json::array({v, v, v});
        if (!v.is_array() || v.size() != 3) fail(key, "expected 3 numbers, got " + v.dump());
        std::array<float, 3> out{};
        for (int c = 0; c < 3; ++c) {
            if (!v[c].is_number()) fail(key, "expected 3 numbers, got " + v.dump());
            out[c] = v[c].get<float>();
            if (nonzero && !(out[c] != 0.0f && std::isfinite(out[c]))) fail(key, "must be finite and non-zero");
        }
        return out;
    }
};

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// size / crop_size: int (square unless `int_is_shortest`) or {height,width} / {shortest_edge[,longest_edge]}.
void parse_size(const Fields& f, const json& v, const std::string& type, PreprocessSpec& s) {
    const bool detr = contains(type, "Detr") || contains(type, "Yolos");
    const bool shortest = detr || contains(type, "CLIP") || contains(type, "Bit");
    using R = PreprocessSpec::Resize;
    if (v.is_number()) {
        const int n = f.positive_int(v, "size");
        if (!shortest) { s.resize = R::Exact, s.resize_h = s.resize_w = n; return; }
        s.resize = R::ShortestEdge, s.shortest_edge = n;
        if (detr) s.resize = R::ShortestEdgeMaxLongest, s.longest_edge = f.has("max_size") ? f.positive_int(f.j.at("max_size"), "max_size") : 1333;
        return;
    }
    if (!v.is_object()) f.fail("size", "expected an integer or an object, got " + v.dump());
    if (v.contains("height") && v.contains("width")) {
        s.resize = R::Exact;
        s.resize_h = f.positive_int(v.at("height"), "size.height");
        s.resize_w = f.positive_int(v.at("width"), "size.width");
    } else if (v.contains("shortest_edge")) {
        s.resize = R::ShortestEdge;
        s.shortest_edge = f.positive_int(v.at("shortest_edge"), "size.shortest_edge");
        if (v.contains("longest_edge") && !v.at("longest_edge").is_null()) {
            if (!detr) f.fail("size", "longest_edge is only supported for DETR/YOLOS processors", ErrorKind::Unsupported);
            s.resize = R::ShortestEdgeMaxLongest;
            s.longest_edge = f.positive_int(v.at("longest_edge"), "size.longest_edge");
        }
    } else {
        f.fail("size", "unsupported size " + v.dump() + " (expected height/width or shortest_edge)", ErrorKind::Unsupported);
    }
}

void parse_crop(const Fields& f, PreprocessSpec& s) {
    if (!f.has("crop_size")) return; // keep 224×224
    const json& v = f.j.at("crop_size");
    if (v.is_number()) { s.crop_h = s.crop_w = f.positive_int(v, "crop_size"); return; }
    if (!v.is_object() || !v.contains("height") || !v.contains("width"))
        f.fail("crop_size", "expected an integer or {height, width}, got " + v.dump());
    s.crop_h = f.positive_int(v.at("height"), "crop_size.height");
    s.crop_w = f.positive_int(v.at("width"), "crop_size.width");
}

} // namespace

PreprocessSpec spec_from_hf_preprocessor(const json& cfg, const std::string& file) {
    if (!cfg.is_object()) throw Error(ErrorKind::Format, file, "", "preprocessor config is not a JSON object");
    const Fields f{cfg, file, ""};
    const std::string type = f.has("image_processor_type") ? f.string("image_processor_type", "")
                                                           : f.string("feature_extractor_type", "");
    const bool vit = type.rfind("ViT", 0) == 0, detr = contains(type, "Detr") || contains(type, "Yolos");
    const bool clip = contains(type, "CLIP") || contains(type, "Bit");
    PreprocessSpec s;
    s.resize = PreprocessSpec::Resize::None;
    if (f.boolean("do_resize", true)) {
        if (f.has("size")) parse_size(f, cfg.at("size"), type, s);
        else s.resize = PreprocessSpec::Resize::Exact; // 224×224, every class default we handle
    }
    const bool bicubic_default = clip || contains(type, "DeiT") || contains(type, "Beit") || contains(type, "Siglip");
    s.resample = bicubic_default ? Resample::Bicubic : Resample::Bilinear;
    if (f.has("resample")) {
        if (!cfg.at("resample").is_number_integer()) f.fail("resample", "expected a PIL filter code, got " + cfg.at("resample").dump());
        try { s.resample = resample_from_pil(cfg.at("resample").get<int>()); }
        catch (const Error& e) { f.fail("resample", e.detail(), ErrorKind::Unsupported); }
    }
    s.center_crop = !vit && !detr && f.boolean("do_center_crop", f.has("crop_size"));
    if (s.center_crop) parse_crop(f, s);
    s.crop_rounding = PreprocessSpec::CropRounding::Floor; // HF center_crop: (H − h) // 2
    s.rescale = f.boolean("do_rescale", true) ? f.number("rescale_factor", 1.0 / 255.0) : 1.0;
    if (!std::isfinite(s.rescale)) f.fail("rescale_factor", "must be finite");
    if (f.boolean("do_normalize", true)) {
        const auto dm = detr ? kImagenetMean : clip ? kClipMean : kHalf;
        const auto ds = detr ? kImagenetStd : clip ? kClipStd : kHalf;
        s.mean = f.triple("image_mean", dm, false);
        s.std = f.triple("image_std", ds, true);
    } else {
        s.mean = {0, 0, 0};
        s.std = {1, 1, 1};
    }
    return s;
}

PreprocessSpec spec_from_timm_pretrained_cfg(const json& cfg_in, const std::string& file) {
    const bool nested = cfg_in.is_object() && cfg_in.contains("pretrained_cfg");
    const json& cfg = nested ? cfg_in.at("pretrained_cfg") : cfg_in;
    if (!cfg.is_object()) throw Error(ErrorKind::Format, file, "pretrained_cfg", "expected a JSON object");
    const Fields f{cfg, file, nested ? "pretrained_cfg." : ""};
    if (!f.has("input_size")) f.fail("input_size", "missing (expected [3, H, W])", ErrorKind::Missing);
    const json& in = cfg.at("input_size");
    if (!in.is_array() || in.size() != 3 || in[0] != 3) f.fail("input_size", "expected [3, H, W], got " + in.dump());
    PreprocessSpec s;
    s.crop_h = f.positive_int(in[1], "input_size");
    s.crop_w = f.positive_int(in[2], "input_size");
    try { s.resample = resample_from_name(f.string("interpolation", "bicubic")); }
    catch (const Error& e) { f.fail("interpolation", e.detail(), ErrorKind::Unsupported); }
    const double crop_pct = f.number("crop_pct", 0.875);
    if (!(crop_pct > 0.0 && crop_pct <= 4.0)) f.fail("crop_pct", "expected a number in (0, 4]");
    const double scaled_h = std::floor(s.crop_h / crop_pct), scaled_w = std::floor(s.crop_w / crop_pct); // timm: math.floor(img_size / crop_pct)
    if (scaled_h > 100000 || scaled_w > 100000)
        f.fail("crop_pct", "resize size " + std::to_string(scaled_h) + " from input_size / crop_pct is too large");
    const int scale_h = static_cast<int>(scaled_h), scale_w = static_cast<int>(scaled_w);
    const std::string mode = f.string("crop_mode", "center");
    if (mode == "center") {
        if (scale_h != scale_w) f.fail("input_size", "non-square input with crop_mode center (timm ResizeKeepRatio) is not supported", ErrorKind::Unsupported);
        s.resize = PreprocessSpec::Resize::ShortestEdge;
        s.shortest_edge = scale_h;
    } else if (mode == "squash") {
        s.resize = PreprocessSpec::Resize::Exact;
        s.resize_h = scale_h, s.resize_w = scale_w;
    } else {
        f.fail("crop_mode", "unsupported crop_mode '" + mode + "' (center, squash)", ErrorKind::Unsupported);
    }
    s.center_crop = true;
    s.crop_rounding = PreprocessSpec::CropRounding::Round; // torchvision CenterCrop
    s.rescale = 1.0 / 255.0;
    s.mean = f.triple("mean", kImagenetMean, false);
    s.std = f.triple("std", kImagenetStd, true);
    return s;
}

} // namespace attnscope
