// Image decoding: content sniffing (never the extension), EXIF orientation, any 8/16-bit grey, RGB(A) or
// palette input → 8-bit RGB as PIL's Image.open(...).convert("RGB") gives it (alpha dropped, not composited).
#pragma once

#include "core/image/image.h"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace attnscope {

// Refused before decoding (header sizes) and again after: more than kMaxImageSide pixels on a side, a
// decoded RGB buffer above kMaxImageBytes, or more memory than available_memory() (core/limits.h) for
// the decoder's buffers and the RGB copy (3 × width × height × 3 bytes, checked from the header).
inline constexpr int kMaxImageSide = 20000;
inline constexpr int64_t kMaxImageBytes = int64_t(1) << 30;

// What the first bytes say. width/height are 0 when the header does not tell (truncated, corrupt); for
// TIFF they come from the first IFD, for PNM from the ASCII header.
struct ImageHeader {
    std::string format; // "png", "jpeg", "bmp", "gif", "webp", "tiff", "pnm", "" (unknown)
    int width = 0, height = 0;
};
ImageHeader sniff_image_header(const std::string& bytes);

// The file-name extensions (lower case, with the dot) of exactly the formats decode_image_bytes decodes
// (content is sniffed, the name only picks files): THE list for every folder job (CLI `dataset`, the GUI's
// "Add images…") and open dialog. GIF is decoded by core/image/gif.cpp (OpenCV 4.6 has no GIF reader).
inline constexpr std::array<std::string_view, 15> kImageExtensions = {
    ".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".dib", ".gif", ".webp", ".tif", ".tiff", ".pbm", ".pgm", ".ppm", ".pnm"};
// True when `path` ends in one of kImageExtensions (case-insensitive).
bool has_image_extension(const std::string& path);
// "*.png *.jpg …" for a file dialog's name filter.
std::string image_name_patterns();

// Decode an in-memory file. name_for_errors is the file named in every Error (Format: empty, truncated,
// corrupt, unsupported; Unsupported: absurd size).
ImageRGB8 decode_image_bytes(const std::string& bytes, const std::string& name_for_errors);
// Reads the file (Error(Io) naming it when it cannot) and decodes it.
ImageRGB8 decode_image_file(const std::string& path);

// Wrap caller-owned pixels (e.g. a cv::Mat or QImage buffer) as RGB8. stride = bytes per row.
enum class PixelLayout { Grey, RGB, BGR, RGBA, BGRA };
ImageRGB8 image_from_pixels(const uint8_t* data, int width, int height, size_t stride, PixelLayout layout);

} // namespace attnscope
