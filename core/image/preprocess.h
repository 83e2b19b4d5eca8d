// Model input tensors from decoded images: resize (PIL-exact), center crop, rescale, normalise — the
// HF image processors (transformers image_processing_{vit,deit,detr}.py, image_transforms.py) and the
// timm/torchvision eval transforms (timm data/transforms_factory.py, torchvision Resize + CenterCrop).
#pragma once

#include "core/image/image.h"
#include "core/tensor/tensor.h"

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <utility>

namespace attnscope {

// Size (width, height) after the spec's resize step, for an input of w × h.
// ShortestEdge: torchvision 0.14 _compute_resized_output_size / HF default_to_square=False (long side truncated);
// ShortestEdgeMaxLongest: HF DETR get_size_with_aspect_ratio; with size_divisor, HF YOLOS's (sides floored to it).
std::pair<int, int> resized_size(int w, int h, const PreprocessSpec& spec);

// Top-left of a `crop`-long window in a `size`-long axis. Negative = zero padding before the image:
// Floor (HF center_crop) places a too-small image at ceil(d/2), Round (torchvision) at floor(d/2).
int center_crop_offset(int size, int crop, PreprocessSpec::CropRounding rounding);

// [3, H, W] float32, channel-major: ((float)(u8 · rescale) − mean) / std, rescale product taken in double and
// cast (HF rescale; equals torchvision's float32 u8/255 for every u8). A crop larger than the resized image is
// zero-padded (uint8 0, as torchvision and HF do), never an error. geometry (optional) receives the sizes.
Tensor preprocess(const ImageRGB8& img, const PreprocessSpec& spec, PreprocessGeometry* geometry = nullptr);

// HF preprocessor_config.json, legacy feature-extractor form (int size/crop_size) or modern form.
// Errors (Format/Unsupported) name file_for_errors and the field.
PreprocessSpec spec_from_hf_preprocessor(const nlohmann::json& cfg, const std::string& file_for_errors);

// timm pretrained_cfg (or a timm-hub config.json holding one): eval transform = Resize(floor(H / crop_pct),
// shortest edge) + CenterCrop(H, W) with torchvision rounding + mean/std.
PreprocessSpec spec_from_timm_pretrained_cfg(const nlohmann::json& pretrained_cfg, const std::string& file_for_errors);

} // namespace attnscope
