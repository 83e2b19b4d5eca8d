#include "core/analysis/rollout.h"

#include "core/error.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace attnscope::analysis {

std::vector<double> rollout_step(const AttentionMap& m, const RolloutOptions& opt) {
    if (m.n_q != m.n_k) throw Error(ErrorKind::Mismatch, "", "layer " + std::to_string(m.layer), "rollout needs square self-attention");
    if (!(opt.discard_ratio >= 0.0 && opt.discard_ratio < 1.0))
        throw Error(ErrorKind::Argument, "", "--rollout-discard", "must be in [0, 1), got " + std::to_string(opt.discard_ratio));
    const int T = m.n_q;
    std::vector<double> a = fuse_heads(m, opt.fusion); // (T, T)
    const size_t n = a.size();
    const size_t n_drop = static_cast<size_t>(opt.discard_ratio * static_cast<double>(n));
    if (n_drop > 0) {
        // The n_drop smallest under a strict total order (value, then flat index): a set that
        // nth_element finds in linear time, the same set a full sort would give.
        std::vector<size_t> idx(n);
        std::iota(idx.begin(), idx.end(), size_t{0});
        std::nth_element(idx.begin(), idx.begin() + (n_drop - 1), idx.end(),
                         [&](size_t i, size_t j) { return a[i] < a[j] || (a[i] == a[j] && i < j); });
        for (size_t t = 0; t < n_drop; ++t)
            if (idx[t] / T != 0 && idx[t] % T != 0) a[idx[t]] = 0.0; // never the CLS row / column
    }
    for (int i = 0; i < T; ++i) {
        double* row = a.data() + static_cast<size_t>(i) * T;
        double sum = 0.0;
        for (int j = 0; j < T; ++j) {
            row[j] = 0.5 * row[j] + (i == j ? 0.5 : 0.0);
            sum += row[j];
        }
        for (int j = 0; j < T; ++j) row[j] /= sum;
    }
    return a;
}

std::vector<double> rollout_matrix(const std::vector<AttentionMap>& maps, const RolloutOptions& opt) {
    std::vector<double> acc;
    int T = 0;
    for (const AttentionMap& m : maps) {
        if (m.site != Site::Encoder) continue;
        const std::vector<double> step = rollout_step(m, opt);
        if (acc.empty()) {
            T = m.n_q;
            acc = step;
            continue;
        }
        if (m.n_q != T) throw Error(ErrorKind::Mismatch, "", "layer " + std::to_string(m.layer), "token count differs between layers");
        std::vector<double> next(acc.size(), 0.0); // next = step · acc
        for (int i = 0; i < T; ++i)
            for (int k = 0; k < T; ++k) {
                const double s = step[static_cast<size_t>(i) * T + k];
                if (s == 0.0) continue;
                const double* src = acc.data() + static_cast<size_t>(k) * T;
                double* dst = next.data() + static_cast<size_t>(i) * T;
                for (int j = 0; j < T; ++j) dst[j] += s * src[j];
            }
        acc.swap(next);
    }
    if (acc.empty()) throw Error(ErrorKind::Missing, "", "encoder attention", "no encoder maps were recorded");
    return acc;
}

Tensor attention_rollout(const std::vector<AttentionMap>& maps, const TokenLayout& layout, const RolloutOptions& opt) {
    // Row 0 of Ã = Â_L · … · Â_1 is e₀ᵀ·Â_L·…·Â_1: one vector–matrix product per layer, last layer
    // first — O(L·T²) instead of the O(L·T³) of the full product.
    std::vector<const AttentionMap*> enc;
    for (const AttentionMap& m : maps)
        if (m.site == Site::Encoder) enc.push_back(&m);
    if (enc.empty()) throw Error(ErrorKind::Missing, "", "encoder attention", "no encoder maps were recorded");
    const int T = enc.front()->n_q;
    if (layout.n_cls < 1)
        throw Error(ErrorKind::Unsupported, "", "token layout",
                    "attention rollout follows the CLS token's row and this model has no CLS token (SigLIP pools with its "
                    "attention-pooling head: see its pool attention)");
    if (T != layout.n_tokens())
        throw Error(ErrorKind::Mismatch, "", "token layout", std::to_string(T) + " tokens recorded but the layout has " + std::to_string(layout.n_tokens()));
    std::vector<double> v(static_cast<size_t>(T), 0.0), next(v.size()); // (T) the CLS row so far
    v[0] = 1.0;
    for (auto it = enc.rbegin(); it != enc.rend(); ++it) {
        if ((*it)->n_q != T) throw Error(ErrorKind::Mismatch, "", "layer " + std::to_string((*it)->layer), "token count differs between layers");
        const std::vector<double> step = rollout_step(**it, opt); // (T, T)
        std::fill(next.begin(), next.end(), 0.0);
        for (int k = 0; k < T; ++k) {
            const double s = v[static_cast<size_t>(k)];
            if (s == 0.0) continue;
            const double* row = step.data() + static_cast<size_t>(k) * T;
            for (int j = 0; j < T; ++j) next[static_cast<size_t>(j)] += s * row[j];
        }
        v.swap(next);
    }
    Tensor out({layout.grid_h, layout.grid_w});
    for (int i = 0; i < layout.grid_h * layout.grid_w; ++i) out.data[i] = static_cast<float>(v[layout.n_prefix() + i]);
    return out;
}

} // namespace attnscope::analysis
