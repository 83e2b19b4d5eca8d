#include "core/models/token_taps.h"

#include <cmath>
#include <cstdint>

namespace attnscope {

void token_norms(const float* x, int n_tok, int dim, float* out) {
    for (int t = 0; t < n_tok; ++t) {
        const float* row = x + static_cast<int64_t>(t) * dim;
        double s = 0;
        for (int i = 0; i < dim; ++i) s += static_cast<double>(row[i]) * row[i];
        out[t] = static_cast<float>(std::sqrt(s));
    }
}

} // namespace attnscope
