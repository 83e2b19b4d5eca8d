// safetensors reader: memory-mapped, header validated like the reference reader
// (sorted contiguous offsets, sizes = numel·dtype size, whole file covered, no duplicates).
#pragma once

#include "core/io/weights.h"

#include <map>

namespace attnscope {

class MappedFile {
public:
    explicit MappedFile(const std::string& path); // throws Error(Io)
    MappedFile(const uint8_t* data, size_t size);  // borrows caller-owned bytes (never unmapped)
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    // Drops the mapped pages covering [p, p + n) from this process (MADV_DONTNEED; they stay in the
    // page cache and fault back in if read again, so this never changes what is read). Loaders call it
    // once a tensor is converted, so the checkpoint's pages and their float32 copy are never all
    // resident at once (peak RSS ≈ the weights once, not twice). No-op for borrowed bytes.
    void release(const uint8_t* p, size_t n) const;
    // Maps [p, p + n) in one call (MADV_POPULATE_READ) before it is read: one batch instead of a page
    // fault every few pages. No-op where the kernel lacks it and for borrowed bytes.
    void prefault(const uint8_t* p, size_t n) const;

private:
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    bool mapped_ = false;
};

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
    Tensor load(const std::string& name) const override;
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

private:
    struct Entry {
        TensorInfo info;
        uint64_t begin = 0, end = 0; // relative to the data section
    };
    const Entry& entry(const std::string& name) const;
    void parse();

    std::string path_;
    MappedFile file_;
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

private:
    const SafeTensorsFile& shard_of(const std::string& name) const;
    std::string path_;
    std::vector<std::unique_ptr<SafeTensorsFile>> shards_;
    std::map<std::string, size_t> owner_;
};

} // namespace attnscope
