// Attention rollout (Abnar & Zuidema 2020), with vit-explain's head fusion and discard ratio.
#pragma once

#include "core/analysis/heads.h"

#include <vector>

namespace attnscope::analysis {

struct RolloutOptions {
    HeadFusion fusion = HeadFusion::Mean;
    double discard_ratio = 0.0; // in [0, 1)
};

// One layer's step matrix [T, T]: fuse heads; zero the k = floor(discard_ratio·T²) smallest entries
// of the fused matrix (ascending, ties by flat index), except those in the CLS row or column
// (token 0) — vit-explain's rule, with its index-0 exception widened to the CLS row/column;
// Â = 0.5·A + 0.5·I; each ROW divided by its sum.
std::vector<double> rollout_step(const AttentionMap& m, const RolloutOptions& opt);

// Ã = Â_L · … · Â_1 over the encoder maps (in layer order); [T, T].
std::vector<double> rollout_matrix(const std::vector<AttentionMap>& maps, const RolloutOptions& opt);

// The rollout map: row 0 (CLS) of Ã without the prefix columns (CLS, DIST, registers), reshaped
// [grid_h, grid_w]. Not rescaled. Only Site::Encoder maps are used.
Tensor attention_rollout(const std::vector<AttentionMap>& maps, const TokenLayout& layout, const RolloutOptions& opt = {});

} // namespace attnscope::analysis
