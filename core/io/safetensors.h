// safetensors reader: memory-mapped, header validated like the reference reader
// (sorted contiguous offsets, sizes = numel·dtype size, whole file covered, no duplicates).
#pragma once

#include "core/io/mapped_file.h"
#include "core/io/weights.h"

#include <map>

namespace attnscope {

class SafeTensorsFile final : public WeightSource {
public:
    explicit SafeTensorsFile(const std::string& path);
    // The same reader over bytes already in memory (the caller keeps them alive while this object
    // lives); `name` stands for the file in errors.
    SafeTensorsFile(const std::string& name, const uint8_t* data, size_t size);
    const std::string& path() const override { return path_; }
    std::vector<std::string> names() const override;
    bool has(const std::string& name) const override { return entries_.count(name) != 0; }
    TensorInfo info(const std::string& name) const override;
    Tensor load(const std::string& name) const override; // float32: may borrow the mapping (FloatData)
    void release(const std::string& name) const override;
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

private:
    struct Entry {
        TensorInfo info;
        uint64_t begin = 0, end = 0; // relative to the data section
    };
    const Entry& entry(const std::string& name) const;
    void parse();

    std::string path_;
    std::shared_ptr<const MappedFile> file_; // shared with the tensors that borrow it
    uint64_t data_start_ = 0;
    std::map<std::string, Entry> entries_;
    std::map<std::string, std::string> metadata_;
};

// Several safetensors shards presented as one source (model.safetensors.index.json).
class ShardedSafeTensors final : public WeightSource {
public:
    explicit ShardedSafeTensors(const std::string& index_path);
    const std::string& path() const override { return path_; }
    std::vector<std::string> names() const override;
    bool has(const std::string& name) const override { return owner_.count(name) != 0; }
    TensorInfo info(const std::string& name) const override;
    Tensor load(const std::string& name) const override;
    void release(const std::string& name) const override;

private:
    const SafeTensorsFile& shard_of(const std::string& name) const;
    std::string path_;
    std::vector<std::unique_ptr<SafeTensorsFile>> shards_;
    std::map<std::string, size_t> owner_;
};

} // namespace attnscope
