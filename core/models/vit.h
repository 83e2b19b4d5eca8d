// ViT family: HF ViT/DeiT(-distilled)/DINOv2(+registers), timm ViT/DeiT, DINO v1, DINOv2 original.
#pragma once

#include "core/io/weights.h"
#include "core/models/loader.h"
#include "core/models/model.h"

#include <nlohmann/json_fwd.hpp>

#include <memory>

namespace attnscope {

enum class VitNaming { HF, HFDinov2, Timm };

// True when the tensor names look like any ViT-family checkpoint.
bool is_vit_checkpoint(const WeightSource& w);

// config: HF config.json or timm-hub config.json (nullptr for a bare checkpoint).
// preprocessor: HF preprocessor_config.json (nullptr when absent). options.heads_override: used when
// config and architecture name cannot tell the head count; options.config_path names config.json in errors.
std::unique_ptr<Model> load_vit(std::shared_ptr<const WeightSource> w, const nlohmann::json* config,
                                const nlohmann::json* preprocessor, const LoadOptions& options);

// Head count from a timm / HF architecture name ("deit_tiny_patch16_224" → 3), 0 when unknown.
int heads_from_architecture(const std::string& name);

// PyTorch F.interpolate(mode="bicubic", align_corners=False, size=(out_h, out_w)) of a
// [channels, in_h, in_w] grid stored token-major as [in_h·in_w, channels]; result [out_h·out_w, channels].
std::vector<float> interpolate_bicubic_tokens(const float* grid, int in_h, int in_w, int channels, int out_h,
                                              int out_w);

} // namespace attnscope
