// What a forward pass hands out about its tokens besides the attention maps (RunResult::token_norms).
#pragma once

namespace attnscope {

// out[t] = ‖x[t, :]‖₂ for the n_tok rows of x (n_tok, dim), accumulated in double.
void token_norms(const float* x, int n_tok, int dim, float* out);

} // namespace attnscope
