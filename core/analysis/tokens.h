// What the tokens carry (issue 17; "Vision Transformers Need Registers", DINOv2 Fig. 1): attention
// sinks from the recorded maps, high-norm tokens of the residual stream (RunResult::token_norms), and
// the PCA of the final-norm patch tokens (RunResult::final_tokens). Pure functions, no Qt.
#pragma once

#include "core/models/model.h"

#include <array>
#include <string>
#include <vector>

namespace attnscope::analysis {

// "cls", "dist", "reg<i>", "patch" or "det<i>" (YOLOS detection token i) for token t of the layout.
std::string token_kind(const TokenLayout& layout, int t);

// One head of one layer: mean over queries of the attention each key receives; the key with the
// largest mean (first on ties) and that mean; and the mean over queries of the total attention on
// every token that is not a patch (TokenLayout::is_patch false: CLS, DIST, registers before the patches,
// YOLOS's detection tokens after them; 0 when there are none, as for DETR and SigLIP).
struct SinkStats {
    int layer = 0, head = 0;
    int top_key = 0;
    double top_share = 0, non_patch_share = 0;
};
// Every head of `m` (queries: all rows of the map). Throws Error(Argument) when the map is not
// [heads, tokens, tokens] of `layout`.
std::vector<SinkStats> attention_sinks(const AttentionMap& m, const TokenLayout& layout);
// "layer,head,top_key,top_key_kind,top_key_row,top_key_col,top_key_share,non_patch_share" + one row per head
// (row/col of the patch grid, empty for prefix and detection tokens).
std::string sinks_csv(const std::vector<SinkStats>& s, const TokenLayout& layout);

// High-norm tokens: norm > k × the layer's median patch norm (median of the patch tokens only, the mean
// of the two middle values for an even count). Prefix (and detection) tokens are listed too when above.
struct NormOutlier {
    int layer = 0, token = 0;
    double norm = 0, median_patch = 0;
};
// norms: [layers, tokens] (RunResult::token_norms).
std::vector<double> median_patch_norms(const Tensor& norms, const TokenLayout& layout);
std::vector<NormOutlier> norm_outliers(const Tensor& norms, const TokenLayout& layout, double k);
// "layer,token,kind,row,col,norm,median_patch_norm,ratio" + one row per outlier.
std::string norm_outliers_csv(const std::vector<NormOutlier>& o, const TokenLayout& layout);
// [layers, grid_h, grid_w]: the patch tokens' norms per layer.
Tensor patch_norm_grids(const Tensor& norms, const TokenLayout& layout);

// DINOv2's figure: the patch tokens of `final_tokens` [tokens, hidden], centred over the patches, on
// their first three principal axes. Signs: axes 2 and 3 have their largest coefficient positive;
// axis 1 is oriented so that the mean projection of the border patches (first/last row and column) is
// ≤ 0 — photographs frame their subject, the border is most often background — so that the
// foreground mask is "first component > 0" (the patch mean). Grids without interior patches fall back
// to the largest-coefficient rule for axis 1.
struct FeaturePca {
    Tensor image;                  // [grid_h, grid_w, 3], each component min-max scaled to [0, 1]
    Tensor mask;                   // [grid_h, grid_w] 1 = first component > 0 (foreground), else 0
    std::array<double, 3> explained{}; // share of the patch tokens' variance on each axis
};
FeaturePca feature_pca(const Tensor& final_tokens, const TokenLayout& layout);

// One PCA across several images (`dataset`; DINOv2 Fig. 1 computes its PCA jointly over the images of a
// set): the patch tokens of every image added, centred on their joint mean, on the first three principal
// axes of all of them together. Signs as feature_pca, with "the border patches" those of every image;
// each component is min-max scaled over all images together, so a colour means the same in every image.
// Images may differ in grid size but not in hidden size. Keeps every image's patch tokens (float) until
// finish(): N patches × hidden × 4 bytes per image.
class JointFeaturePca {
public:
    // Error(Argument) when final_tokens is not [layout tokens, hidden] with ≥ 1 patch, or its hidden size
    // differs from the first image's.
    void add(const Tensor& final_tokens, const TokenLayout& layout);
    size_t size() const { return grids_.size(); }
    // Per image, in the order added; explained = shares of the joint variance. Error(Argument) with fewer
    // than 2 patches in all.
    std::vector<FeaturePca> finish() const;

private:
    int dim_ = 0;
    std::vector<std::vector<float>> patches_; // per image: (grid_h·grid_w, dim) row-major
    std::vector<std::pair<int, int>> grids_;  // (grid_h, grid_w)
};

} // namespace attnscope::analysis
