// Image decoding: content sniffing and header sizes, the size and memory limits, OpenCV's decoders
// (PNG, JPEG, BMP, WebP, TIFF, PNM; not instrumented themselves, but their crashes and allocations are
// caught), EXIF orientation, the RGB conversion; then a small PIL-exact preprocessing of the result.
#include "fuzz_common.h"

#include "core/image/decode.h"
#include "core/image/preprocess.h"

ATTNSCOPE_FUZZ_INIT()

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    (void)attnscope::sniff_image_header(bytes);
    expect_clean([&] {
        const attnscope::ImageRGB8 img = attnscope::decode_image_bytes(bytes, "fuzz.img");
        if (img.width <= 0 || img.height <= 0 || img.data.size() != size_t(img.width) * img.height * 3) __builtin_trap();
        attnscope::PreprocessSpec spec;
        spec.resize = attnscope::PreprocessSpec::Resize::ShortestEdge;
        spec.shortest_edge = 12;
        spec.resample = size % 2 ? attnscope::Resample::Bicubic : attnscope::Resample::Lanczos;
        spec.center_crop = true;
        spec.crop_h = spec.crop_w = 10;
        (void)attnscope::preprocess(img, spec);
    });
    return 0;
}
