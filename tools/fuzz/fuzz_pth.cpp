// torch.save containers: the zip reader (EOCD, ZIP64, central directory, local headers, archive prefix,
// byteorder) and the legacy stream, through PthFile over the bytes in memory; then every tensor is
// loaded (storage offsets, strides, dtypes, byte order).
#include "fuzz_common.h"

#include "core/io/pth.h"

ATTNSCOPE_FUZZ_INIT()

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    expect_clean([&] {
        attnscope::PthFile f("fuzz.pth", data, size);
        for (const std::string& name : f.names()) {
            f.info(name);
            expect_clean([&] { f.load(name); }); // one bad tensor does not hide the others
        }
    });
    return 0;
}
