// See run_memory.h.
#include "core/run_memory.h"

#include "core/error.h"
#include "core/limits.h"
#include "core/models/detr.h"
#include "core/models/vit_parts.h"
#include "core/models/yolos.h"

#include <string>

namespace attnscope {

namespace {
constexpr uint64_t kSmall = uint64_t(1) << 20; // below this only an explicit limit is consulted (as require_memory)
}

uint64_t recorded_map_bytes(const Model& model, int64_t H, int64_t W, RecordPolicy policy) {
    if (policy == RecordPolicy::None || H < 1 || W < 1) return 0;
    const bool encoder = policy != RecordPolicy::SkipEncoder;
    uint64_t floats = 0;
    auto add = [&](uint64_t maps, uint64_t heads, uint64_t q, uint64_t k) {
        floats = sat_add(floats, sat_mul(sat_mul(maps, heads), sat_mul(q, k)));
    };
    const ModelInfo& info = model.info();
    if (const auto* detr = dynamic_cast<const DetrModel*>(&model)) {
        // ResNet: stem conv (7×7, stride 2, pad 3), max-pool (3×3, 2, 1) and the stride-2 first block of
        // stages 2–4 (3×3 pad 1, or 1×1 pad 0: the same size) each take n to (n − 1) / 2 + 1; DC5 keeps stage 4's.
        const DetrConfig& c = detr->config();
        int64_t h = H, w = W;
        for (int i = 0; i < (c.dc5 ? 4 : 5); ++i) h = (h - 1) / 2 + 1, w = (w - 1) / 2 + 1;
        const uint64_t S = uint64_t(h) * uint64_t(w), Q = uint64_t(c.n_queries);
        if (encoder) add(uint64_t(c.n_enc), uint64_t(c.n_heads), S, S);
        add(uint64_t(c.n_dec), uint64_t(c.n_heads), Q, Q);
        add(uint64_t(c.n_dec), uint64_t(c.n_heads), Q, S);
        return sat_mul(floats, sizeof(float));
    }
    const int P = info.patch_size;
    if (P < 1 || info.n_layers < 1 || info.n_heads < 1) return 0;
    uint64_t before = 1, after = 0; // tokens before and after the patch grid
    if (const VitConfig* v = vit_config(model)) before = uint64_t(v->n_cls + v->n_dist + v->n_reg);
    else if (const auto* y = dynamic_cast<const YolosModel*>(&model)) after = uint64_t(y->config().n_det);
    else if (info.family == Family::Siglip) before = 0;
    const uint64_t T = before + uint64_t(H / P) * uint64_t(W / P) + after;
    if (encoder) add(uint64_t(info.n_layers), uint64_t(info.n_heads), T, T);
    if (info.family == Family::Siglip) add(1, uint64_t(info.n_heads), 1, T); // the pooling probe's row
    return sat_mul(floats, sizeof(float));
}

uint64_t map_memory_margin(uint64_t available) { return available / 8; }

void require_memory_for_maps(const Model& model, const Tensor& input, RecordPolicy policy, uint64_t reusable) {
    if (input.dim() != 3) return; // the model reports a malformed input itself
    const int64_t H = input.size(1), W = input.size(2);
    const uint64_t bytes = recorded_map_bytes(model, H, W, policy);
    const uint64_t need = bytes > reusable ? bytes - reusable : 0;
    const uint64_t limit = memory_limit_override();
    if (need == 0 || (need <= kSmall && !limit)) return;
    const uint64_t avail = available_memory();
    const uint64_t usable = avail - map_memory_margin(avail);
    if (need <= usable) return;
    const ModelInfo& info = model.info();
    std::string name = family_name(info.family);
    if (!info.architecture.empty()) name += " (" + info.architecture + ")";
    const std::string what = info.family == Family::Detr
                                 ? "a smaller input size (preprocessor_config.json: a lower shortest_edge / longest_edge) "
                                   "or record fewer maps (run --no-encoder-maps keeps only the decoder's)"
                                 : "a smaller input size (preprocessor_config.json: a lower size / shortest_edge) or a "
                                   "model with fewer layers or heads";
    throw Error(ErrorKind::Unsupported, info.source, "attention maps",
                name + ": recording the attention maps of a " + std::to_string(H) + "×" + std::to_string(W) +
                    " input needs " + human_bytes(need) + " of memory, but only " + human_bytes(usable) +
                    " is available (" + human_bytes(avail) + (limit && limit == avail ? " set by ATTNSCOPE_MEMORY_LIMIT" : " free") +
                    ", less a " + human_bytes(map_memory_margin(avail)) + " margin); refusing before the run. To reduce it, use " + what);
}

} // namespace attnscope
