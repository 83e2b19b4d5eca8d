// A small deterministic random generator for the synthetic data sets (scenes are reproducible from
// (seed, index) on every platform; std:: distributions are implementation-defined, so not used).
#pragma once

#include <cmath>
#include <cstdint>

namespace attnscope::data {

// SplitMix64 (Steele, Lea, Flood 2014): passes BigCrush; one 64-bit state.
class Rng {
public:
    explicit Rng(uint64_t seed) : state_(seed) {}
    // Independent stream for item `index` of data set `seed`.
    static Rng for_item(uint64_t seed, uint64_t index) {
        Rng r(seed ^ 0x5851F42D4C957F2DULL);
        r.state_ += index * 0x9E3779B97F4A7C15ULL;
        r.next();
        return r;
    }
    uint64_t next() {
        uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    // Uniform in [0, 1) with 53 random bits.
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    // Uniform integer in [lo, hi] (inclusive); the modulo bias is below 2^-40 for our ranges.
    int integer(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<uint64_t>(hi - lo + 1)); }
    // Standard normal (Box–Muller, one value per call; the pair's second value is kept).
    double normal() {
        if (has_spare_) { has_spare_ = false; return spare_; }
        double u1 = uniform();
        while (u1 <= 0.0) u1 = uniform();
        const double u2 = uniform();
        const double r = std::sqrt(-2.0 * std::log(u1));
        spare_ = r * std::sin(2.0 * M_PI * u2);
        has_spare_ = true;
        return r * std::cos(2.0 * M_PI * u2);
    }

private:
    uint64_t state_;
    double spare_ = 0.0;
    bool has_spare_ = false;
};

} // namespace attnscope::data
