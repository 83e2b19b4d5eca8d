// The analysis references' inputs, read by the core analysis tests and the GUI views' tests alike:
// tests/fixtures/analysis/<name>/meta.json (written by tools/reference/make_analysis_fixtures.py: the
// token layout, sizes, parameters) and PyTorch's recorded maps tests/fixtures/vit/<name>/attn_layerNN.npy.
#pragma once

#include "core/io/npy.h"
#include "core/models/model.h"
#include "core/tensor/recorder.h"
#include "tests/support/tensor_compare.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace attnscope::testing {

struct AnalysisReference {
    nlohmann::json meta;
    TokenLayout layout;
    std::vector<AttentionMap> maps; // one encoder map per layer, [heads, T, T]
};

inline AnalysisReference read_analysis_reference(const std::string& name) {
    const std::filesystem::path ref = fixture("analysis/" + name), src = fixture("vit/" + name);
    AnalysisReference r;
    r.meta = nlohmann::json::parse(std::ifstream(ref / "meta.json"));
    r.layout.n_cls = r.meta["n_cls"];
    r.layout.n_dist = r.meta["n_dist"];
    r.layout.n_reg = r.meta["n_reg"];
    r.layout.grid_h = r.meta["grid_h"];
    r.layout.grid_w = r.meta["grid_w"];
    r.layout.patch_size = r.meta["patch"];
    for (int il = 0; il < r.meta["layers"].get<int>(); ++il) {
        char file[32];
        std::snprintf(file, sizeof file, "attn_layer%02d.npy", il);
        const Tensor a = read_npy((src / file).string());
        AttentionMap m;
        m.layer = il;
        m.n_heads = static_cast<int>(a.size(0));
        m.n_q = static_cast<int>(a.size(1));
        m.n_k = static_cast<int>(a.size(2));
        m.probs = a.data;
        r.maps.push_back(std::move(m));
    }
    return r;
}

} // namespace attnscope::testing
