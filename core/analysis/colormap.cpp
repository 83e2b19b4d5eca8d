#include "core/analysis/colormap.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace attnscope::analysis {
namespace {

using Lut = std::array<uint32_t, 256>;

uint32_t rgb(int r, int g, int b) { return (uint32_t(r) << 16) | (uint32_t(g) << 8) | uint32_t(b); }

// Evenly spaced anchors of matplotlib's perceptual maps (CC0, BIDS/colormap), linear in between.
constexpr unsigned kViridis[] = {0x440154, 0x472d7b, 0x3b528b, 0x2c728e, 0x21908c,
                                 0x27ad81, 0x5dc863, 0xaadc32, 0xfde725};
constexpr unsigned kInferno[] = {0x000004, 0x1b0c42, 0x4b0c6b, 0x781c6d, 0xa52c60,
                                 0xcf4446, 0xed6925, 0xfb9a06, 0xf7d03c, 0xfcffa4};
constexpr unsigned kCividis[] = {0x00204d, 0x00336f, 0x39486b, 0x575c6d, 0x707173,
                                 0x8a8779, 0xa69d75, 0xc4b56c, 0xe4cf5b, 0xffea46};
// ColorBrewer RdBu (11 classes) from blue to red: matplotlib's RdBu_r.
constexpr unsigned kRdBuR[] = {0x053061, 0x2166ac, 0x4393c3, 0x92c5de, 0xd1e5f0, 0xf7f7f7,
                               0xfddbc7, 0xf4a582, 0xd6604d, 0xb2182b, 0x67001f};
// magma at indices 0, 16, …, 240, 255 of the 256-entry table (float RGB).
constexpr float kMagma[][3] = {
    {0.001462f, 0.000466f, 0.013866f}, {0.039608f, 0.031090f, 0.133515f}, {0.113094f, 0.065492f, 0.276784f},
    {0.211718f, 0.061992f, 0.418647f}, {0.316654f, 0.071690f, 0.485380f}, {0.414709f, 0.110431f, 0.504662f},
    {0.512831f, 0.148179f, 0.507648f}, {0.613617f, 0.181811f, 0.498536f}, {0.716387f, 0.214982f, 0.475290f},
    {0.816914f, 0.255895f, 0.436461f}, {0.904281f, 0.319610f, 0.388137f}, {0.960949f, 0.418323f, 0.359630f},
    {0.986700f, 0.535582f, 0.382210f}, {0.996096f, 0.653659f, 0.446213f}, {0.996898f, 0.769591f, 0.534892f},
    {0.992440f, 0.884330f, 0.640099f}, {0.987053f, 0.991438f, 0.749504f}};

Lut lerp_hex(const unsigned* anchors, int n) {
    Lut lut{};
    for (int i = 0; i < 256; ++i) {
        const double t = i / 255.0 * (n - 1);
        const int a = std::min(int(t), n - 2);
        const double f = t - a;
        auto ch = [&](int shift) {
            const double x = ((anchors[a] >> shift) & 255) * (1 - f) + ((anchors[a + 1] >> shift) & 255) * f;
            return int(std::lround(x));
        };
        lut[i] = rgb(ch(16), ch(8), ch(0));
    }
    return lut;
}

Lut magma_lut() {
    Lut lut{};
    constexpr int idx[17] = {0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 255};
    for (int i = 0; i < 256; ++i) {
        const int a = std::min(i / 16, 15);
        const double f = double(i - idx[a]) / (idx[a + 1] - idx[a]);
        auto ch = [&](int c) { return int(std::lround(255 * (kMagma[a][c] * (1 - f) + kMagma[a + 1][c] * f))); };
        lut[i] = rgb(ch(0), ch(1), ch(2));
    }
    return lut;
}

Lut jet_lut() { // MATLAB jet: piecewise linear ramps
    Lut lut{};
    for (int i = 0; i < 256; ++i) {
        const double t = i / 255.0;
        auto ramp = [&](double c) { return int(std::lround(255 * std::clamp(1.5 - std::abs(4 * t - c), 0.0, 1.0))); };
        lut[i] = rgb(ramp(3), ramp(2), ramp(1));
    }
    return lut;
}

Lut grey_lut() {
    Lut lut{};
    for (int i = 0; i < 256; ++i) lut[i] = rgb(i, i, i);
    return lut;
}

} // namespace

const std::vector<std::string>& colormap_names() {
    static const std::vector<std::string> names{"viridis", "inferno", "magma", "cividis", "jet", "grey"};
    return names;
}

bool colormap_from_name(const std::string& name, Colormap& out) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    const auto& all = colormap_names();
    const auto it = std::find(all.begin(), all.end(), lower);
    if (it == all.end()) return false;
    out = Colormap(it - all.begin());
    return true;
}

const char* colormap_name(Colormap cm) {
    if (cm == Colormap::RdBuR) return "rdbu_r";
    const auto& all = colormap_names();
    const size_t i = size_t(cm);
    return i < all.size() ? all[i].c_str() : "?";
}

const Lut& colormap_lut(Colormap cm) {
    static const Lut luts[] = {lerp_hex(kViridis, 9), lerp_hex(kInferno, 10), magma_lut(),
                               lerp_hex(kCividis, 10), jet_lut(), grey_lut(), lerp_hex(kRdBuR, 11)};
    static_assert(std::size(luts) == kColormapCount);
    return luts[std::clamp(int(cm), 0, int(std::size(luts)) - 1)];
}

bool colormap_diverging(Colormap cm) { return cm == Colormap::RdBuR; }

double diverging_range(const float* v, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; ++i)
        if (std::isfinite(v[i])) m = std::max(m, std::abs(double(v[i])));
    return m > 0 ? m : 1e-12;
}

int colormap_index(double v, double lo, double hi) {
    if (!std::isfinite(v) || !(hi > lo)) return 0;
    return std::clamp(int((v - lo) * (255.0 / (hi - lo)) + 0.5), 0, 255);
}

Ticks nice_ticks(double lo, double hi, int target) {
    Ticks t;
    if (!std::isfinite(lo) || !std::isfinite(hi) || !(hi > lo)) return t;
    target = std::max(target, 2);
    const double raw = (hi - lo) / (target - 1), mag = std::pow(10.0, std::floor(std::log10(raw)));
    // The largest nice step that still leaves at least two ticks inside, closest to `target` of them.
    for (double m : {10.0, 5.0, 2.5, 2.0, 1.0, 0.5}) {
        const double step = m * mag;
        const double first = std::ceil(lo / step - 1e-9);
        std::vector<double> v;
        for (double k = first; k * step <= hi + step * 1e-9; k += 1) v.push_back(k == 0 ? 0.0 : k * step);
        if (v.size() >= 2 && (int(v.size()) >= target - 1 || m <= 0.5)) {
            t.values = std::move(v);
            t.step = step;
            return t;
        }
        if (v.size() >= 2) t.values = std::move(v), t.step = step; // the best so far
    }
    return t;
}

std::string tick_label(double v, double step) {
    if (v == 0) return "0";
    const int decimals = step > 0 ? std::clamp(int(std::ceil(-std::log10(step) - 1e-9)), 0, 12) : 3;
    // a step of 2.5 × 10^k needs one more decimal than 10^k
    const double scaled = step * std::pow(10.0, decimals);
    const int extra = std::abs(scaled - std::round(scaled)) > 1e-6 ? 1 : 0;
    const double av = std::abs(v);
    char b[48];
    if (av >= 1e7 || decimals + extra > 6) std::snprintf(b, sizeof b, "%.3g", v); // no 0.0000001 on an axis
    else std::snprintf(b, sizeof b, "%.*f", decimals + extra, v);
    return b;
}

uint32_t head_colour(int i) {
    static constexpr uint32_t kTab10[] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                          0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};
    i = std::max(i, 0);
    const uint32_t c = kTab10[i % 10];
    if (i < 10) return c;
    const double f = 100.0 / (100 + 40 * (i / 10)); // Qt's QColor::darker: the value scaled, hue kept
    auto ch = [&](int shift) { return uint32_t(std::lround(((c >> shift) & 255) * f)) << shift; };
    return ch(16) | ch(8) | ch(0);
}

} // namespace attnscope::analysis
