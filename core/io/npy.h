// NumPy .npy v1 files: write float32 C-order arrays; read float32/float64/int arrays (→ float32).
#pragma once

#include "core/tensor/tensor.h"

#include <cstdint>
#include <string>

namespace attnscope {

// Serialises a float32 C-order array to .npy v1 bytes.
std::string npy_bytes(const float* data, const Shape& shape);
// Writes atomically (temporary file, then rename). Throws Error(Io) naming the file.
void write_npy(const std::string& path, const float* data, const Shape& shape);
inline void write_npy(const std::string& path, const Tensor& t) { write_npy(path, t.ptr(), t.shape); }
// uint8 ('|u1') arrays, e.g. image stacks; atomic like write_npy.
void write_npy_u8(const std::string& path, const uint8_t* data, const Shape& shape);
// Reads '<f4', '<f8', '<i8', '<i4', '|u1', '|b1' in C order. Throws Error(Format) naming the file.
Tensor read_npy(const std::string& path);

// Writes `bytes` to `path` atomically: a temporary beside it, fsync, rename.
void write_file_atomic(const std::string& path, const std::string& bytes);

} // namespace attnscope
