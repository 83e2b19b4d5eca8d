// Helpers shared by the tests: max |a − b| with a printed report, fixture paths.
#pragma once

#include "core/models/model.h"
#include "core/tensor/tensor.h"

#include <string>

namespace attnscope::testing {

// Max absolute difference; prints "label: maxdiff = … over N values" (llm.c style).
double max_abs_diff(const float* a, const float* b, int64_t n, const std::string& label);
double max_abs_diff(const Tensor& a, const Tensor& b, const std::string& label);
// max |a − b| / max |b| (the absolute difference when b is all zeros), printed with both; shapes must match.
double rel_max_diff(const float* a, const float* b, int64_t n, const std::string& label);
double rel_max_diff(const Tensor& a, const Tensor& b, const std::string& label);

std::string fixture(const std::string& rel);      // tests/fixtures/<rel>
std::string shared_path(const std::string& rel);  // ../shared/<rel> ("" when ../shared is absent)

// t[i]: the i-th slice along the first axis.
inline Tensor slice(const Tensor& t, int64_t i) {
    const int64_t n = t.numel() / t.size(0);
    return Tensor(Shape(t.shape.begin() + 1, t.shape.end()), std::vector<float>(t.data.begin() + i * n, t.data.begin() + (i + 1) * n));
}

// A token layout [CLS × n_cls, REG × n_reg, gh × gw patches of `patch` pixels].
inline TokenLayout token_layout(int n_cls, int n_reg, int gh, int gw, int patch) {
    TokenLayout l;
    l.n_cls = n_cls;
    l.n_reg = n_reg;
    l.grid_h = gh;
    l.grid_w = gw;
    l.patch_size = patch;
    return l;
}

} // namespace attnscope::testing

#include <map>

namespace attnscope::testing {
// Writes a F32 safetensors file (for tests that build or tamper with checkpoints).
void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors);
// Copies every tensor of a checkpoint into a map (to tamper with and write back).
std::map<std::string, Tensor> read_all(const std::string& safetensors_path);
} // namespace attnscope::testing
