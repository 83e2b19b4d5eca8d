#include "core/image/gif.h"

#include "core/error.h"

#include <array>
#include <cstdint>
#include <vector>

namespace attnscope {
namespace {

struct Reader {
    const std::string& b;
    const std::string& name;
    size_t pos = 0;
    [[noreturn]] void fail(const std::string& what) const {
        throw Error(ErrorKind::Format, name, "", "corrupt GIF: " + what + " (at byte " + std::to_string(pos) + ")");
    }
    uint8_t u8() {
        if (pos >= b.size()) fail("truncated");
        return uint8_t(b[pos++]);
    }
    int u16() {
        const int lo = u8();
        return lo | (u8() << 8);
    }
    // A colour table of 2^(bits+1) RGB triples.
    std::vector<uint8_t> palette(int bits) {
        const size_t n = size_t(3) << (bits + 1);
        if (b.size() - pos < n) fail("truncated colour table");
        std::vector<uint8_t> p(b.begin() + long(pos), b.begin() + long(pos + n));
        pos += n;
        return p;
    }
    // Data sub-blocks up to the terminator, concatenated.
    std::string sub_blocks() {
        std::string out;
        for (uint8_t len = u8(); len != 0; len = u8()) {
            if (b.size() - pos < len) fail("truncated data block");
            out.append(b, pos, len);
            pos += len;
        }
        return out;
    }
};

// LZW as GIF uses it: variable code width from min_code_size + 1 up to 12 bits, LSB first, clear and
// end codes, the "deferred clear" (a full table stays as is until a clear code). Fills `out` with
// exactly out.size() indices; stops early at the end code or the end of the data (what is missing
// is reported by the caller).
size_t lzw_decode(const std::string& data, int min_code_size, std::vector<uint8_t>& out, const Reader& r) {
    const int clear = 1 << min_code_size, end = clear + 1;
    std::array<uint16_t, 4096> prefix{};
    std::array<uint8_t, 4096> suffix{}, first{};
    std::array<uint8_t, 4097> stack{};
    for (int i = 0; i < clear; ++i) suffix[size_t(i)] = first[size_t(i)] = uint8_t(i);
    int width = min_code_size + 1, next = clear + 2, prev = -1;
    uint32_t bits = 0;
    int nbits = 0;
    size_t at = 0, n = 0;
    while (n < out.size()) {
        while (nbits < width && at < data.size()) {
            bits |= uint32_t(uint8_t(data[at++])) << nbits;
            nbits += 8;
        }
        if (nbits < width) break; // data ends
        const int code = int(bits & ((1u << width) - 1));
        bits >>= width;
        nbits -= width;
        if (code == clear) {
            width = min_code_size + 1;
            next = clear + 2;
            prev = -1;
            continue;
        }
        if (code == end) break;
        if (prev < 0) { // the first code after a clear is a literal
            if (code >= clear) r.fail("LZW code " + std::to_string(code) + " before any string");
            out[n++] = uint8_t(code);
            prev = code;
            continue;
        }
        if (code > next || (code == next && next >= 4096)) r.fail("LZW code " + std::to_string(code) + " out of sequence");
        // Unwind the string of `code` (or, for the code being defined, prev's string + its first byte).
        size_t sp = 0;
        int c = code;
        if (code == next) {
            stack[sp++] = first[size_t(prev)];
            c = prev;
        }
        while (c >= clear) {
            stack[sp++] = suffix[size_t(c)];
            c = prefix[size_t(c)];
        }
        stack[sp++] = uint8_t(c);
        while (sp > 0 && n < out.size()) out[n++] = stack[--sp];
        if (next < 4096) {
            prefix[size_t(next)] = uint16_t(prev);
            suffix[size_t(next)] = uint8_t(c); // the first byte of code's string
            first[size_t(next)] = first[size_t(prev)];
            ++next;
            if (next == (1 << width) && width < 12) ++width;
        }
        prev = code;
    }
    return n;
}

} // namespace

ImageRGB8 decode_gif(const std::string& bytes, const std::string& name) {
    Reader r{bytes, name};
    r.pos = 6; // signature, checked by the caller
    const int screen_w = r.u16(), screen_h = r.u16();
    const uint8_t flags = r.u8();
    r.u8(); // background colour index: Pillow does not paint the first frame's surround with it
    r.u8(); // pixel aspect ratio
    std::vector<uint8_t> global;
    if (flags & 0x80) global = r.palette(flags & 7);
    int transparent = -1;
    for (;;) {
        const uint8_t block = r.u8();
        if (block == 0x3B) r.fail("no image before the trailer");
        if (block == 0x21) { // extension
            const uint8_t label = r.u8();
            const std::string body = r.sub_blocks();
            if (label == 0xF9 && body.size() >= 4 && (body[0] & 1)) transparent = uint8_t(body[3]); // graphic control
            continue;
        }
        if (block != 0x2C) r.fail("unknown block type " + std::to_string(block));
        const int left = r.u16(), top = r.u16(), w = r.u16(), h = r.u16();
        const uint8_t iflags = r.u8();
        const std::vector<uint8_t> palette = (iflags & 0x80) ? r.palette(iflags & 7) : global;
        const bool interlaced = iflags & 0x40;
        const int min_code_size = r.u8();
        if (min_code_size < 1 || min_code_size > 11) r.fail("LZW minimum code size " + std::to_string(min_code_size));
        const std::string data = r.sub_blocks();
        std::vector<uint8_t> idx(size_t(w) * size_t(h));
        if (lzw_decode(data, min_code_size, idx, r) < idx.size())
            throw Error(ErrorKind::Format, name, "", "truncated GIF: the first frame's image data ends early");
        // The canvas: the logical screen, index 0 or the transparent index, the frame at its offset.
        std::vector<uint8_t> canvas(size_t(screen_w) * size_t(screen_h), uint8_t(transparent >= 0 ? transparent : 0));
        static constexpr int kStart[4] = {0, 4, 2, 1}, kStep[4] = {8, 8, 4, 2};
        int src_row = 0;
        for (int pass = 0; pass < (interlaced ? 4 : 1); ++pass)
            for (int y = interlaced ? kStart[pass] : 0; y < h; y += interlaced ? kStep[pass] : 1, ++src_row) {
                const int cy = top + y;
                if (cy >= screen_h) continue;
                for (int x = 0; x < w && left + x < screen_w; ++x)
                    canvas[size_t(cy) * size_t(screen_w) + size_t(left + x)] = idx[size_t(src_row) * size_t(w) + size_t(x)];
            }
        ImageRGB8 im;
        im.width = screen_w;
        im.height = screen_h;
        im.data.resize(canvas.size() * 3);
        for (size_t i = 0; i < canvas.size(); ++i) {
            const size_t p = size_t(canvas[i]) * 3;
            for (size_t c = 0; c < 3; ++c) // no palette at all: the indices are grey levels, as Pillow's "L"
                im.data[i * 3 + c] = palette.empty() ? canvas[i] : p + 2 < palette.size() ? palette[p + c] : 0;
        }
        return im;
    }
}

} // namespace attnscope
