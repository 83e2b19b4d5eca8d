#include "tests/support/tensor_compare.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

namespace attnscope::testing {

double max_abs_diff(const float* a, const float* b, int64_t n, const std::string& label) {
    double m = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        const double d = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
        if (!(d <= m)) m = d; // NaN propagates as the max
    }
    std::printf("  %-48s maxdiff = %.3e over %lld values\n", label.c_str(), m, static_cast<long long>(n));
    return m;
}

double max_abs_diff(const Tensor& a, const Tensor& b, const std::string& label) {
    if (a.shape != b.shape) {
        std::printf("  %-48s SHAPE MISMATCH %s vs %s\n", label.c_str(), shape_str(a.shape).c_str(), shape_str(b.shape).c_str());
        return INFINITY;
    }
    return max_abs_diff(a.ptr(), b.ptr(), a.numel(), label);
}

std::string fixture(const std::string& rel) { return std::string(ATTNSCOPE_FIXTURES) + "/" + rel; }

std::string shared_path(const std::string& rel) {
    const std::filesystem::path p = std::filesystem::path(ATTNSCOPE_SHARED) / rel;
    return std::filesystem::exists(p) ? p.string() : std::string();
}

} // namespace attnscope::testing
