// AttentionRecorder: where every attention site hands its softmax probabilities.
//
// The attention kernel asks the recorder for a buffer of [heads, q, k] floats *before* it computes
// the scores, writes scores into it, and runs the softmax in place. So a recorded map is written
// exactly once and never copied; a site the recorder does not want gets nullptr and the kernel uses
// its own scratch buffer. This is the one explicit softmax: no fused kernel can hide it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attnscope {

// Pool: an attention-pooling head's learned probe over the final tokens (SigLIP's MAP head), one
// "layer" of [heads, 1, tokens]; a run folder writes it as pool_attention.npy.
enum class Site { Encoder, DecoderSelf, DecoderCross, Pool };
const char* site_name(Site site); // "encoder", "decoder_self", "decoder_cross", "pool"
bool site_from_name(const std::string& name, Site& site); // the inverse; false (site untouched) if unknown

// What the attention kernel does with one head's output — its attention-weighted values, before the
// output projection (issue 18, core/interventions.h): keep it, set it to 0 for every query token, or
// replace it by its mean over the query tokens of this pass.
enum class HeadOutput { Keep, Zero, Mean };

struct AttentionMap {
    Site site = Site::Encoder;
    int layer = 0;
    int n_heads = 0, n_q = 0, n_k = 0;
    std::vector<float> probs; // (n_heads, n_q, n_k); each row sums to 1

    const float* head(int h) const { return probs.data() + static_cast<size_t>(h) * n_q * n_k; }
    float at(int h, int q, int k) const { return probs[(static_cast<size_t>(h) * n_q + q) * n_k + k]; }
};

class AttentionRecorder {
public:
    virtual ~AttentionRecorder() = default;
    // A buffer for (n_heads, n_q, n_k) probabilities, or nullptr when this site is not wanted.
    virtual float* acquire(Site site, int layer, int n_heads, int n_q, int n_k) = 0;
    // Head ablation: asked for every head of every site pass, after its softmax (the recorded
    // probabilities stay the real ones). Called from the kernel's threads: must only read.
    virtual HeadOutput head_output(Site /*site*/, int /*layer*/, int /*head*/) const { return HeadOutput::Keep; }
};

// Records nothing (benchmarks of the bare forward pass).
class NullRecorder final : public AttentionRecorder {
public:
    float* acquire(Site, int, int, int, int) override { return nullptr; }
};

// Keeps every map it is asked for, in the order the model produced them.
//
// Reusable across forward passes: reset() (or recycle() of maps taken earlier) keeps the buffers, and
// the next pass writes its maps straight into them — no allocation, no page faults, no zeroing. A fresh
// 21 MB of maps per ViT-B pass costs ≈ 5,000 page faults plus the zeroing (docs/performance.md);
// the GUI's session and `attnscope-cli bench` keep one RecordAll for all their runs.
class RecordAll final : public AttentionRecorder {
public:
    // skip_encoder: leave out the (large) encoder maps, e.g. for DETR at high resolution.
    explicit RecordAll(bool skip_encoder = false) : skip_encoder_(skip_encoder) {}
    float* acquire(Site site, int layer, int n_heads, int n_q, int n_k) override;

    // The maps of the last pass (moved out: the caller owns them; give them back with recycle()).
    std::vector<AttentionMap> take() { return std::move(maps_); }
    const std::vector<AttentionMap>& maps() const { return maps_; }

    // Starts a new pass: the current maps become spare buffers for the next acquire() calls.
    void reset();
    // Hands maps from an earlier take() back as spare buffers (e.g. when a result is replaced).
    void recycle(std::vector<AttentionMap>&& old);
    void set_skip_encoder(bool skip) { skip_encoder_ = skip; }
    size_t spare_count() const { return spare_.size(); }
    // Drops the spare buffers (memory back to the system).
    void release_spare() { spare_.clear(); spare_.shrink_to_fit(); }

private:
    bool skip_encoder_;
    std::vector<AttentionMap> maps_;
    std::vector<AttentionMap> spare_; // buffers kept from earlier passes
};

} // namespace attnscope
