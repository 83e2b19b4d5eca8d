// CLIP and SigLIP image towers, built from the ViT parts (vit_parts.h).
//
// CLIP (Radford et al. 2021): [CLS, patches] + learned positions → ln_pre → pre-LN blocks (quick-GELU for
// OpenAI's weights, config `hidden_act` otherwise) → ln_post on the CLS token → optional projection.
//   HF CLIPVisionModel / CLIPVisionModelWithProjection / CLIPModel: vision_model.* (+ visual_projection.weight)
//   OpenAI / open_clip: visual.conv1, visual.class_embedding, visual.positional_embedding, visual.ln_pre,
//   visual.transformer.resblocks.N.{ln_1, attn.in_proj_*, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj},
//   visual.ln_post, visual.proj ([D, E], x @ proj).
// SigLIP (Zhai et al. 2023), HF SiglipVisionModel / SiglipModel: patches only (no CLS) + positions → pre-LN
// blocks (tanh-GELU) → post_layernorm on every token → attention-pooling head (MAP): a learned probe attends
// over the tokens (nn.MultiheadAttention), + LN/MLP residual; its attention is recorded as Site::Pool.
//
// RunResult::features: CLIP the image embedding (after the projection when there is one, not L2-normalised),
// SigLIP the pooled output. final_tokens: the last LayerNorm applied to every token.
#pragma once

#include "core/io/weights.h"
#include "core/models/loader.h"
#include "core/models/model.h"

#include <nlohmann/json_fwd.hpp>

#include <memory>

namespace attnscope {

// True when the tensor names look like a CLIP or SigLIP image tower (HF or OpenAI/open_clip names).
bool is_clip_siglip_checkpoint(const WeightSource& w);

// config: HF config.json (a vision config, or a full CLIPModel/SiglipModel config with `vision_config`);
// nullptr for a bare checkpoint (then open_clip_config.json beside the weights is read when present).
std::unique_ptr<Model> load_clip_siglip(std::shared_ptr<const WeightSource> w, const nlohmann::json* config,
                                        const nlohmann::json* preprocessor, const LoadOptions& options);

} // namespace attnscope
