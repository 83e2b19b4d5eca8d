#include "core/tensor/recorder.h"

namespace attnscope {

const char* site_name(Site site) {
    switch (site) {
    case Site::Encoder: return "encoder";
    case Site::DecoderSelf: return "decoder_self";
    case Site::DecoderCross: return "decoder_cross";
    }
    return "unknown";
}

float* RecordAll::acquire(Site site, int layer, int n_heads, int n_q, int n_k) {
    if (skip_encoder_ && site == Site::Encoder) return nullptr;
    AttentionMap& m = maps_.emplace_back();
    m.site = site;
    m.layer = layer;
    m.n_heads = n_heads;
    m.n_q = n_q;
    m.n_k = n_k;
    m.probs.resize(static_cast<size_t>(n_heads) * n_q * n_k);
    return m.probs.data();
}

} // namespace attnscope
