#include "core/image/decode.h"

#include "core/error.h"
#include "core/image/gif.h"
#include "core/limits.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace attnscope {
namespace {

uint32_t be16(const std::string& b, size_t i) { return (uint8_t(b[i]) << 8) | uint8_t(b[i + 1]); }
uint32_t be32(const std::string& b, size_t i) { return (be16(b, i) << 16) | be16(b, i + 2); }
uint32_t le16(const std::string& b, size_t i) { return uint8_t(b[i]) | (uint8_t(b[i + 1]) << 8); }
uint32_t le32(const std::string& b, size_t i) { return le16(b, i) | (le16(b, i + 2) << 16); }
bool starts(const std::string& b, size_t at, const char* sig, size_t n) {
    return b.size() >= at + n && std::memcmp(b.data() + at, sig, n) == 0;
}

// Walks JPEG marker segments up to the first SOS. Returns the SOS offset (0 if none); fills w/h from SOFn.
size_t jpeg_scan(const std::string& b, int& w, int& h) {
    size_t pos = 2;
    while (pos + 4 <= b.size()) {
        if (uint8_t(b[pos]) != 0xFF) return 0;
        const uint8_t m = uint8_t(b[pos + 1]);
        if (m == 0xFF) { ++pos; continue; } // fill byte
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { pos += 2; continue; }
        if (m == 0xDA) return pos;
        const size_t len = be16(b, pos + 2);
        const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
        if (sof && pos + 9 <= b.size()) {
            h = static_cast<int>(be16(b, pos + 5));
            w = static_cast<int>(be16(b, pos + 7));
        }
        pos += 2 + len;
    }
    return 0;
}

void webp_size(const std::string& b, ImageHeader& h) {
    if (starts(b, 12, "VP8X", 4) && b.size() >= 30) {
        h.width = static_cast<int>((le32(b, 24) & 0xFFFFFF) + 1);
        h.height = static_cast<int>((le32(b, 27) & 0xFFFFFF) + 1);
    } else if (starts(b, 12, "VP8L", 4) && b.size() >= 25) {
        const uint32_t v = le32(b, 21);
        h.width = static_cast<int>((v & 0x3FFF) + 1);
        h.height = static_cast<int>(((v >> 14) & 0x3FFF) + 1);
    } else if (starts(b, 12, "VP8 ", 4) && b.size() >= 30) {
        h.width = static_cast<int>(le16(b, 26) & 0x3FFF);
        h.height = static_cast<int>(le16(b, 28) & 0x3FFF);
    }
}

int clamp_int(int64_t v) { return static_cast<int>(std::clamp<int64_t>(v, 0, INT32_MAX)); }

// PNM (P1–P6): magic, then width and height as ASCII decimals separated by whitespace and # comments.
void pnm_size(const std::string& b, ImageHeader& h) {
    size_t i = 2;
    int64_t v[2] = {0, 0};
    for (int64_t& out : v) {
        while (i < b.size() && (std::isspace(static_cast<unsigned char>(b[i])) || b[i] == '#')) {
            if (b[i] == '#')
                while (i < b.size() && b[i] != '\n' && b[i] != '\r') ++i;
            else ++i;
        }
        if (i >= b.size() || !std::isdigit(static_cast<unsigned char>(b[i]))) return;
        for (; i < b.size() && std::isdigit(static_cast<unsigned char>(b[i])); ++i) out = std::min<int64_t>(out * 10 + (b[i] - '0'), INT32_MAX);
    }
    h.width = clamp_int(v[0]);
    h.height = clamp_int(v[1]);
}

// TIFF: ImageWidth (256) and ImageLength (257) of the first IFD, SHORT or LONG, either byte order.
void tiff_size(const std::string& b, ImageHeader& h) {
    const bool le = b[0] == 'I';
    auto u16 = [&](size_t i) { return le ? le16(b, i) : be16(b, i); };
    auto u32 = [&](size_t i) { return le ? le32(b, i) : be32(b, i); };
    if (b.size() < 8) return;
    const size_t ifd = u32(4);
    if (ifd > b.size() || b.size() - ifd < 2) return;
    const size_t count = u16(ifd);
    for (size_t e = 0; e < count && ifd + 2 + 12 * (e + 1) <= b.size(); ++e) {
        const size_t at = ifd + 2 + 12 * e;
        const uint32_t tag = u16(at), type = u16(at + 2);
        if (tag != 256 && tag != 257) continue;
        const int64_t value = type == 3 ? u16(at + 8) : type == 4 ? u32(at + 8) : 0;
        (tag == 256 ? h.width : h.height) = clamp_int(value);
    }
}

std::string dims(int64_t w, int64_t h) { return std::to_string(w) + "x" + std::to_string(h); }

void check_size(int64_t w, int64_t h, const std::string& name, const char* when) {
    if (w > kMaxImageSide || h > kMaxImageSide || w * h * 3 > kMaxImageBytes)
        throw Error(ErrorKind::Unsupported, name, "",
                    std::string(when) + " " + dims(w, h) + " pixels: refusing images larger than " +
                        std::to_string(kMaxImageSide) + " pixels on a side or 1 GiB of RGB data");
}

} // namespace

ImageHeader sniff_image_header(const std::string& b) {
    ImageHeader h;
    if (starts(b, 0, "\x89PNG\r\n\x1a\n", 8)) {
        h.format = "png";
        if (b.size() >= 24 && starts(b, 12, "IHDR", 4)) {
            h.width = static_cast<int>(std::min<uint32_t>(be32(b, 16), INT32_MAX));
            h.height = static_cast<int>(std::min<uint32_t>(be32(b, 20), INT32_MAX));
        }
    } else if (starts(b, 0, "\xFF\xD8\xFF", 3)) {
        h.format = "jpeg";
        jpeg_scan(b, h.width, h.height);
    } else if (starts(b, 0, "BM", 2) && b.size() >= 26) {
        h.format = "bmp";
        h.width = clamp_int(std::abs(static_cast<int64_t>(static_cast<int32_t>(le32(b, 18))))); // height < 0: top-down
        h.height = clamp_int(std::abs(static_cast<int64_t>(static_cast<int32_t>(le32(b, 22)))));
    } else if (starts(b, 0, "GIF87a", 6) || starts(b, 0, "GIF89a", 6)) {
        h.format = "gif";
        if (b.size() >= 10) h.width = static_cast<int>(le16(b, 6)), h.height = static_cast<int>(le16(b, 8));
    } else if (starts(b, 0, "RIFF", 4) && starts(b, 8, "WEBP", 4)) {
        h.format = "webp";
        webp_size(b, h);
    } else if (starts(b, 0, "II*\0", 4) || starts(b, 0, "MM\0*", 4)) {
        h.format = "tiff";
        tiff_size(b, h);
    } else if (b.size() >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6') {
        h.format = "pnm";
        pnm_size(b, h);
    }
    return h;
}

ImageRGB8 image_from_pixels(const uint8_t* data, int width, int height, size_t stride, PixelLayout layout) {
    const int n = layout == PixelLayout::Grey ? 1 : (layout == PixelLayout::RGB || layout == PixelLayout::BGR) ? 3 : 4;
    const bool bgr = layout == PixelLayout::BGR || layout == PixelLayout::BGRA;
    ImageRGB8 im;
    im.width = width;
    im.height = height;
    im.data.resize(static_cast<size_t>(width) * height * 3);
    for (int y = 0; y < height; ++y) {
        const uint8_t* s = data + y * stride;
        uint8_t* d = &im.data[static_cast<size_t>(y) * width * 3];
        for (int x = 0; x < width; ++x, s += n, d += 3) {
            if (n == 1) { d[0] = d[1] = d[2] = s[0]; continue; }
            d[0] = s[bgr ? 2 : 0];
            d[1] = s[1];
            d[2] = s[bgr ? 0 : 2];
        }
    }
    return im;
}

ImageRGB8 decode_image_bytes(const std::string& bytes, const std::string& name) {
    if (bytes.empty()) throw Error(ErrorKind::Format, name, "", "empty file, not an image");
    const ImageHeader head = sniff_image_header(bytes);
    if (head.format.empty())
        throw Error(ErrorKind::Format, name, "", "not a recognised image format (PNG, JPEG, BMP, GIF, WebP, TIFF, PNM)");
    // Every decoder allocates from the header's size before reading pixels: no size, no decoding.
    if (head.width <= 0 || head.height <= 0)
        throw Error(ErrorKind::Format, name, "", "cannot read the image size from the " + head.format + " header (truncated or corrupt)");
    check_size(head.width, head.height, name, (head.format + " header says").c_str());
    // decoder's 8-bit BGR buffer, its EXIF-rotated copy, our RGB copy
    require_memory(sat_mul(uint64_t(head.width) * uint64_t(head.height), 9), name, "",
                   "decoding a " + dims(head.width, head.height) + " " + head.format + " image");
    if (head.format == "jpeg") { // libjpeg pads a cut-off scan with grey and only warns: require the EOI marker
        int w = 0, h = 0;
        const size_t sos = jpeg_scan(bytes, w, h);
        const size_t eoi = bytes.rfind("\xFF\xD9");
        if (sos == 0 || eoi == std::string::npos || eoi < sos)
            throw Error(ErrorKind::Format, name, "", "truncated or corrupt JPEG (no image data end marker)");
    }
    if (head.format == "gif") return decode_gif(bytes, name); // OpenCV 4.6 has no GIF reader
    cv::Mat mat;
    try { // IMREAD_COLOR: 8-bit BGR, grey replicated, alpha dropped, 16-bit → high byte, EXIF orientation applied
        const cv::Mat buf(1, static_cast<int>(std::min<size_t>(bytes.size(), INT32_MAX)), CV_8U,
                          const_cast<char*>(bytes.data()));
        mat = cv::imdecode(buf, cv::IMREAD_COLOR);
    } catch (const cv::Exception& e) {
        throw Error(ErrorKind::Format, name, "", "cannot decode " + head.format + " image: " + e.msg);
    }
    if (mat.empty() || mat.type() != CV_8UC3)
        throw Error(ErrorKind::Format, name, "",
                    "cannot decode " + head.format + " image (truncated, corrupt or unsupported variant)");
    check_size(mat.cols, mat.rows, name, "decoded image is");
    require_memory(uint64_t(mat.cols) * uint64_t(mat.rows) * 3, name, "",
                   "converting the decoded " + dims(mat.cols, mat.rows) + " image to RGB");
    return image_from_pixels(mat.data, mat.cols, mat.rows, mat.step[0], PixelLayout::BGR);
}

bool has_image_extension(const std::string& path) {
    const size_t dot = path.find_last_of("./");
    if (dot == std::string::npos || path[dot] != '.' || dot == 0 || path[dot - 1] == '/') return false; // ".png": a dotfile
    std::string ext = path.substr(dot);
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return std::find(kImageExtensions.begin(), kImageExtensions.end(), ext) != kImageExtensions.end();
}

std::string image_name_patterns() {
    std::string out;
    for (std::string_view e : kImageExtensions) out += (out.empty() ? "*" : " *") + std::string(e);
    return out;
}

ImageRGB8 decode_image_file(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw Error(ErrorKind::Io, path, "", "is a directory, not an image file");
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(ErrorKind::Io, path, "", std::string("cannot open image file: ") + std::strerror(errno));
    std::ostringstream ss;
    ss << f.rdbuf();
    if (f.bad()) throw Error(ErrorKind::Io, path, "", "read error");
    return decode_image_bytes(std::move(ss).str(), path);
}

} // namespace attnscope
