#include "core/interventions.h"

#include "core/error.h"

#include <algorithm>

namespace attnscope {

void zero_patches(Tensor& input, int patch_size, const std::vector<int>& cells) {
    if (input.dim() != 3 || patch_size <= 0)
        throw Error(ErrorKind::Mismatch, "input", "", "expected a [3, H, W] tensor and a positive patch size");
    const int64_t C = input.size(0), H = input.size(1), W = input.size(2);
    const int64_t gw = W / patch_size, gh = H / patch_size;
    for (int cell : cells) {
        if (cell < 0 || cell >= gh * gw)
            throw Error(ErrorKind::Mismatch, "input", "patch " + std::to_string(cell),
                        "outside the " + std::to_string(gh) + "×" + std::to_string(gw) + " patch grid");
        const int64_t y0 = (cell / gw) * patch_size, x0 = (cell % gw) * patch_size;
        for (int64_t c = 0; c < C; ++c)
            for (int64_t y = y0; y < y0 + patch_size; ++y) {
                float* row = input.ptr() + (c * H + y) * W + x0;
                std::fill(row, row + patch_size, 0.0f);
            }
    }
}

} // namespace attnscope
