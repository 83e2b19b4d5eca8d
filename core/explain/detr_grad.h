// Reverse-mode gradients of one DETR output — one query's class logit (pre-softmax) or one coordinate of its
// box — with respect to every attention map of the transformer (issue 16's engine for DETR).
//
// The CNN backbone, input projection and position embedding run as the model's own forward
// (DetrModel::encoder_input); the tape starts at the encoder input. The taped forward runs the model's
// detr_attention and the same ops:: kernels in the same order as DetrModel::forward_masked (so logits, boxes
// and maps are the model's, bit for bit) and keeps only what the backward needs: per attention its q/k/v
// projections and probabilities, per post-norm residual the LayerNorm input, per FFN its ReLU output.
// The backward is hand-written (input gradients only): class head or box MLP + sigmoid, the decoder's final
// LayerNorm, per decoder layer FFN, cross-attention (its keys' and values' gradient accumulating into the
// encoder memory through every layer) and self-attention, then per encoder layer FFN and self-attention.
#pragma once

#include "core/models/detr.h"

#include <vector>

namespace attnscope::explain {

struct DetrTarget {
    int query = -1;       // −1: the most confident detection (max over queries of max softmax prob, no-object excluded)
    int class_index = -1; // −1: that query's arg-max class (no-object excluded); n_labels = the no-object logit
    int box_coord = -1;   // 0…3: differentiate the query's box coordinate (cx, cy, w, h after the sigmoid) instead
};

struct DetrGradients {
    TokenLayout layout;                  // the feature grid (no prefix tokens)
    Tensor logits;                       // [Q, n_labels + 1], this pass
    Tensor boxes;                        // [Q, 4] sigmoid (cx, cy, w, h)
    int query = 0, class_index = 0;      // the target (class_index also set when a box coordinate was differentiated)
    int box_coord = -1;
    // Every map in the model's recording order (encoder layers, then per decoder layer self and cross), and
    // ∂y/∂A for each, same site / layer / shape, in the same order.
    std::vector<AttentionMap> attention, grad;
    size_t tape_bytes = 0;               // what the tape held at its peak (activations + A + ∂A)
};

// The most confident detection (HF post-processing's score: softmax over every class, no-object dropped)
// and its arg-max class, for logits [Q, n_labels + 1]. Ties: the lower index.
int detr_top_query(const Tensor& logits);
int detr_top_class(const Tensor& logits, int query);

// Taped forward of `input` ([3, H, W], normalised, unpadded) and the backward of the target. Throws
// Error(Argument) naming --detection / --target for an index out of range, Error(Cancelled) when `cancel` is set.
DetrGradients detr_gradients(const DetrModel& model, const Tensor& input, const DetrTarget& target,
                             const CancelFlag* cancel = nullptr);

// The maps of one site in layer order (pointers into `maps`).
std::vector<const AttentionMap*> maps_of(const std::vector<AttentionMap>& maps, Site site);

} // namespace attnscope::explain
