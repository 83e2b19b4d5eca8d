// Pillow-exact resizing of 8-bit RGB images (Pillow 9.x libImaging/Resample.c and the nearest-neighbour
// affine path of Geometry.c, as HF image_transforms.py resize calls them), plus cropping.
#pragma once

#include "core/image/image.h"

namespace attnscope {

// Image.resize((out_w, out_h), filter) on an RGB image, bit for bit (box = whole image, reducing_gap=None).
// Throws Error(Argument) for non-positive sizes.
ImageRGB8 pil_resize(const ImageRGB8& in, int out_w, int out_h, Resample filter);

// Pixels [x, x+w) × [y, y+h). Parts outside the image are filled with `fill` (0 = black), so negative
// offsets or an oversized box give zero padding as torchvision/HF center crops do.
ImageRGB8 crop(const ImageRGB8& in, int x, int y, int w, int h, uint8_t fill = 0);

} // namespace attnscope
