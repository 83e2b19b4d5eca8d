// The colormaps, one table each, shared by the CLI's PNG renderer (core/analysis/render) and the GUI
// (ui/convert): the same map has the same colours everywhere. No Qt, no OpenCV.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace attnscope::analysis {

// The sequential maps (Viridis … Grey: what a user picks for attention, `colormap_names`), then the
// diverging map for signed data such as a difference A − B: RdBuR (matplotlib's "RdBu_r", ColorBrewer
// RdBu reversed): blue low, near-white middle, red high; centre it on 0 with a symmetric range
// (diverging_range). It is not among colormap_names (nor the GUI's combo, nor --colormap).
enum class Colormap { Viridis, Inferno, Magma, Cividis, Jet, Grey, RdBuR };
inline constexpr int kColormapCount = 7; // every enum value, RdBuR included

const std::vector<std::string>& colormap_names();              // "viridis", "inferno", … "grey" (sequential)
bool colormap_from_name(const std::string& name, Colormap& out); // case-insensitive; false when unknown
const char* colormap_name(Colormap cm);                          // RdBuR: "rdbu_r"
bool colormap_diverging(Colormap cm);
// The symmetric range −m…m, m = the largest finite |v| (1e-12 when all are 0 or none is finite), so that
// 0 falls on the diverging map's middle.
double diverging_range(const float* v, size_t n);

// 256 opaque colours 0xRRGGBB, index 0 = low end.
const std::array<uint32_t, 256>& colormap_lut(Colormap cm);
// Index into the table of v within lo…hi (rounded; lo == hi or NaN → 0; clamped to 0…255).
int colormap_index(double v, double lo, double hi);

// Colour-bar / axis ticks: "nice" values (1, 2, 2.5 or 5 × 10^k apart) inside lo…hi, about `target` of
// them (at least two when the range allows), ascending. Empty when lo…hi is empty or not finite.
struct Ticks {
    std::vector<double> values;
    double step = 0;
};
Ticks nice_ticks(double lo, double hi, int target = 5);
// A tick's text with just the decimals its step needs ("0.07", "0.05", "2.5", "120"; 0 is "0").
std::string tick_label(double v, double step);

// Head / series colours, index 0… (Tableau 10; beyond ten the same hues, darker): 0xRRGGBB. The GUI's
// plots and legends and the CLI's PNGs colour head i alike.
uint32_t head_colour(int i);

} // namespace attnscope::analysis
