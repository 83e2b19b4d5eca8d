// Reading the head-ablation references (tests/fixtures/ablation/*.json, written by
// tools/reference/make_ablation_fixtures.py) in the intervention, importance and CLI tests.
#pragma once

#include "core/interventions.h"
#include "core/tensor/tensor.h"
#include "tests/support/fixture_models.h"
#include "tests/support/tensor_compare.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnscope::testing {

// A JSON array of numbers (any nesting) as floats, row-major.
inline void flatten(const nlohmann::json& j, std::vector<float>& out) {
    if (j.is_array())
        for (const nlohmann::json& e : j) flatten(e, out);
    else
        out.push_back(j.get<float>());
}

// max |got − expected| (printed with `label`); 1e30 when the sizes differ.
inline double diff_to(const Tensor& got, const nlohmann::json& expected, const std::string& label) {
    std::vector<float> e;
    flatten(expected, e);
    if (static_cast<int64_t>(e.size()) != got.numel()) return 1e30;
    return max_abs_diff(got.ptr(), e.data(), got.numel(), label);
}

// A reference case's {"heads": [{site, layer, head}], "mode", "masked_patches"}.
inline Interventions interventions_of(const nlohmann::json& c) {
    Interventions iv;
    for (const nlohmann::json& h : c["heads"]) {
        HeadRef r;
        if (!site_from_name(h["site"].get<std::string>(), r.site)) throw std::runtime_error("bad site in fixture");
        r.layer = h["layer"];
        r.head = h["head"];
        iv.ablated.push_back(r);
    }
    if (!ablation_mode_from_name(c["mode"].get<std::string>(), iv.mode)) throw std::runtime_error("bad mode in fixture");
    iv.masked_patches = c["masked_patches"].get<std::vector<int>>();
    return iv;
}

// The real-model input the reference script builds the same way: sin(0.031·x + 0.047·y + 1.3·c)·1.5, [3, h, w].
inline Tensor analytic_input(int h, int w) {
    Tensor t({3, h, w});
    for (int c = 0; c < 3; ++c)
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x)
                t.data[(static_cast<size_t>(c) * h + y) * w + x] = static_cast<float>(std::sin(0.031 * x + 0.047 * y + 1.3 * c) * 1.5);
    return t;
}

} // namespace attnscope::testing
