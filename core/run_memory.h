// How much memory a run's recorded attention maps will take, worked out from the model and the input
// size before the forward pass (YOLOS at 800 px or DETR record gigabytes: ~1.7 GB), and the check that
// refuses a run whose maps would not fit with a clear Error instead of running out of memory half-way.
#pragma once

#include "core/models/model.h"
#include "core/session.h"

#include <cstdint>

namespace attnscope {

// Bytes of the float maps one run of `model` on a [3, H, W] input records under `policy` — the sites
// and token counts its forward will hand to the recorder (ViT family: one [heads, T, T] encoder map per
// layer, T = prefix tokens + (H/P)·(W/P) patches (+ YOLOS's detection tokens); SigLIP: + the pooling
// probe's [heads, 1, T]; DETR: encoder [heads, S, S] over the backbone's S cells, decoder self
// [heads, Q, Q] and cross [heads, Q, S]). 0 for RecordPolicy::None and for models it cannot size.
uint64_t recorded_map_bytes(const Model& model, int64_t H, int64_t W, RecordPolicy policy);

// The safety margin kept free: one eighth of what is available (the forward's own buffers, the GUI).
uint64_t map_memory_margin(uint64_t available);

// Throws Error(Unsupported, model source, "attention maps", …) naming the model, the input size, the bytes
// the maps need and what is available (available_memory() less map_memory_margin()), and how to make
// the run smaller, when recorded_map_bytes − `reusable` (map buffers handed back for reuse) does not fit.
// Lower the ceiling for tests with set_memory_limit() or ATTNSCOPE_MEMORY_LIMIT (core/limits.h).
void require_memory_for_maps(const Model& model, const Tensor& input, RecordPolicy policy, uint64_t reusable = 0);

} // namespace attnscope
