#include "core/io/pth.h"

#include "core/error.h"
#include "core/limits.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

namespace attnscope {

namespace fs = std::filesystem;
using pickle::Ref;
using Kind = pickle::Value::Kind;

namespace {

const uint8_t kLegacyMagic[] = {0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19};

template <typename T> T rd(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
}

bool is_str(const Ref& v, const char* s) { return v->kind == Kind::Str && v->s == s; }

} // namespace

// Persistent ids: ("storage", StorageClass, key, location, numel[, view_metadata]).
Ref pth_persistent_load(const Ref& pid, void* ctx) {
    const std::string& where = *static_cast<const std::string*>(ctx);
    if (pid->kind != Kind::Tuple || pid->items.empty() || pid->items[0]->kind != Kind::Str)
        throw Error(ErrorKind::Format, where, "persistent id", "unexpected " + pickle::describe(*pid));
    if (pid->items[0]->s != "storage") {
        auto v = std::make_shared<pickle::Value>();
        v->kind = Kind::Opaque;
        v->s = "persistent " + pid->items[0]->s;
        return v;
    }
    if (pid->items.size() < 5) throw Error(ErrorKind::Format, where, "persistent id", "storage id with too few fields");
    const Ref& cls = pid->items[1];
    const Ref& key = pid->items[2];
    const Ref& numel = pid->items[4];
    auto v = std::make_shared<pickle::Value>();
    v->kind = Kind::Storage;
    const bool known = cls->kind == Kind::Global && cls->s.size() > 7 && cls->s.compare(cls->s.size() - 7, 7, "Storage") == 0 &&
                       pickle::storage_dtype(cls->s, v->storage.dtype);
    if (!known) throw Error(ErrorKind::Unsupported, where, "storage", "unsupported storage type " + pickle::describe(*cls));
    if (key->kind != Kind::Str) throw Error(ErrorKind::Format, where, "storage", "storage key is not a string");
    if (numel->kind != Kind::Int || numel->i < 0) throw Error(ErrorKind::Format, where, "storage", "bad element count");
    v->storage.key = key->s;
    v->storage.numel = numel->i;
    return v;
}

bool is_torch_save_file(const uint8_t* head, size_t n) {
    return (n >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) ||
           (n >= sizeof kLegacyMagic && std::memcmp(head, kLegacyMagic, sizeof kLegacyMagic) == 0);
}

PthFile::PthFile(const std::string& path) : path_(path), name_(fs::path(path).filename().string()), file_(path) { open(); }

PthFile::PthFile(const std::string& name, const uint8_t* data, size_t size)
    : path_(name), name_(fs::path(name).filename().string()), file_(data, size) {
    open();
}

void PthFile::open() {
    if (file_.size() >= 4 && std::memcmp(file_.data(), "PK\x03\x04", 4) == 0) read_zip();
    else if (file_.size() >= sizeof kLegacyMagic && std::memcmp(file_.data(), kLegacyMagic, sizeof kLegacyMagic) == 0) read_legacy();
    else throw Error(ErrorKind::Format, name_, "", "not a torch.save file (neither a zip nor the legacy magic number)");
}

void PthFile::read_zip() {
    const uint8_t* d = file_.data();
    const uint64_t n = file_.size();
    // end of central directory: scan back over at most 64 KiB of comment
    int64_t eocd = -1;
    for (int64_t p = static_cast<int64_t>(n) - 22; p >= 0 && p >= static_cast<int64_t>(n) - 22 - 65535; --p)
        if (rd<uint32_t>(d + p) == 0x06054b50) { eocd = p; break; }
    if (eocd < 0) throw Error(ErrorKind::Format, name_, "zip", "no end-of-central-directory record (truncated file?)");
    uint64_t n_entries = rd<uint16_t>(d + eocd + 10);
    uint64_t cd_size = rd<uint32_t>(d + eocd + 12);
    uint64_t cd_off = rd<uint32_t>(d + eocd + 16);
    if (n_entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_off == 0xFFFFFFFF) { // ZIP64
        if (eocd < 20 || rd<uint32_t>(d + eocd - 20) != 0x07064b50) throw Error(ErrorKind::Format, name_, "zip", "missing ZIP64 locator");
        const uint64_t z = rd<uint64_t>(d + eocd - 20 + 8);
        if (n < 56 || z > n - 56 || rd<uint32_t>(d + z) != 0x06064b50) throw Error(ErrorKind::Format, name_, "zip", "bad ZIP64 end-of-central-directory");
        n_entries = rd<uint64_t>(d + z + 32);
        cd_size = rd<uint64_t>(d + z + 40);
        cd_off = rd<uint64_t>(d + z + 48);
    }
    if (cd_off > n || cd_size > n - cd_off) throw Error(ErrorKind::Format, name_, "zip", "central directory out of range");
    std::map<std::string, Span> records;
    const uint64_t cd_end = cd_off + cd_size; // ≤ n (checked above)
    uint64_t p = cd_off;
    for (uint64_t e = 0; e < n_entries; ++e) {
        if (p > cd_end || cd_end - p < 46 || rd<uint32_t>(d + p) != 0x02014b50)
            throw Error(ErrorKind::Format, name_, "zip", "bad central directory entry " + std::to_string(e));
        const uint16_t method = rd<uint16_t>(d + p + 10);
        uint64_t csize = rd<uint32_t>(d + p + 20), usize = rd<uint32_t>(d + p + 24);
        const uint16_t name_len = rd<uint16_t>(d + p + 28), extra_len = rd<uint16_t>(d + p + 30), comment_len = rd<uint16_t>(d + p + 32);
        uint64_t local = rd<uint32_t>(d + p + 42);
        if (p + 46 + name_len + extra_len > n) throw Error(ErrorKind::Format, name_, "zip", "central directory entry runs past end of file");
        const std::string name(reinterpret_cast<const char*>(d + p + 46), name_len);
        // ZIP64 extra field (id 1): the saturated fields, in order usize, csize, local offset
        for (uint64_t x = p + 46 + name_len; x + 4 <= p + 46 + name_len + extra_len;) {
            const uint16_t id = rd<uint16_t>(d + x), len = rd<uint16_t>(d + x + 2);
            if (x + 4 + len > p + 46 + name_len + extra_len) break;
            if (id == 1) {
                uint64_t q = x + 4;
                auto next = [&](uint64_t& field) {
                    if (field == 0xFFFFFFFF && q + 8 <= x + 4 + len) { field = rd<uint64_t>(d + q); q += 8; }
                };
                next(usize);
                next(csize);
                next(local);
            }
            x += 4 + len;
        }
        if (method != 0) throw Error(ErrorKind::Unsupported, name_, name, "compressed zip record (torch.save writes STORED records)");
        if (n < 30 || local > n - 30 || rd<uint32_t>(d + local) != 0x04034b50) throw Error(ErrorKind::Format, name_, name, "bad local header");
        const uint64_t data = local + 30 + rd<uint16_t>(d + local + 26) + rd<uint16_t>(d + local + 28);
        if (data > n || csize > n - data || csize != usize) throw Error(ErrorKind::Format, name_, name, "record data out of range");
        records[name] = {data, csize};
        p += 46 + name_len + extra_len + comment_len;
    }
    // prefix: the folder holding data.pkl
    std::string prefix;
    bool found = false;
    for (const auto& [k, v] : records) {
        if (k == "data.pkl" || (k.size() > 9 && k.compare(k.size() - 9, 9, "/data.pkl") == 0 && k.find('/') == k.size() - 9)) {
            prefix = k.substr(0, k.size() - 8);
            found = true;
            break;
        }
    }
    if (!found) throw Error(ErrorKind::Format, name_, "data.pkl", "zip has no data.pkl record (not a torch.save file)");
    if (records.count(prefix + "constants.pkl"))
        throw Error(ErrorKind::Unsupported, name_, "", "TorchScript archives are not supported; save a state_dict instead");
    if (auto bo = records.find(prefix + "byteorder"); bo != records.end())
        big_endian_ = std::string(reinterpret_cast<const char*>(d + bo->second.offset), bo->second.size).rfind("big", 0) == 0;
    for (const auto& [k, v] : records)
        if (k.compare(0, prefix.size() + 5, prefix + "data/") == 0) storages_[k.substr(prefix.size() + 5)] = v;
    const Span pkl = records[prefix + "data.pkl"];
    size_t pos = 0;
    const std::string where = name_ + ": data.pkl";
    collect(pickle::unpickle(d + pkl.offset, pkl.size, pos, where, pth_persistent_load, const_cast<std::string*>(&where)));
}

void PthFile::read_legacy() {
    legacy_ = true;
    const uint8_t* d = file_.data();
    const size_t n = file_.size();
    size_t pos = 0;
    const std::string where = name_;
    auto next = [&]() { return pickle::unpickle(d, n, pos, where, pth_persistent_load, const_cast<std::string*>(&where)); };
    const Ref magic = next();
    const Ref protocol = next();
    if (protocol->kind != Kind::Int || protocol->i != 1001) throw Error(ErrorKind::Unsupported, name_, "protocol", "unsupported legacy protocol version");
    const Ref sys_info = next();
    for (const auto& [k, v] : sys_info->dict)
        if (is_str(k, "little_endian") && v->kind == Kind::Bool) big_endian_ = !v->i;
    const Ref root = next();
    const Ref keys = next();
    if (keys->kind != Kind::List) throw Error(ErrorKind::Format, name_, "storage keys", "expected a list of storage keys");
    // dtype sizes per key, from the tensors that use them
    std::map<std::string, int> elem;
    std::vector<const pickle::Value*> todo{root.get()};
    std::set<const pickle::Value*> seen{root.get()}; // each value once: shared sub-objects are not re-walked
    while (!todo.empty()) {
        const pickle::Value* v = todo.back();
        todo.pop_back();
        if (v->kind == Kind::Tensor) elem[v->tensor.storage.key] = dtype_size(v->tensor.storage.dtype);
        for (const Ref& it : v->items)
            if (seen.insert(it.get()).second) todo.push_back(it.get());
        for (const auto& [k, x] : v->dict)
            if (seen.insert(x.get()).second) todo.push_back(x.get());
    }
    for (const Ref& k : keys->items) {
        if (k->kind != Kind::Str) throw Error(ErrorKind::Format, name_, "storage keys", "key is not a string");
        if (pos + 8 > n) throw Error(ErrorKind::Format, name_, "storage '" + k->s + "'", "truncated before its data");
        const int64_t count = rd<int64_t>(d + pos);
        const int es = elem.count(k->s) ? elem[k->s] : 4;
        if (count < 0 || static_cast<uint64_t>(count) > (n - pos - 8) / es)
            throw Error(ErrorKind::Format, name_, "storage '" + k->s + "'", "data runs past end of file");
        storages_[k->s] = {pos + 8, static_cast<uint64_t>(count) * es};
        pos += 8 + static_cast<size_t>(count) * es;
    }
    collect(root);
    (void)magic;
}

// Finds the state dict (top level, or under "model"/"state_dict"/"module") and records its tensors.
void PthFile::collect(const Ref& root) {
    if (root->kind == Kind::Opaque)
        throw Error(ErrorKind::Unsupported, name_, "", "the checkpoint is an " + pickle::describe(*root) + ", not a state dict");
    if (root->kind != Kind::Dict) throw Error(ErrorKind::Format, name_, "", "top-level object is a " + pickle::describe(*root) + ", not a dict");
    Ref dict = root;
    for (const char* wrapper : {"model", "state_dict", "module", "model_state_dict"})
        for (const auto& [k, v] : root->dict)
            if (is_str(k, wrapper) && v->kind == Kind::Dict) dict = v;
    for (const auto& [k, v] : dict->dict) {
        if (k->kind != Kind::Str) continue;
        std::string name = k->s;
        if (name.rfind("module.", 0) == 0) name = name.substr(7); // DataParallel
        if (v->kind == Kind::Tensor) tensors_[name] = v->tensor;
        else if (v->kind == Kind::Opaque)
            throw Error(ErrorKind::Unsupported, name_, "tensor '" + name + "'", "depends on " + pickle::describe(*v));
    }
    if (tensors_.empty()) throw Error(ErrorKind::Missing, name_, "", "no tensors found in the checkpoint");
}

std::vector<std::string> PthFile::names() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : tensors_) out.push_back(k);
    return out;
}

const pickle::TensorRef& PthFile::tensor(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) throw Error(ErrorKind::Missing, name_, "tensor '" + name + "'", "not in checkpoint");
    return it->second;
}

TensorInfo PthFile::info(const std::string& name) const {
    const pickle::TensorRef& t = tensor(name);
    return {name, t.storage.dtype, t.size};
}

Tensor PthFile::load(const std::string& name) const {
    const pickle::TensorRef& t = tensor(name);
    const std::string field = "tensor '" + name + "'";
    auto st = storages_.find(t.storage.key);
    if (st == storages_.end()) throw Error(ErrorKind::Missing, name_, field, "storage record '" + t.storage.key + "' is missing");
    const int es = dtype_size(t.storage.dtype);
    const uint64_t n_storage = std::min<uint64_t>(st->second.size / es, static_cast<uint64_t>(t.storage.numel));
    // bounds: the last element addressed must lie inside the storage (saturating: sizes and strides
    // come from the pickle, and a wrapped product would pass the check and read outside the file)
    uint64_t numel = 1, last = static_cast<uint64_t>(t.offset);
    for (size_t i = 0; i < t.size.size(); ++i) {
        if (t.size[i] == 0) { numel = 0; break; }
        if (t.stride[i] < 0 || static_cast<uint64_t>(t.size[i]) > (uint64_t(1) << 40) / numel)
            throw Error(ErrorKind::Format, name_, field, "unreasonable size or stride");
        numel *= static_cast<uint64_t>(t.size[i]);
        last = sat_add(last, sat_mul(static_cast<uint64_t>(t.size[i] - 1), static_cast<uint64_t>(t.stride[i])));
    }
    if (numel > 0 && last >= n_storage)
        throw Error(ErrorKind::Format, name_, field,
                    (last == UINT64_MAX ? std::string("offset and strides overflow") : "addresses element " + std::to_string(last)) +
                        " of a storage holding " + std::to_string(n_storage));
    require_memory(numel * 4, name_, field, "loading " + shape_str(t.size) + " as float32");
    Tensor out(t.size);
    const uint8_t* base = file_.data() + st->second.offset;
    const int rank = static_cast<int>(t.size.size());
    std::vector<int64_t> idx(static_cast<size_t>(rank), 0);
    uint8_t swapped[8];
    for (uint64_t i = 0; i < numel; ++i) {
        int64_t off = t.offset;
        for (int k = 0; k < rank; ++k) off += idx[k] * t.stride[k];
        const uint8_t* src = base + off * es;
        if (big_endian_) {
            for (int b = 0; b < es; ++b) swapped[b] = src[es - 1 - b];
            src = swapped;
        }
        convert_to_f32(t.storage.dtype, src, 1, out.ptr() + i);
        for (int k = rank - 1; k >= 0; --k) { // advance the multi-index (row-major)
            if (++idx[k] < t.size[k]) break;
            idx[k] = 0;
        }
    }
    file_.release(base, st->second.size); // see MappedFile::release: the float32 copy is all we keep
    return out;
}

} // namespace attnscope
