// GIF decoding for core/image/decode.cpp: OpenCV 4.6 reads no GIF, and core links no Qt, so this is a
// small decoder of our own (GIF87a/89a, LZW, interlacing, global/local palettes). The first frame
// only, as Pillow's Image.open(f).convert("RGB") gives it: a logical-screen canvas of palette index 0
// (or of the first frame's transparent index), the frame drawn at its offset, every index mapped
// through the frame's palette (transparency is not composited: a transparent pixel shows its palette
// colour); an index past the palette is black; with no palette at all the
// indices are grey levels.
#pragma once

#include "core/image/image.h"

#include <string>

namespace attnscope {

// The caller has sniffed "GIF87a"/"GIF89a" and checked the logical screen size (kMaxImageSide,
// memory). Throws Error(Format) naming `name` for truncated or corrupt data.
ImageRGB8 decode_gif(const std::string& bytes, const std::string& name);

} // namespace attnscope
