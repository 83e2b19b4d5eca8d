// Reverse-mode gradients of one class logit through a ViT-family classifier (issue 16's engine).
//
// A taped forward pass (the same ops:: kernels, vit_embed and vit_head as the model's own forward, so
// logits and attention maps are the model's) keeps per block only what the backward needs: the block's
// input x0, the q/k/v projections, the attention probabilities A, the attention context, the mid-block
// residual x1 and the MLP's pre-activation. LayerNorm outputs are recomputed from x0 / x1. The backward
// is hand-written (input gradients only, no weight gradients): head and pooling (Cls, ClsDist averaging,
// ClsMeanPatch, MeanPatch with fc_norm), final LayerNorm, and per block residuals, layer scale, MLP
// (GELU erf or SwiGLU), LayerNorm, linear maps and softmax attention with its scale.
#pragma once

#include "core/models/model.h"
#include "core/models/vit_parts.h"

#include <vector>

namespace attnscope::explain {

struct VitGradients {
    TokenLayout layout;
    Tensor logits;                       // [n_labels], this pass
    int target = 0;                      // the class whose logit was differentiated
    std::vector<AttentionMap> attention; // per layer: A (heads, T, T), Site::Encoder
    std::vector<AttentionMap> grad;      // per layer: ∂logit/∂A (heads, T, T), same layout
    Tensor last_ln1;                     // [T, D] the last block's pre-attention LayerNorm output
    Tensor last_ln1_grad;                // [T, D] ∂logit/∂last_ln1
    size_t tape_bytes = 0;               // what the tape held at its peak (activations + A + ∂A)
};

// Taped forward of `input` ([3, H, W], normalised) and the backward of logits[target]
// (target < 0: the top-1 class). Throws Error(Unsupported) for a headless model, Error(Argument)
// naming --target for a class index out of range, Error(Cancelled) when `cancel` is set.
VitGradients vit_gradients(const VitConfig& c, const VitWeights& w, const Tensor& input, int target,
                           const CancelFlag* cancel = nullptr);

} // namespace attnscope::explain
