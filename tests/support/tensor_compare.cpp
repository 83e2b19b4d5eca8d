#include "tests/support/tensor_compare.h"

#include <algorithm>
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

double rel_max_diff(const float* a, const float* b, int64_t n, const std::string& label) {
    double d = 0.0, m = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        const double e = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
        if (!(e <= d)) d = e; // NaN propagates as the max
        m = std::max(m, std::fabs(static_cast<double>(b[i])));
    }
    const double r = m > 0.0 ? d / m : d;
    std::printf("  %-48s maxdiff %.3e  max|ref| %.3e  relative %.3e\n", label.c_str(), d, m, r);
    return r;
}

double rel_max_diff(const Tensor& a, const Tensor& b, const std::string& label) {
    if (a.shape != b.shape) {
        std::printf("  %-48s SHAPE MISMATCH %s vs %s\n", label.c_str(), shape_str(a.shape).c_str(), shape_str(b.shape).c_str());
        return INFINITY;
    }
    return rel_max_diff(a.ptr(), b.ptr(), a.numel(), label);
}

std::string fixture(const std::string& rel) { return std::string(ATTNSCOPE_FIXTURES) + "/" + rel; }

std::string shared_path(const std::string& rel) {
    const std::filesystem::path p = std::filesystem::path(ATTNSCOPE_SHARED) / rel;
    return std::filesystem::exists(p) ? p.string() : std::string();
}

} // namespace attnscope::testing

#include "core/io/safetensors.h"

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

namespace attnscope::testing {

void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors) {
    nlohmann::json header = nlohmann::json::object();
    std::string data;
    for (const auto& [name, t] : tensors) {
        const size_t begin = data.size();
        data.append(reinterpret_cast<const char*>(t.ptr()), static_cast<size_t>(t.numel()) * 4);
        header[name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {begin, data.size()}}};
    }
    std::string h = header.dump();
    h.append((8 - h.size() % 8) % 8, ' ');
    const uint64_t n = h.size();
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << h << data;
}

std::map<std::string, Tensor> read_all(const std::string& safetensors_path) {
    SafeTensorsFile f(safetensors_path);
    std::map<std::string, Tensor> out;
    for (const std::string& k : f.names()) out[k] = f.load(k);
    return out;
}

} // namespace attnscope::testing
