// The colormaps, one table each, shared by the CLI's PNG renderer (core/analysis/render) and the GUI
// (ui/convert): the same map has the same colours everywhere. No Qt, no OpenCV.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace attnscope::analysis {

enum class Colormap { Viridis, Inferno, Magma, Cividis, Jet, Grey };

const std::vector<std::string>& colormap_names();              // "viridis", "inferno", … in enum order
bool colormap_from_name(const std::string& name, Colormap& out); // case-insensitive; false when unknown
const char* colormap_name(Colormap cm);

// 256 opaque colours 0xRRGGBB, index 0 = low end.
const std::array<uint32_t, 256>& colormap_lut(Colormap cm);
// Index into the table of v within lo…hi (rounded; lo == hi or NaN → 0; clamped to 0…255).
int colormap_index(double v, double lo, double hi);

} // namespace attnscope::analysis
