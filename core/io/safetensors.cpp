#include "core/io/safetensors.h"

#include "core/error.h"
#include "core/limits.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

namespace attnscope {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr uint64_t kMaxHeader = 100'000'000; // the reference reader's MAX_HEADER_SIZE
constexpr uint64_t kMaxDim = uint64_t(1) << 48;

std::string base(const std::string& path) { return fs::path(path).filename().string(); }

bool parse_dtype(const std::string& s, DType& out) {
    static const std::pair<const char*, DType> table[] = {
        {"F64", DType::F64}, {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16},
        {"I64", DType::I64}, {"I32", DType::I32}, {"I16", DType::I16}, {"I8", DType::I8},
        {"U8", DType::U8},   {"BOOL", DType::BOOL}};
    for (const auto& [name, t] : table)
        if (s == name) {
            out = t;
            return true;
        }
    return false;
}

} // namespace

SafeTensorsFile::SafeTensorsFile(const std::string& path) : path_(path), file_(std::make_shared<MappedFile>(path, /*share=*/true)) { parse(); }

SafeTensorsFile::SafeTensorsFile(const std::string& name, const uint8_t* data, size_t size)
    : path_(name), file_(std::make_shared<MappedFile>(data, size)) {
    parse();
}

void SafeTensorsFile::parse() {
    const std::string name = base(path_);
    if (file_->size() < 8) throw Error(ErrorKind::Format, name, "", "file is shorter than the 8-byte header length");
    uint64_t n = 0;
    std::memcpy(&n, file_->data(), 8); // little-endian host assumed (x86-64, aarch64)
    if (n > kMaxHeader) throw Error(ErrorKind::Format, name, "header", "header length " + std::to_string(n) + " exceeds 100 MB");
    if (n > file_->size() - 8)
        throw Error(ErrorKind::Format, name, "header",
                    "header length " + std::to_string(n) + " runs past end of file (" + std::to_string(file_->size()) + " bytes)");
    data_start_ = 8 + n;

    json header;
    try {
        header = json::parse(file_->data() + 8, file_->data() + 8 + n);
    } catch (const json::exception& e) {
        throw Error(ErrorKind::Format, name, "header", std::string("invalid JSON: ") + e.what());
    }
    if (!header.is_object()) throw Error(ErrorKind::Format, name, "header", "header is not a JSON object");

    std::vector<const Entry*> by_offset;
    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string& key = it.key();
        if (key == "__metadata__") {
            if (!it->is_object()) throw Error(ErrorKind::Format, name, key, "__metadata__ is not an object");
            for (auto m = it->begin(); m != it->end(); ++m) {
                if (!m->is_string()) throw Error(ErrorKind::Format, name, "__metadata__." + m.key(), "value is not a string");
                metadata_[m.key()] = m->get<std::string>();
            }
            continue;
        }
        const std::string field = "tensor '" + key + "'";
        const json& t = *it;
        if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") || !t.contains("data_offsets"))
            throw Error(ErrorKind::Format, name, field, "needs dtype, shape and data_offsets");
        if (!t["dtype"].is_string()) throw Error(ErrorKind::Format, name, field, "dtype is not a string");
        Entry e;
        e.info.name = key;
        const std::string dt = t["dtype"].get<std::string>();
        if (!parse_dtype(dt, e.info.dtype)) throw Error(ErrorKind::Unsupported, name, field, "unsupported dtype " + dt);
        if (!t["shape"].is_array()) throw Error(ErrorKind::Format, name, field, "shape is not an array");
        uint64_t numel = 1;
        for (const json& d : t["shape"]) {
            if (!d.is_number_unsigned() || d.get<uint64_t>() > kMaxDim)
                throw Error(ErrorKind::Format, name, field, "shape has an invalid dimension " + d.dump());
            const uint64_t dim = d.get<uint64_t>();
            if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / 8 / dim)
                throw Error(ErrorKind::Format, name, field, "shape product overflows");
            numel *= dim;
            e.info.shape.push_back(static_cast<int64_t>(dim));
        }
        const json& off = t["data_offsets"];
        if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
            throw Error(ErrorKind::Format, name, field, "data_offsets must be two non-negative integers");
        e.begin = off[0].get<uint64_t>();
        e.end = off[1].get<uint64_t>();
        if (e.end < e.begin) throw Error(ErrorKind::Format, name, field, "data_offsets end before begin");
        const uint64_t expect = numel * static_cast<uint64_t>(dtype_size(e.info.dtype));
        if (e.end - e.begin != expect)
            throw Error(ErrorKind::Format, name, field,
                        "data_offsets span " + std::to_string(e.end - e.begin) + " bytes but shape " +
                            shape_str(e.info.shape) + " of " + dt + " needs " + std::to_string(expect));
        if (e.end > file_->size() - data_start_)
            throw Error(ErrorKind::Format, name, field, "data_offsets run past end of file");
        auto [pos, inserted] = entries_.emplace(key, std::move(e));
        if (!inserted) throw Error(ErrorKind::Format, name, field, "duplicate tensor name");
        by_offset.push_back(&pos->second);
    }
    std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t cursor = 0;
    for (const Entry* e : by_offset) {
        if (e->begin < cursor)
            throw Error(ErrorKind::Format, name, "tensor '" + e->info.name + "'", "data overlaps the previous tensor");
        if (e->begin > cursor)
            throw Error(ErrorKind::Format, name, "tensor '" + e->info.name + "'", "gap in the data before this tensor");
        cursor = e->end;
    }
    if (data_start_ + cursor != file_->size())
        throw Error(ErrorKind::Format, name, "",
                    "data section covers " + std::to_string(cursor) + " bytes but the file holds " +
                        std::to_string(file_->size() - data_start_) + " (truncated or trailing bytes)");
}

std::vector<std::string> SafeTensorsFile::names() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& [k, v] : entries_) out.push_back(k);
    return out;
}

const SafeTensorsFile::Entry& SafeTensorsFile::entry(const std::string& name) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) throw Error(ErrorKind::Missing, base(path_), "tensor '" + name + "'", "not in checkpoint");
    return it->second;
}

TensorInfo SafeTensorsFile::info(const std::string& name) const { return entry(name).info; }

Tensor SafeTensorsFile::load(const std::string& name) const {
    const Entry& e = entry(name);
    const uint8_t* src = file_->data() + data_start_ + e.begin;
    const int64_t numel = shape_numel(e.info.shape);
    // float32 (little-endian, as the format stores it) on a float-aligned offset, from a mapping protected
    // against the file changing (MappedFile::shareable): served straight from the mapping, no copy.
    if (e.info.dtype == DType::F32 && std::endian::native == std::endian::little && numel > 0 && file_->shareable() &&
        reinterpret_cast<uintptr_t>(src) % alignof(float) == 0) {
        file_->prefault(src, e.end - e.begin);
        return Tensor(e.info.shape, FloatData::borrow(reinterpret_cast<const float*>(src), static_cast<size_t>(numel), file_));
    }
    require_memory(sat_mul(static_cast<uint64_t>(numel), 4), base(path_), "tensor '" + name + "'",
                   "loading " + shape_str(e.info.shape) + " as float32");
    Tensor t(e.info.shape);
    file_->prefault(src, e.end - e.begin);
    convert_to_f32(e.info.dtype, src, t.numel(), t.ptr());
    file_->release(src, e.end - e.begin);
    return t;
}

void SafeTensorsFile::release(const std::string& name) const {
    const Entry& e = entry(name);
    file_->release(file_->data() + data_start_ + e.begin, e.end - e.begin);
}

// ---- sharded ----

ShardedSafeTensors::ShardedSafeTensors(const std::string& index_path) : path_(index_path) {
    const std::string name = base(index_path);
    std::ifstream in(index_path);
    if (!in) throw Error(ErrorKind::Io, index_path, "", "cannot open");
    json idx;
    try {
        idx = json::parse(in);
    } catch (const json::exception& e) {
        throw Error(ErrorKind::Format, name, "", std::string("invalid JSON: ") + e.what());
    }
    if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object())
        throw Error(ErrorKind::Format, name, "weight_map", "missing or not an object");
    std::map<std::string, size_t> shard_index;
    const fs::path dir = fs::path(index_path).parent_path();
    for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
        if (!it->is_string()) throw Error(ErrorKind::Format, name, "weight_map." + it.key(), "shard name is not a string");
        const std::string shard = it->get<std::string>();
        if (shard.find('/') != std::string::npos || shard == "..")
            throw Error(ErrorKind::Format, name, "weight_map." + it.key(), "shard name must be a file beside the index");
        auto found = shard_index.find(shard);
        if (found == shard_index.end()) {
            shards_.push_back(std::make_unique<SafeTensorsFile>((dir / shard).string()));
            found = shard_index.emplace(shard, shards_.size() - 1).first;
        }
        if (!shards_[found->second]->has(it.key()))
            throw Error(ErrorKind::Missing, shard, "tensor '" + it.key() + "'", "listed in " + name + " but not in the shard");
        owner_[it.key()] = found->second;
    }
}

std::vector<std::string> ShardedSafeTensors::names() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : owner_) out.push_back(k);
    return out;
}

const SafeTensorsFile& ShardedSafeTensors::shard_of(const std::string& name) const {
    auto it = owner_.find(name);
    if (it == owner_.end()) throw Error(ErrorKind::Missing, base(path_), "tensor '" + name + "'", "not in checkpoint");
    return *shards_[it->second];
}

TensorInfo ShardedSafeTensors::info(const std::string& name) const { return shard_of(name).info(name); }
Tensor ShardedSafeTensors::load(const std::string& name) const { return shard_of(name).load(name); }
void ShardedSafeTensors::release(const std::string& name) const { shard_of(name).release(name); }

} // namespace attnscope
