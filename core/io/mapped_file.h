// A read-only memory mapping of a checkpoint file, shared by the loader and by every float32 tensor
// served straight from it (FloatData::borrow, core/tensor/tensor.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace attnscope {

class MappedFile {
public:
    // share: try to make the mapping shareable() (safetensors); else a plain private mapping.
    explicit MappedFile(const std::string& path, bool share = false); // throws Error(Io)
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

    // Whether tensors may be served straight from this mapping (no copy). Only when the mapping is
    // protected against the file changing under it: a read lease (F_SETLEASE) is held on the file, and
    // when another process opens it for writing or truncates it (e.g. a checkpoint saved again in
    // place), the kernel makes that writer wait while this process moves the mapping's contents into
    // a private in-memory copy at the same addresses (a memfd, mremap'ed over the file's pages), then
    // lets go of the lease. The writer proceeds; the tensors keep the values they were loaded with,
    // and reading them can never fault (SIGBUS) on a truncated file. Where no lease can be taken (a file
    // the user does not own, a file system without leases, ATTNSCOPE_MAP_WEIGHTS=0), false: loaders copy.
    bool shareable() const { return slot_ >= 0; }

private:
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    bool mapped_ = false;
    int fd_ = -1;   // kept open while the lease is held
    int slot_ = -1; // index in the lease table, -1: no lease
};

} // namespace attnscope
