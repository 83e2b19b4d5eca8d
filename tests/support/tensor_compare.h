// Helpers shared by the tests: max |a − b| with a printed report, fixture paths.
#pragma once

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

} // namespace attnscope::testing

#include <map>

namespace attnscope::testing {
// Writes a F32 safetensors file (for tests that build or tamper with checkpoints).
void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors);
// Copies every tensor of a checkpoint into a map (to tamper with and write back).
std::map<std::string, Tensor> read_all(const std::string& safetensors_path);
} // namespace attnscope::testing
