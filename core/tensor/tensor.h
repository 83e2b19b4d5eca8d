// A plain dense float32 tensor: shape + row-major (C order) data. No strides, no views:
// everything that reaches a model has been materialised contiguously by the loaders.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attnscope {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape); // "[3, 224, 224]"

struct Tensor {
    Shape shape;
    std::vector<float> data; // numel(shape) floats, C order

    Tensor() = default;
    explicit Tensor(Shape s) : shape(std::move(s)), data(static_cast<size_t>(shape_numel(shape)), 0.0f) {}
    Tensor(Shape s, std::vector<float> d) : shape(std::move(s)), data(std::move(d)) {}

    int64_t numel() const { return static_cast<int64_t>(data.size()); }
    int dim() const { return static_cast<int>(shape.size()); }
    int64_t size(int i) const { return shape[static_cast<size_t>(i < 0 ? i + dim() : i)]; }
    float* ptr() { return data.data(); }
    const float* ptr() const { return data.data(); }
    bool empty() const { return data.empty(); }
};

} // namespace attnscope
