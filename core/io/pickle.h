// A restricted unpickler for torch.save files. It builds plain values and NEVER calls anything:
// an allow-list of globals (OrderedDict, torch tensor rebuilders, storage classes, torch.Size,
// torch.device, _codecs.encode) is interpreted; any other global becomes an opaque value, and a
// call of a global from a dangerous module (os, subprocess, builtins, …) refuses the whole file.
#pragma once

#include "core/io/weights.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace attnscope::pickle {

struct Value;
using Ref = std::shared_ptr<Value>;

struct StorageRef {
    DType dtype = DType::F32;
    std::string key;      // record data/<key> (zip) or root key (legacy)
    int64_t numel = 0;    // elements of dtype in the whole storage
};

struct TensorRef {
    StorageRef storage;
    int64_t offset = 0;   // in elements
    Shape size, stride;   // in elements
};

struct Value {
    enum class Kind { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Global, Storage, Tensor, Opaque };
    Kind kind = Kind::None;
    int depth = 0;                          // nesting depth (bounded: deep chains are refused)
    int64_t i = 0;
    double f = 0.0;
    std::string s;                          // Str/Bytes; Global/Opaque: "module.name"
    std::vector<Ref> items;                 // Tuple/List
    std::vector<std::pair<Ref, Ref>> dict;  // Dict (insertion order)
    StorageRef storage;
    TensorRef tensor;
};

// Resolves a persistent id tuple (BINPERSID) into a Storage value. Provided by the container.
using PersistentLoad = Ref (*)(const Ref& pid, void* ctx);

// Runs the pickle machine over data[0, size) from `pos`; returns the object at STOP and advances `pos`
// past it. `where` names the file/record in errors.
Ref unpickle(const uint8_t* data, size_t size, size_t& pos, const std::string& where, PersistentLoad persistent,
             void* ctx);

std::string describe(const Value& v); // short, for error messages

// dtype of a storage class or torch dtype global ("torch.FloatStorage", "torch.float16", …).
bool storage_dtype(const std::string& global_name, DType& out);

} // namespace attnscope::pickle
