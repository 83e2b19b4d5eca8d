// torch.save checkpoints (.pth / .bin / .pt) read without Python: the zip layout (STORED records,
// ZIP64, any archive prefix) and the legacy pre-1.6 stream, through the restricted unpickler.
// Wrapped checkpoints ({"model": …}, {"state_dict": …}) and DataParallel "module." prefixes are
// unwrapped. Tensors honour storage offsets, strides and shared storages.
#pragma once

#include "core/io/pickle.h"
#include "core/io/safetensors.h"
#include "core/io/weights.h"

#include <map>

namespace attnscope {

class PthFile final : public WeightSource {
public:
    explicit PthFile(const std::string& path);
    // The same reader over bytes already in memory (the caller keeps them alive while this object
    // lives); `name` stands for the file in errors.
    PthFile(const std::string& name, const uint8_t* data, size_t size);
    const std::string& path() const override { return path_; }
    std::vector<std::string> names() const override;
    bool has(const std::string& name) const override { return tensors_.count(name) != 0; }
    TensorInfo info(const std::string& name) const override;
    Tensor load(const std::string& name) const override;
    bool legacy() const { return legacy_; }

private:
    struct Span {
        uint64_t offset = 0, size = 0; // bytes in the file
    };
    void read_zip();
    void read_legacy();
    void open();
    void collect(const pickle::Ref& root);
    const pickle::TensorRef& tensor(const std::string& name) const;

    std::string path_, name_;
    MappedFile file_;
    bool legacy_ = false;
    bool big_endian_ = false;
    std::map<std::string, Span> storages_;          // storage key → bytes
    std::map<std::string, pickle::TensorRef> tensors_;
};

bool is_torch_save_file(const uint8_t* head, size_t n);

// torch.save's persistent ids ("storage", StorageClass, key, location, numel) → Storage values, for
// pickle::unpickle; ctx points to a std::string naming the file in errors.
pickle::Ref pth_persistent_load(const pickle::Ref& pid, void* ctx);

} // namespace attnscope
