// Interventions on a forward pass (issue 18): heads switched off, patches removed.
#pragma once

#include "core/tensor/recorder.h"
#include "core/tensor/tensor.h"

#include <vector>

namespace attnscope {

// Zero: the head's output — its attention-weighted values, before the output projection — is 0 for
// every token. Mean: replaced by its mean over the (query) tokens of this pass.
enum class AblationMode { Zero, Mean };

struct HeadRef {
    Site site = Site::Encoder;
    int layer = 0, head = 0;
    bool operator==(const HeadRef&) const = default;
};

struct Interventions {
    std::vector<HeadRef> ablated;
    AblationMode mode = AblationMode::Zero;
    // Patch cells (row-major over the patch grid) set to 0 in the normalised input before the pass.
    std::vector<int> masked_patches;
    bool empty() const { return ablated.empty() && masked_patches.empty(); }
};

// Sets the pixels of the given patch cells of `input` ([3, H, W]) to 0 (the normalised value, i.e. the
// dataset mean colour). Cells are gy·grid_w + gx with grid_w = W / patch_size; out-of-range cells throw.
void zero_patches(Tensor& input, int patch_size, const std::vector<int>& cells);

} // namespace attnscope
