#include "core/io/weights.h"

#include "core/error.h"
#include "core/io/pth.h"
#include "core/io/safetensors.h"
#include "core/limits.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace attnscope {

std::string file_of(const WeightSource& src) { return std::filesystem::path(src.path()).filename().string(); }

int dtype_size(DType t) {
    switch (t) {
    case DType::F64:
    case DType::I64: return 8;
    case DType::F32:
    case DType::I32: return 4;
    case DType::F16:
    case DType::BF16:
    case DType::I16: return 2;
    case DType::I8:
    case DType::U8:
    case DType::BOOL: return 1;
    }
    return 1;
}

float half_to_float(uint16_t h) {
    const uint32_t sign = (h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { // subnormal: normalise
            int e = -1;
            do {
                ++e;
                mant <<= 1;
            } while ((mant & 0x400u) == 0);
            bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

float bf16_to_float(uint16_t b) {
    const uint32_t bits = static_cast<uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

template <typename T>
static void convert_plain(const void* src, int64_t n, float* dst) {
    const auto* p = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < n; ++i) {
        T v;
        std::memcpy(&v, p + i * sizeof(T), sizeof(T)); // unaligned-safe
        dst[i] = static_cast<float>(v);
    }
}

void convert_to_f32(DType dtype, const void* src, int64_t count, float* dst) {
    if (count <= 0) return; // empty tensors: dst may be null (memcpy(nullptr, …, 0) is undefined)
    const auto* p = static_cast<const uint8_t*>(src);
    switch (dtype) {
    case DType::F32: std::memcpy(dst, src, static_cast<size_t>(count) * 4); return;
    case DType::F64: convert_plain<double>(src, count, dst); return;
    case DType::F16:
    case DType::BF16:
        for (int64_t i = 0; i < count; ++i) {
            uint16_t v;
            std::memcpy(&v, p + i * 2, 2);
            dst[i] = dtype == DType::F16 ? half_to_float(v) : bf16_to_float(v);
        }
        return;
    case DType::I64: convert_plain<int64_t>(src, count, dst); return;
    case DType::I32: convert_plain<int32_t>(src, count, dst); return;
    case DType::I16: convert_plain<int16_t>(src, count, dst); return;
    case DType::I8: convert_plain<int8_t>(src, count, dst); return;
    case DType::U8:
    case DType::BOOL: convert_plain<uint8_t>(src, count, dst); return;
    }
}

Tensor load_checked(const WeightSource& src, const std::string& name, const Shape& expected) {
    const TensorInfo info = src.info(name);
    if (info.shape != expected)
        throw Error(ErrorKind::Mismatch, file_of(src), "tensor '" + name + "'",
                    "shape " + shape_str(info.shape) + " does not match the configuration, expected " +
                        shape_str(expected));
    return src.load(name);
}

void require_memory_for_weights(const WeightSource& src) {
    uint64_t total = 0;
    size_t count = 0;
    for (const std::string& name : src.names()) {
        uint64_t numel = 1;
        for (int64_t d : src.info(name).shape) numel = sat_mul(numel, static_cast<uint64_t>(std::max<int64_t>(d, 0)));
        total = sat_add(total, sat_mul(numel, 4));
        ++count;
    }
    require_memory(total, file_of(src), "",
                   "loading the checkpoint's " + std::to_string(count) + " tensors as float32");
}

std::unique_ptr<WeightSource> open_weights(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorKind::Io, path, "", "cannot open");
    char head[16] = {};
    in.read(head, sizeof head);
    const auto got = static_cast<size_t>(in.gcount());
    if (got >= 1 && head[0] == '{') return std::make_unique<ShardedSafeTensors>(path);
    if (is_torch_save_file(reinterpret_cast<const uint8_t*>(head), got)) return std::make_unique<PthFile>(path);
    return std::make_unique<SafeTensorsFile>(path);
}

} // namespace attnscope
