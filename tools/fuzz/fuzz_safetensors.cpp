// safetensors: the 8-byte length, the JSON header and its validation, then every tensor's conversion
// to float32 (SafeTensorsFile over the bytes in memory, as the mmap path sees them).
#include "fuzz_common.h"

#include "core/io/safetensors.h"

ATTNSCOPE_FUZZ_INIT()

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    expect_clean([&] {
        attnscope::SafeTensorsFile f("fuzz.safetensors", data, size);
        for (const std::string& name : f.names()) {
            const attnscope::TensorInfo info = f.info(name);
            const attnscope::Tensor t = f.load(name);
            if (static_cast<size_t>(t.numel()) != static_cast<size_t>(attnscope::shape_numel(info.shape))) __builtin_trap();
        }
    });
    return 0;
}
