// WeightSource: a named collection of tensors from a checkpoint, whatever the container
// (safetensors, sharded safetensors, torch .pth). Models read through this interface only.
#pragma once

#include "core/tensor/tensor.h"

#include <memory>
#include <string>
#include <vector>

namespace attnscope {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };
int dtype_size(DType t);

struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    Shape shape;
};

class WeightSource {
public:
    virtual ~WeightSource() = default;
    virtual const std::string& path() const = 0;            // for error messages
    virtual std::vector<std::string> names() const = 0;      // sorted
    virtual bool has(const std::string& name) const = 0;
    virtual TensorInfo info(const std::string& name) const = 0; // throws Error(Missing) if absent
    virtual Tensor load(const std::string& name) const = 0;     // converted to float32
    // Hint: the caller has copied what it needs of `name` (e.g. folded or stacked it into another tensor, or
    // packed it for the products: vit_pack_weight) and reads it rarely if at all; the source may drop the
    // file's pages of it from memory. Never changes what a later load() or a tensor still holding it reads
    // (dropped pages fault back in from the page cache).
    virtual void release(const std::string& name) const { (void)name; }
};

// The checkpoint's file name (no folder): what errors about its tensors name.
std::string file_of(const WeightSource& src);

// Converts `count` elements of `dtype` starting at `src` (little-endian) to float32.
void convert_to_f32(DType dtype, const void* src, int64_t count, float* dst);
float half_to_float(uint16_t h);
float bf16_to_float(uint16_t b);

// Loads `name` and checks its shape (error names the file, the tensor, expected and found shapes).
Tensor load_checked(const WeightSource& src, const std::string& name, const Shape& expected);

// Refuses (Error(Unsupported) naming the file, the size needed and the memory available) a checkpoint
// whose tensors, converted to float32, would not fit in available_memory(); called before loading.
void require_memory_for_weights(const WeightSource& src);

// Opens a checkpoint file by content: safetensors, or a sharded index (model.safetensors.index.json).
std::unique_ptr<WeightSource> open_weights(const std::string& path);

} // namespace attnscope
