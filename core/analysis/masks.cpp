#include "core/analysis/masks.h"

#include "core/error.h"

#include <algorithm>
#include <numeric>
#include <vector>

namespace attnscope::analysis {

Tensor dino_masks(const AttentionMap& last, const TokenLayout& layout, double mass) {
    const int N = layout.grid_h * layout.grid_w, off = layout.n_prefix();
    if (last.n_k != layout.n_tokens() || layout.n_cls < 1 || N <= 0)
        throw Error(ErrorKind::Mismatch, "", "layer " + std::to_string(last.layer), "map keys do not match the token layout (needs a CLS token)");
    if (!(mass > 0.0 && mass <= 1.0)) throw Error(ErrorKind::Argument, "", "--mask-mass", "must be in (0, 1], got " + std::to_string(mass));
    Tensor out({last.n_heads, layout.grid_h, layout.grid_w});
    std::vector<int> idx(N);
    for (int h = 0; h < last.n_heads; ++h) {
        const float* row = last.head(h) + off; // query 0 (CLS), patch keys
        std::iota(idx.begin(), idx.end(), 0);
        std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return row[a] < row[b]; });
        double total = 0.0;
        for (int i = 0; i < N; ++i) total += row[i];
        double cum = 0.0;
        for (int i = 0; i < N; ++i) {
            cum += row[idx[i]] / total;
            out.data[static_cast<size_t>(h) * N + idx[i]] = cum > 1.0 - mass ? 1.0f : 0.0f;
        }
    }
    return out;
}

Tensor upsample_nearest(const Tensor& t, int factor) {
    if (t.dim() < 2 || factor < 1) throw Error(ErrorKind::Argument, "", "upsample", "needs [..., h, w] and factor >= 1");
    const int64_t h = t.size(-2), w = t.size(-1), n = t.numel() / (h * w);
    Shape s = t.shape;
    s[s.size() - 2] *= factor;
    s[s.size() - 1] *= factor;
    Tensor out(s);
    const int64_t W = w * factor;
    for (int64_t b = 0; b < n; ++b)
        for (int64_t y = 0; y < h * factor; ++y)
            for (int64_t x = 0; x < W; ++x)
                out.data[(b * h * factor + y) * W + x] = t.data[(b * h + y / factor) * w + x / factor];
    return out;
}

} // namespace attnscope::analysis
