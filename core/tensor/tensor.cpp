#include "core/tensor/tensor.h"

#include <algorithm>
#include <atomic>

namespace attnscope {

int64_t shape_numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::string shape_str(const Shape& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

FloatData FloatData::borrow(const float* p, size_t n, std::shared_ptr<const void> keeper) {
    FloatData d;
    if (n == 0) return d;
    d.ext_ = p;
    d.ext_n_ = n;
    d.keeper_ = std::move(keeper);
    return d;
}

namespace {
std::atomic<uint64_t> g_copies{0};
}

uint64_t FloatData::copies_made() { return g_copies.load(); }

void FloatData::detach() {
    g_copies.fetch_add(1, std::memory_order_relaxed);
    vec_.assign(ext_, ext_ + ext_n_);
    drop();
}

bool FloatData::equal(const float* a, size_t na, const float* b, size_t nb) {
    return na == nb && std::equal(a, a + na, b);
}

} // namespace attnscope
