// A plain dense float32 tensor: shape + row-major (C order) data. No strides, no views:
// everything that reaches a model has been materialised contiguously by the loaders.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace attnscope {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape); // "[3, 224, 224]"

// A Tensor's floats. Either owned (a std::vector), or borrowed: read-only floats owned by someone else
// — a float32 tensor served straight from a memory-mapped checkpoint — kept alive by `keeper` (shared
// ownership of the mapping, so a borrowed tensor may outlive the loader that made it). Reading never
// copies. Any mutable access (non-const data(), operator[], begin(), resize, …) first copies borrowed
// floats into owned storage (copy on write), so a Tensor behaves as a value whatever its storage; a
// pointer obtained before such an access then refers to the old floats.
class FloatData {
public:
    FloatData() = default;
    explicit FloatData(size_t n, float value = 0.0f) : vec_(n, value) {}
    FloatData(std::vector<float> v) : vec_(std::move(v)) {} // NOLINT: implicit, as the vector it replaces
    FloatData(std::initializer_list<float> l) : vec_(l) {}
    FloatData(const FloatData&) = default;
    FloatData& operator=(const FloatData&) = default;
    FloatData(FloatData&& o) noexcept
        : vec_(std::move(o.vec_)), ext_(o.ext_), ext_n_(o.ext_n_), keeper_(std::move(o.keeper_)) {
        o.vec_.clear(), o.drop();
    }
    FloatData& operator=(FloatData&& o) noexcept {
        if (this != &o) {
            vec_ = std::move(o.vec_), ext_ = o.ext_, ext_n_ = o.ext_n_, keeper_ = std::move(o.keeper_);
            o.vec_.clear(), o.drop();
        }
        return *this;
    }
    // Borrows n floats at p (4-byte aligned); `keeper` keeps them alive and unchanged.
    static FloatData borrow(const float* p, size_t n, std::shared_ptr<const void> keeper);

    bool borrowed() const { return ext_ != nullptr; }
    // How many borrowed tensors were copied by copy on write in this process so far (diagnostics, tests:
    // a forward pass must never copy a weight).
    static uint64_t copies_made();
    size_t size() const { return ext_ ? ext_n_ : vec_.size(); }
    bool empty() const { return size() == 0; }
    const float* data() const { return ext_ ? ext_ : vec_.data(); }
    float* data() { return own().data(); }
    const float& operator[](size_t i) const { return data()[i]; }
    float& operator[](size_t i) { return own()[i]; }
    const float* begin() const { return data(); }
    const float* end() const { return data() + size(); }
    float* begin() { return data(); }
    float* end() { return own().data() + vec_.size(); }
    const float* cbegin() const { return begin(); }
    const float* cend() const { return end(); }

    void resize(size_t n, float value = 0.0f) { own().resize(n, value); }
    void assign(size_t n, float value) { drop(), vec_.assign(n, value); }
    template <typename It> void assign(It first, It last) { // [first, last) may be this one's own floats
        std::vector<float> v(first, last);
        drop(), vec_ = std::move(v);
    }
    void push_back(float v) { own().push_back(v); }
    void clear() { drop(), vec_.clear(); }

    // The floats as a std::vector: a copy (moved out when owned and an rvalue).
    std::vector<float> vector() const& { return std::vector<float>(begin(), end()); }
    std::vector<float> vector() && { return ext_ ? vector() : std::move(vec_); }
    operator std::vector<float>() const& { return vector(); }              // NOLINT: implicit (as before)
    operator std::vector<float>() && { return std::move(*this).vector(); } // NOLINT

    friend bool operator==(const FloatData& a, const FloatData& b) { return equal(a.data(), a.size(), b.data(), b.size()); }
    friend bool operator==(const FloatData& a, const std::vector<float>& b) { return equal(a.data(), a.size(), b.data(), b.size()); }

private:
    static bool equal(const float* a, size_t na, const float* b, size_t nb);
    std::vector<float>& own() { // copies borrowed floats into vec_ first
        if (ext_) detach();
        return vec_;
    }
    void detach();
    void drop() { ext_ = nullptr, ext_n_ = 0, keeper_.reset(); }

    std::vector<float> vec_;
    const float* ext_ = nullptr; // borrowed floats (null: owned)
    size_t ext_n_ = 0;
    std::shared_ptr<const void> keeper_;
};

struct Tensor {
    Shape shape;
    FloatData data; // numel(shape) floats, C order

    Tensor() = default;
    explicit Tensor(Shape s) : shape(std::move(s)), data(static_cast<size_t>(shape_numel(shape)), 0.0f) {}
    Tensor(Shape s, FloatData d) : shape(std::move(s)), data(std::move(d)) {}

    int64_t numel() const { return static_cast<int64_t>(data.size()); }
    int dim() const { return static_cast<int>(shape.size()); }
    int64_t size(int i) const { return shape[static_cast<size_t>(i < 0 ? i + dim() : i)]; }
    float* ptr() { return data.data(); }
    const float* ptr() const { return data.data(); }
    bool empty() const { return data.empty(); }
};

} // namespace attnscope
