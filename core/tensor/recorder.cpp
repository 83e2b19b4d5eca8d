#include "core/tensor/recorder.h"

#include <iterator>

namespace attnscope {

const char* site_name(Site site) {
    switch (site) {
    case Site::Encoder: return "encoder";
    case Site::DecoderSelf: return "decoder_self";
    case Site::DecoderCross: return "decoder_cross";
    case Site::Pool: return "pool";
    }
    return "unknown";
}

bool site_from_name(const std::string& name, Site& site) {
    for (Site s : {Site::Encoder, Site::DecoderSelf, Site::DecoderCross, Site::Pool})
        if (name == site_name(s)) {
            site = s;
            return true;
        }
    return false;
}

float* RecordAll::acquire(Site site, int layer, int n_heads, int n_q, int n_k) {
    if (skip_encoder_ && site == Site::Encoder) return nullptr;
    const size_t need = static_cast<size_t>(n_heads) * n_q * n_k;
    // A spare buffer of exactly this size (the usual case: same model, same input size), else one large
    // enough, else a new one. Spares are taken from the back, i.e. in the order the last pass made them.
    auto pick = spare_.end();
    for (auto it = spare_.rbegin(); it != spare_.rend(); ++it) {
        if (it->probs.size() == need) {
            pick = std::prev(it.base());
            break;
        }
        if (pick == spare_.end() && it->probs.capacity() >= need) pick = std::prev(it.base());
    }
    if (pick != spare_.end()) {
        maps_.push_back(std::move(*pick));
        spare_.erase(pick);
    } else {
        maps_.emplace_back();
    }
    AttentionMap& m = maps_.back();
    m.site = site;
    m.layer = layer;
    m.n_heads = n_heads;
    m.n_q = n_q;
    m.n_k = n_k;
    m.probs.resize(need); // no-op on a spare of the right size: nothing is zeroed or faulted in again
    return m.probs.data();
}

void RecordAll::reset() { recycle(std::move(maps_)); maps_.clear(); }

void RecordAll::recycle(std::vector<AttentionMap>&& old) {
    // Kept in reverse so that acquire(), which scans from the back, meets them in production order.
    for (auto it = old.rbegin(); it != old.rend(); ++it)
        if (it->probs.capacity() > 0) spare_.push_back(std::move(*it));
    old.clear();
}

} // namespace attnscope
